package accounts

import (
	"context"
	gosync "sync"
)

// slots bounds how many accounts sync at once (max_sync_accounts). The
// bound can change while syncs hold slots, on a reload.
type slots struct {
	mu    gosync.Mutex
	limit int
	used  int
	freed chan struct{} // closed and replaced when a slot frees or the limit grows
}

func newSlots(limit int) *slots {
	return &slots{limit: max(limit, 1), freed: make(chan struct{})}
}

// acquire waits for a slot; false if ctx ended or stop was closed first.
func (s *slots) acquire(ctx context.Context, stop <-chan struct{}) bool {
	for {
		s.mu.Lock()
		if s.used < s.limit {
			s.used++
			s.mu.Unlock()
			return true
		}
		freed := s.freed
		s.mu.Unlock()
		select {
		case <-freed:
		case <-ctx.Done():
			return false
		case <-stop:
			return false
		}
	}
}

func (s *slots) release() {
	s.mu.Lock()
	s.used--
	s.wake()
	s.mu.Unlock()
}

func (s *slots) setLimit(n int) {
	s.mu.Lock()
	s.limit = max(n, 1)
	s.wake()
	s.mu.Unlock()
}

// wake tells the waiters to look again; s.mu is held.
func (s *slots) wake() {
	close(s.freed)
	s.freed = make(chan struct{})
}
