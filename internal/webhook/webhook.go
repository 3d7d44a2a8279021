// Package webhook tells a home's HTTPS webhooks what happens in it: new
// events and cameras going online or offline, signed as the Standard
// Webhooks specification says, retried with backoff for about a day, and
// disabled after persistent failure (docs/design/webhooks.md).
//
// A delivery carries metadata only (IDs, kind, times); the media stays
// behind the API, which a receiver reaches with a person's or a partner's
// token like anyone else.
package webhook

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/camvault/camvault/internal/apperr"
	"github.com/camvault/camvault/internal/audit"
	"github.com/camvault/camvault/internal/authz"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/egress"
	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/keys"
	"github.com/camvault/camvault/internal/store"
)

// Config tunes webhooks.
type Config struct {
	// AllowPrivateTargets lets webhooks reach loopback, link-local and
	// private addresses, and plain http (--allow-private-targets), as a
	// server at home talking to a receiver on the same network needs.
	AllowPrivateTargets bool
	PerHome             int             // webhooks a home may have (default 10)
	Workers             int             // deliveries sent at once by a node (default 8)
	Timeout             time.Duration   // one attempt, connection to answer (default 10 s)
	Retries             []time.Duration // the waits before each retry; past the last the delivery is given up (default: about a day)
	MaxFailures         int             // deliveries given up on in a row before the webhook is disabled (default 5)
	Poll                time.Duration   // how often due deliveries are looked for (default 1 s)
	Keep                time.Duration   // how long finished deliveries are listed (default 7 days)
	// Transport, if set, is the base of the client's transport (tests
	// trust their receiver's certificate with it); its dialer is replaced
	// by one that refuses private addresses as it connects.
	Transport *http.Transport
	Now       func() time.Time
}

// DefaultRetries follow the Standard Webhooks recommendation: 5 s, 5 min,
// 30 min, 2 h, 5 h, 10 h, 10 h after the attempt before (about 27.6 h
// from the first).
func DefaultRetries() []time.Duration {
	return []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour}
}

