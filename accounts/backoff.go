package accounts

import (
	"math/rand/v2"
	"time"
)

// The back-off after failed syncs: 30 s, doubling up to 15 min.
const (
	backoffMin = 30 * time.Second
	backoffMax = 15 * time.Minute
)

// backoff is the wait after the n-th failure in a row (n >= 1): backoffMin
// doubled n-1 times, up to backoffMax, plus up to a fifth more at random
// (within backoffMax), so that accounts that failed together, because the
// network went, do not all retry at the same moment.
func backoff(n int, rnd func() float64) time.Duration {
	d := backoffMin
	for i := 1; i < n && d < backoffMax; i++ {
		d *= 2
	}
	d = min(d, backoffMax)
	if rnd == nil {
		rnd = rand.Float64
	}
	return min(d+time.Duration(rnd()*float64(d)/5), backoffMax)
}

// jitter returns a random duration in [0, max).
func jitter(max time.Duration, rnd func() float64) time.Duration {
	if max <= 0 {
		return 0
	}
	if rnd == nil {
		rnd = rand.Float64
	}
	return time.Duration(rnd() * float64(max))
}
