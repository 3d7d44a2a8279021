package grantnotice_test

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/bus"
	"github.com/camvault/camvault/internal/bus/natsbus"
	"github.com/camvault/camvault/internal/grantnotice"
	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/store"
	"github.com/camvault/camvault/internal/store/sqlite"
)

func setup(t *testing.T) (*grantnotice.Store, chan grantnotice.Notice, *natsbus.Bus) {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	b, err := natsbus.Embedded(t.Context(), log)
	if err != nil {
		t.Fatal(err)
	}
	other, err := b.Connect(t.Context()) // another node
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close(); b.Close() })
	got := make(chan grantnotice.Notice, 16)
	sub, err := grantnotice.Listen(t.Context(), other, func(_ context.Context, n grantnotice.Notice) { got <- n })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return grantnotice.Wrap(st, b, log), got, b
}

func next(t *testing.T, got <-chan grantnotice.Notice) grantnotice.Notice {
	t.Helper()
	select {
	case n := <-got:
		return n
	case <-time.After(20 * time.Second): // a hang guard, not a measurement
		t.Fatal("no notice arrived")
		return grantnotice.Notice{}
	}
}

func TestCommittedChangesAreAnnounced(t *testing.T) {
	st, got, b := setup(t)
	ctx := t.Context()
	// A change the store refuses announces nothing; the marker published
	// right after it by the same node arrives first.
	if err := st.DeleteMember(ctx, id.New(), id.New()); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("delete a membership that does not exist: %v", err)
	}
	if err := st.DeleteDevice(ctx, id.New()); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("delete a camera that does not exist: %v", err)
	}
	marker := grantnotice.Notice{HomeID: id.New()}
	if err := grantnotice.Publish(ctx, b, marker); err != nil {
		t.Fatal(err)
	}
	if n := next(t, got); n != marker {
		t.Fatalf("a refused change was announced: %+v", n)
	}
	account := id.New()
	if err := st.DeleteAccountSessions(ctx, account); err != nil {
		t.Fatal(err)
	}
	if n := next(t, got); n != (grantnotice.Notice{AccountID: account}) {
		t.Fatalf("logout everywhere announced %+v", n)
	}
}

func TestMalformedNoticesAreDropped(t *testing.T) {
	_, got, b := setup(t)
	ctx := t.Context()
	subj, err := bus.NewSubject("grants")
	if err != nil {
		t.Fatal(err)
	}
	for _, raw := range []string{`not json`, `{}`, `{"home_id":"x.y"}`, `{"account_id":"*"}`, `{"home_id":"` + id.New() + `","account_id":"bad"}`} {
		if err := b.Publish(ctx, subj, []byte(raw)); err != nil {
			t.Fatal(err)
		}
	}
	if err := grantnotice.Publish(ctx, b, grantnotice.Notice{}); err == nil {
		t.Fatal("an empty notice was published")
	}
	good := grantnotice.Notice{HomeID: id.New(), AccountID: id.New()}
	if err := grantnotice.Publish(ctx, b, good); err != nil {
		t.Fatal(err)
	}
	if n := next(t, got); n != good {
		t.Fatalf("a malformed notice reached the listener: %+v", n)
	}
}
