package remote

import "testing"

func TestHeaderHash(t *testing.T) {
	crlf := []byte("From: a\r\nSubject: x\r\n\r\n")
	for _, same := range [][]byte{
		[]byte("From: a\nSubject: x\n\n"),
		[]byte("From: a\r\nSubject: x\n\r\n"),
	} {
		if HeaderHash(same) != HeaderHash(crlf) {
			t.Errorf("HeaderHash(%q) differs from its CRLF form", same)
		}
	}
	if HeaderHash([]byte("From: b\r\nSubject: x\r\n\r\n")) == HeaderHash(crlf) {
		t.Error("different headers hash alike")
	}
}
