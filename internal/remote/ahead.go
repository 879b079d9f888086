package remote

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// A sync's first round asks the STATUS of the folders it knows and the
// LIST (List). Sent behind the login, without waiting for its answer, it
// is answered in the login's round trip: a round trip less in every run,
// a third of a no-op's. The server reads the commands only once the login
// succeeded (RFC 3501 pipelining, in order); after a refusal they fail as
// not allowed before login, and the refusal is what Dial reports.
//
// This needs a login that is one command with no continuation to wait
// for: LOGIN, or AUTHENTICATE PLAIN with SASL-IR (RFC 4959). go-imap's
// Authenticate holds its writer until the exchange ends, so mailsync
// writes that AUTHENTICATE itself, past go-imap, as it does MULTIAPPEND.
// The OAuth2 mechanisms are left alone: a refused token is answered with
// a continuation, which the next pipelined line would then answer.
//
// A folder's SELECT can go behind the login too (Ahead.Select), on any
// connection: the folder's SelectLater takes it, and the folder's first
// commands go out as soon as the login is answered, a round trip sooner.

// Ahead is what a connection asks behind its login (Options.Ahead).
type Ahead struct {
	// Known names the folders whose STATUS is asked: List's known.
	Known []string
	// CondStore asks for HIGHESTMODSEQ too: the server had CONDSTORE at
	// the last sync. Dovecot announces it only after login, too late for
	// commands sent with the login; if the server's capabilities after
	// login say otherwise, List asks again.
	CondStore bool
	// Select, if set, is a folder's SELECT sent behind the rest, for the
	// folder's SelectLater on this connection to take: the folder's first
	// commands then go out as soon as the login is answered. With Select
	// and no Known, it is all that is sent (no LIST).
	Select *AheadSelect
}

// AheadSelect is a folder's SELECT sent behind the login (Ahead.Select):
// the server's name, and the UIDVALIDITY the folder must have, as
// SelectLater takes them. It is never an EXAMINE: a folder that only
// reads has nothing to store, and nothing to gain from it.
type AheadSelect struct {
	Name        string
	UIDValidity uint32
}

// aheadList is the first round sent behind the login, for List to take.
type aheadList struct {
	condStore bool
	status    map[string]*imapclient.StatusCommand
	list      *imapclient.ListCommand
}

// canLoginAhead reports whether mech logs in with a single command.
func (c *Conn) canLoginAhead(caps imap.CapSet, mech string) bool {
	return c.g != nil && (mech == MechLogin || mech == MechPlain && caps.Has(imap.CapSASLIR))
}

// sendAhead writes the first round: the known folders' STATUS, then the
// LIST, as List would, then the SELECT of a.Select.
func (c *Conn) sendAhead(a Ahead) {
	if a.Select != nil {
		defer c.preselect(*a.Select, a.CondStore)
		if len(a.Known) == 0 {
			return
		}
	}
	opts := &imap.StatusOptions{NumMessages: true, UIDNext: true, UIDValidity: true, HighestModSeq: a.CondStore}
	al := &aheadList{condStore: a.CondStore, status: make(map[string]*imapclient.StatusCommand, len(a.Known))}
	for _, name := range a.Known {
		if al.status[name] == nil {
			al.status[name] = c.c.Status(name, opts)
		}
	}
	al.list = c.c.List("", "*", nil)
	c.ahead = al
}

// preselect writes s's SELECT, with CONDSTORE if condStore (the
// capabilities are not known yet), and keeps it for the folder's
// SelectLater (takePreselected).
func (c *Conn) preselect(s AheadSelect, condStore bool) {
	l := &lazySelect{name: s.Name, expect: s.UIDValidity, ended: c.busy()}
	l.cmd = c.c.Select(s.Name, &imap.SelectOptions{CondStore: condStore})
	c.cur = l
	c.pre, c.preCondStore = l, condStore
	c.hasPre.Store(true)
}

