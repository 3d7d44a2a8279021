package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/store"
)

// Payload is a delivery's body, in the Standard Webhooks shape.
type Payload struct {
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Data      any       `json:"data"`
}

// EventData is what event.created tells: metadata only.
type EventData struct {
	HomeID    string    `json:"home_id"`
	EventID   string    `json:"event_id"`
	DeviceID  string    `json:"device_id"`
	Kind      string    `json:"kind"`
	StartedAt time.Time `json:"started_at"`
	HasClip   bool      `json:"has_clip"`
}

// DeviceData is what device.online and device.offline tell.
type DeviceData struct {
	HomeID   string `json:"home_id"`
	DeviceID string `json:"device_id"`
}

// Sign returns the webhook-signature header value of a message: "v1,"
// and the base64 of HMAC-SHA256 over "id.timestamp.body", keyed with the
// secret's bytes (the base64 after "whsec_"), as the Standard Webhooks
// specification says.
func Sign(secret, msgID string, timestamp int64, body []byte) (string, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, secretPrefix))
	if err != nil {
		return "", fmt.Errorf("webhook secret: %w", err)
	}
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%d.", msgID, timestamp)
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)), nil
}

// Run sends due deliveries until ctx ends: every Config.Poll, and at once
// when kicked. Each webhook's deliveries go one at a time, in order; at
// most Config.Workers webhooks are sent to at once.
func (s *Service) Run(ctx context.Context) {
	t := time.NewTicker(s.cfg.Poll)
	defer t.Stop()
	prune := time.NewTicker(time.Hour)
	defer prune.Stop()
	for {
		select {
		case <-ctx.Done():
			s.wg.Wait()
			return
		case <-t.C:
		case <-s.kick:
		case <-prune.C:
			if _, err := s.store.PruneWebhookDeliveries(ctx, s.cfg.Now().Add(-s.cfg.Keep)); err != nil && ctx.Err() == nil {
				s.log.Warn("webhooks: prune finished deliveries", "err", err)
			}
			continue
		}
		s.round(ctx)
	}
}

// round claims what is due and sends it, returning once all of it was
// tried.
func (s *Service) round(ctx context.Context) {
	now := s.cfg.Now()
	// Claimed for about two attempts' time: a node that dies holding a
	// claim delays those deliveries by that much; one that outlives it
	// (a receiver slow for every delivery of a batch) may see another
	// node send the same delivery too, which at least once allows.
	until := now.Add(2*s.cfg.Timeout + 30*time.Second)
	batch, err := s.store.ClaimWebhookDeliveries(ctx, now, until, batchSize*s.cfg.Workers)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("webhooks: claim due deliveries", "err", err)
		}
		return
	}
	byHook := map[string][]domain.WebhookDelivery{}
	var order []string
	for _, d := range batch {
		if _, ok := byHook[d.WebhookID]; !ok {
			order = append(order, d.WebhookID)
		}
		byHook[d.WebhookID] = append(byHook[d.WebhookID], d)
	}
	slots := make(chan struct{}, s.cfg.Workers)
	var wg sync.WaitGroup
	for _, hook := range order {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			for _, d := range byHook[hook] {
				if ctx.Err() != nil {
					s.release(d) // shutting down: for the next start, or another node
					continue
				}
				s.attempt(ctx, d)
			}
		})
	}
	wg.Wait()
	if len(batch) == batchSize*s.cfg.Workers {
		s.Kick() // there may be more due
	}
}

// attempt sends one delivery once and records the outcome.
func (s *Service) attempt(ctx context.Context, d domain.WebhookDelivery) {
	w, err := s.store.WebhookByID(ctx, d.WebhookID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !w.DisabledAt.IsZero()) {
		return // removed (its deliveries with it) or disabled: nothing to send
	}
	if err != nil {
		s.log.Warn("webhooks: read webhook; the delivery is tried again", "err", err)
		return
	}
	status, sendErr := s.send(ctx, w, d)
	if ctx.Err() != nil {
		s.release(d) // shutting down: the attempt is made again
		return
	}
	now := s.cfg.Now().UTC()
	d.Attempts++
	switch {
	case errors.Is(sendErr, errGone):
		d.State, d.DoneAt, d.LastError = domain.WebhookSkipped, now, sendErr.Error()
	case sendErr == nil:
		d.State, d.DoneAt, d.LastError = domain.WebhookDelivered, now, ""
	case d.Attempts > len(s.cfg.Retries):
		d.State, d.DoneAt, d.LastError = domain.WebhookFailed, now, sendErr.Error()
	default:
		wait := s.cfg.Retries[d.Attempts-1]
		wait += time.Duration(rand.Int64N(int64(wait)/10 + 1)) // up to 10 % more, so retries spread
		d.NextAt, d.LastError = now.Add(wait), sendErr.Error()
	}
	reason := fmt.Sprintf("disabled after %d deliveries in a row failed for a day; fix the receiver, then add the webhook again", s.cfg.MaxFailures)
	if err := s.store.FinishWebhookAttempt(context.WithoutCancel(ctx), d, status, now, s.cfg.MaxFailures, reason); err != nil {
		s.log.Warn("webhooks: record an attempt; it may be made again", "err", err)
	}
}

