package authz_test

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/authz"
	"github.com/camvault/camvault/internal/bus"
	"github.com/camvault/camvault/internal/bus/natsbus"
	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/store"
	"github.com/camvault/camvault/internal/store/sqlite"
)

func announcingSetup(t *testing.T) (*authz.AnnouncingStore, chan authz.GrantNotice, *natsbus.Bus) {
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
	got := make(chan authz.GrantNotice, 16)
	sub, err := authz.ListenGrantNotices(t.Context(), other, func(_ context.Context, n authz.GrantNotice) { got <- n })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return authz.AnnounceGrantChanges(st, b, log), got, b
}

func nextNotice(t *testing.T, got <-chan authz.GrantNotice) authz.GrantNotice {
	t.Helper()
	select {
	case n := <-got:
		return n
	case <-time.After(20 * time.Second): // a hang guard, not a measurement
		t.Fatal("no notice arrived")
		return authz.GrantNotice{}
	}
}

func TestCommittedChangesAreAnnounced(t *testing.T) {
	st, got, b := announcingSetup(t)
	ctx := t.Context()
	// A change the store refuses announces nothing; the marker published
	// right after it by the same node arrives first.
	if err := st.DeleteMember(ctx, id.New(), id.New()); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("delete a membership that does not exist: %v", err)
	}
	if err := st.DeleteDevice(ctx, id.New()); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("delete a camera that does not exist: %v", err)
	}
	marker := authz.GrantNotice{HomeID: id.New()}
	if err := authz.PublishGrantNotice(ctx, b, marker); err != nil {
		t.Fatal(err)
	}
	if n := nextNotice(t, got); n != marker {
		t.Fatalf("a refused change was announced: %+v", n)
	}
	account := id.New()
	if err := st.DeleteAccountSessions(ctx, account); err != nil {
		t.Fatal(err)
	}
	if n := nextNotice(t, got); n != (authz.GrantNotice{AccountID: account}) {
		t.Fatalf("logout everywhere announced %+v", n)
	}
}

func TestMalformedNoticesAreDropped(t *testing.T) {
	_, got, b := announcingSetup(t)
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
	if err := authz.PublishGrantNotice(ctx, b, authz.GrantNotice{}); err == nil {
		t.Fatal("an empty notice was published")
	}
	good := authz.GrantNotice{HomeID: id.New(), AccountID: id.New()}
	if err := authz.PublishGrantNotice(ctx, b, good); err != nil {
		t.Fatal(err)
	}
	if n := nextNotice(t, got); n != good {
		t.Fatalf("a malformed notice reached the listener: %+v", n)
	}
}
