package remote

import (
	"net"
	"strings"
	"testing"
)

func TestGuard(t *testing.T) {
	body := strings.Repeat("x", 3<<20)
	tests := []struct {
		name, stream string
		ok           bool
	}{
		{"plain lines", "* OK hi\r\n* 3 EXISTS\r\n", true},
		{"small string literal", "* LIST () \"/\" {5}\r\nINBOX\r\n", true},
		{"huge body literal streams", "* 1 FETCH (UID 1 BODY[] {3145728}\r\n" + body + ")\r\n", true},
		{"huge body literal with origin", "* 1 FETCH (BODY[]<0> {3145728}\r\n" + body + ")\r\n", true},
		{"huge RFC822 literal", "* 1 FETCH (RFC822 {3145728}\r\n" + body + ")\r\n", true},
		{"literal bytes are not parsed as lines", "* 1 FETCH (BODY[] {12}\r\n{9999999999}\r\n)\r\n", true},
		{"huge string literal", "* LIST () \"/\" {3145728}\r\n" + body + "\r\n", false},
		{"huge header-looking string", "* 1 FETCH (FLAGS {99999999}\r\n", false},
		{"endless line", "* OK " + strings.Repeat("a", maxLine+10), false},
		{"capabilities", "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi\r\n* CAPABILITY IMAP4rev1 X-Y\r\n", true},
		{"parenthesis after capabilities is fine", "* OK [CAPABILITY IMAP4rev1] (hi)\r\n* LIST (\\Noselect) \"/\" CAPABILITY(\r\n", true},
		{"'(' in a capability response code (go-imap would spin)", "* OK [CAPABILITY(\nT1 OK\n", false},
		{"'(' in untagged capability data", "* CAPABILITY IMAP4rev1 (X)\r\n", false},
	}
	for _, tt := range tests {
		g := newGuardConn(nil, nil)
		// Feed in odd-sized chunks so headers straddle reads.
		var err error
		for s := tt.stream; s != "" && err == nil; {
			n := 7777
			if n > len(s) {
				n = len(s)
			}
			err = g.scan([]byte(s[:n]))
			s = s[n:]
		}
		if (err == nil) != tt.ok {
			t.Errorf("%s: err = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}

func TestGuardPrefix(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	g := newGuardConn(a, []byte("* OK synthetic\r\n"))
	buf := make([]byte, 64)
	n, err := g.Read(buf)
	if err != nil || string(buf[:n]) != "* OK synthetic\r\n" {
		t.Fatalf("prefix: %q %v", buf[:n], err)
	}
}
