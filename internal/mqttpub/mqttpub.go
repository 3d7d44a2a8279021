// Package mqttpub publishes what happens in a home to the MQTT broker its
// owners or admins configured: each new event, each camera going online or
// offline, the latest picture of each camera, and Home Assistant MQTT
// discovery so that every camera appears in Home Assistant by itself
// (docs/design/mqtt.md).
//
// A home's broker is its own: what is published there is that home's, and
// only that home's. Every message is built from the store's record of the
// home (never from another home's notice), and a picture is opened only
// after its sealed label names the home, camera and event, and after the
// look is on the home's audit record.
package mqttpub

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"regexp"
	"strconv"
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

// Config tunes publishing.
type Config struct {
	// AllowPrivateTargets lets a broker be on loopback, link-local or
	// private addresses, and without TLS (--allow-private-targets).
	AllowPrivateTargets bool
	MaxHomes            int           // homes connected at once by a node (default 256)
	Queue               int           // messages waiting per home; past it new ones are dropped (default 256)
	Idle                time.Duration // a home's connection is closed after this long without news (default 5 min)
	Timeout             time.Duration // connecting, and each publish (default 10 s)
	ConfigTTL           time.Duration // how long a node trusts what it read of a home's broker (default 30 s)
	// TLS, if set, is the base of the TLS configuration (tests trust their
	// broker's certificate with it).
	TLS  *tls.Config
	Node string // this node's name, in client IDs
	Now  func() time.Time
}

