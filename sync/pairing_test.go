package sync

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"mailsync/internal/crlf"
	"mailsync/internal/remote"
)

func TestPairer(t *testing.T) {
	flags := func(s string) *flagSet { f := parseMaildirFlags(s); return &f }
	srv := func(uid uint32, id string, size int64, fl string) pairServerMsg {
		return pairServerMsg{uid: uid, msgID: id, size: size, flags: parseMaildirFlags(fl)}
	}
	loc := func(t *testing.T, file, id string, size int64, hint uint32, base *flagSet) pairLocalMsg {
		return pairLocalMsg{entry: planFile(t, file), msgID: id, size: size, hint: hint, base: base}
	}
	render := func(p *pairer) string {
		var out []string
		for _, r := range p.pairs {
			out = append(out, fmt.Sprintf("%d=%s:%s", r.UID, r.Key, r.Flags))
		}
		sort.Strings(out)
		return strings.Join(out, " ")
	}
	for _, tc := range []struct {
		name   string
		server []pairServerMsg
		local  func(t *testing.T) []pairLocalMsg
		hashes [2]map[int]int   // server uid → hash id, local index → hash id
		tuid   map[uint32]int64 // server uid → the X-TUID line its header identity leaves out
		want   string
		hinted int
	}{{
		name:   "by Message-ID and size; flags set on either side win",
		server: []pairServerMsg{srv(1, "<a>", 100, "S"), srv(2, "<b>", 200, ""), srv(3, "<c>", 300, "")},
		local: func(t *testing.T) []pairLocalMsg {
			return []pairLocalMsg{loc(t, "ka:2,F", "<a>", 100, 0, nil), loc(t, "kb:2,S", "<b>", 200, 0, nil), loc(t, "kc", "<c>", 301, 0, nil)}
		},
		// c differs in size: another message, not paired. The state
		// records what both sides have in common, so the merge keeps both
		// sides' flags.
		want: "1=ka: 2=kb:",
	}, {
		name:   "duplicates pair one to one, in order",
		server: []pairServerMsg{srv(5, "<d>", 10, ""), srv(4, "<d>", 10, "")},
		local: func(t *testing.T) []pairLocalMsg {
			return []pairLocalMsg{loc(t, "k1", "<d>", 10, 0, nil), loc(t, "k2", "<d>", 10, 0, nil), loc(t, "k3", "<d>", 10, 0, nil)}
		},
		want: "4=k1: 5=k2:",
	}, {
		name:   "a hint the content confirms pairs, with the other tool's base",
		server: []pairServerMsg{srv(7, "<x>", 50, "S"), srv(8, "<x>", 50, "")},
		local: func(t *testing.T) []pairLocalMsg {
			// Both files are the same message; the hint says which is which.
			return []pairLocalMsg{loc(t, "k1,U=8:2,S", "<x>", 50, 8, flags("S")), loc(t, "k2,U=7:2,S", "<x>", 50, 7, flags("FS"))}
		},
		want:   "7=k2:FS 8=k1:S",
		hinted: 2,
	}, {
		name:   "a hint the content refutes is ignored",
		server: []pairServerMsg{srv(3, "<other>", 50, ""), srv(9, "<y>", 60, "")},
		local: func(t *testing.T) []pairLocalMsg {
			return []pairLocalMsg{loc(t, "k1,U=3:2,", "<y>", 60, 3, flags("T"))}
		},
		want: "9=k1:",
	}, {
		name:   "without Message-ID: size and header hash",
		server: []pairServerMsg{srv(1, "", 10, "R"), srv(2, "", 10, ""), srv(3, "", 11, "")},
		local: func(t *testing.T) []pairLocalMsg {
			return []pairLocalMsg{loc(t, "k1:2,R", "", 10, 0, nil), loc(t, "k2", "", 11, 0, nil)}
		},
		hashes: [2]map[int]int{{1: 100, 2: 200, 3: 300}, {0: 200, 1: 999}},
		want:   "2=k1:",
	}, {
		// mbsync adds "X-TUID: …" (22 bytes) to the copy it uploads, not
		// to its file: same Message-ID, a server copy 22 bytes larger,
		// the same header without that line. The one mbsync's state
		// names is paired, with its base flags; a copy whose header
		// differs is not.
		name: "mbsync's upload: the server's copy carries X-TUID",
		server: []pairServerMsg{srv(4, "<u>", 72, "S"), srv(5, "<u>", 72, "S"), srv(6, "<v>", 90, ""),
			srv(7, "<w>", 200, "")},
		local: func(t *testing.T) []pairLocalMsg {
			return []pairLocalMsg{loc(t, "k1,U=3:2,S", "<u>", 50, 5, flags("FS")), loc(t, "k2", "<v>", 68, 0, nil),
				loc(t, "k3", "<w>", 100, 0, nil)}
		},
		hashes: [2]map[int]int{{4: 500, 5: 500, 6: 600, 7: 700}, {0: 500, 1: 601, 2: 700}},
		tuid:   map[uint32]int64{4: 22, 5: 22, 6: 22},
		want:   "5=k1:FS",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPairer(tc.server, tc.local(t))
			p.byHints()
			p.byMessageID()
			if tc.hashes[0] != nil {
				// Only the headers unpairedForHeaders asks for are read.
				li, su := p.unpairedForHeaders()
				sh := map[uint32]serverIdentity{}
				for _, uid := range su {
					if h, ok := tc.hashes[0][int(uid)]; ok {
						sh[uid] = serverIdentity{hash: [32]byte{byte(h), byte(h >> 8)}, size: p.server[uid].size - tc.tuid[uid]}
					}
				}
				lh := map[int][32]byte{}
				for _, i := range li {
					if h, ok := tc.hashes[1][i]; ok {
						lh[i] = [32]byte{byte(h), byte(h >> 8)}
					}
				}
				p.byHash(sh, lh)
			}
			if got := render(p); got != tc.want {
				t.Errorf("pairs %q; want %q", got, tc.want)
			}
			if p.hinted != tc.hinted {
				t.Errorf("hinted %d; want %d", p.hinted, tc.hinted)
			}
		})
	}
}

