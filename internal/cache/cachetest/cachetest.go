// Package cachetest is the conformance suite every cache backend passes
// (Run), and the isolation check (CheckIsolation) that drives a Cache from
// many goroutines and fails if it ever returns a value for the wrong key or
// tenant, used with and without fault injection.
package cachetest

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/cache"
)

// Bounded is implemented by backends with a byte limit (the memory one);
// Run then checks the limit and the eviction order.
type Bounded interface {
	Limit() int64
	Used() int64
}

// Run runs the suite. open must return a fresh, empty backend each call (for
// a shared server, one with its own key prefix) and arrange its cleanup. A
// Bounded backend needs a limit of at least 1 MiB.
func Run(t *testing.T, open func(t *testing.T) cache.Backend) {
	t.Run("RoundTrip", func(t *testing.T) {
		b := open(t)
		mustSet(t, b, "k", []byte("value"), time.Hour)
		expect(t, b, "k", []byte("value"))
	})
	t.Run("Miss", func(t *testing.T) {
		b := open(t)
		expectMiss(t, b, "never-set")
		mustSet(t, b, "k", []byte("v"), time.Hour)
		expectMiss(t, b, "k2")
		expectMiss(t, b, "")
	})
	t.Run("Overwrite", func(t *testing.T) {
		b := open(t)
		mustSet(t, b, "k", []byte("first, and longer"), time.Hour)
		mustSet(t, b, "k", []byte("second"), time.Hour)
		expect(t, b, "k", []byte("second"))
	})
	t.Run("Delete", func(t *testing.T) {
		b := open(t)
		mustSet(t, b, "k", []byte("v"), time.Hour)
		mustSet(t, b, "other", []byte("w"), time.Hour)
		if err := b.Delete(t.Context(), "k"); err != nil {
			t.Fatal(err)
		}
		expectMiss(t, b, "k")
		expect(t, b, "other", []byte("w"))
		if err := b.Delete(t.Context(), "k"); err != nil {
			t.Fatalf("deleting a missing key: %v", err)
		}
	})
	t.Run("TTLExpiry", func(t *testing.T) {
		// No timed assertion: the short entry must be gone within 5 s of a
		// 1 s TTL; the entry without TTL and the one with a long TTL stay.
		b := open(t)
		mustSet(t, b, "short", []byte("v"), time.Second)
		mustSet(t, b, "forever", []byte("f"), 0)
		mustSet(t, b, "long", []byte("l"), time.Hour)
		deadline := time.Now().Add(5 * time.Second)
		for {
			_, ok, err := b.Get(t.Context(), "short")
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("an entry with a 1 s TTL is still there after 5 s")
			}
			time.Sleep(100 * time.Millisecond)
		}
		expect(t, b, "forever", []byte("f"))
		expect(t, b, "long", []byte("l"))
		if err := b.Set(t.Context(), "neg", []byte("v"), -time.Second); err == nil {
			t.Error("a negative TTL is accepted")
		}
	})
	t.Run("BinaryKeysAndValues", func(t *testing.T) {
		b := open(t)
		all := make([]byte, 256)
		for i := range all {
			all[i] = byte(i)
		}
		keys := []string{string(all), "\x00", "\x00\x00", "a\x00b", "a*b?[c]", "\r\n$3\r\nGET\r\n", "\xff\xfe"}
		for i, k := range keys {
			mustSet(t, b, k, append([]byte{byte(i)}, all...), time.Hour)
		}
		for i, k := range keys {
			expect(t, b, k, append([]byte{byte(i)}, all...))
		}
		mustSet(t, b, "empty", []byte{}, time.Hour)
		expect(t, b, "empty", []byte{})
		big := make([]byte, 256<<10)
		rand.Read(big)
		mustSet(t, b, "big", big, time.Hour)
		expect(t, b, "big", big)
	})
	t.Run("CopiesInAndOut", func(t *testing.T) {
		b := open(t)
		v := []byte("original")
		mustSet(t, b, "k", v, time.Hour)
		v[0] = 'X'
		got, _, _ := b.Get(t.Context(), "k")
		if len(got) > 0 {
			got[0] = 'Y'
		}
		expect(t, b, "k", []byte("original"))
	})
	t.Run("Concurrent", func(t *testing.T) {
		b := open(t)
		const workers, ops = 16, 200
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for w := range workers {
			wg.Go(func() {
				errs <- concurrentWorker(t, b, w, ops)
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
	})
	t.Run("BoundedAndLRU", func(t *testing.T) {
		b := open(t)
		bb, ok := b.(Bounded)
		if !ok {
			t.Skip("backend has no byte limit")
		}
		limit := bb.Limit()
		if limit < 1<<20 {
			t.Fatalf("open a bounded backend with at least 1 MiB for the suite, not %d bytes", limit)
		}
		ctx := t.Context()
		val := make([]byte, limit/64)
		// Fill well past the limit; usage never exceeds it.
		for i := range 256 {
			mustSet(t, b, fmt.Sprintf("fill-%d", i), val, time.Hour)
			if u := bb.Used(); u > limit {
				t.Fatalf("uses %d bytes, limit %d", u, limit)
			}
		}
		expectMiss(t, b, "fill-0") // the oldest went first
		expect(t, b, "fill-255", val)
		// Least recently used goes first. On a fresh backend, with entries
		// of one size: write a, then b, read a, then add entries until the
		// first eviction (usage stops growing). It must take b, not a.
		lb := open(t).(Bounded)
		lru := lb.(cache.Backend)
		mustSet(t, lru, "k-aa", val, time.Hour)
		mustSet(t, lru, "k-bb", val, time.Hour)
		expect(t, lru, "k-aa", val)
		for i := 0; ; i++ {
			if i > 1000 {
				t.Fatal("nothing is ever evicted")
			}
			before := lb.Used()
			mustSet(t, lru, fmt.Sprintf("f%03d", i%1000), val, time.Hour)
			if lb.Used() <= before {
				break
			}
		}
		expectMiss(t, lru, "k-bb")
		expect(t, lru, "k-aa", val)
		// A value that can never fit is refused, and the old value under
		// its key does not survive.
		mustSet(t, b, "huge", []byte("small"), time.Hour)
		err := b.Set(ctx, "huge", make([]byte, limit+1), time.Hour)
		if !errors.Is(err, cache.ErrTooLarge) {
			t.Fatalf("value larger than the limit: %v, want ErrTooLarge", err)
		}
		expectMiss(t, b, "huge")
		if u := bb.Used(); u > limit {
			t.Fatalf("uses %d bytes, limit %d", u, limit)
		}
	})
}

// concurrentWorker writes and reads its own keys (which must read back its
// last write) and shared keys (which must hold some worker's whole value).
func concurrentWorker(t *testing.T, b cache.Backend, w, ops int) error {
	ctx := t.Context()
	last := map[string][]byte{}
	for i := range ops {
		own := fmt.Sprintf("own-%d-%d", w, i%7)
		v := fmt.Appendf(nil, "w%d-op%d-%s", w, i, bytes.Repeat([]byte{byte(i)}, i%97))
		if err := b.Set(ctx, own, v, time.Hour); err != nil {
			return err
		}
		last[own] = v
		got, ok, err := b.Get(ctx, own)
		if err != nil {
			return err
		}
		if !ok || !bytes.Equal(got, v) {
			return fmt.Errorf("worker %d: %q reads %q, %v after writing %q", w, own, got, ok, v)
		}
		shared := fmt.Sprintf("shared-%d", i%5)
		if err := b.Set(ctx, shared, fmt.Appendf(nil, "shared|%d|%d", w, i), time.Hour); err != nil {
			return err
		}
		got, ok, err = b.Get(ctx, shared)
		if err != nil {
			return err
		}
		var gw, gi int
		if ok {
			if n, err := fmt.Sscanf(string(got), "shared|%d|%d", &gw, &gi); n != 2 || err != nil {
				return fmt.Errorf("shared key holds a torn value %q", got)
			}
		}
		if i%11 == 0 {
			if err := b.Delete(ctx, shared); err != nil {
				return err
			}
		}
	}
	for k, v := range last {
		got, ok, err := b.Get(ctx, k)
		if err != nil {
			return err
		}
		if ok && !bytes.Equal(got, v) {
			return fmt.Errorf("worker %d: %q ends as %q, last written %q", w, k, got, v)
		}
	}
	return nil
}

func mustSet(t *testing.T, b cache.Backend, key string, v []byte, ttl time.Duration) {
	t.Helper()
	if err := b.Set(t.Context(), key, v, ttl); err != nil {
		t.Fatalf("set %q: %v", key, err)
	}
}

func expect(t *testing.T, b cache.Backend, key string, want []byte) {
	t.Helper()
	got, ok, err := b.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("get %q: %v", key, err)
	}
	if !ok {
		t.Fatalf("get %q: miss, want %d bytes", key, len(want))
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("get %q: %d bytes that differ from the %d written", key, len(got), len(want))
	}
}

func expectMiss(t *testing.T, b cache.Backend, key string) {
	t.Helper()
	got, ok, err := b.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("get %q: %v", key, err)
	}
	if ok {
		t.Fatalf("get %q: hit with %d bytes, want a miss", key, len(got))
	}
}