// Preselected is the folder whose SELECT went behind the login
// (Ahead.Select) while no folder has taken it and no other SELECT has
// followed it; "" if none.
func (c *Conn) Preselected() string {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.pre == nil || c.cur != c.pre {
		return ""
	}
	return c.pre.name
}

// takePreselected hands over the SELECT sent behind the login if it is
// the one asked for (name, readOnly, uidValidity) and still the current
// one, once. A SELECT sent with a CONDSTORE guess the login's answer
// belied is not handed over: the folder selects again. The caller holds
// c.wmu.
func (c *Conn) takePreselected(name string, readOnly bool, uidValidity uint32) *lazySelect {
	p := c.pre
	if p == nil || c.cur != p || p.name != name || p.readOnly != readOnly || p.expect != uidValidity || c.preCondStore != c.CondStore() {
		return nil
	}
	c.pre = nil
	c.hasPre.Store(false)
	return p
}

// sendAheadOf writes the first round ahead gives, if it gives one. It may
// wait for it: the server reads the round whenever it comes, after the
// login.
//
// ENABLE QRESYNC goes first, if wanted (vanished.go): the server announces
// QRESYNC only after login, and one without it enables nothing.
func (c *Conn) sendAheadOf(ctx context.Context, ahead func(context.Context) (Ahead, bool)) {
	if c.wantQResync {
		// A failed write fails the login's answer too.
		_ = c.enableQResync()
	}
	if a, ok := ahead(ctx); ok {
		c.sendAhead(a)
	}
}

// takeAhead hands List the round sent behind the login, once. A round
// that asked the wrong STATUS items for the capabilities the server has
// after login is read to its end and dropped: List asks again.
func (c *Conn) takeAhead() (*aheadList, error) {
	al := c.ahead
	c.ahead = nil
	if al == nil || len(al.status) == 0 || al.condStore == c.CondStore() {
		return al, nil
	}
	for name, cmd := range al.status {
		if _, err := cmd.Wait(); err != nil && !errors.As(err, new(*imap.Error)) {
			return nil, fmt.Errorf("STATUS %q: %w", name, err)
		}
	}
	if _, err := al.list.Collect(); err != nil && !errors.As(err, new(*imap.Error)) {
		return nil, fmt.Errorf("LIST: %w", err)
	}
	return nil, nil
}

// authenticatePlainAhead logs in with AUTHENTICATE PLAIN and its initial
// response, written past go-imap, and sends the round ahead gives behind
// it before reading the answer. The capabilities the OK carries are
// handed on to go-imap as an untagged CAPABILITY, in the OK's place in
// the stream, and returned; nil if it carried none.
func (c *Conn) authenticatePlainAhead(ctx context.Context, user, secret string, ahead func(context.Context) (Ahead, bool)) (imap.CapSet, error) {
	tag := c.nextRawTag()
	answer := c.g.divertThen(tag, func(line string, rest []byte) bool {
		// On the reading goroutine, before go-imap reads what follows.
		t, _ := parseTagged(line, tag)
		caps, ok := t.capabilities()
		if !ok {
			return false
		}
		c.g.prefix = append([]byte("* CAPABILITY "+caps+"\r\n"), rest...)
		return true
	})
	ir := base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + secret))
	if err := c.writeRawLine(tag, "AUTHENTICATE PLAIN "+ir); err != nil {
		return nil, err
	}
	c.sendAheadOf(ctx, ahead)
	res, err := c.awaitRaw(ctx, tag, answer)
	if err == nil {
		err = res.err
	}
	if err != nil {
		return nil, err
	}
	t, ok := parseTagged(res.line, tag)
	if !ok {
		return nil, fmt.Errorf("unexpected answer %.80q", res.line)
	}
	if t.status != "OK" {
		return nil, t.err()
	}
	caps, ok := t.capabilities()
	if !ok {
		return nil, nil
	}
	set := make(imap.CapSet)
	for _, f := range strings.Fields(caps) {
		set[imap.Cap(f)] = struct{}{}
	}
	return set, nil
}
