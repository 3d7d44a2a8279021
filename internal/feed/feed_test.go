package feed_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/apperr"
	"github.com/camvault/camvault/internal/bus"
	"github.com/camvault/camvault/internal/feed"
	"github.com/camvault/camvault/internal/servicetest"
)

// start runs a feed service on e's parts until the test ends, told of the
// events e's events service creates.
func start(t *testing.T, e *servicetest.Env, cfg feed.Config) *feed.Service {
	t.Helper()
	s := feed.New(cfg, feed.Deps{Store: e.Store, Decider: e.Authz, Events: e.Events, Bus: e.Bus, Log: e.Log})
	e.Events.WithAnnouncer(s)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return s
}

func open(t *testing.T, s *feed.Service, p servicetest.Person, q feed.Query) *feed.Stream {
	t.Helper()
	st, err := s.Open(t.Context(), p.Principal, q)
	if err != nil {
		t.Fatalf("open a stream: %v", err)
	}
	t.Cleanup(st.Close)
	return st
}

func next(t *testing.T, st *feed.Stream) feed.Message {
	t.Helper()
	select {
	case m := <-st.Messages():
		return m
	case <-st.Done():
		t.Fatalf("the stream ended (%s) while a message was expected", st.Err())
	case <-time.After(20 * time.Second):
		t.Fatal("no message")
	}
	return feed.Message{}
}

func publish(t *testing.T, e *servicetest.Env, body string) {
	t.Helper()
	subj, err := bus.NewSubject("feed")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Bus.Publish(t.Context(), subj, []byte(body)); err != nil {
		t.Fatal(err)
	}
}

// TestANoticeIsOnlyAHint: a forged notice naming a stranger's home for
// another household's event, or a camera of another home, offers that
// stranger nothing; the owner's stream gets the event with the record's
// fields, whatever home a notice named.
func TestANoticeIsOnlyAHint(t *testing.T) {
	e := servicetest.New(t)
	s := start(t, e, feed.Config{})
	owner, stranger := e.Person("owner"), e.Person("stranger")
	home, elsewhere := e.Home(owner, "Home"), e.Home(stranger, "Elsewhere")
	cam := e.Camera(owner, home)
	ownerSt, strangerSt := open(t, s, owner, feed.Query{}), open(t, s, stranger, feed.Query{})

	up := e.Upload(cam, "ev-1", e.Clock.Now(), 0)
	if m := next(t, ownerSt); m.Kind != feed.KindEvent || m.ID != up.ID {
		t.Fatalf("owner got %+v, want event %s", m, up.ID)
	}
	// The same event told as the stranger's home's, and the owner's camera
	// told online in the stranger's home.
	publish(t, e, fmt.Sprintf(`{"event":{"home_id":%q,"event_id":%q}}`, elsewhere, up.ID))
	publish(t, e, fmt.Sprintf(`{"presence":[{"home_id":%q,"device_id":%q,"online":true}]}`, elsewhere, cam.DeviceID))
	// Malformed ones are dropped.
	publish(t, e, `{"event":{"home_id":"x.y","event_id":"*"}}`)
	publish(t, e, `not json`)
	// A marker of the stranger's own, after them all: the fan-out is in
	// order, so when it arrives everything before it was decided.
	own := e.Upload(e.Camera(stranger, elsewhere), "ev-2", e.Clock.Now(), 0)
	if m := next(t, strangerSt); m.ID != own.ID {
		t.Fatalf("stranger got %+v before their own event %s", m, own.ID)
	}
	// The owner's stream, told the event of another home: nothing, as the
	// record's home is not the notice's.
	publish(t, e, fmt.Sprintf(`{"event":{"home_id":%q,"event_id":%q}}`, home, own.ID))
	up2 := e.Upload(cam, "ev-3", e.Clock.Now(), 0)
	if m := next(t, ownerSt); m.ID != up2.ID {
		t.Fatalf("owner got %+v, want only their own %s", m, up2.ID)
	}
}

// TestASlowReaderIsCutOff: a viewer that does not read is ended once its
// buffer is full, and the others still get every message.
func TestASlowReaderIsCutOff(t *testing.T) {
	e := servicetest.New(t)
	s := start(t, e, feed.Config{Buffer: 2})
	owner := e.Person("owner")
	home := e.Home(owner, "Home")
	cam := e.Camera(owner, home)
	slow, fast := open(t, s, owner, feed.Query{}), open(t, s, owner, feed.Query{})
	for i := range 4 {
		up := e.Upload(cam, fmt.Sprintf("ev-%d", i), e.Clock.Now(), 0)
		if m := next(t, fast); m.ID != up.ID {
			t.Fatalf("fast reader got %+v, want %s", m, up.ID)
		}
	}
	select {
	case <-slow.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("the slow reader's stream did not end")
	}
	if slow.Err() != feed.EndTooSlow {
		t.Fatalf("slow reader ended %q, want too_slow", slow.Err())
	}
}

// TestStreamLimitsAndFilters: the per-account bound, kinds checked, and a
// home or camera the viewer may not see refused like a missing one.
func TestStreamLimitsAndFilters(t *testing.T) {
	e := servicetest.New(t)
	s := start(t, e, feed.Config{PerAccount: 1})
	owner, stranger := e.Person("owner"), e.Person("stranger")
	home := e.Home(owner, "Home")
	cam := e.Camera(owner, home)
	for name, q := range map[string]feed.Query{"home": {Home: home}, "camera": {Device: cam.DeviceID}} {
		_, err := s.Open(t.Context(), stranger.Principal, q)
		servicetest.WantCode(t, "a stranger's stream of another's "+name, err, apperr.NotFound)
	}
	_, err := s.Open(t.Context(), owner.Principal, feed.Query{Kinds: []string{"unicorn"}})
	servicetest.WantCode(t, "an unknown kind", err, apperr.Invalid)
	st := open(t, s, owner, feed.Query{Kinds: []string{"person"}})
	_, err = s.Open(t.Context(), owner.Principal, feed.Query{})
	servicetest.WantCode(t, "a second stream past the bound", err, apperr.TooMany)
	st.Close()
	open(t, s, owner, feed.Query{})
	if s.Streams() != 1 {
		t.Fatalf("%d streams open, want 1", s.Streams())
	}
}
