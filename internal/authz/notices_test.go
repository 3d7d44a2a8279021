package authz_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/authz"
	"github.com/camvault/camvault/internal/bus"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/servicetest"
	"github.com/camvault/camvault/internal/store"
)

// listenAsAnotherNode returns the grant notices another node of e's bus
// hears.
func listenAsAnotherNode(t *testing.T, e *servicetest.Env) <-chan authz.GrantNotice {
	t.Helper()
	other, err := e.Bus.Connect(e.Ctx())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	got := make(chan authz.GrantNotice, 16)
	sub, err := authz.ListenGrantNotices(e.Ctx(), other, func(_ context.Context, n authz.GrantNotice) { got <- n })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	return got
}

func nextNotice(t *testing.T, got <-chan authz.GrantNotice) authz.GrantNotice {
	t.Helper()
	select {
	case n := <-got:
		return n
	case <-time.After(servicetest.Patience):
		t.Fatal("no notice arrived")
		return authz.GrantNotice{}
	}
}

// TestCommittedChangesAreAnnounced: each use case that changes who may see
// what is announced once committed, naming whose grants changed.
func TestCommittedChangesAreAnnounced(t *testing.T) {
	t.Parallel()
	e := servicetest.New(t)
	ctx := e.Ctx()
	ann, bob := e.Person("ann"), e.Person("bob")
	home := e.Home(ann, "Home")
	cam := e.Camera(ann, home)
	got := listenAsAnotherNode(t, e)

	for _, c := range []struct {
		what   string
		change func() error
		want   authz.GrantNotice
	}{
		{"accept an invitation", func() error {
			inv, err := e.Homes.Invite(ctx, ann.Principal, home, bob.Email, domain.RoleViewer, []string{cam.DeviceID})
			if err != nil {
				return err
			}
			return e.Homes.AcceptInvitation(ctx, bob.Principal, inv.ID)
		}, authz.GrantNotice{HomeID: home, AccountID: bob.AccountID}},
		{"change a member", func() error {
			_, err := e.Homes.UpdateMember(ctx, ann.Principal, home, bob.AccountID, domain.RoleViewer, nil)
			return err
		}, authz.GrantNotice{HomeID: home, AccountID: bob.AccountID}},
		{"unpair", func() error { return e.Homes.DeleteDevice(ctx, ann.Principal, cam.DeviceID) }, authz.GrantNotice{HomeID: home}},
		{"unshare", func() error { return e.Homes.RemoveMember(ctx, ann.Principal, home, bob.AccountID) }, authz.GrantNotice{HomeID: home, AccountID: bob.AccountID}},
		{"log out", func() error { return e.Identity.Logout(ctx, bob.Principal) }, authz.GrantNotice{AccountID: bob.AccountID}},
		{"log out everywhere", func() error { return e.Identity.LogoutEverywhere(ctx, ann.Principal) }, authz.GrantNotice{AccountID: ann.AccountID}},
	} {
		if err := c.change(); err != nil {
			t.Fatalf("%s: %v", c.what, err)
		}
		if n := nextNotice(t, got); n != c.want {
			t.Errorf("%s announced %+v, want %+v", c.what, n, c.want)
		}
	}

	// A change the store refuses announces nothing; the marker published
	// right after it by the same node arrives first.
	if err := e.Store.DeleteMember(ctx, id.New(), id.New()); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("delete a membership that does not exist: %v", err)
	}
	if err := e.Store.DeleteDevice(ctx, id.New()); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("delete a camera that does not exist: %v", err)
	}
	marker := authz.GrantNotice{HomeID: id.New()}
	if err := authz.PublishGrantNotice(ctx, e.Bus, marker); err != nil {
		t.Fatal(err)
	}
	if n := nextNotice(t, got); n != marker {
		t.Fatalf("a refused change was announced: %+v", n)
	}
}

func TestMalformedNoticesAreDropped(t *testing.T) {
	t.Parallel()
	e := servicetest.New(t)
	ctx := e.Ctx()
	got := listenAsAnotherNode(t, e)
	subj, err := bus.NewSubject("grants")
	if err != nil {
		t.Fatal(err)
	}
	for _, raw := range []string{`not json`, `{}`, `{"home_id":"x.y"}`, `{"account_id":"*"}`, `{"home_id":"` + id.New() + `","account_id":"bad"}`} {
		if err := e.Bus.Publish(ctx, subj, []byte(raw)); err != nil {
			t.Fatal(err)
		}
	}
	if err := authz.PublishGrantNotice(ctx, e.Bus, authz.GrantNotice{}); err == nil {
		t.Fatal("an empty notice was published")
	}
	good := authz.GrantNotice{HomeID: id.New(), AccountID: id.New()}
	if err := authz.PublishGrantNotice(ctx, e.Bus, good); err != nil {
		t.Fatal(err)
	}
	if n := nextNotice(t, got); n != good {
		t.Fatalf("a malformed notice reached the listener: %+v", n)
	}
}
