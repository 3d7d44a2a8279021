package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/store"
)

func newWebhook(t *testing.T, s store.Store, homeID, by string, types ...string) domain.Webhook {
	t.Helper()
	w := domain.Webhook{ID: id.New(), HomeID: homeID, URLSealed: []byte("sealed url " + id.New()), SecretSealed: []byte("sealed secret"),
		Types: types, CreatedBy: by, CreatedAt: at(0)}
	check(t, "create webhook", s.CreateWebhook(t.Context(), w, 10))
	return w
}

// testWebhooks: webhooks per home within the bound; an event's deliveries
// made in its own insert for the webhooks subscribing (a retry of the
// event adds none); presence deliveries; claims hide a delivery from a
// second claim; outcomes, failures and disabling; listing and pruning.
func testWebhooks(t *testing.T, s store.Store) {
	ctx := t.Context()
	owner := newAccount(t, s)
	home, other := newHome(t, s, owner.ID), newHome(t, s, owner.ID)
	dev := newDevice(t, s, owner.ID, home.ID)

	all := newWebhook(t, s, home.ID, owner.ID, domain.WebhookTypes()...)
	events := newWebhook(t, s, home.ID, owner.ID, domain.WebhookEventCreated)
	presence := newWebhook(t, s, home.ID, owner.ID, domain.WebhookDeviceOffline, domain.WebhookDeviceOnline)
	elsewhere := newWebhook(t, s, other.ID, owner.ID, domain.WebhookEventCreated)

	got, err := s.WebhookByID(ctx, presence.ID)
	check(t, "webhook by id", err)
	if got.HomeID != home.ID || string(got.URLSealed) != string(presence.URLSealed) || len(got.Types) != 2 ||
		got.Types[0] != domain.WebhookDeviceOnline || got.Types[1] != domain.WebhookDeviceOffline || !got.DisabledAt.IsZero() {
		t.Fatalf("webhook read back: %+v", got)
	}
	list, err := s.Webhooks(ctx, home.ID)
	check(t, "list webhooks", err)
	if len(list) != 3 {
		t.Fatalf("home has %d webhooks, want 3", len(list))
	}
	for range 7 {
		newWebhook(t, s, other.ID, owner.ID, domain.WebhookEventCreated)
	}
	err = s.CreateWebhook(ctx, domain.Webhook{ID: id.New(), HomeID: other.ID, URLSealed: []byte("x"), SecretSealed: []byte("x"),
		CreatedBy: owner.ID, CreatedAt: at(0)}, 8)
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("a webhook past the bound: %v, want ErrConflict", err)
	}

	// An event: one delivery for each of the two webhooks subscribing.
	ev := newEvent(t, s, home.ID, dev.ID, domain.EventKind("motion"), at(0))
	if _, created, err := s.CreateEvent(ctx, domain.Event{ID: id.New(), HomeID: ev.HomeID, DeviceID: ev.DeviceID, DeviceEventID: ev.DeviceEventID,
		Kind: ev.Kind, StartedAt: ev.StartedAt, CreatedAt: ev.CreatedAt, ThumbKey: "retry", ThumbSize: 1}); err != nil || created {
		t.Fatalf("a retry of the event: created %v, %v", created, err)
	}
	n, err := s.EnqueueWebhooks(ctx, home.ID, domain.WebhookDeviceOffline, dev.ID, id.New(), at(0).Add(time.Minute))
	check(t, "enqueue presence", err)
	if n != 2 {
		t.Fatalf("device.offline enqueued for %d webhooks, want 2", n)
	}
	now := at(0).Add(2 * time.Minute)
	claimed, err := s.ClaimWebhookDeliveries(ctx, now, now.Add(time.Minute), 10)
	check(t, "claim", err)
	byHook := map[string][]domain.WebhookDelivery{}
	for _, d := range claimed {
		byHook[d.WebhookID] = append(byHook[d.WebhookID], d)
		if d.HomeID != home.ID || d.State != domain.WebhookPending {
			t.Errorf("claimed %+v", d)
		}
	}
	if len(claimed) != 4 || len(byHook[all.ID]) != 2 || len(byHook[events.ID]) != 1 || len(byHook[presence.ID]) != 1 || len(byHook[elsewhere.ID]) != 0 {
		t.Fatalf("claimed %d deliveries: %+v", len(claimed), byHook)
	}
	ed := byHook[events.ID][0]
	if ed.Type != domain.WebhookEventCreated || ed.Subject != ev.ID || ed.ID != "msg_"+events.ID+ev.ID || !ed.At.Equal(ev.CreatedAt.Truncate(time.Microsecond)) {
		t.Fatalf("the event's delivery: %+v", ed)
	}
	if again, err := s.ClaimWebhookDeliveries(ctx, now, now.Add(time.Minute), 10); err != nil || len(again) != 0 {
		t.Fatalf("a second claim while the first holds: %d, %v", len(again), err)
	}

	// Outcomes.
	ed.State, ed.Attempts, ed.DoneAt = domain.WebhookDelivered, 1, now
	check(t, "delivered", s.FinishWebhookAttempt(ctx, ed, "200", now, 2, "r"))
	pd := byHook[presence.ID][0]
	pd.Attempts, pd.NextAt, pd.LastError = 1, now.Add(time.Hour), "503"
	check(t, "retry later", s.FinishWebhookAttempt(ctx, pd, "503", now, 2, "r"))
	if due, err := s.ClaimWebhookDeliveries(ctx, now.Add(2*time.Minute), now.Add(3*time.Minute), 10); err != nil || len(due) != 2 {
		t.Fatalf("after the claim expired: %d due (the two of the first webhook), %v", len(due), err)
	}
	due, err := s.ClaimWebhookDeliveries(ctx, now.Add(time.Hour), now.Add(2*time.Hour), 10)
	check(t, "claim at the next attempt", err)
	found := false
	for _, d := range due {
		found = found || (d.ID == pd.ID && d.Attempts == 1 && d.LastError == "503")
	}
	if len(due) != 3 || !found {
		t.Fatalf("at its next attempt (with the two whose claim ran out): %+v", due)
	}
	for i, d := range byHook[all.ID] {
		d.State, d.Attempts, d.DoneAt, d.LastError = domain.WebhookFailed, 9, now, "gave up"
		check(t, "given up", s.FinishWebhookAttempt(ctx, d, "timeout", now, 2, "failing for a day"))
		w, err := s.WebhookByID(ctx, all.ID)
		check(t, "read webhook", err)
		if w.Failures != i+1 || w.LastStatus != "timeout" || (i == 1) != !w.DisabledAt.IsZero() {
			t.Fatalf("after %d given up: %+v", i+1, w)
		}
		if i == 1 && w.DisabledReason != "failing for a day" {
			t.Fatalf("disabled reason %q", w.DisabledReason)
		}
	}
	// A disabled webhook gets no new deliveries.
	if n, err := s.EnqueueWebhooks(ctx, home.ID, domain.WebhookDeviceOnline, dev.ID, id.New(), now); err != nil || n != 1 {
		t.Fatalf("device.online enqueued for %d webhooks (the disabled one must not count), %v", n, err)
	}
	w, err := s.WebhookByID(ctx, events.ID)
	check(t, "read webhook", err)
	if w.Failures != 0 || w.LastStatus != "200" || !w.LastDeliveryAt.Equal(now.Truncate(time.Microsecond)) {
		t.Fatalf("after a delivery: %+v", w)
	}
	ds, err := s.WebhookDeliveries(ctx, all.ID, 10)
	check(t, "list deliveries", err)
	if len(ds) != 2 || ds[0].State != domain.WebhookFailed || ds[0].LastError != "gave up" {
		t.Fatalf("deliveries of the disabled webhook: %+v", ds)
	}
	pruned, err := s.PruneWebhookDeliveries(ctx, now.Add(time.Second))
	check(t, "prune", err)
	if pruned != 3 {
		t.Fatalf("pruned %d finished deliveries, want 3", pruned)
	}
	mustNotFound(t, "delete another home's webhook", s.DeleteWebhook(ctx, other.ID, events.ID))
	check(t, "delete webhook", s.DeleteWebhook(ctx, home.ID, presence.ID))
	if ds, err := s.WebhookDeliveries(ctx, presence.ID, 10); err != nil || len(ds) != 0 {
		t.Fatalf("deliveries of a deleted webhook: %d, %v", len(ds), err)
	}
	_, err = s.WebhookByID(ctx, presence.ID)
	mustNotFound(t, "a deleted webhook", err)
}
