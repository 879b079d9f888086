package sync

import (
	"context"
	"slices"
	"testing"
	"time"
)

// idleRemote stands for an open connection; acquire never uses it.
type idleRemote struct{ Remote }

// TestPoolPlaces: where acquire puts folders of each kind, on a pool whose
// first connection is open and whose others are to be opened. A folder
// alone takes a connection to itself; shared folders fill the connection
// they share before another is opened; folders taking turns spread over
// the connections first, then line up where the fewest wait; the kinds
// never mix on a connection.
func TestPoolPlaces(t *testing.T) {
	const (
		shared = placeShared
		turns  = placeTurns
		alone  = placeAlone
	)
	for _, tt := range []struct {
		name  string
		slots int
		kinds []placeKind
		want  []int // the slot each folder gets; -1: none free
	}{
		{"shared fill the open connection", 3, []placeKind{shared, shared, shared}, []int{0, 0, 0}},
		{"turns spread, then line up", 3, []placeKind{turns, turns, turns, turns, turns, turns}, []int{0, 1, 2, 0, 1, 2}},
		{"alone takes one each", 3, []placeKind{alone, alone, alone, alone}, []int{0, 1, 2, -1}},
		{"turns do not join shared folders", 2, []placeKind{shared, turns, turns, shared}, []int{0, 1, 1, 0}},
		{"shared do not join turns", 2, []placeKind{turns, shared, shared}, []int{0, 1, 1}},
		{"no place beside a folder alone", 2, []placeKind{alone, turns, shared}, []int{0, 1, -1}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := newConnPool(nil, tt.slots, foldersPerConn, idleRemote{})
			var got []int
			for _, k := range tt.kinds {
				// acquire waits where there is no place; it gives up when
				// the context ends.
				ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
				done, release := p.wakeOn(ctx, nil)
				s := p.acquire(done, k)
				release()
				cancel()
				got = append(got, slices.Index(p.slots, s))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("places %v; want %v", got, tt.want)
			}
		})
	}
}
