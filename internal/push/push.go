// Package push sends Web Push notifications of new events to the browsers
// people subscribed (docs/design/push.md): RFC 8030 delivery, the payload
// encrypted to each browser as RFC 8291 says and the server identified by
// VAPID (RFC 8292), through github.com/SherClockHolmes/webpush-go.
//
// What waits to be pushed is made with the event, in its own transaction;
// whether the person may see the event, and wants to be told of it, is
// decided when it is sent, as a read of the timeline is. The payload says
// only what the notification shows: no picture, which the service worker
// fetches through the authorized route.
package push

import (
	"context"
	"crypto/ecdh"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // quiet hours in any time zone, whatever the host has

	webpush "github.com/SherClockHolmes/webpush-go"

	"github.com/camvault/camvault/internal/apperr"
	"github.com/camvault/camvault/internal/authz"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/egress"
	"github.com/camvault/camvault/internal/events"
	"github.com/camvault/camvault/internal/homes"
	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/keys"
	"github.com/camvault/camvault/internal/store"
)

// Store is what the service keeps and reads.
type Store interface {
	store.Push
}

// Events decides whether a person may see an event now, as the timeline
// lists it; *events.Service is one.
type Events interface {
	Listed(ctx context.Context, p authz.Principal, eventID string) (events.View, error)
}

// Cameras names a camera a person may see; *homes.Service is one.
type Cameras interface {
	Device(ctx context.Context, p authz.Principal, deviceID string) (homes.Device, error)
}

// Config tunes push.
type Config struct {
	// AllowPrivateTargets lets endpoints be on loopback, link-local and
	// private addresses, and plain http (--allow-private-targets).
	AllowPrivateTargets bool
	// Subscriber is the contact the VAPID token names (RFC 8292): the
	// server's public URL or a mailto: address.
	Subscriber string
	PerAccount int             // subscriptions an account may have (default 10)
	Workers    int             // pushes sent at once by a node (default 8)
	Timeout    time.Duration   // one attempt (default 10 s)
	Retries    []time.Duration // waits before each retry; past the last it is given up (default 5 s to 1 h)
	Poll       time.Duration   // how often due pushes are looked for (default 500 ms)
	TTL        time.Duration   // how long a push service keeps an undelivered push (default 1 h)
	// Transport, if set, is the base of the client's transport; its
	// dialer is replaced by one that refuses private addresses.
	Transport *http.Transport
	Now       func() time.Time
}

