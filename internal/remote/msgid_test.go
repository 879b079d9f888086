package remote

import "testing"

func TestParseMessageID(t *testing.T) {
	tests := []struct{ name, header, want string }{
		{"crlf", "From: a\r\nMessage-ID: <x@y>\r\n\r\n", "<x@y>"},
		{"lf", "From: a\nMessage-Id: <x@y>\n\n", "<x@y>"},
		{"case", "message-id:   <x@y>  \n\n", "<x@y>"},
		{"folded", "Message-ID:\r\n <long@example.org>\r\n\r\n", "<long@example.org>"},
		{"missing", "From: a\r\n\r\n", ""},
		{"no blank line (header fields only)", "Message-ID: <x@y>\r\n", "<x@y>"},
		{"garbage", "\x00\x01 not a header", ""},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		if got := ParseMessageID([]byte(tt.header)); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}

func FuzzParseMessageID(f *testing.F) {
	f.Add([]byte("Message-ID: <x@y>\r\n\r\n"))
	f.Add([]byte("Message-ID:\r\n\t<a@b>\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = ParseMessageID(b) // must not panic on any server response
	})
}