// release gives a claimed delivery back untried, due at once: a node
// shutting down leaves nothing claimed for the next start or another node
// to wait for.
func (s *Service) release(d domain.WebhookDelivery) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d.NextAt = s.cfg.Now().UTC()
	if err := s.store.FinishWebhookAttempt(ctx, d, "", d.NextAt, s.cfg.MaxFailures, ""); err != nil {
		s.log.Warn("webhooks: give back a claimed delivery; it waits for its claim to run out", "err", err)
	}
}

// batchSize is how many deliveries per worker a round claims.
const batchSize = 2

// errGone is what a delivery tells of being gone before it was sent.
var errGone = errors.New("what it told of is gone")

// maxAnswer bounds what is read of a receiver's answer.
const maxAnswer = 64 << 10

// send makes one attempt. It returns the outcome to show (a status code,
// or a short error) and nil only for a 2xx answer.
func (s *Service) send(ctx context.Context, w domain.Webhook, d domain.WebhookDelivery) (string, error) {
	body, err := s.payload(ctx, d)
	if err != nil {
		return "skipped", err
	}
	dk, err := s.dataKey(ctx, w.HomeID)
	if err != nil {
		return "error", fmt.Errorf("open the home's key: %w", err)
	}
	rawURL, err := dk.Open(w.URLSealed, urlAD(w))
	if err != nil {
		return "error", fmt.Errorf("open the webhook's url: %w", err)
	}
	secret, err := dk.Open(w.SecretSealed, secretAD(w))
	if err != nil {
		return "error", fmt.Errorf("open the webhook's secret: %w", err)
	}
	ts := s.cfg.Now().Unix()
	sig, err := Sign(string(secret), d.ID, ts, body)
	if err != nil {
		return "error", err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, string(rawURL), bytes.NewReader(body))
	if err != nil {
		return "error", errors.New("the url cannot be requested")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "camvault-webhooks")
	req.Header.Set("webhook-id", d.ID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("webhook-signature", sig)
	res, err := s.client.Do(req)
	if err != nil {
		return "error", describe(err)
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, maxAnswer))
	status := strconv.Itoa(res.StatusCode)
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return status, fmt.Errorf("the receiver answered %d", res.StatusCode)
	}
	return status, nil
}

// describe shortens a request's error to what may be shown to the home's
// admins: never the URL (it may hold the receiver's token).
func describe(err error) error {
	switch {
	case errors.Is(err, errPrivate):
		return errPrivate
	case errors.Is(err, context.DeadlineExceeded):
		return errors.New("no answer within the timeout")
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	msg := err.Error()
	if len(msg) > 200 {
		msg = msg[:200]
	}
	return errors.New(msg)
}

// payload builds a delivery's body from the store, at send time: an event
// deleted before its delivery went is not told.
func (s *Service) payload(ctx context.Context, d domain.WebhookDelivery) ([]byte, error) {
	p := Payload{Type: d.Type, Timestamp: d.At.UTC()}
	switch d.Type {
	case domain.WebhookEventCreated:
		e, err := s.store.EventByID(ctx, d.Subject)
		if errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("the event was deleted: %w", errGone)
		}
		if err != nil {
			return nil, fmt.Errorf("read event: %w", err)
		}
		if e.HomeID != d.HomeID {
			return nil, fmt.Errorf("the event is of another home: %w", errGone)
		}
		p.Data = EventData{HomeID: e.HomeID, EventID: e.ID, DeviceID: e.DeviceID, Kind: string(e.Kind), StartedAt: e.StartedAt.UTC(), HasClip: e.ClipKey != ""}
	case domain.WebhookDeviceOnline, domain.WebhookDeviceOffline:
		p.Data = DeviceData{HomeID: d.HomeID, DeviceID: d.Subject}
	default:
		return nil, fmt.Errorf("unknown delivery type %q: %w", d.Type, errGone)
	}
	return json.Marshal(p)
}