func (c *Config) setDefaults() {
	if c.PerAccount <= 0 {
		c.PerAccount = 10
	}
	if c.Workers <= 0 {
		c.Workers = 8
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if len(c.Retries) == 0 {
		c.Retries = []time.Duration{5 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute, time.Hour}
	}
	if c.Poll <= 0 {
		c.Poll = 500 * time.Millisecond
	}
	if c.TTL <= 0 {
		c.TTL = time.Hour
	}
	if c.Subscriber == "" {
		c.Subscriber = "https://camvault.invalid/"
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Service keeps subscriptions and sends pushes.
type Service struct {
	cfg     Config
	store   Store
	events  Events
	cameras Cameras
	keys    *keys.Keyring
	log     *slog.Logger
	client  *http.Client
	kick    chan struct{}

	vapidOnce sync.Once
	vapid     vapidKeys
	vapidErr  error
}

// New returns the service; Run sends the pushes.
func New(cfg Config, s Store, ev Events, cams Cameras, k *keys.Keyring, log *slog.Logger) *Service {
	cfg.setDefaults()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if cfg.Transport != nil {
		tr = cfg.Transport.Clone()
	}
	dialer := &net.Dialer{Timeout: cfg.Timeout, Control: egress.Control(cfg.AllowPrivateTargets)}
	tr.DialContext = dialer.DialContext
	tr.Proxy = nil // a proxy would connect for us, past the check
	tr.ResponseHeaderTimeout = cfg.Timeout
	client := &http.Client{Transport: tr, Timeout: cfg.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &Service{cfg: cfg, store: s, events: ev, cameras: cams, keys: k, log: log, client: client, kick: make(chan struct{}, 1)}
}

// vapidKeys is the server's VAPID key pair, base64url as webpush-go and
// browsers take them.
type vapidKeys struct {
	Private string `json:"private"`
	Public  string `json:"public"`
}

// vapidSecret names the key pair among the server's secrets.
const vapidSecret = "vapid"

// VAPID returns the server's VAPID key pair: made at the first start of
// any node, sealed under the master key, the same on every node.
func (s *Service) VAPID(ctx context.Context) (vapidKeys, error) {
	s.vapidOnce.Do(func() { s.vapid, s.vapidErr = s.loadVAPID(ctx) })
	return s.vapid, s.vapidErr
}

func (s *Service) loadVAPID(ctx context.Context) (vapidKeys, error) {
	priv, pub, err := webpush.GenerateVAPIDKeys()
	if err != nil {
		return vapidKeys{}, fmt.Errorf("make VAPID keys: %w", err)
	}
	raw, err := json.Marshal(vapidKeys{Private: priv, Public: pub})
	if err != nil {
		return vapidKeys{}, err
	}
	ad := secretAD(vapidSecret)
	sealed, err := s.store.ServerSecret(ctx, vapidSecret, s.keys.SealPII(raw, ad), s.cfg.Now().UTC())
	if err != nil {
		return vapidKeys{}, fmt.Errorf("store VAPID keys: %w", err)
	}
	opened, err := s.keys.OpenPII(sealed, ad)
	if err != nil {
		return vapidKeys{}, fmt.Errorf("open VAPID keys: %w", err)
	}
	var k vapidKeys
	if err := json.Unmarshal(opened, &k); err != nil || k.Private == "" || k.Public == "" {
		return vapidKeys{}, errors.New("open VAPID keys: not a key pair")
	}
	return k, nil
}

// Quiet is a daily time of day when no notification is shown, in a zone.
type Quiet struct {
	From string `json:"from"` // "22:00"
	To   string `json:"to"`   // "07:00"; before From: the quiet hours cross midnight
	TZ   string `json:"tz"`   // an IANA zone, "Europe/Berlin"; empty: UTC
}

// Filter is what a subscription wants to be told of; empty lists mean all.
type Filter struct {
	Devices []string           `json:"devices,omitempty"`
	Kinds   []domain.EventKind `json:"kinds,omitempty"`
	Quiet   *Quiet             `json:"quiet,omitempty"`
}

// Subscribe is a browser's request for notifications: the Push API's
// subscription (RFC 8030 endpoint, RFC 8291 keys) and what it wants.
type Subscribe struct {
	Endpoint string `json:"endpoint"`
	Keys     struct {
		P256dh string `json:"p256dh"`
		Auth   string `json:"auth"`
	} `json:"keys"`
	Filter
}

// Subscription is one of a person's subscriptions as they see it: the
// endpoint is not shown again.
type Subscription struct {
	ID        string    `json:"id"`
	CreatedAt time.Time `json:"created_at"`
	Filter
	// Current is true for the browser (login session) asking.
	Current bool `json:"current"`
}

func sealedAD(id string) []byte { return keys.AD("push-subscription", id) }

func secretAD(name string) []byte { return keys.AD("server-secret", name) }

// Create subscribes p's browser: a logged-in person only, tied to the login
// session, so that logging out ends it. Bad input changes nothing.
func (s *Service) Create(ctx context.Context, p authz.Principal, in Subscribe) (string, error) {
	if !p.IsPerson() || p.SessionID == "" {
		return "", apperr.New(apperr.Forbidden, "only a person logged in to a browser can subscribe to notifications")
	}
	u, err := egress.CheckURL(ctx, in.Endpoint, s.cfg.AllowPrivateTargets, net.DefaultResolver)
	if err != nil {
		return "", err
	}
	if err := checkKeys(in.Keys.P256dh, in.Keys.Auth); err != nil {
		return "", err
	}
	f, err := s.checkFilter(ctx, p, in.Filter)
	if err != nil {
		return "", err
	}
	sub := webpush.Subscription{Endpoint: u.String(), Keys: webpush.Keys{P256dh: in.Keys.P256dh, Auth: in.Keys.Auth}}
	raw, err := json.Marshal(sub)
	if err != nil {
		return "", err
	}
	filter, err := json.Marshal(f)
	if err != nil {
		return "", err
	}
	subID := id.New()
	err = s.store.CreatePushSubscription(ctx, domain.PushSubscription{ID: subID, AccountID: p.AccountID, SessionID: p.SessionID,
		Sealed: s.keys.SealPII(raw, sealedAD(subID)), Filter: string(filter), CreatedAt: s.cfg.Now().UTC()}, s.cfg.PerAccount)
	if errors.Is(err, store.ErrConflict) {
		return "", apperr.New(apperr.TooMany, "an account may have at most %d browsers with notifications; turn one off first", s.cfg.PerAccount)
	}
	if err != nil {
		return "", fmt.Errorf("store push subscription: %w", err)
	}
	return subID, nil
}

// checkKeys checks a browser's keys: an uncompressed P-256 point and a
// 16-byte authentication secret, base64url.
func checkKeys(p256dh, auth string) error {
	pub, err := decode64(p256dh)
	if err == nil {
		_, err = ecdh.P256().NewPublicKey(pub)
	}
	if err != nil {
		return apperr.New(apperr.Invalid, "keys.p256dh must be the browser's P-256 public key, base64url")
	}
	if a, err := decode64(auth); err != nil || len(a) != 16 {
		return apperr.New(apperr.Invalid, "keys.auth must be the browser's 16-byte secret, base64url")
	}
	return nil
}

func decode64(s string) ([]byte, error) {
	if len(s) > 200 {
		return nil, errors.New("too long")
	}
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

// checkFilter checks what a subscription wants: cameras p may see now,
// kinds that exist, quiet hours that parse.
func (s *Service) checkFilter(ctx context.Context, p authz.Principal, f Filter) (Filter, error) {
	const most = 64
	if len(f.Devices) > most || len(f.Kinds) > most {
		return Filter{}, apperr.New(apperr.Invalid, "devices and kinds hold at most %d each", most)
	}
	var out Filter
	for _, d := range f.Devices {
		if slices.Contains(out.Devices, d) {
			continue
		}
		if !id.Valid(d) {
			return Filter{}, apperr.New(apperr.Invalid, "devices: choose among your cameras")
		}
		if _, err := s.cameras.Device(ctx, p, d); err != nil {
			if apperr.CodeOf(err) == apperr.NotFound {
				return Filter{}, apperr.New(apperr.Invalid, "devices: choose among your cameras")
			}
			return Filter{}, err
		}
		out.Devices = append(out.Devices, d)
	}
	for _, k := range f.Kinds {
		if !slices.Contains(domain.EventKinds(), k) {
			return Filter{}, apperr.New(apperr.Invalid, "kinds: unknown %q; each must be one of %v", k, domain.EventKinds())
		}
		if !slices.Contains(out.Kinds, k) {
			out.Kinds = append(out.Kinds, k)
		}
	}
	if q := f.Quiet; q != nil {
		_, _, _, err := q.parse()
		if err != nil {
			return Filter{}, err
		}
		out.Quiet = &Quiet{From: q.From, To: q.To, TZ: q.TZ}
	}
	return out, nil
}

// parse returns the quiet hours' start and end in minutes of the day, and
// their zone.
func (q Quiet) parse() (from, to int, loc *time.Location, err error) {
	clock := func(s string) (int, bool) {
		t, err := time.Parse("15:04", s)
		return t.Hour()*60 + t.Minute(), err == nil
	}
	from, ok1 := clock(q.From)
	to, ok2 := clock(q.To)
	if !ok1 || !ok2 || from == to {
		return 0, 0, nil, apperr.New(apperr.Invalid, `quiet: from and to must be different times of day, "22:00" and "07:00"`)
	}
	loc = time.UTC
	if q.TZ != "" {
		if len(q.TZ) > 64 {
			return 0, 0, nil, apperr.New(apperr.Invalid, "quiet: tz must be a time zone such as Europe/Berlin")
		}
		if loc, err = time.LoadLocation(q.TZ); err != nil {
			return 0, 0, nil, apperr.New(apperr.Invalid, "quiet: tz must be a time zone such as Europe/Berlin")
		}
	}
	return from, to, loc, nil
}

// quietAt reports whether t is within the quiet hours.
func (q Quiet) quietAt(t time.Time) bool {
	from, to, loc, err := q.parse()
	if err != nil {
		return false
	}
	lt := t.In(loc)
	m := lt.Hour()*60 + lt.Minute()
	if from < to {
		return m >= from && m < to
	}
	return m >= from || m < to // across midnight
}

// List returns p's subscriptions.
func (s *Service) List(ctx context.Context, p authz.Principal) ([]Subscription, error) {
	if !p.IsPerson() {
		return nil, apperr.New(apperr.Forbidden, "only a person has notifications")
	}
	list, err := s.store.PushSubscriptions(ctx, p.AccountID)
	if err != nil {
		return nil, fmt.Errorf("list push subscriptions: %w", err)
	}
	out := make([]Subscription, 0, len(list))
	for _, sub := range list {
		var f Filter
		_ = json.Unmarshal([]byte(sub.Filter), &f) // written by Create
		out = append(out, Subscription{ID: sub.ID, CreatedAt: sub.CreatedAt, Filter: f, Current: sub.SessionID == p.SessionID})
	}
	return out, nil
}

// Delete unsubscribes one of p's browsers; another account's is not found.
func (s *Service) Delete(ctx context.Context, p authz.Principal, subID string) error {
	if !p.IsPerson() || !id.Valid(subID) {
		return apperr.NotFoundf("subscription")
	}
	err := s.store.DeletePushSubscription(ctx, p.AccountID, subID)
	if errors.Is(err, store.ErrNotFound) {
		return apperr.NotFoundf("subscription")
	}
	if err != nil {
		return fmt.Errorf("delete push subscription: %w", err)
	}
	return nil
}

// VAPIDPublicKey is the key browsers subscribe with (applicationServerKey),
// base64url.
func (s *Service) VAPIDPublicKey(ctx context.Context) (string, error) {
	k, err := s.VAPID(ctx)
	return k.Public, err
}

// ResealEndpoint returns a subscription's sealed endpoint and keys sealed
// under the current generation, and whether it changed (a key rotation).
func ResealEndpoint(k *keys.Keyring, subID string, sealed []byte) ([]byte, bool, error) {
	return k.ResealPII(sealed, sealedAD(subID))
}

// ResealSecret returns one of the server's sealed secrets sealed under the
// current generation, and whether it changed (a key rotation).
func ResealSecret(k *keys.Keyring, name string, sealed []byte) ([]byte, bool, error) {
	return k.ResealPII(sealed, secretAD(name))
}
