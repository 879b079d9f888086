package dovetest

import (
	"bytes"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Messages lists the mailbox's messages sorted by UID (no bodies). The test
// fails if the mailbox does not exist.
func (s *Server) Messages(t TB, user, mailbox string) []Message {
	t.Helper()
	return s.messages(t, user, mailbox, false)
}

// MessagesWithBodies is Messages plus Body.
func (s *Server) MessagesWithBodies(t TB, user, mailbox string) []Message {
	t.Helper()
	return s.messages(t, user, mailbox, true)
}

func (s *Server) messages(t TB, user, mailbox string, bodies bool) []Message {
	t.Helper()
	s.checkUser(t, user)
	msgs, err := s.fetch(user, bodies, "mailbox", mailbox, "all")
	if err != nil {
		t.Fatalf("dovetest: %v", err)
	}
	if len(msgs) == 0 {
		// doveadm fetch succeeds silently on a missing mailbox; a typo in a
		// test must not look like "mailbox is empty".
		s.Status(t, user, mailbox)
	}
	return msgs
}

// fetch runs doveadm fetch with the pager formatter. Field order matters for
// parsing: text (if any) is read by length (size.physical), and the only
// free-form single-line-ish field, hdr.message-id, is last in each record.
func (s *Server) fetch(user string, bodies bool, query ...string) ([]Message, error) {
	fields := "uid flags size.virtual hdr.message-id"
	if bodies {
		fields = "uid flags size.virtual size.physical text hdr.message-id"
	}
	args := append([]string{"-f", "pager", "fetch", "-u", user, fields}, query...)
	out, err := s.run(nil, args...)
	if err != nil {
		return nil, err
	}
	msgs, err := parseFetch(out, bodies)
	if err != nil {
		return nil, fmt.Errorf("doveadm %s: %v", strings.Join(args, " "), err)
	}
	sort.Slice(msgs, func(i, j int) bool { return msgs[i].UID < msgs[j].UID })
	return msgs, nil
}

// parseFetch parses pager output: "key: value\n" per field, records
// separated by "\f\n". Stream fields (text) are printed as "key:\n" followed
// by the raw bytes with nothing appended, so they are read by length.
func parseFetch(out []byte, bodies bool) ([]Message, error) {
	p := &pagerParser{b: out}
	var msgs []Message
	for p.pos < len(p.b) {
		var m Message
		uid, err := p.line("uid")
		if err != nil {
			return nil, err
		}
		u, err := strconv.ParseUint(uid, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("bad uid %q", uid)
		}
		m.UID = uint32(u)
		flags, err := p.line("flags")
		if err != nil {
			return nil, err
		}
		m.Flags = normalizeFlags(strings.Fields(flags))
		vsize, err := p.line("size.virtual")
		if err != nil {
			return nil, err
		}
		if m.Size, err = strconv.ParseInt(vsize, 10, 64); err != nil {
			return nil, fmt.Errorf("bad size.virtual %q", vsize)
		}
		if bodies {
			psize, err := p.line("size.physical")
			if err != nil {
				return nil, err
			}
			n, err := strconv.Atoi(psize)
			if err != nil {
				return nil, fmt.Errorf("bad size.physical %q", psize)
			}
			if m.Body, err = p.stream("text", n); err != nil {
				return nil, err
			}
		}
		mid, err := p.last("hdr.message-id")
		if err != nil {
			return nil, err
		}
		m.MessageID = unfold(mid)
		msgs = append(msgs, m)
	}
	return msgs, nil
}

type pagerParser struct {
	b   []byte
	pos int
}

func (p *pagerParser) key(k string) error {
	if !bytes.HasPrefix(p.b[p.pos:], []byte(k+":")) {
		rest := p.b[p.pos:]
		if len(rest) > 60 {
			rest = rest[:60]
		}
		return fmt.Errorf("expected field %q at offset %d, got %q", k, p.pos, rest)
	}
	p.pos += len(k) + 1
	return nil
}

func (p *pagerParser) line(k string) (string, error) {
	if err := p.key(k); err != nil {
		return "", err
	}
	rest := p.b[p.pos:]
	i := bytes.IndexByte(rest, '\n')
	if i < 0 {
		return "", fmt.Errorf("unterminated field %q", k)
	}
	p.pos += i + 1
	return strings.TrimSpace(string(rest[:i])), nil
}

func (p *pagerParser) stream(k string, n int) ([]byte, error) {
	if err := p.key(k); err != nil {
		return nil, err
	}
	if p.pos < len(p.b) && p.b[p.pos] == '\n' {
		p.pos++
	} else if p.pos < len(p.b) && p.b[p.pos] == ' ' {
		p.pos++
	}
	if p.pos+n > len(p.b) {
		return nil, fmt.Errorf("field %q: want %d bytes, have %d", k, n, len(p.b)-p.pos)
	}
	v := append([]byte(nil), p.b[p.pos:p.pos+n]...)
	p.pos += n
	return v, nil
}

// last reads the final field of a record: its value may span lines (a folded
// header), so it extends to the record separator or the end of output.
func (p *pagerParser) last(k string) (string, error) {
	if err := p.key(k); err != nil {
		return "", err
	}
	rest := p.b[p.pos:]
	if i := bytes.Index(rest, []byte("\n\f\nuid:")); i >= 0 {
		p.pos += i + 3
		return string(rest[:i]), nil
	}
	p.pos = len(p.b)
	return strings.TrimSuffix(string(rest), "\n"), nil
}

// unfold undoes RFC 5322 header folding and trims.
func unfold(v string) string {
	v = strings.ReplaceAll(v, "\r\n", "\n")
	v = strings.ReplaceAll(v, "\n", "")
	return strings.TrimSpace(v)
}

// normalizeFlags drops \Recent (a per-session flag that depends on which
// process looked first) and orders system flags before keywords, each
// group sorted, the order Dovecot itself prints them in.
func normalizeFlags(fs []string) []string {
	out := []string{}
	for _, f := range fs {
		if !strings.EqualFold(f, `\Recent`) {
			out = append(out, f)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		si, sj := strings.HasPrefix(out[i], `\`), strings.HasPrefix(out[j], `\`)
		if si != sj {
			return si
		}
		return out[i] < out[j]
	})
	return out
}
