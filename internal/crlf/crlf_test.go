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
		{"\r\r\n", "\n"},
		{"a\r\rb\r", "a\r\rb\r"},
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
		// Whole, and a byte at a time: a CR and its LF in two reads.
		for _, r := range []io.Reader{strings.NewReader(tt.in), iotest.OneByteReader(strings.NewReader(tt.in))} {
			n, err := Size(r)
			if err != nil {
				t.Fatal(err)
			}
			if n != int64(len(tt.want)) {
				t.Errorf("Size(%q) = %d, want %d", tt.in, n, len(tt.want))
			}
		}
	}
}

func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte("a\r\nb\nc\r"))
	f.Add([]byte("\r\r\n0")) // a lone CR before a line end: normalised away, once
	f.Fuzz(func(t *testing.T, in []byte) {
		wire, err := io.ReadAll(ToCRLF(bytes.NewReader(in)))
		if err != nil {
			t.Fatal(err)
		}
		n, _ := Size(bytes.NewReader(in))
		if n != int64(len(wire)) {
			t.Fatalf("Size = %d, len(ToCRLF) = %d", n, len(wire))
		}
		if n, _ := Size(iotest.HalfReader(bytes.NewReader(in))); n != int64(len(wire)) {
			t.Fatalf("Size in halves = %d, len(ToCRLF) = %d", n, len(wire))
		}
		// Whatever the server sends, what we store must re-upload and
		// re-download without further change after one normalisation (the
		// LF form can't hold a lone CR right before a line end).
		stored := toLF(wire)
		wire2, _ := io.ReadAll(ToCRLF(bytes.NewReader(stored)))
		stored2 := toLF(wire2)
		wire3, _ := io.ReadAll(ToCRLF(bytes.NewReader(stored2)))
		if !bytes.Equal(wire2, wire3) || !bytes.Equal(stored2, toLF(wire3)) {
			t.Fatalf("not stable after one normalisation: %q → %q → %q", wire2, stored2, wire3)
		}
	})
}

func toLF(b []byte) []byte {
	var out bytes.Buffer
	w := ToLF(&out)
	w.Write(b)
	w.Close()
	return out.Bytes()
}
