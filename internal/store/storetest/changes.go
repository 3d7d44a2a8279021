package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/store"
)

// changesAfter reads the whole log after seq and checks it is numbered
// without gaps up to the latest number.
func changesAfter(t *testing.T, s store.Store, seq int64) (int64, []domain.Change) {
	t.Helper()
	latest, list, err := s.ChangesSince(t.Context(), seq, 1000)
	check(t, "changes since", err)
	for i, c := range list {
		if c.Seq != seq+1+int64(i) {
			t.Fatalf("change %d of the log after %d has seq %d: the log has a gap", i, seq, c.Seq)
		}
	}
	if want := seq + int64(len(list)); latest != want {
		t.Fatalf("latest change %d, but the log after %d ends at %d", latest, seq, want)
	}
	return latest, list
}

// testChanges checks that every change of what a home's members may see,
// and every logout, appends exactly one change naming its home or account,
// in the changing transaction; that a change refused appends nothing; and
// that the log's numbers follow one another.
func testChanges(t *testing.T, s store.Store) {
	ctx := t.Context()
	owner, viewer := newAccount(t, s), newAccount(t, s)
	h := newHome(t, s, owner.ID)
	d1, d2 := newDevice(t, s, owner.ID, h.ID), newDevice(t, s, owner.ID, h.ID)
	seq, _ := changesAfter(t, s, 0)

	// logged runs change and checks it appended exactly want.
	logged := func(what string, want *domain.Change, change func() error) {
		t.Helper()
		check(t, what, change())
		latest, list := changesAfter(t, s, seq)
		switch {
		case want == nil && len(list) != 0:
			t.Fatalf("%s: logged %+v, want nothing", what, list)
		case want != nil && (len(list) != 1 || list[0].HomeID != want.HomeID || list[0].AccountID != want.AccountID):
			t.Fatalf("%s: logged %+v, want one change of home %q account %q", what, list, want.HomeID, want.AccountID)
		case want != nil && list[0].At.IsZero():
			t.Fatalf("%s: change has no time", what)
		}
		seq = latest
	}
	home := &domain.Change{HomeID: h.ID}
	account := &domain.Change{AccountID: viewer.ID}

	logged("add a member", home, func() error {
		return s.PutMember(ctx, domain.Member{HomeID: h.ID, AccountID: viewer.ID, Role: domain.RoleViewer, Devices: []string{d1.ID}, AddedAt: at(0)})
	})
	logged("change a member", home, func() error {
		return s.PutMember(ctx, domain.Member{HomeID: h.ID, AccountID: viewer.ID, Role: domain.RoleViewer, Devices: []string{d1.ID, d2.ID}, AddedAt: at(0)})
	})
	logged("refused member change", nil, func() error {
		err := s.PutMember(ctx, domain.Member{HomeID: h.ID, AccountID: viewer.ID, Role: domain.RoleViewer, Devices: []string{id.New()}, AddedAt: at(0)})
		if err == nil {
			return fmt.Errorf("a camera of no home was accepted")
		}
		return nil
	})
	logged("unpair a camera", home, func() error { return s.DeleteDevice(ctx, d2.ID) })
	e1, e2 := newEvent(t, s, h.ID, d1.ID, "motion", at(-time.Hour)), newEvent(t, s, h.ID, d1.ID, "motion", at(-2*time.Hour))
	logged("upload events", nil, func() error { return nil })
	logged("delete an event", home, func() error {
		_, err := s.MarkEventDeleted(ctx, e1.ID, at(0))
		return err
	})
	logged("delete an event already deleted", nil, func() error {
		_, err := s.MarkEventDeleted(ctx, e1.ID, at(0))
		mustNotFound(t, "delete again", err)
		return nil
	})
	logged("expire events", home, func() error {
		n, err := s.MarkExpiredEvents(ctx, e2.CreatedAt.Add(31*day), 10)
		if n != 1 {
			return fmt.Errorf("expired %d events, want 1", n)
		}
		return err
	})
	logged("expire nothing", nil, func() error {
		_, err := s.MarkExpiredEvents(ctx, at(0), 10)
		return err
	})
	sess := newSession(t, s, viewer.ID, at(0))
	logged("log in", nil, func() error { return nil })
	logged("log out", account, func() error { return s.DeleteSession(ctx, viewer.ID, sess.ID) })
	logged("log out of a session already gone", nil, func() error {
		mustNotFound(t, "logout again", s.DeleteSession(ctx, viewer.ID, sess.ID))
		return nil
	})
	logged("log out everywhere", account, func() error { return s.DeleteAccountSessions(ctx, viewer.ID) })
	logged("remove a member", home, func() error { return s.DeleteMember(ctx, h.ID, viewer.ID) })
	logged("rename the home", nil, func() error { return s.UpdateHome(ctx, h.ID, []byte("renamed"), nil) })

	// A limit pages the log; a page ends where asked.
	latest, page, err := s.ChangesSince(ctx, 0, 2)
	check(t, "changes since, limit 2", err)
	if latest != seq || len(page) != 2 || page[0].Seq != 1 || page[1].Seq != 2 {
		t.Fatalf("first page of 2: latest %d, %+v", latest, page)
	}
	if latest, page, err = s.ChangesSince(ctx, seq, 10); err != nil || latest != seq || len(page) != 0 {
		t.Fatalf("changes after the latest: %d, %+v, %v", latest, page, err)
	}

	// Concurrent changes from many callers take numbers one after another.
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		a := newAccount(t, s)
		wg.Go(func() {
			errs <- s.PutMember(ctx, domain.Member{HomeID: h.ID, AccountID: a.ID, Role: domain.RoleViewer, AddedAt: at(0)})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		check(t, "concurrent member change", err)
	}
	after, list := changesAfter(t, s, seq)
	if len(list) != 16 {
		t.Fatalf("16 concurrent changes logged %d", len(list))
	}
	seq = after

	// Pruning removes old changes, never the clock: what was pruned shows
	// as a gap to a reader still behind it.
	if n, err := s.PruneChanges(ctx, time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Fatalf("prune changes older than an hour ago: %d, %v", n, err)
	}
	n, err := s.PruneChanges(ctx, time.Now().Add(time.Hour))
	check(t, "prune every change", err)
	if n != int(after) {
		t.Fatalf("pruned %d changes, want %d", n, after)
	}
	latest, page, err = s.ChangesSince(ctx, 0, 10)
	if err != nil || latest != after || len(page) != 0 {
		t.Fatalf("after pruning: latest %d (want %d), %+v, %v", latest, after, page, err)
	}
	logged("a change after pruning", account, func() error { return s.DeleteAccountSessions(ctx, viewer.ID) })
	if seq != after+1 {
		t.Fatalf("the change after pruning has seq %d, want %d", seq, after+1)
	}
}

// testLeases checks the roster of nodes holding a lease.
func testLeases(t *testing.T, s store.Store) {
	ctx := t.Context()
	leases := func(after time.Time) []string {
		t.Helper()
		list, err := s.Leases(ctx, after)
		check(t, "leases", err)
		return list
	}
	if l := leases(at(0)); len(l) != 0 {
		t.Fatalf("leases of a new store: %v", l)
	}
	a, b := id.New(), id.New()
	check(t, "put lease a", s.PutLease(ctx, a, at(10*time.Second)))
	check(t, "put lease b", s.PutLease(ctx, b, at(20*time.Second)))
	want := []string{a, b}
	slices.Sort(want)
	if l := leases(at(0)); !slices.Equal(l, want) {
		t.Fatalf("leases: %v, want %v", l, want)
	}
	if l := leases(at(15 * time.Second)); !slices.Equal(l, []string{b}) {
		t.Fatalf("leases after a's expiry: %v, want only b", l)
	}
	check(t, "renew lease a", s.PutLease(ctx, a, at(30*time.Second)))
	if l := leases(at(25 * time.Second)); !slices.Equal(l, []string{a}) {
		t.Fatalf("leases after b's expiry: %v, want a renewed", l)
	}
	check(t, "drop lease a", s.DropLease(ctx, a))
	check(t, "drop a lease never held", s.DropLease(ctx, id.New()))
	if l := leases(at(0)); !slices.Equal(l, []string{b}) {
		t.Fatalf("leases after dropping a: %v", l)
	}
}
