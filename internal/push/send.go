package push

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	webpush "github.com/SherClockHolmes/webpush-go"

	"github.com/camvault/camvault/internal/apperr"
	"github.com/camvault/camvault/internal/authz"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/store"
)

// Payload is what a notification carries, encrypted to one browser: what
// it shows and where it leads, never the picture.
type Payload struct {
	EventID      string           `json:"event_id"`
	HomeID       string           `json:"home_id"`
	Camera       string           `json:"camera"`
	Kind         domain.EventKind `json:"kind"`
	At           time.Time        `json:"at"`
	URL          string           `json:"url"`
	ThumbnailURL string           `json:"thumbnail_url"`
}

// Run sends due pushes until ctx ends: every Poll, and at once when kicked
// (a new event). At most Workers are sent at once.
func (s *Service) Run(ctx context.Context) {
	t := time.NewTicker(s.cfg.Poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.kick:
		}
		s.round(ctx)
	}
}

// Kick makes Run look for due pushes now.
func (s *Service) Kick() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// EventCreated kicks Run: the event's pushes were made with it.
func (s *Service) EventCreated(context.Context, string, string) { s.Kick() }

// round claims what is due and sends it, returning once all of it was tried.
func (s *Service) round(ctx context.Context) {
	now := s.cfg.Now()
	// Claimed for two attempts' time: a node that dies holding a claim
	// delays those pushes by that much.
	batch, err := s.store.ClaimPushDeliveries(ctx, now, now.Add(2*s.cfg.Timeout+30*time.Second), 4*s.cfg.Workers)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("push: claim due notifications", "err", err)
		}
		return
	}
	sem := make(chan struct{}, s.cfg.Workers)
	var wg sync.WaitGroup
	for _, d := range batch {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			s.deliver(ctx, d)
		})
	}
	wg.Wait()
	if len(batch) == 4*s.cfg.Workers {
		s.Kick() // there may be more due
	}
}

// outcome is what became of one attempt.
type outcome int

const (
	done  outcome = iota // pushed, or not to be pushed: the delivery goes
	retry                // try again later
	gone                 // the browser's subscription is gone: it goes too
)

// deliver decides and sends one push, and records what became of it.
func (s *Service) deliver(ctx context.Context, d domain.PushDelivery) {
	o, err := s.attempt(ctx, d)
	if ctx.Err() != nil {
		return // the claim runs out and another round takes it
	}
	switch {
	case o == retry && d.Attempts < len(s.cfg.Retries):
		d.NextAt = s.cfg.Now().Add(s.cfg.Retries[d.Attempts])
		d.Attempts++
		if rerr := s.store.RetryPushDelivery(ctx, d); rerr != nil {
			s.log.Warn("push: record a retry", "err", rerr)
		}
		return
	case o == retry:
		s.log.Info("push: given up on a notification", "subscription", d.SubscriptionID, "event", d.EventID, "err", err)
	case o == gone:
		sub, rerr := s.store.PushSubscription(ctx, d.SubscriptionID)
		if rerr == nil {
			rerr = s.store.DeletePushSubscription(ctx, sub.AccountID, sub.ID)
		}
		if rerr != nil && !errors.Is(rerr, store.ErrNotFound) {
			s.log.Warn("push: remove a subscription its push service gave up", "err", rerr)
		}
		return // its deliveries went with it
	case err != nil:
		s.log.Warn("push: notification not sent", "subscription", d.SubscriptionID, "event", d.EventID, "err", err)
	}
	if ferr := s.store.FinishPushDelivery(ctx, d); ferr != nil && !errors.Is(ferr, store.ErrNotFound) {
		s.log.Warn("push: finish a notification", "err", ferr)
	}
}

// attempt decides whether d's person may see its event and wants it now,
// and pushes it if so.
func (s *Service) attempt(ctx context.Context, d domain.PushDelivery) (outcome, error) {
	sub, err := s.store.PushSubscription(ctx, d.SubscriptionID)
	if errors.Is(err, store.ErrNotFound) {
		return done, nil // unsubscribed, or logged out, meanwhile
	}
	if err != nil {
		return retry, fmt.Errorf("read subscription: %w", err)
	}
	p := authz.Principal{Kind: domain.PrincipalPerson, AccountID: sub.AccountID, SessionID: sub.SessionID}
	// Decided now, as a read of the timeline: a person who lost access to
	// the home or the camera is told nothing.
	ev, err := s.events.Listed(ctx, p, d.EventID)
	switch {
	case apperr.Denied(apperr.CodeOf(err)):
		return done, nil
	case err != nil:
		return retry, fmt.Errorf("decide: %w", err)
	case ev.HomeID != d.HomeID:
		return done, errors.New("the event is of another home than its notification") // never sent
	}
	var f Filter
	if err := json.Unmarshal([]byte(sub.Filter), &f); err != nil {
		return done, fmt.Errorf("subscription %s: filter: %w", sub.ID, err)
	}
	if len(f.Devices) > 0 && !slices.Contains(f.Devices, ev.DeviceID) || len(f.Kinds) > 0 && !slices.Contains(f.Kinds, ev.Kind) ||
		f.Quiet != nil && f.Quiet.quietAt(s.cfg.Now()) {
		return done, nil
	}
	camera := "A camera"
	if dev, err := s.cameras.Device(ctx, p, ev.DeviceID); err == nil {
		camera = dev.Name
	} else if apperr.Denied(apperr.CodeOf(err)) {
		return done, nil
	}
	msg, err := json.Marshal(Payload{EventID: ev.ID, HomeID: ev.HomeID, Camera: camera, Kind: ev.Kind, At: ev.StartedAt,
		URL: "/events/" + ev.ID, ThumbnailURL: ev.ThumbnailURL})
	if err != nil {
		return done, err
	}
	raw, err := s.keys.OpenPII(sub.Sealed, sealedAD(sub.ID))
	if err != nil {
		return done, fmt.Errorf("open subscription %s: %w", sub.ID, err)
	}
	var target webpush.Subscription
	if err := json.Unmarshal(raw, &target); err != nil {
		return done, fmt.Errorf("subscription %s: %w", sub.ID, err)
	}
	vapid, err := s.VAPID(ctx)
	if err != nil {
		return retry, err
	}
	res, err := webpush.SendNotificationWithContext(ctx, msg, &target, &webpush.Options{HTTPClient: s.client,
		Subscriber: s.cfg.Subscriber, TTL: int(s.cfg.TTL.Seconds()), Urgency: webpush.UrgencyHigh, Topic: "",
		VAPIDPublicKey: vapid.Public, VAPIDPrivateKey: vapid.Private})
	if err != nil {
		return retry, fmt.Errorf("push: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 4<<10))
	res.Body.Close()
	switch c := res.StatusCode; {
	case c >= 200 && c < 300:
		return done, nil
	case c == http.StatusNotFound || c == http.StatusGone:
		return gone, nil
	case c == http.StatusTooManyRequests || c >= 500:
		return retry, fmt.Errorf("push service answered %s", res.Status)
	default:
		return done, fmt.Errorf("push service refused it: %s", res.Status)
	}
}
