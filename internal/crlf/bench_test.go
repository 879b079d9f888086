package crlf

import (
	"bytes"
	"io"
	"testing"
)

// BenchmarkToLF streams a 2 MB message the way a download does.
func BenchmarkToLF(b *testing.B) {
	msg := bytes.Repeat([]byte("Lorem ipsum dolor sit amet, consectetur adipiscing elit.\r\n"), 2<<20/59)
	b.SetBytes(int64(len(msg)))
	for i := 0; i < b.N; i++ {
		w := ToLF(io.Discard)
		if _, err := io.Copy(w, bytes.NewReader(msg)); err != nil {
			b.Fatal(err)
		}
		w.Close()
	}
}

// BenchmarkToCRLF streams a 2 MB message the way an upload does.
func BenchmarkToCRLF(b *testing.B) {
	msg := bytes.Repeat([]byte("Lorem ipsum dolor sit amet, consectetur adipiscing elit.\n"), 2<<20/58)
	b.SetBytes(int64(len(msg)))
	for i := 0; i < b.N; i++ {
		if _, err := io.Copy(io.Discard, ToCRLF(bytes.NewReader(msg))); err != nil {
			b.Fatal(err)
		}
	}
}
