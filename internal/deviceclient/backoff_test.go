package deviceclient

import (
	"math/rand/v2"
	"net/http"
	"testing"
	"time"
)

// fixedRand returns, for n, always the same fraction of it.
func maxRand(n int64) int64  { return n - 1 }
func zeroRand(n int64) int64 { return 0 }

func TestBackoffCeiling(t *testing.T) {
	b := Backoff{}
	// A young outage: the ceiling doubles from 1 s to the brisk 4 s and
	// stays there.
	want := []time.Duration{1, 2, 4, 4, 4, 4}
	for i, w := range want {
		if got := b.Ceiling(i, 30*time.Second); got != w*time.Second {
			t.Errorf("attempt %d, 30 s in: ceiling %v, want %v", i, got, w*time.Second)
		}
	}
	// A lasting one: a tenth of its length, at most 5 min.
	for failing, w := range map[time.Duration]time.Duration{
		0:                4 * time.Second,
		40 * time.Second: 4 * time.Second,
		time.Minute:      6 * time.Second,
		2 * time.Minute:  12 * time.Second,
		10 * time.Minute: time.Minute,
		50 * time.Minute: 5 * time.Minute,
		48 * time.Hour:   5 * time.Minute,
	} {
		for _, attempt := range []int{9, 10, 40, 63, 64, 1000, 1 << 30} {
			if got := b.Ceiling(attempt, failing); got != w {
				t.Errorf("attempt %d, %v in: ceiling %v, want %v", attempt, failing, got, w)
			}
		}
	}
	// The first failures of a lasting outage still start from Base.
	if got := b.Ceiling(0, time.Hour); got != time.Second {
		t.Errorf("first failure an hour in: ceiling %v, want 1s", got)
	}
	short := Backoff{Base: 10 * time.Millisecond, Cap: 250 * time.Millisecond}
	if got := short.Ceiling(3, 0); got != 80*time.Millisecond {
		t.Errorf("short ceiling %v", got)
	}
	if got := short.Ceiling(10, time.Hour); got != 250*time.Millisecond {
		t.Errorf("short cap %v (the brisk limit is not above the cap)", got)
	}
	tuned := Backoff{Brisk: 2 * time.Second, Cap: 8 * time.Second}
	if got := tuned.Ceiling(10, 0); got != 2*time.Second {
		t.Errorf("tuned brisk limit %v", got)
	}
	if got := tuned.Ceiling(10, time.Hour); got != 8*time.Second {
		t.Errorf("tuned cap %v", got)
	}
}

func TestBackoffFullJitter(t *testing.T) {
	b := Backoff{}
	if d := b.Delay(3, time.Hour, 0, zeroRand); d != 0 {
		t.Errorf("lowest draw gave %v, want 0", d)
	}
	if d := b.Delay(3, time.Hour, 0, maxRand); d != 8*time.Second {
		t.Errorf("highest draw gave %v, want 8s (inclusive)", d)
	}
	var asked int64
	b.Delay(2, 0, 0, func(n int64) int64 { asked = n; return 0 })
	if asked != int64(4*time.Second)+1 {
		t.Errorf("drew from [0, %d), want [0, 4s]", asked)
	}
}

func TestBackoffHonoursRetryAfter(t *testing.T) {
	b := Backoff{}
	if d := b.Delay(0, 0, 30*time.Second, zeroRand); d != 30*time.Second {
		t.Errorf("Retry-After 30s gave %v", d)
	}
	// Up to a second more at random: the header counts whole seconds.
	if d := b.Delay(0, 0, 2*time.Second, maxRand); d != 3*time.Second-1 {
		t.Errorf("Retry-After 2s, highest draw, gave %v, want just under 3s", d)
	}
	if d := b.Delay(9, time.Hour, 30*time.Second, maxRand); d != 5*time.Minute {
		t.Errorf("a longer backoff than Retry-After gave %v", d)
	}
	if d := b.Delay(0, 0, 48*time.Hour, zeroRand); d != time.Hour {
		t.Errorf("a two-day Retry-After gave %v, want the 1h bound", d)
	}
}

// outage plays one camera's schedule through a server that is down for
// length from the camera's first failure: it returns how many attempts
// fell within the outage and how long after its end the camera tried
// again.
func outage(b Backoff, length time.Duration, randN func(int64) int64) (attempts int, late time.Duration) {
	at := time.Duration(0)
	for attempt := 0; ; attempt++ {
		at += b.Delay(attempt, at, 0, randN)
		if at >= length {
			return attempts, at - length
		}
		attempts++
	}
}

// The protocol's defaults bring a fleet back briskly after a short outage
// and spare a server that is down for long.
func TestBackoffScheduleOverOutages(t *testing.T) {
	b := Backoff{}
	rng := rand.New(rand.NewPCG(1, 2))
	randN := func(n int64) int64 { return rng.Int64N(n) }
	const cameras = 10000
	for _, c := range []struct {
		length      time.Duration
		maxLate     time.Duration // the last camera back after the end
		maxAttempts int           // by one camera during the outage
	}{
		{30 * time.Second, 4 * time.Second, 40},
		{5 * time.Minute, 30 * time.Second, 120},
		{4 * time.Hour, 5 * time.Minute, 300},
	} {
		var worstLate time.Duration
		worstAttempts, total := 0, 0
		for range cameras {
			n, late := outage(b, c.length, randN)
			worstLate, worstAttempts, total = max(worstLate, late), max(worstAttempts, n), total+n
		}
		if worstLate > c.maxLate || worstAttempts > c.maxAttempts {
			t.Errorf("%v outage: last camera back %v after it, most attempts %d; want at most %v and %d",
				c.length, worstLate, worstAttempts, c.maxLate, c.maxAttempts)
		}
		t.Logf("%v outage: %d cameras, last back %v after it, %.0f attempts/s on average, at most %d by one camera",
			c.length, cameras, worstLate, float64(total)/c.length.Seconds(), worstAttempts)
	}
}

func TestRetryAfterHeader(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	cases := map[string]time.Duration{
		"":                              0,
		"3":                             3 * time.Second,
		" 12 ":                          12 * time.Second,
		"-4":                            0,
		"soon":                          0,
		"99999999":                      time.Hour,
		"Mon, 23 Nov 2026 12:00:30 GMT": 30 * time.Second,
		"Mon, 23 Nov 2026 11:00:00 GMT": 0,
	}
	for v, want := range cases {
		h := http.Header{}
		if v != "" {
			h.Set("Retry-After", v)
		}
		if got := RetryAfter(h, now); got != want {
			t.Errorf("Retry-After %q: %v, want %v", v, got, want)
		}
	}
}

func TestJittered(t *testing.T) {
	p := 10 * time.Second
	if got := Jittered(p, 0.2, zeroRand); got != 8*time.Second {
		t.Errorf("low %v", got)
	}
	if got := Jittered(p, 0.2, maxRand); got != 12*time.Second {
		t.Errorf("high %v", got)
	}
	if got := Jittered(p, -1, maxRand); got != p {
		t.Errorf("no jitter %v", got)
	}
	if got := Jittered(p, 5, zeroRand); got != 0 {
		t.Errorf("jitter over 1 is not capped: %v", got)
	}
}
