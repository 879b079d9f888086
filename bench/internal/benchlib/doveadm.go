package benchlib

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// Doveadm runs doveadm against one Dovecot config.
type Doveadm struct {
	Bin    string // doveadm binary
	Config string // dovecot.conf path
}

// Run runs doveadm -c CONFIG args... with stdin, returning stdout; the
// error includes stderr.
func (d Doveadm) Run(stdin []byte, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, d.Bin, append([]string{"-c", d.Config}, args...)...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.Bytes(), fmt.Errorf("doveadm %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.Bytes(), nil
}

// ServerMsg is one message as doveadm fetch reports it.
type ServerMsg struct {
	Mailbox string
	UID     uint32
	Flags   string // canonical letters
	MID     string
}

// Fetch returns mailbox, uid, flags and Message-ID of every message of
// user matching the search query (e.g. "all", or "mailbox X all").
func (d Doveadm) Fetch(user string, query ...string) ([]ServerMsg, error) {
	args := append([]string{"-f", "pager", "fetch", "-u", user, "mailbox uid flags hdr.message-id"}, query...)
	out, err := d.Run(nil, args...)
	if err != nil {
		return nil, err
	}
	return parsePager(out)
}

// parsePager parses doveadm's pager format: "key: value" lines, records
// separated by a form feed line. hdr.message-id is the last field and may
// be folded over several lines.
func parsePager(out []byte) ([]ServerMsg, error) {
	var msgs []ServerMsg
	for _, rec := range bytes.Split(out, []byte("\f\n")) {
		if len(bytes.TrimSpace(rec)) == 0 {
			continue
		}
		var m ServerMsg
		rest := string(rec)
		field := func(key string) (string, error) {
			if !strings.HasPrefix(rest, key+":") {
				return "", fmt.Errorf("doveadm fetch: expected %q at %.60q", key, rest)
			}
			rest = rest[len(key)+1:]
			i := strings.IndexByte(rest, '\n')
			if i < 0 {
				v := rest
				rest = ""
				return strings.TrimSpace(v), nil
			}
			v := rest[:i]
			rest = rest[i+1:]
			return strings.TrimSpace(v), nil
		}
		var err error
		if m.Mailbox, err = field("mailbox"); err != nil {
			return nil, err
		}
		uid, err := field("uid")
		if err != nil {
			return nil, err
		}
		u, err := strconv.ParseUint(uid, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("doveadm fetch: bad uid %q", uid)
		}
		m.UID = uint32(u)
		fl, err := field("flags")
		if err != nil {
			return nil, err
		}
		m.Flags = IMAPFlagsToLetters(strings.Fields(fl))
		if !strings.HasPrefix(rest, "hdr.message-id:") {
			return nil, fmt.Errorf("doveadm fetch: expected hdr.message-id at %.60q", rest)
		}
		v := strings.ReplaceAll(rest[len("hdr.message-id:"):], "\r", "")
		v = strings.ReplaceAll(v, "\n", "")
		m.MID = strings.TrimSpace(v)
		if m.MID == "" {
			m.MID = "<none>"
		}
		msgs = append(msgs, m)
	}
	return msgs, nil
}

// ServerState returns the whole mail store of user as a State. Every
// selectable mailbox appears, even if empty.
func (d Doveadm) ServerState(user string) (State, error) {
	s := State{}
	boxes, err := d.Mailboxes(user)
	if err != nil {
		return nil, err
	}
	for _, b := range boxes {
		s[b] = map[string][]string{}
	}
	msgs, err := d.Fetch(user, "all")
	if err != nil {
		return nil, err
	}
	for _, m := range msgs {
		s.Add(m.Mailbox, m.MID, m.Flags)
	}
	return s, nil
}

// Mailboxes lists user's selectable mailboxes.
func (d Doveadm) Mailboxes(user string) ([]string, error) {
	// "mailbox status" only iterates selectable mailboxes.
	out, err := d.Run(nil, "-f", "tab", "mailbox", "status", "-u", user, "messages", "*")
	if err != nil {
		return nil, err
	}
	var names []string
	for i, l := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		if i == 0 || l == "" {
			continue // header "mailbox<TAB>messages"
		}
		f := strings.Split(l, "\t")
		if len(f) != 2 {
			return nil, fmt.Errorf("doveadm mailbox status: cannot parse %q", l)
		}
		names = append(names, f[0])
	}
	return names, nil
}

// UIDSet formats UIDs as a comma-separated list for a doveadm search query.
func UIDSet(uids []uint32) string {
	parts := make([]string, len(uids))
	for i, u := range uids {
		parts[i] = strconv.FormatUint(uint64(u), 10)
	}
	return strings.Join(parts, ",")
}
