package mutf7

import "testing"

func TestRoundTrip(t *testing.T) {
	tests := []struct{ utf8, wire string }{
		{"INBOX", "INBOX"},
		{"Entwürfe", "Entw&APw-rfe"},
		{"日本語", "&ZeVnLIqe-"},
		{"Tom & Jerry", "Tom &- Jerry"},
		{"~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"},
	}
	for _, tt := range tests {
		if got := Encode(tt.utf8); got != tt.wire {
			t.Errorf("Encode(%q) = %q, want %q", tt.utf8, got, tt.wire)
		}
		if got, ok := Decode(tt.wire); !ok || got != tt.utf8 {
			t.Errorf("Decode(%q) = %q, %v, want %q", tt.wire, got, ok, tt.utf8)
		}
	}
	for _, bad := range []string{"a&Jjo", "a&Jj!o-", "ü"} {
		if _, ok := Decode(bad); ok {
			t.Errorf("Decode(%q) accepted invalid input", bad)
		}
	}
}
