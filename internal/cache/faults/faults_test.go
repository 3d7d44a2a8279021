package faults_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/cache"
	"github.com/camvault/camvault/internal/cache/cachetest"
	"github.com/camvault/camvault/internal/cache/faults"
	"github.com/camvault/camvault/internal/cache/memory"
	"github.com/camvault/camvault/internal/keys"
)

func TestParseSpec(t *testing.T) {
	s, err := faults.ParseSpec("swap=1.0, stale=0.3,corrupt=0.1,drop=0.2,delay=5ms,redis-crossreply=0.5,seed=42,history=64")
	if err != nil {
		t.Fatal(err)
	}
	want := faults.Spec{Swap: 1, Stale: 0.3, Corrupt: 0.1, Drop: 0.2, Delay: 5 * time.Millisecond, CrossReply: 0.5, Seed: 42, History: 64}
	if s != want {
		t.Fatalf("got %+v, want %+v", s, want)
	}
	if s.String() != "swap=1,stale=0.3,corrupt=0.1,drop=0.2,delay=5ms,redis-crossreply=0.5,seed=42,history=64" {
		t.Fatalf("String %q", s.String())
	}
	if s, err := faults.ParseSpec(""); err != nil || s != (faults.Spec{}) {
		t.Fatalf("empty spec: %+v %v", s, err)
	}
	for _, bad := range []string{"swap", "swap=", "=1", "swap=1.5", "swap=-0.1", "swap=NaN", "swap=x", "swap=1,swap=0",
		"frobnicate=1", "delay=-1ms", "delay=2h", "delay=5", "seed=-1", "history=0", "swap=1,", ","} {
		if _, err := faults.ParseSpec(bad); err == nil {
			t.Errorf("%q parses", bad)
		}
	}
}

// FuzzParseSpec: the parser never panics, and what it accepts prints to a
// form that parses back to the same spec.
func FuzzParseSpec(f *testing.F) {
	f.Add("swap=1.0,stale=0.3,corrupt=0.1,drop=0.2,delay=5ms")
	f.Add("redis-crossreply=1")
	f.Fuzz(func(t *testing.T, s string) {
		spec, err := faults.ParseSpec(s)
		if err != nil {
			return
		}
		again, err := faults.ParseSpec(spec.String())
		if err != nil || again != spec {
			t.Fatalf("%q parses as %+v, prints as %q, which parses as %+v (%v)", s, spec, spec.String(), again, err)
		}
	})
}

