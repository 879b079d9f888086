package sync

import (
	"reflect"
	"testing"

	"github.com/emersion/go-imap/v2"

	"mailsync/internal/remote"
)

func TestVanishedChanges(t *testing.T) {
	recorded := []uint32{1, 2, 3, 5, 8, 13, 21}
	set := func(rs ...[2]uint32) imap.UIDSet {
		var s imap.UIDSet
		for _, r := range rs {
			s = append(s, imap.UIDRange{Start: imap.UID(r[0]), Stop: imap.UID(r[1])})
		}
		return s
	}
	infos := func(uids ...uint32) []remote.Info {
		var out []remote.Info
		for _, u := range uids {
			out = append(out, remote.Info{UID: u})
		}
		return out
	}
	tests := []struct {
		name        string
		asked       *serverChanges
		messages    uint32 // the server's MESSAGES now
		gone, added []uint32
		ok          bool
	}{
		{"not answered", &serverChanges{flags: infos(2)}, 7, nil, nil, false},
		{"nothing went", &serverChanges{goneKnown: true, flags: infos(2, 5)}, 7, nil, nil, true},
		{"went, with UIDs never recorded in the set", &serverChanges{goneKnown: true, gone: set([2]uint32{4, 8}, [2]uint32{30, 40})}, 5, []uint32{5, 8}, nil, true},
		{"new ones among the changed flags", &serverChanges{goneKnown: true, gone: set([2]uint32{1, 1}), flags: infos(3, 22, 25, 22)}, 8, []uint32{1}, []uint32{22, 25}, true},
		// The answer leaves 6 of the 7 recorded; the server has 5: one that
		// went is missing from it.
		{"does not add up", &serverChanges{goneKnown: true, gone: set([2]uint32{21, 21})}, 5, nil, nil, false},
		{"fewer than the answer leaves: unrecorded messages", &serverChanges{goneKnown: true, gone: set([2]uint32{21, 21})}, 9, []uint32{21}, nil, true},
	}
	for _, tt := range tests {
		gone, added, ok := vanishedChanges(recorded, tt.asked, remote.Status{Messages: tt.messages})
		if ok != tt.ok || ok && (!reflect.DeepEqual(gone, tt.gone) || !reflect.DeepEqual(added, tt.added)) {
			t.Errorf("%s: vanishedChanges = %v, %v, %v; want %v, %v, %v", tt.name, gone, added, ok, tt.gone, tt.added, tt.ok)
		}
	}
}
