package remote

import (
	"strings"

	"github.com/emersion/go-imap/v2"
)

// tagged is the tagged answer to a command mailsync wrote itself, past
// go-imap (guardConn.divert): "TAG STATUS [CODE args] text".
type tagged struct {
	status string // OK, NO or BAD
	rest   string // everything after the status
	code   string // the response code, upper-cased; "" if there is none
	args   string // the code's arguments
	text   string // the text after the code
}

// parseTagged reads line as the tagged answer to the command tag; false if
// it is not one.
func parseTagged(line, tag string) (tagged, bool) {
	rest, ok := strings.CutPrefix(line, tag+" ")
	if !ok {
		return tagged{}, false
	}
	status, rest, _ := strings.Cut(rest, " ")
	t := tagged{status: strings.ToUpper(status), rest: rest, text: rest}
	switch t.status {
	case "OK", "NO", "BAD":
	default:
		return tagged{}, false
	}
	if code, ok := strings.CutPrefix(rest, "["); ok {
		if code, after, ok := strings.Cut(code, "]"); ok {
			name, args, _ := strings.Cut(code, " ")
			t.code, t.args, t.text = strings.ToUpper(name), args, strings.TrimPrefix(after, " ")
		}
	}
	return t, true
}

// capabilities returns the capability list an OK carries, if it does.
func (t tagged) capabilities() (string, bool) {
	return t.args, t.status == "OK" && t.code == "CAPABILITY"
}

// err is a NO or BAD as go-imap's error type.
func (t tagged) err() *imap.Error {
	return &imap.Error{Type: imap.StatusResponseType(t.status), Code: imap.ResponseCode(t.code), Text: t.text}
}
