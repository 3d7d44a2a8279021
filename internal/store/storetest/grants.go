package storetest

import (
	"testing"
	"time"

	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/store"
)

// testGrantVersion checks that an account's grant version in a home moves
// on every change to who may see what, and on every logout, and on nothing
// that belongs to another home or account.
func testGrantVersion(t *testing.T, s store.Store) {
	ctx := t.Context()
	owner, viewer, stranger := newAccount(t, s), newAccount(t, s), newAccount(t, s)
	h, other := newHome(t, s, owner.ID), newHome(t, s, stranger.ID)
	d1, d2 := newDevice(t, s, owner.ID, h.ID), newDevice(t, s, owner.ID, h.ID)

	gv := func(homeID, accountID string) int64 {
		t.Helper()
		v, err := s.GrantVersion(ctx, homeID, accountID)
		check(t, "grant version", err)
		return v
	}
	// moved runs change and checks that it moved (or left) the viewer's
	// version in h and left the stranger's version in the other home.
	moved := func(what string, want bool, change func() error) {
		t.Helper()
		before, beforeOther := gv(h.ID, viewer.ID), gv(other.ID, stranger.ID)
		check(t, what, change())
		after := gv(h.ID, viewer.ID)
		if want && after == before {
			t.Fatalf("%s: grant version stayed at %d", what, before)
		}
		if !want && after != before {
			t.Fatalf("%s: grant version moved from %d to %d", what, before, after)
		}
		if v := gv(other.ID, stranger.ID); v != beforeOther {
			t.Fatalf("%s: another home's grant version moved from %d to %d", what, beforeOther, v)
		}
	}

	if home := gv(h.ID, ""); home != version(t, s, h.ID) {
		t.Fatalf("home part of the grant version %d, want the home's grants version %d", home, version(t, s, h.ID))
	}
	moved("add viewer", true, func() error {
		return s.PutMember(ctx, domain.Member{HomeID: h.ID, AccountID: viewer.ID, Role: domain.RoleViewer, Devices: []string{d1.ID}, AddedAt: at(0)})
	})
	moved("change camera limit", true, func() error {
		return s.PutMember(ctx, domain.Member{HomeID: h.ID, AccountID: viewer.ID, Role: domain.RoleViewer, Devices: []string{d1.ID, d2.ID}, AddedAt: at(0)})
	})
	moved("change role", true, func() error {
		return s.PutMember(ctx, domain.Member{HomeID: h.ID, AccountID: viewer.ID, Role: domain.RoleAdmin, AddedAt: at(0)})
	})
	moved("unpair a camera", true, func() error { return s.DeleteDevice(ctx, d2.ID) })
	s1, s2 := newSession(t, s, viewer.ID, at(0)), newSession(t, s, viewer.ID, at(0))
	moved("open a session", false, func() error { return nil })
	moved("logout", true, func() error { return s.DeleteSession(ctx, viewer.ID, s1.ID) })
	mustNotFound(t, "logout of a session already gone", s.DeleteSession(ctx, viewer.ID, s1.ID))
	moved("logout everywhere", true, func() error { return s.DeleteAccountSessions(ctx, viewer.ID) })
	_, err := s.SessionByTokenHash(ctx, s2.TokenHash)
	mustNotFound(t, "session after logout everywhere", err)
	moved("another account logs out", false, func() error { return s.DeleteAccountSessions(ctx, owner.ID) })
	moved("remove viewer", true, func() error { return s.DeleteMember(ctx, h.ID, viewer.ID) })

	// A home's part is shared by its members; an account's by its homes.
	ownerBefore := gv(h.ID, owner.ID)
	check(t, "unpair", s.DeleteDevice(ctx, d1.ID))
	if gv(h.ID, owner.ID) == ownerBefore {
		t.Fatal("unpairing did not move the owner's grant version")
	}
	otherBefore := gv(other.ID, stranger.ID)
	check(t, "stranger logs out everywhere", s.DeleteAccountSessions(ctx, stranger.ID))
	if gv(other.ID, stranger.ID) == otherBefore {
		t.Fatal("logout did not move the account's grant version in its home")
	}

	_, err = s.GrantVersion(ctx, id.New(), owner.ID)
	mustNotFound(t, "grant version of a missing home", err)
	if _, err := s.GrantVersion(ctx, h.ID, id.New()); err != nil {
		t.Fatalf("grant version of an account that does not exist: %v", err)
	}
}

func testBreaker(t *testing.T, s store.Store) {
	ctx := t.Context()
	b, err := s.Breaker(ctx, "cache")
	check(t, "read a breaker never set", err)
	if b.Open || b.Trips != 0 || !b.ChangedAt.IsZero() || b.Name != "cache" {
		t.Fatalf("breaker never set: %+v, want closed", b)
	}
	changed, err := s.SetBreaker(ctx, "cache", false, "reset", at(0))
	check(t, "close a closed breaker", err)
	if changed {
		t.Fatal("closing a closed breaker reported a change")
	}

	changed, err = s.SetBreaker(ctx, "cache", true, "5 mismatches", at(time.Second))
	check(t, "trip", err)
	if !changed {
		t.Fatal("tripping a closed breaker reported no change")
	}
	changed, err = s.SetBreaker(ctx, "cache", true, "again", at(2*time.Second))
	check(t, "trip an open breaker", err)
	if changed {
		t.Fatal("tripping an open breaker reported a change")
	}
	b, err = s.Breaker(ctx, "cache")
	check(t, "read tripped", err)
	same(t, "tripped breaker", b, domain.Breaker{Name: "cache", Open: true, Reason: "5 mismatches", ChangedAt: at(time.Second), Trips: 1}, normBreaker)
	if other, err := s.Breaker(ctx, "other"); err != nil || other.Open {
		t.Fatalf("another breaker: %+v, %v; want closed", other, err)
	}

	changed, err = s.SetBreaker(ctx, "cache", false, "reset by operator", at(3*time.Second))
	check(t, "reset", err)
	if !changed {
		t.Fatal("resetting an open breaker reported no change")
	}
	check(t, "trip again", func() error {
		_, err := s.SetBreaker(ctx, "cache", true, "blocked responses", at(4*time.Second))
		return err
	}())
	b, err = s.Breaker(ctx, "cache")
	check(t, "read", err)
	same(t, "tripped twice", b, domain.Breaker{Name: "cache", Open: true, Reason: "blocked responses", ChangedAt: at(4 * time.Second), Trips: 2}, normBreaker)
}

func normBreaker(b domain.Breaker) domain.Breaker {
	b.ChangedAt = normTime(b.ChangedAt)
	return b
}