func (c *Config) setDefaults() {
	if c.PerHome <= 0 {
		c.PerHome = 10
	}
	if c.Workers <= 0 {
		c.Workers = 8
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if len(c.Retries) == 0 {
		c.Retries = DefaultRetries()
	}
	if c.MaxFailures <= 0 {
		c.MaxFailures = 5
	}
	if c.Poll <= 0 {
		c.Poll = time.Second
	}
	if c.Keep <= 0 {
		c.Keep = 7 * 24 * time.Hour
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Store is what webhooks keep and read.
type Store interface {
	store.Webhooks
	HomeByID(ctx context.Context, id string) (domain.Home, error)
	EventByID(ctx context.Context, id string) (domain.Event, error)
}

// Decider decides a person's actions in a home; *authz.Decider is one.
type Decider interface {
	Home(ctx context.Context, p authz.Principal, homeID string, action authz.Action) (authz.Grant, error)
}

// Service manages webhooks and sends their deliveries.
type Service struct {
	cfg    Config
	store  Store
	authz  Decider
	keys   *keys.Keyring
	log    *slog.Logger
	client *http.Client
	kick   chan struct{}
	// resolver checks a webhook's host when it is added.
	resolver *net.Resolver
	wg       sync.WaitGroup
	audit    audit.Recorder // nil: additions and removals are not recorded
}

// What owners and admins do to a home's webhooks, on its audit chain.
const (
	AuditCreate = "webhook.create"
	AuditDelete = "webhook.delete"
)

// WithAudit records each webhook added and removed on its home's chain.
func (s *Service) WithAudit(r audit.Recorder) *Service {
	s.audit = r
	return s
}

// New returns the service; Run sends the deliveries.
func New(cfg Config, s Store, d Decider, k *keys.Keyring, log *slog.Logger) *Service {
	cfg.setDefaults()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if cfg.Transport != nil {
		tr = cfg.Transport.Clone()
	}
	dialer := &net.Dialer{Timeout: cfg.Timeout, Control: egress.Control(cfg.AllowPrivateTargets)}
	tr.DialContext = dialer.DialContext
	tr.Proxy = nil // a proxy would connect for us, past the check
	tr.MaxIdleConnsPerHost = 2
	tr.ResponseHeaderTimeout = cfg.Timeout
	client := &http.Client{Transport: tr, Timeout: cfg.Timeout,
		// A redirect is a failure: following it would reach a URL nobody checked.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &Service{cfg: cfg, store: s, authz: d, keys: k, log: log, client: client, kick: make(chan struct{}, 1), resolver: net.DefaultResolver}
}

// View is a webhook as its home's owners and admins see it. The secret is
// never shown again after it is made.
type View struct {
	ID             string     `json:"id"`
	URL            string     `json:"url"`
	Events         []string   `json:"events"`
	CreatedAt      time.Time  `json:"created_at"`
	LastDelivery   *time.Time `json:"last_delivery"`
	LastStatus     string     `json:"last_status,omitempty"`
	Failures       int        `json:"failures"`
	Disabled       bool       `json:"disabled"`
	DisabledReason string     `json:"disabled_reason,omitempty"`
}

// Created is a new webhook with its signing secret, shown once.
type Created struct {
	View
	Secret string `json:"secret"`
}

// secretPrefix marks a Standard Webhooks signing secret.
const secretPrefix = "whsec_"

func urlAD(w domain.Webhook) []byte    { return keys.AD("webhook-url", w.HomeID, w.ID) }
func secretAD(w domain.Webhook) []byte { return keys.AD("webhook-secret", w.HomeID, w.ID) }

// dataKey opens a home's data key, which seals its webhooks' URLs and
// secrets.
func (s *Service) dataKey(ctx context.Context, homeID string) (keys.DataKey, error) {
	h, err := s.store.HomeByID(ctx, homeID)
	if err != nil {
		return keys.DataKey{}, fmt.Errorf("read home: %w", err)
	}
	return s.keys.UnwrapDataKey(h.WrappedDataKey, homeID)
}

// manage decides whether p may manage a home's webhooks.
func (s *Service) manage(ctx context.Context, p authz.Principal, homeID string) error {
	if !id.Valid(homeID) {
		return apperr.NotFoundf("home")
	}
	_, err := s.authz.Home(ctx, p, homeID, authz.ManageIntegrations)
	return err
}

// Create adds a webhook to a home: owners and admins only.
func (s *Service) Create(ctx context.Context, p authz.Principal, homeID, rawURL string, types []string) (Created, error) {
	if err := s.manage(ctx, p, homeID); err != nil {
		return Created{}, err
	}
	if len(types) == 0 {
		return Created{}, apperr.New(apperr.Invalid, "events must name at least one of %v", domain.WebhookTypes())
	}
	var subscribed []string
	for _, t := range domain.WebhookTypes() {
		if slices.Contains(types, t) {
			subscribed = append(subscribed, t)
		}
	}
	for _, t := range types {
		if !slices.Contains(subscribed, t) {
			return Created{}, apperr.New(apperr.Invalid, "events: unknown %q; each must be one of %v", t, domain.WebhookTypes())
		}
	}
	u, err := egress.CheckURL(ctx, rawURL, s.cfg.AllowPrivateTargets, s.resolver)
	if err != nil {
		return Created{}, err
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return Created{}, fmt.Errorf("webhook secret: %w", err)
	}
	secret := secretPrefix + base64.StdEncoding.EncodeToString(raw)
	dk, err := s.dataKey(ctx, homeID)
	if err != nil {
		return Created{}, err
	}
	w := domain.Webhook{ID: id.New(), HomeID: homeID, Types: subscribed, CreatedBy: p.AccountID, CreatedAt: s.cfg.Now().UTC()}
	w.URLSealed = dk.Seal([]byte(u.String()), urlAD(w))
	w.SecretSealed = dk.Seal([]byte(secret), secretAD(w))
	if err := s.store.CreateWebhook(ctx, w, s.cfg.PerHome); errors.Is(err, store.ErrConflict) {
		return Created{}, apperr.New(apperr.TooMany, "a home may have at most %d webhooks; remove one first", s.cfg.PerHome)
	} else if err != nil {
		return Created{}, fmt.Errorf("store webhook: %w", err)
	}
	if err := audit.RecordChange(ctx, s.audit, homeID, p, AuditCreate, strings.Join(w.Types, ", ")); err != nil {
		return Created{}, err
	}
	return Created{View: view(w, u.String()), Secret: secret}, nil
}

func view(w domain.Webhook, url string) View {
	v := View{ID: w.ID, URL: url, Events: w.Types, CreatedAt: w.CreatedAt, LastStatus: w.LastStatus, Failures: w.Failures,
		Disabled: !w.DisabledAt.IsZero(), DisabledReason: w.DisabledReason}
	if v.Events == nil {
		v.Events = []string{}
	}
	if !w.LastDeliveryAt.IsZero() {
		t := w.LastDeliveryAt
		v.LastDelivery = &t
	}
	return v
}

// List returns a home's webhooks: owners and admins only.
func (s *Service) List(ctx context.Context, p authz.Principal, homeID string) ([]View, error) {
	if err := s.manage(ctx, p, homeID); err != nil {
		return nil, err
	}
	list, err := s.store.Webhooks(ctx, homeID)
	if err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	out := make([]View, 0, len(list))
	if len(list) == 0 {
		return out, nil
	}
	dk, err := s.dataKey(ctx, homeID)
	if err != nil {
		return nil, err
	}
	for _, w := range list {
		u, err := dk.Open(w.URLSealed, urlAD(w))
		if err != nil {
			return nil, fmt.Errorf("open webhook %s: %w", w.ID, err)
		}
		out = append(out, view(w, string(u)))
	}
	return out, nil
}

// Delete removes a webhook of a home and its pending deliveries.
func (s *Service) Delete(ctx context.Context, p authz.Principal, homeID, webhookID string) error {
	if err := s.manage(ctx, p, homeID); err != nil {
		return err
	}
	if !id.Valid(webhookID) {
		return apperr.NotFoundf("webhook")
	}
	if err := s.store.DeleteWebhook(ctx, homeID, webhookID); errors.Is(err, store.ErrNotFound) {
		return apperr.NotFoundf("webhook")
	} else if err != nil {
		return fmt.Errorf("delete webhook: %w", err)
	}
	return audit.RecordChange(ctx, s.audit, homeID, p, AuditDelete, "")
}

// DeliveryView is one delivery as the webhook's list shows it.
type DeliveryView struct {
	ID        string     `json:"id"`
	Type      string     `json:"type"`
	Subject   string     `json:"subject"`
	At        time.Time  `json:"at"`
	State     string     `json:"state"`
	Attempts  int        `json:"attempts"`
	LastError string     `json:"last_error,omitempty"`
	NextAt    *time.Time `json:"next_attempt,omitempty"`
}

// Deliveries lists a webhook's latest deliveries (at most 50), newest
// first: owners and admins only.
func (s *Service) Deliveries(ctx context.Context, p authz.Principal, homeID, webhookID string) ([]DeliveryView, error) {
	if err := s.manage(ctx, p, homeID); err != nil {
		return nil, err
	}
	if !id.Valid(webhookID) {
		return nil, apperr.NotFoundf("webhook")
	}
	w, err := s.store.WebhookByID(ctx, webhookID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && w.HomeID != homeID) {
		return nil, apperr.NotFoundf("webhook")
	}
	if err != nil {
		return nil, fmt.Errorf("read webhook: %w", err)
	}
	list, err := s.store.WebhookDeliveries(ctx, webhookID, 50)
	if err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	out := make([]DeliveryView, 0, len(list))
	for _, d := range list {
		v := DeliveryView{ID: d.ID, Type: d.Type, Subject: d.Subject, At: d.At, State: d.State, Attempts: d.Attempts, LastError: d.LastError}
		if d.State == domain.WebhookPending {
			t := d.NextAt
			v.NextAt = &t
		}
		out = append(out, v)
	}
	return out, nil
}

// PresenceChanged enqueues device.online and device.offline deliveries for
// cameras that went online or offline. It is called after the presence
// was written; a failure is logged (the camera's state is in the store
// whatever its webhooks heard).
func (s *Service) PresenceChanged(ctx context.Context, changed []domain.Presence) {
	added := 0
	for _, u := range changed {
		typ := domain.WebhookDeviceOffline
		if u.Online {
			typ = domain.WebhookDeviceOnline
		}
		n, err := s.store.EnqueueWebhooks(context.WithoutCancel(ctx), u.HomeID, typ, u.DeviceID, id.New(), u.LastSeen)
		if err != nil {
			s.log.Warn("webhooks: enqueue a presence delivery; it is not sent", "err", err)
			continue
		}
		added += n
	}
	if added > 0 {
		s.Kick()
	}
}

// Kick makes Run look for due deliveries now (after a new event, say).
func (s *Service) Kick() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// EventCreated is told of each event this node created; its deliveries
// are already in the store, made with the event.
func (s *Service) EventCreated(context.Context, string, string) { s.Kick() }
