package camera

import (
	"net/http"
	"testing"
	"time"
)

// fixedRand returns, for n, always the same fraction of it.
func maxRand(n int64) int64  { return n - 1 }
func zeroRand(n int64) int64 { return 0 }

func TestBackoffCeiling(t *testing.T) {
	b := Backoff{}
	want := []time.Duration{1, 2, 4, 8, 16, 32, 64, 128, 256}
	for i, w := range want {
		if got := b.Ceiling(i); got != w*time.Second {
			t.Errorf("attempt %d: ceiling %v, want %v", i, got, w*time.Second)
		}
	}
	for _, attempt := range []int{9, 10, 40, 63, 64, 1000, 1 << 30} {
		if got := b.Ceiling(attempt); got != 5*time.Minute {
			t.Errorf("attempt %d: ceiling %v, want 5m", attempt, got)
		}
	}
	short := Backoff{Base: 10 * time.Millisecond, Cap: 250 * time.Millisecond}
	if got := short.Ceiling(3); got != 80*time.Millisecond {
		t.Errorf("short ceiling %v", got)
	}
	if got := short.Ceiling(10); got != 250*time.Millisecond {
		t.Errorf("short cap %v", got)
	}
}

func TestBackoffFullJitter(t *testing.T) {
	b := Backoff{}
	if d := b.Delay(3, 0, zeroRand); d != 0 {
		t.Errorf("lowest draw gave %v, want 0", d)
	}
	if d := b.Delay(3, 0, maxRand); d != 8*time.Second {
		t.Errorf("highest draw gave %v, want 8s (inclusive)", d)
	}
	var asked int64
	b.Delay(2, 0, func(n int64) int64 { asked = n; return 0 })
	if asked != int64(4*time.Second)+1 {
		t.Errorf("drew from [0, %d), want [0, 4s]", asked)
	}
}

func TestBackoffHonoursRetryAfter(t *testing.T) {
	b := Backoff{}
	if d := b.Delay(0, 30*time.Second, zeroRand); d != 30*time.Second {
		t.Errorf("Retry-After 30s gave %v", d)
	}
	if d := b.Delay(9, 30*time.Second, maxRand); d != 5*time.Minute {
		t.Errorf("a longer backoff than Retry-After gave %v", d)
	}
	if d := b.Delay(0, 48*time.Hour, zeroRand); d != time.Hour {
		t.Errorf("a two-day Retry-After gave %v, want the 1h bound", d)
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
		if got := retryAfter(h, now); got != want {
			t.Errorf("Retry-After %q: %v, want %v", v, got, want)
		}
	}
}

func TestJittered(t *testing.T) {
	p := 10 * time.Second
	if got := jittered(p, 0.2, zeroRand); got != 8*time.Second {
		t.Errorf("low %v", got)
	}
	if got := jittered(p, 0.2, maxRand); got != 12*time.Second {
		t.Errorf("high %v", got)
	}
	if got := jittered(p, -1, maxRand); got != p {
		t.Errorf("no jitter %v", got)
	}
	if got := jittered(p, 5, zeroRand); got != 0 {
		t.Errorf("jitter over 1 is not capped: %v", got)
	}
}
