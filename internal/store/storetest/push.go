package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/store"
)

func newPushSub(t *testing.T, s store.Store, accountID, sessionID string) domain.PushSubscription {
	t.Helper()
	sub := domain.PushSubscription{ID: id.New(), AccountID: accountID, SessionID: sessionID, Sealed: random("endpoint"),
		Filter: `{"kinds":["person"]}`, CreatedAt: at(0)}
	check(t, "create push subscription", s.CreatePushSubscription(t.Context(), sub, 10))
	return sub
}

// testPush: an event makes a push delivery for each subscription of each
// member of its home, in its own transaction, and for nobody else's;
// deliveries are claimed once, retried and finished; a subscription goes
// with its login session; the VAPID secret is the first one stored.
func testPush(t *testing.T, s store.Store) {
	ctx := t.Context()
	owner, viewer, stranger := newAccount(t, s), newAccount(t, s), newAccount(t, s)
	home := newHome(t, s, owner.ID)
	newHome(t, s, stranger.ID)
	check(t, "share", s.PutMember(ctx, domain.Member{HomeID: home.ID, AccountID: viewer.ID, Role: domain.RoleViewer, AddedAt: at(0)}))
	dev := newDevice(t, s, owner.ID, home.ID)
	phone, laptop := newSession(t, s, owner.ID, at(0)), newSession(t, s, owner.ID, at(0))
	viewerSess, strangerSess := newSession(t, s, viewer.ID, at(0)), newSession(t, s, stranger.ID, at(0))
	a, b := newPushSub(t, s, owner.ID, phone.ID), newPushSub(t, s, owner.ID, laptop.ID)
	v, z := newPushSub(t, s, viewer.ID, viewerSess.ID), newPushSub(t, s, stranger.ID, strangerSess.ID)

	got, err := s.PushSubscription(ctx, a.ID)
	check(t, "read subscription", err)
	same(t, "subscription read back", got, a, func(x domain.PushSubscription) domain.PushSubscription {
		x.Sealed, x.CreatedAt = normBytes(x.Sealed), normTime(x.CreatedAt)
		return x
	})
	list, err := s.PushSubscriptions(ctx, owner.ID)
	check(t, "list subscriptions", err)
	if len(list) != 2 {
		t.Fatalf("owner has %d subscriptions, want 2", len(list))
	}
	for range 8 {
		newPushSub(t, s, viewer.ID, viewerSess.ID)
	}
	if err := s.CreatePushSubscription(ctx, domain.PushSubscription{ID: id.New(), AccountID: viewer.ID, SessionID: viewerSess.ID,
		Sealed: []byte("x"), Filter: "{}", CreatedAt: at(0)}, 9); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("a subscription past the bound: %v, want ErrConflict", err)
	}

	ev := newEvent(t, s, home.ID, dev.ID, domain.EventKind("person"), at(0))
	claimed, err := s.ClaimPushDeliveries(ctx, at(time.Minute), at(2*time.Minute), 100)
	check(t, "claim", err)
	subs := map[string]bool{}
	for _, d := range claimed {
		if d.EventID != ev.ID || d.HomeID != home.ID || d.Attempts != 0 {
			t.Fatalf("claimed %+v", d)
		}
		subs[d.SubscriptionID] = true
	}
	if len(claimed) != 11 || !subs[a.ID] || !subs[b.ID] || !subs[v.ID] || subs[z.ID] {
		t.Fatalf("the event's deliveries went to %v (%d), want the owner's two and the viewer's nine, not the stranger's", subs, len(claimed))
	}
	if again, err := s.ClaimPushDeliveries(ctx, at(time.Minute), at(2*time.Minute), 100); err != nil || len(again) != 0 {
		t.Fatalf("claimed twice: %d %v", len(again), err)
	}
	retry := claimed[0]
	retry.Attempts, retry.NextAt = 1, at(5*time.Minute)
	check(t, "retry", s.RetryPushDelivery(ctx, retry))
	for _, d := range claimed[1:] {
		check(t, "finish", s.FinishPushDelivery(ctx, d))
	}
	if due, err := s.ClaimPushDeliveries(ctx, at(4*time.Minute), at(6*time.Minute), 100); err != nil || len(due) != 0 {
		t.Fatalf("a retry claimed before it is due: %v %v", due, err)
	}
	due, err := s.ClaimPushDeliveries(ctx, at(5*time.Minute), at(6*time.Minute), 100)
	if err != nil || len(due) != 1 || due[0].Attempts != 1 || due[0].SubscriptionID != retry.SubscriptionID {
		t.Fatalf("the retry: %v %v", due, err)
	}

	// A logout takes the session's subscription, and what waits for it.
	newEvent(t, s, home.ID, dev.ID, domain.EventKind("motion"), at(time.Second))
	check(t, "log out", s.DeleteSession(ctx, owner.ID, phone.ID))
	if _, err := s.PushSubscription(ctx, a.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the logged-out session's subscription: %v", err)
	}
	if err := s.DeletePushSubscription(ctx, viewer.ID, b.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleting another account's subscription: %v", err)
	}
	check(t, "unsubscribe", s.DeletePushSubscription(ctx, owner.ID, b.ID))
	left, err := s.ClaimPushDeliveries(ctx, at(time.Hour), at(2*time.Hour), 100)
	check(t, "claim after unsubscribing", err)
	for _, d := range left {
		if d.SubscriptionID == a.ID || d.SubscriptionID == b.ID {
			t.Fatalf("a delivery of a subscription that is gone: %+v", d)
		}
	}

	first, err := s.ServerSecret(ctx, "vapid", []byte("first"), at(0))
	check(t, "server secret", err)
	second, err := s.ServerSecret(ctx, "vapid", []byte("second"), at(time.Second))
	check(t, "server secret again", err)
	if string(first) != "first" || string(second) != "first" {
		t.Fatalf("server secret: %q then %q, want the first stored both times", first, second)
	}
}
