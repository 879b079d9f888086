package remote

import (
	"bytes"
	"strings"
	"testing"
)

// BenchmarkGuardLiteral passes a 2 MB body literal through the stream guard,
// which every byte from the server crosses.
func BenchmarkGuardLiteral(b *testing.B) {
	body := strings.Repeat("x", 2<<20)
	stream := []byte("* 1 FETCH (UID 1 FLAGS (\\Seen) BODY[] {2097152}\r\n" + body + ")\r\n")
	b.SetBytes(int64(len(stream)))
	for i := 0; i < b.N; i++ {
		g := newGuardConn(nil, nil)
		for r := bytes.NewReader(stream); r.Len() > 0; {
			chunk := make([]byte, 32<<10)
			n, _ := r.Read(chunk)
			if _, err := g.scan(chunk[:n]); err != nil {
				b.Fatal(err)
			}
		}
	}
}