func (c *Config) setDefaults() {
	if c.MaxHomes <= 0 {
		c.MaxHomes = 256
	}
	if c.Queue <= 0 {
		c.Queue = 256
	}
	if c.Idle <= 0 {
		c.Idle = 5 * time.Minute
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.ConfigTTL <= 0 {
		c.ConfigTTL = 30 * time.Second
	}
	if c.Node == "" {
		c.Node = id.New()[:8]
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Store is what publishing reads and keeps.
type Store interface {
	store.MQTTBrokers
	HomeByID(ctx context.Context, id string) (domain.Home, error)
	ListDevices(ctx context.Context, homeID string) ([]domain.Device, error)
	DeviceByID(ctx context.Context, id string) (domain.Device, error)
	EventByID(ctx context.Context, id string) (domain.Event, error)
}

// Decider decides a person's actions in a home; *authz.Decider is one.
type Decider interface {
	Home(ctx context.Context, p authz.Principal, homeID string, action authz.Action) (authz.Grant, error)
}

// Thumbnails opens a picture for the home's own integration, audited;
// *events.Service is one.
type Thumbnails interface {
	ThumbnailForHome(ctx context.Context, homeID, eventID, integration string) ([]byte, error)
}

// Service keeps homes' broker settings and publishes to them.
type Service struct {
	cfg      Config
	store    Store
	authz    Decider
	keys     *keys.Keyring
	thumbs   Thumbnails
	log      *slog.Logger
	resolver *net.Resolver

	mu      sync.Mutex
	closed  bool
	ctx     context.Context // the workers', from Run
	known   map[string]knownHome
	workers map[string]*worker
	wg      sync.WaitGroup
	audit   audit.Recorder // nil: changes of the broker are not recorded
}

// What owners and admins do to a home's broker, on its audit chain.
const (
	AuditSet    = "mqtt.set"
	AuditRemove = "mqtt.remove"
)

// WithAudit records each change of a home's broker on its chain.
func (s *Service) WithAudit(r audit.Recorder) *Service {
	s.audit = r
	return s
}

// knownHome is what a node last read of whether a home has a broker.
type knownHome struct {
	configured bool
	until      time.Time
}

// New returns the service; Run must run for anything to be published.
func New(cfg Config, s Store, d Decider, k *keys.Keyring, t Thumbnails, log *slog.Logger) *Service {
	cfg.setDefaults()
	return &Service{cfg: cfg, store: s, authz: d, keys: k, thumbs: t, log: log, resolver: net.DefaultResolver,
		known: map[string]knownHome{}, workers: map[string]*worker{}}
}

// Settings are a home's broker as its owners and admins give it.
type Settings struct {
	URL         string `json:"url"`
	Username    string `json:"username,omitempty"`
	Password    string `json:"password,omitempty"`
	TopicPrefix string `json:"topic_prefix,omitempty"`
}

// View is a home's broker as its owners and admins see it: never the
// password.
type View struct {
	URL           string     `json:"url"`
	Username      string     `json:"username,omitempty"`
	TopicPrefix   string     `json:"topic_prefix"`
	LastError     string     `json:"last_error,omitempty"`
	LastConnected *time.Time `json:"last_connected"`
}

// DefaultPrefix is the topic prefix when none is given.
const DefaultPrefix = "camvault"

var prefixRE = regexp.MustCompile(`^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$`)

func configAD(homeID string) []byte { return keys.AD("mqtt-broker", homeID) }

// check validates s, returning the broker's address for paho.
func (s *Service) check(ctx context.Context, in *Settings) (string, error) {
	if len(in.URL) > 512 || len(in.Username) > 256 || len(in.Password) > 256 {
		return "", apperr.New(apperr.Invalid, "url, username and password must be at most 512, 256 and 256 characters")
	}
	u, err := url.Parse(in.URL)
	if err != nil || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", apperr.New(apperr.Invalid, "url must be mqtts://HOST[:PORT] (or mqtt:// with --allow-private-targets), with the user name and password given apart")
	}
	var scheme, port string
	switch u.Scheme {
	case "mqtts":
		scheme, port = "ssl", "8883"
	case "mqtt":
		if !s.cfg.AllowPrivateTargets {
			return "", apperr.New(apperr.Invalid, "url must be mqtts:// (TLS): a broker without TLS is allowed only when the server runs with --allow-private-targets")
		}
		scheme, port = "tcp", "1883"
	default:
		return "", apperr.New(apperr.Invalid, "url must start with mqtts:// (or mqtt:// with --allow-private-targets)")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "", apperr.New(apperr.Invalid, "url's port must be 1 to 65535")
		}
		port = p
	}
	if err := egress.CheckHost(ctx, "url", u.Hostname(), s.cfg.AllowPrivateTargets, s.resolver); err != nil {
		return "", err
	}
	if in.TopicPrefix == "" {
		in.TopicPrefix = DefaultPrefix
	}
	if len(in.TopicPrefix) > 64 || !prefixRE.MatchString(in.TopicPrefix) || strings.HasPrefix(in.TopicPrefix, "homeassistant") {
		return "", apperr.New(apperr.Invalid, "topic_prefix must be 1 to 64 letters, digits, _ and -, in parts joined by /, and not homeassistant")
	}
	return scheme + "://" + net.JoinHostPort(u.Hostname(), port), nil
}

// Put sets a home's broker: owners and admins only. The node's
// connection, if any, starts again with it.
func (s *Service) Put(ctx context.Context, p authz.Principal, homeID string, in Settings) error {
	if err := s.manage(ctx, p, homeID); err != nil {
		return err
	}
	if _, err := s.check(ctx, &in); err != nil {
		return err
	}
	dk, err := s.dataKey(ctx, homeID)
	if err != nil {
		return err
	}
	raw, err := json.Marshal(in)
	if err != nil {
		return err
	}
	b := domain.MQTTBroker{HomeID: homeID, ConfigSealed: dk.Seal(raw, configAD(homeID)), TopicPrefix: in.TopicPrefix,
		UpdatedBy: p.AccountID, UpdatedAt: s.cfg.Now().UTC()}
	if err := s.store.PutMQTTBroker(ctx, b); err != nil {
		return fmt.Errorf("store mqtt broker: %w", err)
	}
	s.forget(homeID)
	// Connect now: discovery and availability go out at once.
	s.enqueue(homeID, message{})
	return audit.RecordChange(ctx, s.audit, homeID, p, AuditSet, "")
}

// Get returns a home's broker: owners and admins only; 404 when none.
func (s *Service) Get(ctx context.Context, p authz.Principal, homeID string) (View, error) {
	if err := s.manage(ctx, p, homeID); err != nil {
		return View{}, err
	}
	b, in, err := s.settings(ctx, homeID)
	if errors.Is(err, store.ErrNotFound) {
		return View{}, apperr.NotFoundf("mqtt broker")
	}
	if err != nil {
		return View{}, err
	}
	v := View{URL: in.URL, Username: in.Username, TopicPrefix: in.TopicPrefix, LastError: b.LastError}
	if !b.LastConnected.IsZero() {
		t := b.LastConnected
		v.LastConnected = &t
	}
	return v, nil
}

// Delete removes a home's broker: owners and admins only.
func (s *Service) Delete(ctx context.Context, p authz.Principal, homeID string) error {
	if err := s.manage(ctx, p, homeID); err != nil {
		return err
	}
	if err := s.store.DeleteMQTTBroker(ctx, homeID); errors.Is(err, store.ErrNotFound) {
		return apperr.NotFoundf("mqtt broker")
	} else if err != nil {
		return fmt.Errorf("delete mqtt broker: %w", err)
	}
	s.forget(homeID)
	return audit.RecordChange(ctx, s.audit, homeID, p, AuditRemove, "")
}

func (s *Service) manage(ctx context.Context, p authz.Principal, homeID string) error {
	if !id.Valid(homeID) {
		return apperr.NotFoundf("home")
	}
	_, err := s.authz.Home(ctx, p, homeID, authz.ManageIntegrations)
	return err
}

func (s *Service) dataKey(ctx context.Context, homeID string) (keys.DataKey, error) {
	h, err := s.store.HomeByID(ctx, homeID)
	if err != nil {
		return keys.DataKey{}, fmt.Errorf("read home: %w", err)
	}
	return s.keys.UnwrapDataKey(h.WrappedDataKey, homeID)
}

// settings reads and opens a home's broker.
func (s *Service) settings(ctx context.Context, homeID string) (domain.MQTTBroker, Settings, error) {
	b, err := s.store.MQTTBroker(ctx, homeID)
	if err != nil {
		return domain.MQTTBroker{}, Settings{}, err
	}
	dk, err := s.dataKey(ctx, homeID)
	if err != nil {
		return domain.MQTTBroker{}, Settings{}, err
	}
	raw, err := dk.Open(b.ConfigSealed, configAD(homeID))
	if err != nil {
		return domain.MQTTBroker{}, Settings{}, fmt.Errorf("open mqtt broker settings: %w", err)
	}
	var in Settings
	if err := json.Unmarshal(raw, &in); err != nil {
		return domain.MQTTBroker{}, Settings{}, fmt.Errorf("mqtt broker settings: %w", err)
	}
	in.TopicPrefix = b.TopicPrefix
	return b, in, nil
}

// forget drops what this node knew of a home's broker and ends its
// connection, so the next news reads the settings again.
func (s *Service) forget(homeID string) {
	s.mu.Lock()
	delete(s.known, homeID)
	w := s.workers[homeID]
	delete(s.workers, homeID)
	s.mu.Unlock()
	if w != nil {
		w.stop()
	}
}

// message is one piece of news for a home's broker; the zero message only
// makes sure the home is connected.
type message struct {
	eventID  string
	presence *domain.Presence
}

// EventCreated publishes an event this node created, if its home has a
// broker. It does not wait.
func (s *Service) EventCreated(_ context.Context, homeID, eventID string) {
	s.enqueue(homeID, message{eventID: eventID})
}

// PresenceChanged publishes cameras that went online or offline on this
// node.
func (s *Service) PresenceChanged(_ context.Context, changed []domain.Presence) {
	for _, u := range changed {
		s.enqueue(u.HomeID, message{presence: &u})
	}
}

// enqueue hands m to the home's worker, starting it if the home has a
// broker. Whether it has one is read from the store at most once per
// Config.ConfigTTL per node; the read and the start happen off the
// caller's goroutine, so ingest never waits for them.
func (s *Service) enqueue(homeID string, m message) {
	s.mu.Lock()
	if s.closed || s.ctx == nil {
		s.mu.Unlock()
		return
	}
	if w := s.workers[homeID]; w != nil {
		s.mu.Unlock()
		w.offer(m)
		return
	}
	k, ok := s.known[homeID]
	if ok && !k.configured && s.cfg.Now().Before(k.until) {
		s.mu.Unlock()
		return
	}
	if len(s.workers) >= s.cfg.MaxHomes {
		s.mu.Unlock()
		s.log.Warn("mqtt: too many homes connected on this node; news dropped", "max", s.cfg.MaxHomes)
		return
	}
	w := newWorker(s, homeID)
	s.workers[homeID] = w
	s.wg.Add(1)
	ctx := s.ctx
	s.mu.Unlock()
	w.offer(m)
	go func() {
		defer s.wg.Done()
		w.run(ctx)
		s.mu.Lock()
		if s.workers[homeID] == w {
			delete(s.workers, homeID)
		}
		s.mu.Unlock()
	}()
}

// Run lets homes' workers run until ctx ends, then stops them and waits.
func (s *Service) Run(ctx context.Context) {
	s.mu.Lock()
	s.ctx = ctx
	s.mu.Unlock()
	<-ctx.Done()
	s.mu.Lock()
	s.closed = true
	for _, w := range s.workers {
		w.stop()
	}
	s.mu.Unlock()
	s.wg.Wait()
}
