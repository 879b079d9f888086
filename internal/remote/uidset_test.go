package remote

import (
	"reflect"
	"testing"
)

func TestParseUIDSet(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want []uint32
		ok   bool
	}{
		{"", 10, nil, true},
		{"7", 10, []uint32{7}, true},
		{"1:3,7,9:10", 10, []uint32{1, 2, 3, 7, 9, 10}, true},
		{"5:3", 10, []uint32{3, 4, 5}, true},
		{"9,4", 10, []uint32{9, 4}, true}, // in the order written
		{"1:x", 10, nil, false},
		{"*", 10, nil, false},
		{"1:4294967295", 1 << 24, nil, false},
		// The bound counts every UID of the set, across its parts.
		{"1:3,7,9:10", 6, []uint32{1, 2, 3, 7, 9, 10}, true},
		{"1:3,7,9:10", 5, nil, false},
		{"1:3", 2, nil, false},
		{"3", 0, nil, false},
	}
	for _, tt := range tests {
		got, err := ParseUIDSet(tt.in, tt.max)
		if (err == nil) != tt.ok || (tt.ok && !reflect.DeepEqual(got, tt.want)) {
			t.Errorf("ParseUIDSet(%q, %d) = %v, %v", tt.in, tt.max, got, err)
		}
	}
	// What UIDSet writes must read back.
	uids := []uint32{1, 2, 3, 10, 12, 13}
	if got, err := ParseUIDSet(UIDSet(uids).String(), len(uids)); err != nil || !reflect.DeepEqual(got, uids) {
		t.Errorf("round trip: %v %v", got, err)
	}
}
