package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/store"
)

func testThrottle(t *testing.T, s store.Store) {
	ctx := t.Context()
	key, other := random("throttle key"), random("throttle key")
	const w = 10 * time.Minute
	start := at(time.Minute)

	n, _, err := s.ThrottleCount(ctx, key, at(0))
	check(t, "count a fresh key", err)
	if n != 0 {
		t.Fatalf("fresh key counts %d", n)
	}
	for i := 1; i <= 3; i++ {
		n, end, err := s.ThrottleHit(ctx, key, start.Add(time.Duration(i-1)*time.Minute), w)
		check(t, "hit", err)
		if n != i || !sameTime(end, start.Add(w)) {
			t.Fatalf("hit %d: count %d, window end %v, want %d and %v", i, n, end, i, start.Add(w))
		}
	}
	n, end, err := s.ThrottleHit(ctx, other, start, w)
	check(t, "hit another key", err)
	if n != 1 || !sameTime(end, start.Add(w)) {
		t.Fatalf("another key: count %d, end %v", n, end)
	}
	n, end, err = s.ThrottleCount(ctx, key, start.Add(5*time.Minute))
	check(t, "count", err)
	if n != 3 || !sameTime(end, start.Add(w)) {
		t.Fatalf("count %d end %v, want 3 and %v", n, end, start.Add(w))
	}
	// A prefix of a key is another key.
	if n, _, _ := s.ThrottleCount(ctx, key[:len(key)-1], start); n != 0 {
		t.Fatalf("a prefix of a key counts %d", n)
	}

	// An attempt taken back: one fewer, never below 0, the window kept.
	check(t, "undo", s.ThrottleUndo(ctx, key, start.Add(5*time.Minute)))
	if n, end, _ := s.ThrottleCount(ctx, key, start.Add(5*time.Minute)); n != 2 || !sameTime(end, start.Add(w)) {
		t.Fatalf("after an undo: count %d end %v, want 2 and %v", n, end, start.Add(w))
	}
	_, _, err = s.ThrottleHit(ctx, key, start.Add(5*time.Minute), w)
	check(t, "hit again", err)
	fresh := random("throttle key")
	check(t, "undo an unknown key", s.ThrottleUndo(ctx, fresh, start))
	if n, _, _ := s.ThrottleCount(ctx, fresh, start); n != 0 {
		t.Fatalf("an undo made an unknown key count %d", n)
	}
	_, _, err = s.ThrottleHit(ctx, fresh, start, w)
	check(t, "hit", err)
	for range 2 {
		check(t, "undo", s.ThrottleUndo(ctx, fresh, start))
	}
	if n, _, _ := s.ThrottleCount(ctx, fresh, start); n != 0 {
		t.Fatalf("two undos of one hit count %d, want 0", n)
	}

	// Once the window has ended the count is gone, and a hit starts a new
	// window at its own time.
	if n, _, err := s.ThrottleCount(ctx, key, start.Add(w)); err != nil || n != 0 {
		t.Fatalf("count at the window's end: %d, %v; want 0", n, err)
	}
	later := start.Add(w + 3*time.Minute)
	n, end, err = s.ThrottleHit(ctx, key, later, w)
	check(t, "hit in a new window", err)
	if n != 1 || !sameTime(end, later.Add(w)) {
		t.Fatalf("new window: count %d end %v, want 1 and %v", n, end, later.Add(w))
	}
	n, _, _ = s.ThrottleCount(ctx, key, later)
	if n != 1 {
		t.Fatalf("count in the new window %d, want 1", n)
	}

	check(t, "reset", s.ThrottleReset(ctx, key))
	if n, _, _ := s.ThrottleCount(ctx, key, later); n != 0 {
		t.Fatalf("count after reset %d", n)
	}
	if n, _, _ := s.ThrottleCount(ctx, other, start); n != 1 {
		t.Fatalf("reset of one key changed another's count to %d", n)
	}
	check(t, "reset an unknown key", s.ThrottleReset(ctx, random("throttle key")))
	n, end, err = s.ThrottleHit(ctx, key, later, w)
	check(t, "hit after reset", err)
	if n != 1 || !sameTime(end, later.Add(w)) {
		t.Fatalf("hit after reset: count %d end %v", n, end)
	}
}

// testConcurrentWrites writes from many goroutines at once, as a reconnect
// storm does: every write succeeds (no "database is locked") and no
// counted hit is lost.
func testConcurrentWrites(t *testing.T, s store.Store) {
	ctx := t.Context()
	const workers, rounds = 8, 10
	key := random("throttle key")
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds)
	for range workers {
		wg.Go(func() {
			for range rounds {
				a := newAccountValue()
				if err := s.CreateAccount(ctx, a); err != nil {
					errs <- fmt.Errorf("create account: %w", err)
					return
				}
				sess := domain.Session{ID: id.New(), AccountID: a.ID, TokenHash: random("token"), CreatedAt: at(0), LastSeenAt: at(0), ExpiresAt: at(time.Hour)}
				if err := s.CreateSession(ctx, sess); err != nil {
					errs <- fmt.Errorf("create session: %w", err)
					return
				}
				if _, err := s.SessionByTokenHash(ctx, sess.TokenHash); err != nil {
					errs <- fmt.Errorf("read own session: %w", err)
					return
				}
				if _, _, err := s.ThrottleHit(ctx, key, at(0), time.Hour); err != nil {
					errs <- fmt.Errorf("throttle hit: %w", err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	n, _, err := s.ThrottleCount(ctx, key, at(time.Minute))
	check(t, "count", err)
	if n != workers*rounds {
		t.Fatalf("%d concurrent hits counted %d", workers*rounds, n)
	}
}