func newMemory(t testing.TB) *memory.Backend {
	t.Helper()
	b, err := memory.New(16 << 20)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestWrapperInjects checks each fault does what it says on a bare backend.
func TestWrapperInjects(t *testing.T) {
	ctx := t.Context()
	set := func(b cache.Backend, k, v string) {
		t.Helper()
		if err := b.Set(ctx, k, []byte(v), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	get := func(b cache.Backend, k string) string {
		t.Helper()
		v, ok, err := b.Get(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return "<miss>"
		}
		return string(v)
	}

	swap := faults.Wrap(newMemory(t), faults.Spec{Swap: 1, Seed: 1})
	set(swap, "a", "value of a")
	if got := get(swap, "a"); got != "value of a" {
		t.Fatalf("swap with no other key: %q", got)
	}
	set(swap, "b", "value of b")
	if got := get(swap, "a"); got != "value of b" {
		t.Fatalf("swap: a reads %q", got)
	}

	stale := faults.Wrap(newMemory(t), faults.Spec{Stale: 1, Seed: 1})
	set(stale, "a", "old")
	set(stale, "a", "new")
	if got := get(stale, "a"); got != "old" {
		t.Fatalf("stale: %q", got)
	}
	if err := stale.Delete(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if got := get(stale, "a"); got != "old" {
		t.Fatalf("stale after delete: %q", got)
	}

	corrupt := faults.Wrap(newMemory(t), faults.Spec{Corrupt: 1, Seed: 1})
	for range 20 {
		set(corrupt, "a", "intact")
		if got := get(corrupt, "a"); got == "intact" {
			t.Fatal("corrupt=1 returned intact bytes")
		}
	}

	inner := newMemory(t)
	drop := faults.Wrap(inner, faults.Spec{Drop: 1, Seed: 1})
	set(drop, "a", "v")
	if got := get(drop, "a"); got != "<miss>" {
		t.Fatalf("drop: %q", got)
	}
	set(inner, "b", "v")
	if err := drop.Delete(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if got := get(inner, "b"); got != "v" {
		t.Fatal("drop=1 did not drop a delete")
	}

	slow := faults.Wrap(newMemory(t), faults.Spec{Delay: time.Hour, Seed: 1})
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := slow.Get(cctx, "a"); !errors.Is(err, context.Canceled) {
		t.Fatalf("delayed get with a cancelled context: %v", err)
	}

	c := swap.Counts()
	if c.Swapped != 1 || stale.Counts().Stale != 2 || corrupt.Counts().Corrupted != 20 || drop.Counts().Dropped != 2 {
		t.Fatalf("counts %+v %+v %+v %+v", c, stale.Counts(), corrupt.Counts(), drop.Counts())
	}
}

// TestCacheUnderFaults is invariant 4 under fault injection: whatever the
// backend does, a Cache returns only what was Put for that key and tenant
// (cachetest.CheckIsolation fails the test otherwise), and counts and
// reports every entry it refuses.
func TestCacheUnderFaults(t *testing.T) {
	kr, err := keys.CreateFile(filepath.Join(t.TempDir(), "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		spec                 string
		hits, noHits, alarms bool // expect hits, expect none, expect mismatches
	}{
		{spec: "", hits: true},
		{spec: "delay=1ms", hits: true},
		{spec: "stale=1.0", hits: true}, // stale entries open: versions catch them
		{spec: "swap=1.0", alarms: true},
		{spec: "corrupt=1.0", noHits: true, alarms: true},
		{spec: "drop=1.0", noHits: true},
		{spec: "swap=0.3,stale=0.3,corrupt=0.1,drop=0.2,delay=1ms", hits: true, alarms: true},
		{spec: "swap=1.0,stale=1.0,corrupt=1.0,drop=1.0,delay=1ms", noHits: true, alarms: true},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			spec, err := faults.ParseSpec(tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			fb := faults.Wrap(newMemory(t), spec)
			var reported atomic.Uint64
			c, err := cache.New(fb, kr, cache.Options{
				Logger:   slog.New(slog.DiscardHandler),
				Reporter: cache.ReporterFunc(func(context.Context, cache.Mismatch) { reported.Add(1) }),
			})
			if err != nil {
				t.Fatal(err)
			}
			res := cachetest.CheckIsolation(t, cachetest.IsolationConfig{}, c)
			s := c.Stats()
			t.Logf("%s; faults %+v; cache %+v", res, fb.Counts(), s)
			if s.Mismatches != reported.Load() {
				t.Errorf("%d mismatches counted, %d reported", s.Mismatches, reported.Load())
			}
			if tc.hits && res.Hits == 0 {
				t.Error("no hits")
			}
			if tc.noHits && res.Hits != 0 {
				t.Errorf("%d hits, want none", res.Hits)
			}
			if tc.alarms && s.Mismatches == 0 {
				t.Error("no mismatch counted")
			}
			if !tc.alarms && s.Mismatches != 0 {
				t.Errorf("%d mismatches without a fault that causes them", s.Mismatches)
			}
		})
	}
}

// TestSwappedValueNeverReturned is the Wyze incident in miniature: two
// homes' thumbnails under look-alike keys, a backend that always answers
// with the other one.
func TestSwappedValueNeverReturned(t *testing.T) {
	kr, err := keys.CreateFile(filepath.Join(t.TempDir(), "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := cache.New(faults.Wrap(newMemory(t), faults.Spec{Swap: 1}), kr, cache.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	mine := cache.NewKey("thumbnail", "home-1", "cam-1", "ev-9")
	theirs := cache.NewKey("thumbnail", "home-2", "cam-1", "ev-9")
	if err := c.Put(ctx, theirs, "home-2", 1, []byte("a baby asleep in a crib")); err != nil {
		t.Fatal(err)
	}
	if err := c.Put(ctx, mine, "home-1", 1, []byte("my porch")); err != nil {
		t.Fatal(err)
	}
	for range 100 {
		v, _, hit, err := c.Get(ctx, mine, "home-1")
		if err != nil || hit || bytes.Contains(v, []byte("crib")) {
			t.Fatalf("swapped: %q %v %v", v, hit, err)
		}
	}
	if c.Stats().Mismatches != 100 {
		t.Fatalf("stats %+v", c.Stats())
	}
}
