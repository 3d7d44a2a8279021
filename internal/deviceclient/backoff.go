// Package deviceclient is what every device of camvault, the simulated
// cameras and the bridge's, shares when it talks to the server: the
// protocol's reconnect and retry policy (docs/device-protocol.md), pairing
// and the upload form.
package deviceclient

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Backoff is the reconnect and retry policy of docs/device-protocol.md
// ("Reconnecting"). After the attempt-th failure in a row (0 for the
// first), with the failures going on for failing, the camera waits a
// random time in [0, ceiling] (full jitter), where the ceiling doubles
// from Base with each failure up to a limit that depends on how long the
// failures have lasted:
//
//	limit = min(Cap, max(Brisk, failing / 10))
//
// A young outage is retried briskly: a server that cannot be reached costs
// nothing for a refused or unanswered attempt, and once it is back its
// admission answers 503 with a jittered Retry-After to spread the herd. A
// long outage is retried less and less often, so a fleet does not hammer a
// server that is down for hours, and the cameras come back within about a
// tenth of the outage's length. The camera waits at least what the server
// asked for in Retry-After, plus up to a second at random.
type Backoff struct {
	Base  time.Duration // default 1 s
	Brisk time.Duration // the limit while failures are young; default 4 s
	Cap   time.Duration // default 5 min
}

// The protocol's policy.
const (
	DefaultBackoffBase  = time.Second
	DefaultBackoffBrisk = 4 * time.Second
	DefaultBackoffCap   = 5 * time.Minute
)

// backoffGrowth is how many times the limit goes into the time the
// failures have lasted, once past Brisk: after 40 s of failures the
// limit grows from 4 s, reaching 5 min after 50 min.
const backoffGrowth = 10

// maxRetryAfter bounds what a Retry-After can make a camera wait, so one
// bad answer cannot silence a camera for days.
const maxRetryAfter = time.Hour

// retryAfterSpread is the most a camera adds at random to a Retry-After:
// the header counts whole seconds, so cameras refused in the same second
// would otherwise come back in the same instant.
const retryAfterSpread = time.Second

func (b Backoff) WithDefaults() Backoff {
	if b.Base <= 0 {
		b.Base = DefaultBackoffBase
	}
	if b.Cap <= 0 {
		b.Cap = DefaultBackoffCap
	}
	if b.Brisk <= 0 {
		b.Brisk = DefaultBackoffBrisk
	}
	b.Brisk = min(b.Brisk, b.Cap)
	return b
}

// Limit is the longest ceiling once failures have gone on for failing.
func (b Backoff) Limit(failing time.Duration) time.Duration {
	b = b.WithDefaults()
	return min(b.Cap, max(b.Brisk, failing/backoffGrowth))
}

// Ceiling is the longest wait after the attempt-th failure in a row, the
// failures having gone on for failing.
func (b Backoff) Ceiling(attempt int, failing time.Duration) time.Duration {
	b = b.WithDefaults()
	limit := b.Limit(failing)
	ceil := b.Base
	for i := 0; i < attempt && ceil < limit; i++ {
		if ceil > limit/2 {
			return limit
		}
		ceil *= 2
	}
	return min(ceil, limit)
}

// Delay is the wait after the attempt-th failure in a row, the failures
// having gone on for failing. randN returns a uniformly random number in
// [0, n); retryAfter is the server's Retry-After, 0 if none.
func (b Backoff) Delay(attempt int, failing, retryAfter time.Duration, randN func(n int64) int64) time.Duration {
	d := time.Duration(randN(int64(b.Ceiling(attempt, failing)) + 1))
	if retryAfter <= 0 {
		return d
	}
	return max(d, min(retryAfter, maxRetryAfter)+time.Duration(randN(int64(retryAfterSpread))))
}

// RetryAfter reads a Retry-After header: whole seconds or an HTTP date.
// It returns 0 when there is none or it cannot be read.
func RetryAfter(h http.Header, now time.Time) time.Duration {
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

// Jittered spreads a period: a uniformly random duration in
// [period x (1-frac), period x (1+frac)].
func Jittered(period time.Duration, frac float64, randN func(n int64) int64) time.Duration {
	if frac <= 0 || period <= 0 {
		return period
	}
	frac = min(frac, 1)
	spread := int64(float64(period) * frac)
	return period - time.Duration(spread) + time.Duration(randN(2*spread+1))
}
