package crlf

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestToLF(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"a\r\nb\r\n", "a\nb\n"},
		{"a\nb", "a\nb"},
		{"lone\rcr", "lone\rcr"},
		{"trailing\r", "trailing\r"},
		{"\r\r\n", "\r\n"},
	}
	for _, tt := range tests {
		// Write one byte at a time so CRLF pairs straddle Write calls.
		var out bytes.Buffer
		w := ToLF(&out)
		for i := 0; i < len(tt.in); i++ {
			if _, err := w.Write([]byte{tt.in[i]}); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if out.String() != tt.want {
			t.Errorf("ToLF(%q) = %q, want %q", tt.in, out.String(), tt.want)
		}
	}
}

func TestToCRLFAndSize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"a\nb\n", "a\r\nb\r\n"},
		{"a\r\nb", "a\r\nb"},
		{"\n\n", "\r\n\r\n"},
		{"x\r", "x\r"},
		{"mixed\r\nand\nlone\rcr\n", "mixed\r\nand\r\nlone\rcr\r\n"},
	}
	for _, tt := range tests {
		got, err := io.ReadAll(iotest.OneByteReader(ToCRLF(strings.NewReader(tt.in))))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tt.want {
			t.Errorf("ToCRLF(%q) = %q, want %q", tt.in, got, tt.want)
		}
		n, err := Size(strings.NewReader(tt.in))
		if err != nil {
			t.Fatal(err)
		}
		if n != int64(len(tt.want)) {
			t.Errorf("Size(%q) = %d, want %d", tt.in, n, len(tt.want))
		}
	}
}

func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte("a\r\nb\nc\r"))
	f.Fuzz(func(t *testing.T, in []byte) {
		wire, err := io.ReadAll(ToCRLF(bytes.NewReader(in)))
		if err != nil {
			t.Fatal(err)
		}
		n, _ := Size(bytes.NewReader(in))
		if n != int64(len(wire)) {
			t.Fatalf("Size = %d, len(ToCRLF) = %d", n, len(wire))
		}
		var back bytes.Buffer
		w := ToLF(&back)
		w.Write(wire)
		w.Close()
		// Wire → LF → wire must be stable: what we store re-uploads byte-identically.
		again, _ := io.ReadAll(ToCRLF(bytes.NewReader(back.Bytes())))
		if !bytes.Equal(again, wire) {
			t.Fatalf("not stable: %q → %q → %q", wire, back.Bytes(), again)
		}
	})
}
