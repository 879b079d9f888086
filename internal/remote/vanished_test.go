package remote

import (
	"context"
	"io"
	"mailsync/internal/dovetest"
	"net"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
)

// chunkConn is a net.Conn whose reads return at most size bytes of a
// fixed stream, as a network would in pieces.
type chunkConn struct {
	net.Conn
	stream []byte
	size   int
}

func (c *chunkConn) Read(p []byte) (int, error) {
	if len(c.stream) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.stream[:min(c.size, len(c.stream))])
	c.stream = c.stream[n:]
	return n, nil
}

// TestGuardVanished reads a stream through the guard in every chunk size
// and with small and large read buffers, and checks that exactly the
// VANISHED responses are taken out, that each (EARLIER) one goes to the
// FETCH whose tagged answer follows it, that a plain one counts as a
// change, and that every other byte, VANISHED-looking literal data
// included, reaches go-imap in order.
func TestGuardVanished(t *testing.T) {
	body := "* VANISHED 1\r\nT5 OK x\r\n"
	parts := []struct {
		text  string
		taken bool // out of the stream
	}{
		{"* 3 EXISTS\r\n", false},
		{"* VANISHED (EARLIER) 3:4,7\r\n", true},
		{"* 1 FETCH (UID 5 FLAGS (\\Seen) MODSEQ (9))\r\n", false},
		{"* 2 FETCH (UID 6 BODY[] {" + strconv.Itoa(len(body)) + "}\r\n" + body + ")\r\n", false},
		{"* VANUATU 1\r\n", false},
		{"* V\r\n", false},
		{"* vanished (earlier) 10\r\n", true},
		{"T5 OK done\r\n", false},
		{"* VANISHED (EARLIER) 20\r\n", true},
		{"* VANISHED 8\r\n", true},
		{"T6 OK done\r\n", false},
		{"* OK [CLOSED] x\r\n", false},
	}
	var stream, wantOut string
	for _, p := range parts {
		stream += p.text
		if !p.taken {
			wantOut += p.text
		}
	}
	for size := 1; size <= len(stream); size++ {
		for _, bufSize := range []int{1, 2, 5, 11, 4096} {
			g := newGuardConn(&chunkConn{stream: []byte(stream), size: size}, nil)
			changes := 0
			g.onVanished = func() { changes++ }
			e5 := &earlierAnswer{tag: "T5", written: true}
			e6 := &earlierAnswer{tag: "T6", written: true}
			g.earlier = []*earlierAnswer{e5, e6}
			var out []byte
			buf := make([]byte, bufSize)
			var err error
			for err == nil {
				var n int
				n, err = g.Read(buf)
				out = append(out, buf[:n]...)
			}
			if err != io.EOF {
				t.Fatalf("chunk %d, buffer %d: %v", size, bufSize, err)
			}
			if string(out) != wantOut {
				t.Fatalf("chunk %d, buffer %d: go-imap read\n%q\nwant\n%q", size, bufSize, out, wantOut)
			}
			if got := UIDsIn([]uint32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 20}, e5.gone); !e5.done || !reflect.DeepEqual(got, []uint32{3, 4, 7, 10}) {
				t.Fatalf("chunk %d, buffer %d: T5's VANISHED (EARLIER): %v (done %v); want 3,4,7,10", size, bufSize, e5.gone, e5.done)
			}
			if got := UIDsIn([]uint32{8, 20}, e6.gone); !e6.done || !reflect.DeepEqual(got, []uint32{20}) {
				t.Fatalf("chunk %d, buffer %d: T6's VANISHED (EARLIER): %v (done %v); want 20", size, bufSize, e6.gone, e6.done)
			}
			if changes != 1 {
				t.Fatalf("chunk %d, buffer %d: %d unasked VANISHED seen; want 1", size, bufSize, changes)
			}
		}
	}
}

func TestGuardVanishedMalformed(t *testing.T) {
	for _, stream := range []string{
		"* VANISHED (EARLIER) 1:x\r\n",
		"* VANISHED \r\n",
		"* VANISHED 0\r\n",
		"* VANISHED (EARLIER) *\r\n",
		"* VANISHED {3}\r\n1:2\r\n",
	} {
		g := newGuardConn(&chunkConn{stream: []byte(stream), size: 4096}, nil)
		_, err := g.Read(make([]byte, 4096))
		if err == nil || err == io.EOF || !strings.Contains(err.Error(), "VANISHED") {
			t.Errorf("%q: Read = %v; want an error naming VANISHED", stream, err)
		}
	}
}

