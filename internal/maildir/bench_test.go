package maildir

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkScan lists a folder of 20,000 messages (readdir only, no stat).
func BenchmarkScan(b *testing.B) {
	f := &Folder{Dir: filepath.Join(b.TempDir(), "INBOX")}
	if err := f.Create(); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < 20000; i++ {
		name := fmt.Sprintf("1700000000.M%dP1R%06x.host,U=%d,FMD5=0123456789abcdef0123456789abcdef:2,S", i, i, i+1)
		if err := os.WriteFile(filepath.Join(f.Dir, "cur", name), nil, 0o600); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		es, _, err := f.scanOnce()
		if err != nil || len(es) != 20000 {
			b.Fatalf("%d entries, %v", len(es), err)
		}
	}
}

func BenchmarkParseName(b *testing.B) {
	const name = "1700000000.M123P456R0a1b2c.host,S=4242,U=17,FMD5=0123456789abcdef0123456789abcdef:2,FS"
	for i := 0; i < b.N; i++ {
		if _, err := ParseName(name); err != nil {
			b.Fatal(err)
		}
	}
}