// A file pairing considered and left unpaired is new, whatever its U=
// says: the merge uploads it rather than adopt it.
func TestPlanPairedNotAdopted(t *testing.T) {
	f := planFile(t, "k1,U=3,FMD5="+planMD5+":2,S")
	in := planInput{local: nil, remoteUIDs: planUIDs(3), folderMD5: planMD5}
	in.local = append(in.local, f)
	if p := makePlan(in); len(p.adopt) != 1 {
		t.Fatalf("without pairing the file is adopted: %v", planRender(p))
	}
	in.paired = map[string]bool{"k1": true}
	p := makePlan(in)
	if got := strings.Join(planRender(p), "; "); len(p.upload) != 1 || len(p.download) != 1 || len(p.adopt) != 0 {
		t.Errorf("plan: %s", got)
	}
}

// mbsync adds an X-TUID header to the files it writes; the identity of
// such a file is the server's message's, without it, and so is what
// mailsync uploads of it.
func TestFileIdentityTUID(t *testing.T) {
	server := "From: a@example.org\r\nMessage-ID: <m@x>\r\nSubject: s\r\n\r\nbody\r\nline\r\n"
	for name, file := range map[string]string{
		"plain LF":        "From: a@example.org\nMessage-ID: <m@x>\nSubject: s\n\nbody\nline\n",
		"mbsync LF":       "From: a@example.org\nMessage-ID: <m@x>\nSubject: s\nX-TUID: gBLIxf84lDnL\n\nbody\nline\n",
		"mbsync CRLF":     "From: a@example.org\r\nMessage-ID: <m@x>\r\nX-TUID: gBLIxf84lDnL\r\nSubject: s\r\n\r\nbody\r\nline\r\n",
		"mbsync, lowered": "x-tuid: gBLIxf84lDnL\nFrom: a@example.org\nMessage-ID: <m@x>\nSubject: s\n\nbody\nline\n",
	} {
		p := filepath.Join(t.TempDir(), "m")
		if err := os.WriteFile(p, []byte(file), 0o600); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		id, size, hdr := fileIdentity(f)
		// What mailsync uploads of the file is the server's message, byte
		// for byte, so that the two pair again if the state is lost.
		var tu *tuid
		if tt, ok := tuidIn(readHeader(f)); ok {
			tu = &tt
		}
		sent, err := io.ReadAll(crlf.ToCRLF(uploadBody(f, tu)))
		f.Close()
		if err != nil || string(sent) != server {
			t.Errorf("%s: uploads %q (%v), want %q", name, sent, err, server)
		}
		if id != "<m@x>" || size != int64(len(server)) {
			t.Errorf("%s: identity %q, %d; want <m@x>, %d", name, id, size, len(server))
		}
		if remote.HeaderHash(hdr) != remote.HeaderHash([]byte(server[:strings.Index(server, "\r\n\r\n")+4])) {
			t.Errorf("%s: header hash differs from the server's", name)
		}
	}
	// The server's copy of a message mbsync uploaded carries the X-TUID
	// line instead; its identity is the same.
	uploaded := "From: a@example.org\r\nMessage-ID: <m@x>\r\nSubject: s\r\nX-TUID: gBLIxf84lDnL\r\n\r\nbody\r\nline\r\n"
	hdrEnd := strings.Index(uploaded, "\r\n\r\n") + 4
	if got, want := headerIdentity([]byte(uploaded[:hdrEnd]), int64(len(uploaded))),
		(serverIdentity{remote.HeaderHash([]byte(server[:strings.Index(server, "\r\n\r\n")+4])), int64(len(server))}); got != want {
		t.Errorf("identity of the server's copy with X-TUID: %+v, want %+v", got, want)
	}
	// A body line that looks like the header is not the header.
	p := filepath.Join(t.TempDir(), "m")
	os.WriteFile(p, []byte("Message-ID: <m@x>\n\nX-TUID: not a header\n"), 0o600)
	f, _ := os.Open(p)
	defer f.Close()
	if _, size, _ := fileIdentity(f); size != int64(len("Message-ID: <m@x>\r\n\r\nX-TUID: not a header\r\n")) {
		t.Errorf("X-TUID in the body changed the size: %d", size)
	}
}