func TestWithVanished(t *testing.T) {
	tests := []struct{ in, out, tag string }{
		{"T12 UID FETCH 1:* (UID FLAGS MODSEQ) (CHANGEDSINCE 77)\r\n", "T12 UID FETCH 1:* (UID FLAGS MODSEQ) (CHANGEDSINCE 77 VANISHED)\r\n", "T12"},
		{"T3 UID FETCH 1:* (UID FLAGS)\r\n", "", ""},
		{"T3 FETCH 1:* (UID FLAGS) (CHANGEDSINCE 5)\r\n", "", ""},
		{"T3 UID FETCH 1:* (UID FLAGS) (CHANGEDSINCE 5)", "", ""},
		{"M3 UID FETCH 1:* (UID FLAGS) (CHANGEDSINCE 5)\r\n", "", ""},
		{"literal data (CHANGEDSINCE 5)\r\n", "", ""},
	}
	for _, tt := range tests {
		out, tag, ok := withVanished([]byte(tt.in))
		if ok != (tt.out != "") || string(out) != tt.out || tag != tt.tag {
			t.Errorf("withVanished(%q) = %q, %q, %v; want %q, %q", tt.in, out, tag, ok, tt.out, tt.tag)
		}
	}
}

func TestParseVanished(t *testing.T) {
	tests := []struct {
		line    string
		earlier bool
		set     imap.UIDSet
		ok      bool
	}{
		{"* VANISHED 1", false, imap.UIDSet{{Start: 1, Stop: 1}}, true},
		{"* VANISHED (EARLIER) 41,43:116,120", true, imap.UIDSet{{Start: 41, Stop: 41}, {Start: 43, Stop: 116}, {Start: 120, Stop: 120}}, true},
		{"* vanished (earlier) 9:7", true, imap.UIDSet{{Start: 7, Stop: 9}}, true},
		{"* VANISHED (EARLIER)", false, nil, false},
		{"* VANISHED 1,", false, nil, false},
		{"* VANISHED 4294967296", false, nil, false},
		{"* VANISHED 3:*", false, nil, false},
	}
	for _, tt := range tests {
		earlier, set, err := parseVanished([]byte(tt.line))
		if (err == nil) != tt.ok || tt.ok && (earlier != tt.earlier || !reflect.DeepEqual(set, tt.set)) {
			t.Errorf("parseVanished(%q) = %v, %v, %v", tt.line, earlier, set, err)
		}
	}
}

func FuzzParseVanished(f *testing.F) {
	for _, s := range []string{"1", "(EARLIER) 41,43:116", "(EARLIER) 1:4294967295", "3:*"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, set, err := parseVanished([]byte(vanishedPrefix + s))
		if err != nil {
			return
		}
		for _, r := range set {
			if r.Start == 0 || r.Start > r.Stop {
				t.Fatalf("%q: range %v", s, r)
			}
		}
	})
}

func TestUIDsIn(t *testing.T) {
	set := func(s string) imap.UIDSet {
		u, err := parseUIDRanges(s)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	tests := []struct {
		uids []uint32
		set  string
		want []uint32
	}{
		{[]uint32{1, 2, 3, 4, 5}, "2:3", []uint32{2, 3}},
		{[]uint32{1, 5, 9}, "9,1", []uint32{1, 9}},
		{[]uint32{1, 5, 9}, "2:4,6:8", nil},
		{[]uint32{3, 10, 11, 50}, "1:20,10:11", []uint32{3, 10, 11}},
		{[]uint32{3, 10, 11, 50}, "10:11,1:4,40:60", []uint32{3, 10, 11, 50}},
		{[]uint32{5, 6}, "1:10,6", []uint32{5, 6}},
		{[]uint32{5, 15}, "12:20,1:10", []uint32{5, 15}},
		{nil, "1:10", nil},
	}
	for _, tt := range tests {
		if got := UIDsIn(tt.uids, set(tt.set)); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("UIDsIn(%v, %s) = %v; want %v", tt.uids, tt.set, got, tt.want)
		}
	}
}

