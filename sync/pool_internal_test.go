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
				s := p.acquire(done, k, "")
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

// preselectedRemote is an open connection that sent a folder's SELECT
// behind its login.
type preselectedRemote struct {
	Remote
	name string
}

func (r preselectedRemote) Preselected() string { return r.name }

// TestPoolPreselected: a folder goes to the connection that selected it
// behind its login; other folders take those connections last; a folder
// taking turns waits for a connection still being attached, which may be
// its own, rather than take another.
func TestPoolPreselected(t *testing.T) {
	try := func(p *connPool, k placeKind, folder string) int {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		done, release := p.wakeOn(ctx, nil)
		defer release()
		return slices.Index(p.slots, p.acquire(done, k, folder))
	}
	p := newConnPool(nil, 4, foldersPerConn, preselectedRemote{name: "A"})
	p.slots[1].conn = preselectedRemote{name: "B"}
	p.slots[2].conn = idleRemote{}
	var got []int
	for _, f := range []struct {
		kind   placeKind
		folder string
	}{{placeTurns, "B"}, {placeTurns, "C"}, {placeShared, "D"}, {placeTurns, "A"}} {
		got = append(got, try(p, f.kind, f.folder))
	}
	// C takes the open connection nobody selected on; D, shared, a new
	// one rather than A's; A its own.
	if want := []int{1, 2, 3, 0}; !slices.Equal(got, want) {
		t.Errorf("places %v; want %v", got, want)
	}

	p = newConnPool(nil, 2, foldersPerConn, preselectedRemote{name: "A"})
	p.slots[1].attaching = true
	if got := try(p, placeTurns, "B"); got != -1 {
		t.Errorf("B took slot %d while slot 1, maybe B's, was being attached; want it to wait", got)
	}
	if got := try(p, placeShared, "C"); got != 0 {
		t.Errorf("C, shared, took slot %d; want A's connection, the only one", got)
	}
}
