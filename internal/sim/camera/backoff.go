package camera

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Backoff is the reconnect and retry policy of docs/device-protocol.md:
// after the attempt-th failure in a row (0 for the first) wait a random
// time in [0, min(Cap, Base x 2^attempt)], exponential backoff with full
// jitter, and at least what the server asked for in Retry-After.
type Backoff struct {
	Base time.Duration // default 1 s
	Cap  time.Duration // default 5 min
}

// The protocol's policy.
const (
	DefaultBackoffBase = time.Second
	DefaultBackoffCap  = 5 * time.Minute
)

// maxRetryAfter bounds what a Retry-After can make a camera wait, so one
// bad answer cannot silence a camera for days.
const maxRetryAfter = time.Hour

func (b Backoff) withDefaults() Backoff {
	if b.Base <= 0 {
		b.Base = DefaultBackoffBase
	}
	if b.Cap <= 0 {
		b.Cap = DefaultBackoffCap
	}
	return b
}

// Ceiling is the longest wait after the attempt-th failure.
func (b Backoff) Ceiling(attempt int) time.Duration {
	b = b.withDefaults()
	ceil := b.Base
	for i := 0; i < attempt && ceil < b.Cap; i++ {
		if ceil > b.Cap/2 {
			return b.Cap
		}
		ceil *= 2
	}
	return min(ceil, b.Cap)
}

// Delay is the wait after the attempt-th failure in a row. randN returns
// a uniformly random number in [0, n); retryAfter is the server's
// Retry-After, 0 if none.
func (b Backoff) Delay(attempt int, retryAfter time.Duration, randN func(n int64) int64) time.Duration {
	d := time.Duration(randN(int64(b.Ceiling(attempt)) + 1))
	return max(d, min(retryAfter, maxRetryAfter))
}

// retryAfter reads a Retry-After header: whole seconds or an HTTP date.
// It returns 0 when there is none or it cannot be read.
func retryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0
		}
		return min(time.Duration(secs)*time.Second, maxRetryAfter)
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), maxRetryAfter)
	}
	return 0
}

// jittered spreads a period: a uniformly random duration in
// [period x (1-frac), period x (1+frac)].
func jittered(period time.Duration, frac float64, randN func(n int64) int64) time.Duration {
	if frac <= 0 || period <= 0 {
		return period
	}
	frac = min(frac, 1)
	spread := int64(float64(period) * frac)
	return period - time.Duration(spread) + time.Duration(randN(2*spread+1))
}