// TestVanishedDovecot asks two folders, pipelined on one connection, what
// went since a HIGHESTMODSEQ, with and without the login ahead, and checks
// that each learns its own expunges and changed flags, and that the UID
// EXPUNGE that follows, answered with VANISHED, leaves the connection
// working.
func TestVanishedDovecot(t *testing.T) {
	user := "vanished"
	srv := dovetest.Start(t, dovetest.Options{Users: []string{user}})
	srv.CreateMailbox(t, user, "Other")
	boxes := []string{"INBOX", "Other"}
	for _, box := range boxes {
		for i := range 10 {
			srv.Append(t, user, box, textMessage(box+strconv.Itoa(i), 100))
		}
	}
	ctx := context.Background()
	probe := dialDovecot(t, srv, user)
	before := map[string]Status{}
	for _, box := range boxes {
		// SELECT with CONDSTORE: Dovecot tracks a mailbox's modseqs
		// from the first time a client asks.
		st, err := probe.Select(ctx, box, true)
		if err != nil {
			t.Fatal(err)
		}
		before[box] = st
	}
	probe.Close()
	gone := map[string][]uint32{"INBOX": {3, 4, 7}, "Other": {10}}
	for box, uids := range gone {
		for _, u := range uids {
			srv.Expunge(t, user, box, u)
		}
	}
	srv.AddFlags(t, user, "Other", 2, `\Flagged`)
	all := []uint32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}

	for _, ahead := range []bool{false, true} {
		t.Run("ahead="+strconv.FormatBool(ahead), func(t *testing.T) {
			var trace traceLog
			c := dialQResync(t, srv, user, &trace, true, func(o *Options) {
				if ahead {
					o.Ahead = func(context.Context) (Ahead, bool) { return Ahead{Known: boxes, CondStore: true}, true }
				}
			})
			if ahead {
				if _, err := c.List(ctx, boxes); err != nil {
					t.Fatal(err)
				}
			}
			if !c.QResync() {
				t.Fatalf("QResync() = false against Dovecot; trace:\n%s", trace.String())
			}
			asked := map[string]*Changes{}
			for _, box := range boxes {
				f := c.Folder()
				f.SelectLater(box, false, before[box].UIDValidity)
				asked[box] = f.AskVanished(ctx, before[box].HighestModSeq)
			}
			for _, box := range boxes {
				uids, flags, err := asked[box].Wait()
				if err != nil {
					t.Fatalf("%s: %v", box, err)
				}
				set, ok := asked[box].Vanished()
				if !ok || uids != nil {
					t.Fatalf("%s: Vanished() = %v, %v with UIDs %v; want an answer and no UIDs", box, set, ok, uids)
				}
				if got := UIDsIn(all, set); !reflect.DeepEqual(got, gone[box]) {
					t.Errorf("%s: vanished %v; want %v", box, got, gone[box])
				}
				var changed []uint32
				for _, in := range flags {
					changed = append(changed, in.UID)
				}
				if want := map[string][]uint32{"Other": {2}}[box]; !reflect.DeepEqual(changed, want) {
					t.Errorf("%s: flags changed for %v; want %v", box, changed, want)
				}
			}
			if !strings.Contains(trace.String(), "VANISHED)") {
				t.Errorf("no FETCH went out with VANISHED; trace:\n%s", trace.String())
			}
		})
	}

	t.Run("UID EXPUNGE", func(t *testing.T) {
		var trace traceLog
		c := dialQResync(t, srv, user, &trace, true, nil)
		// Expunged by us: the server says so with VANISHED, not EXPUNGE.
		f := c.Folder()
		f.SelectLater("INBOX", false, before["INBOX"].UIDValidity)
		if err := f.StoreFlags(ctx, []FlagChange{{UIDs: []uint32{8}, Add: true, Flags: []imap.Flag{imap.FlagDeleted}}}, []uint32{8}); err != nil {
			t.Fatal(err)
		}
		uids, _, err := f.AskChanges(ctx, true, false, 0).Wait()
		if err != nil {
			t.Fatal(err)
		}
		if want := []uint32{1, 2, 5, 6, 9, 10}; !reflect.DeepEqual(uids, want) {
			t.Errorf("INBOX after UID EXPUNGE 8: %v; want %v", uids, want)
		}
		if !strings.Contains(trace.String(), "S: * VANISHED 8") {
			t.Errorf("the server did not report the expunge with VANISHED; trace:\n%s", trace.String())
		}
	})
}

