// Package bustest is the conformance suite every bus implementation must
// pass. It runs two clients of one bus, as two nodes would.
package bustest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/bus"
	"github.com/camvault/camvault/internal/id"
)

// patience bounds every wait for a message, so that a lost message fails
// the test instead of hanging it. It is a guard, not a measurement: on a
// working bus every wait ends long before it.
const patience = 20 * time.Second

// Run runs the suite. open must return two clients of the same bus (two
// nodes); the suite closes them. Subjects carry fresh random identifiers,
// so runs sharing one server do not see each other.
func Run(t *testing.T, open func(t *testing.T) (a, b bus.Bus)) {
	t.Run("PublishReachesAnotherNode", func(t *testing.T) {
		a, b := open(t)
		s := subject(t, "notice")
		got := make(chan []byte, 100)
		subscribe(t, b, s, got)
		for i := range 50 {
			if err := a.Publish(t.Context(), s, fmt.Appendf(nil, "message %d", i)); err != nil {
				t.Fatal(err)
			}
		}
		// Messages from one publisher arrive in the order published.
		for i := range 50 {
			if m := receive(t, got); string(m) != fmt.Sprintf("message %d", i) {
				t.Fatalf("message %d is %q", i, m)
			}
		}
	})
	t.Run("EverySubscriberReceives", func(t *testing.T) {
		a, b := open(t)
		s := subject(t, "notice")
		onA, onB := make(chan []byte, 1), make(chan []byte, 1)
		subscribe(t, a, s, onA)
		subscribe(t, b, s, onB)
		if err := a.Publish(t.Context(), s, []byte("to all")); err != nil {
			t.Fatal(err)
		}
		for _, ch := range []chan []byte{onA, onB} {
			if m := receive(t, ch); string(m) != "to all" {
				t.Fatalf("got %q", m)
			}
		}
	})
	t.Run("SubjectsDoNotCross", func(t *testing.T) {
		a, b := open(t)
		home1, home2 := id.New(), id.New()
		s1 := must(bus.NewSubject("notice", home1))
		s2 := must(bus.NewSubject("notice", home2))
		s12 := must(bus.NewSubject("notice", home1, home2))
		got := make(chan []byte, 10)
		subscribe(t, b, s1, got)
		for _, s := range []bus.Subject{s2, s12} {
			if err := a.Publish(t.Context(), s, []byte("not for home1")); err != nil {
				t.Fatal(err)
			}
		}
		if err := a.Publish(t.Context(), s1, []byte("for home1")); err != nil {
			t.Fatal(err)
		}
		// Published last by the same node: had another arrived, it would
		// be first.
		if m := receive(t, got); string(m) != "for home1" {
			t.Fatalf("subscriber of %s got %q", s1, m)
		}
	})
	t.Run("RequestReply", func(t *testing.T) {
		a, b := open(t)
		s := subject(t, "command")
		respond(t, b, s, func(_ context.Context, data []byte) ([]byte, bool) {
			return append([]byte("done: "), data...), true
		})
		reply, err := a.Request(t.Context(), s, []byte("snapshot"), patience)
		if err != nil {
			t.Fatal(err)
		}
		if string(reply) != "done: snapshot" {
			t.Fatalf("reply %q", reply)
		}
	})
	t.Run("ConcurrentRequestsGetTheirOwnReply", func(t *testing.T) {
		// The failure this guards against: one caller handed another's
		// reply after requests overlap (or are cancelled).
		a, b := open(t)
		s := subject(t, "command")
		respond(t, b, s, func(_ context.Context, data []byte) ([]byte, bool) { return bytes.ToUpper(data), true })
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		for i := range 64 {
			wg.Go(func() {
				ctx := t.Context()
				if i%4 == 0 { // some callers give up at once
					c, cancel := context.WithCancel(ctx)
					cancel()
					if _, err := a.Request(c, s, []byte("cancelled"), patience); err == nil {
						errs <- errors.New("a cancelled request returned a reply")
					}
					return
				}
				req := []byte(fmt.Sprintf("request %d %s", i, id.New()))
				reply, err := a.Request(ctx, s, req, patience)
				if err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(reply, bytes.ToUpper(req)) {
					errs <- fmt.Errorf("request %q got reply %q", req, reply)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
	t.Run("SilentResponderLetsAnotherAnswer", func(t *testing.T) {
		// Two nodes subscribed to one device's subject while its camera
		// moves between them: only the one holding it answers.
		a, b := open(t)
		s := subject(t, "command")
		asked := make(chan struct{}, 1)
		respond(t, a, s, func(context.Context, []byte) ([]byte, bool) {
			select {
			case asked <- struct{}{}:
			default:
			}
			return []byte("not mine"), false
		})
		respond(t, b, s, func(_ context.Context, data []byte) ([]byte, bool) { return append([]byte("mine: "), data...), true })
		for i := range 20 {
			reply, err := a.Request(t.Context(), s, fmt.Appendf(nil, "%d", i), patience)
			if err != nil {
				t.Fatal(err)
			}
			if string(reply) != fmt.Sprintf("mine: %d", i) {
				t.Fatalf("reply %q", reply)
			}
		}
		select {
		case <-asked:
		case <-time.After(patience):
			t.Fatal("the silent responder was never asked")
		}
	})
	t.Run("NoResponders", func(t *testing.T) {
		a, _ := open(t)
		_, err := a.Request(t.Context(), subject(t, "command"), []byte("anyone?"), patience)
		if !errors.Is(err, bus.ErrNoResponders) {
			t.Fatalf("request nobody answers: %v; want ErrNoResponders", err)
		}
	})
	t.Run("Timeout", func(t *testing.T) {
		a, b := open(t)
		s := subject(t, "command")
		release := make(chan struct{})
		defer close(release)
		respond(t, b, s, func(ctx context.Context, _ []byte) ([]byte, bool) {
			select {
			case <-release:
			case <-ctx.Done():
			}
			return []byte("late"), true
		})
		_, err := a.Request(t.Context(), s, []byte("wait"), 50*time.Millisecond)
		if !errors.Is(err, bus.ErrTimeout) {
			t.Fatalf("request to a responder that does not answer: %v; want ErrTimeout", err)
		}
	})
	t.Run("Unsubscribe", func(t *testing.T) {
		a, b := open(t)
		s := subject(t, "command")
		sub, err := b.Respond(t.Context(), s, func(context.Context, []byte) ([]byte, bool) { return []byte("here"), true })
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.Request(t.Context(), s, nil, patience); err != nil {
			t.Fatal(err)
		}
		if err := sub.Unsubscribe(); err != nil {
			t.Fatal(err)
		}
		// When Unsubscribe returns the server knows: the next request from
		// any node finds nobody, rather than waiting for a reply that will
		// never come.
		if _, err := a.Request(t.Context(), s, nil, patience); !errors.Is(err, bus.ErrNoResponders) {
			t.Fatalf("request after unsubscribe: %v; want ErrNoResponders", err)
		}
		if err := sub.Unsubscribe(); err != nil {
			t.Fatalf("second unsubscribe: %v", err)
		}
	})
	t.Run("RejectsUnsetSubject", func(t *testing.T) {
		a, _ := open(t)
		var zero bus.Subject
		if err := a.Publish(t.Context(), zero, nil); err == nil {
			t.Error("publish to the zero subject succeeded")
		}
		if _, err := a.Subscribe(t.Context(), zero, func(context.Context, []byte) {}); err == nil {
			t.Error("subscribe to the zero subject succeeded")
		}
		if _, err := a.Request(t.Context(), zero, nil, patience); err == nil {
			t.Error("request to the zero subject succeeded")
		}
	})
	t.Run("Close", func(t *testing.T) {
		// open's second client is the one that can close alone (an
		// embedded server lives with the first).
		a, b := open(t)
		s := subject(t, "notice")
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		if err := b.Close(); err != nil {
			t.Fatalf("second close: %v", err)
		}
		if err := b.Publish(t.Context(), s, []byte("after close")); !errors.Is(err, bus.ErrClosed) {
			t.Fatalf("publish after close: %v; want ErrClosed", err)
		}
		if _, err := b.Request(t.Context(), s, nil, patience); err == nil {
			t.Fatal("request after close succeeded")
		}
		// The other node carries on.
		got := make(chan []byte, 1)
		subscribe(t, a, s, got)
		if err := a.Publish(t.Context(), s, []byte("still here")); err != nil {
			t.Fatal(err)
		}
		receive(t, got)
	})
	t.Run("CloseWaitsForHandlers", func(t *testing.T) {
		// A handler running when its bus closes sees its context end, and
		// Close returns only after it has: what it uses (the store) is
		// closed next.
		a, b := open(t)
		s := subject(t, "notice")
		started := make(chan struct{})
		var finished atomic.Bool
		sub, err := b.Subscribe(t.Context(), s, func(ctx context.Context, _ []byte) {
			close(started)
			<-ctx.Done()
			time.Sleep(50 * time.Millisecond) // still cleaning up: a Close that did not wait would be back by now
			finished.Store(true)
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = sub.Unsubscribe() })
		if err := a.Publish(t.Context(), s, []byte("work")); err != nil {
			t.Fatal(err)
		}
		select {
		case <-started:
		case <-time.After(patience):
			t.Fatal("the handler never ran")
		}
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		if !finished.Load() {
			t.Fatal("Close returned while a handler was still running")
		}
	})
}

func must(s bus.Subject, err error) bus.Subject {
	if err != nil {
		panic(err)
	}
	return s
}

// subject is a fresh subject no other test uses.
func subject(t *testing.T, name string) bus.Subject {
	t.Helper()
	s, err := bus.NewSubject(name, id.New())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func subscribe(t *testing.T, b bus.Bus, s bus.Subject, got chan<- []byte) {
	t.Helper()
	sub, err := b.Subscribe(t.Context(), s, func(_ context.Context, data []byte) {
		got <- bytes.Clone(data)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
}

func respond(t *testing.T, b bus.Bus, s bus.Subject, r bus.Responder) {
	t.Helper()
	sub, err := b.Respond(t.Context(), s, r)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
}

func receive(t *testing.T, ch <-chan []byte) []byte {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(patience):
		t.Fatal("no message arrived")
		return nil
	}
}