// TestVanishedBytes measures what QRESYNC saves where it matters: a folder
// whose UIDs are scattered by old expunges (every other one of 4,000
// here), from which five more went since the last sync. UID SEARCH, even
// as ESEARCH, answers with every UID left; VANISHED (EARLIER) with the
// five.
func TestVanishedBytes(t *testing.T) {
	user := "vanbytes"
	srv := dovetest.Start(t, dovetest.Options{Users: []string{user}})
	ctx := context.Background()
	c := dialDovecot(t, srv, user)
	const n = 4000
	var msgs []AppendMessage
	for i := range n {
		b := textMessage("b"+strconv.Itoa(i), 100)
		msgs = append(msgs, AppendMessage{Size: int64(len(b)), Body: strings.NewReader(string(b))})
	}
	if _, err := c.MultiAppend(ctx, "INBOX", msgs); err != nil {
		t.Fatal(err)
	}
	expunge := func(uids []uint32) {
		t.Helper()
		f := c.Folder()
		f.SelectLater("INBOX", false, 0)
		if err := f.StoreFlags(ctx, []FlagChange{{UIDs: uids, Add: true, Flags: []imap.Flag{imap.FlagDeleted}}}, uids); err != nil {
			t.Fatal(err)
		}
	}
	var odd []uint32
	for u := uint32(1); u <= n; u += 2 {
		odd = append(odd, u)
	}
	expunge(odd)
	last, err := c.Select(ctx, "INBOX", false) // the last sync's view
	if err != nil {
		t.Fatal(err)
	}
	went := []uint32{2, 1000, 2000, 3000, 4000}
	expunge(went)

	answer := map[bool]int{}
	for _, qresync := range []bool{false, true} {
		var trace traceLog
		d := dialQResync(t, srv, user, &trace, qresync, nil)
		f := d.Folder()
		f.SelectLater("INBOX", false, last.UIDValidity)
		var ch *Changes
		if qresync {
			ch = f.AskVanished(ctx, last.HighestModSeq)
		} else {
			ch = f.AskChanges(ctx, true, true, last.HighestModSeq)
		}
		uids, _, err := ch.Wait()
		if err != nil {
			t.Fatal(err)
		}
		if qresync {
			set, _ := ch.Vanished()
			if got := UIDsIn(went, set); !reflect.DeepEqual(got, went) {
				t.Fatalf("VANISHED (EARLIER) %v; want %v", set, went)
			}
			answer[true] = len("* VANISHED (EARLIER) " + set.String())
		} else {
			if len(uids) != n/2-len(went) {
				t.Fatalf("UID SEARCH found %d UIDs; want %d", len(uids), n/2-len(went))
			}
			// The server's answer, as ESEARCH or SEARCH writes it.
			answer[false] = len("* ESEARCH (TAG \"T1\") UID ALL " + UIDSet(uids).String())
		}
	}
	t.Logf("what went, learnt by UID SEARCH: %d bytes; by VANISHED (EARLIER): %d bytes", answer[false], answer[true])
	if answer[true]*100 > answer[false] {
		t.Errorf("VANISHED (EARLIER) took %d bytes, UID SEARCH %d: want a hundredth or less", answer[true], answer[false])
	}
}

// dialQResync dials Dovecot as user, with QRESYNC if qresync, tracing to
// trace, after tweak (if set) has changed the options; the connection is
// closed when the test ends.
func dialQResync(t *testing.T, srv *dovetest.Server, user string, trace *traceLog, qresync bool, tweak func(*Options)) *Conn {
	t.Helper()
	o := Options{Host: srv.Host, Port: srv.Port, TLS: TLSNone, User: user,
		Password: func(context.Context) (string, error) { return srv.Password(user), nil },
		Timeout:  10 * time.Second, Trace: trace.trace, QResync: qresync}
	if tweak != nil {
		tweak(&o)
	}
	c, err := Dial(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
