// Package events owns motion events: their durable, idempotent ingest from
// cameras, and listing and viewing them by the people allowed to. Media
// bytes leave only through media.Guard.
package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/camvault/camvault/internal/apperr"
	"github.com/camvault/camvault/internal/audit"
	"github.com/camvault/camvault/internal/authz"
	"github.com/camvault/camvault/internal/blob"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/keys"
	"github.com/camvault/camvault/internal/lease"
	"github.com/camvault/camvault/internal/media"
	"github.com/camvault/camvault/internal/store"
)

// Store is what the events service keeps in the store.
type Store interface {
	store.Events
	HomeByID(ctx context.Context, id string) (domain.Home, error)
	DeviceByID(ctx context.Context, id string) (domain.Device, error)
	Memberships(ctx context.Context, accountID string) ([]domain.Membership, error)
}

// Config tunes the service.
type Config struct {
	MaxThumbnail int64 // bytes
	MaxClip      int64 // bytes
	// SweepInterval is how often retention is applied and deletions
	// finished.
	SweepInterval time.Duration
	// Thumbnail checks (media.CheckJPEG, a Huffman-level decode) run in
	// a pool of CheckSlots at once per node (default: the CPU count); an
	// upload waits at most CheckWait (default 5 s) for a slot, then is
	// answered 503, so checks never hold more than the cores whatever
	// arrives.
	CheckSlots int
	CheckWait  time.Duration
	// OpenedThumbnails is how many bytes of opened thumbnails a node keeps
	// in memory so that a thumbnail viewed again is not decrypted again
	// (0: none kept).
	OpenedThumbnails int64
	Now              func() time.Time
}

// DefaultConfig is the production configuration (the limits of docs/device-protocol.md, "Uploading events").
func DefaultConfig() Config {
	return Config{MaxThumbnail: 1 << 20, MaxClip: 64 << 20, SweepInterval: time.Minute, OpenedThumbnails: 32 << 20, Now: time.Now}
}

// Service is the events service.
type Service struct {
	store  Store
	blobs  blob.Store
	authz  *authz.Decider
	keys   *keys.Keyring
	audit  *audit.Log
	log    *slog.Logger
	cfg    Config
	cache  Cache       // nil: no caching
	bypass func() bool // true: the breaker is open
	checks chan struct{}
	bufs   sync.Pool // *bytes.Buffer for thumbnails being read
	// records and homes keep event records and homes' wrapped data keys
	// in process memory while the node's lease holds (nil: never; see
	// WithLease); opened keeps opened thumbnails.
	records *lease.Table[string, domain.Event]
	homes   *lease.Table[string, domain.Home]
	opened  *openedCache
	// announce is told of every event created here (nil: nobody).
	announce Announcer
}

// Announcer is told, after its record committed, of each event this node
// created, so open streams on every node can offer it. It must not block:
// ingest does not wait for anyone to hear.
type Announcer interface {
	EventCreated(ctx context.Context, homeID, eventID string)
}

// WithAnnouncer makes s tell a of each event it creates.
func (s *Service) WithAnnouncer(a Announcer) *Service {
	s.announce = a
	return s
}

// New returns the events service.
func New(s Store, b blob.Store, d *authz.Decider, k *keys.Keyring, a *audit.Log, log *slog.Logger, cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.CheckSlots <= 0 {
		cfg.CheckSlots = runtime.NumCPU()
	}
	if cfg.CheckWait <= 0 {
		cfg.CheckWait = 5 * time.Second
	}
	svc := &Service{store: s, blobs: b, authz: d, keys: k, audit: a, log: log, cfg: cfg, checks: make(chan struct{}, cfg.CheckSlots)}
	if cfg.OpenedThumbnails > 0 {
		svc.opened = newOpenedCache(cfg.OpenedThumbnails)
	}
	return svc
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

// dataKey returns the data key of a home, for sealing or opening its media.
func (s *Service) dataKey(ctx context.Context, homeID string) (keys.DataKey, error) {
	h, err := s.home(ctx, homeID)
	if err != nil {
		return keys.DataKey{}, fmt.Errorf("read home %s: %w", homeID, err)
	}
	dk, err := s.keys.UnwrapDataKey(h.WrappedDataKey, h.ID)
	if err != nil {
		return keys.DataKey{}, fmt.Errorf("unwrap data key of home %s: %w", h.ID, err)
	}
	return dk, nil
}

// blobKey names an event's blob of a kind. The event ID is the server's,
// fresh for every upload attempt, so two attempts never share a key.
func blobKey(homeID, deviceID, eventID string, kind media.Kind) string {
	return "h/" + homeID + "/" + deviceID + "/" + eventID + "/" + string(kind)
}

// View is an event as the people who may see it get it.
type View struct {
	ID           string           `json:"id"`
	HomeID       string           `json:"home_id"`
	DeviceID     string           `json:"device_id"`
	Kind         domain.EventKind `json:"kind"`
	StartedAt    time.Time        `json:"started_at"`
	ThumbnailURL string           `json:"thumbnail_url"`
	ClipURL      *string          `json:"clip_url"`
	// Clip is what the server read of the clip when it arrived; absent
	// without a clip, and for a clip stored before the server read it.
	Clip *ClipView `json:"clip,omitempty"`
}

// ClipView is an event's clip info as the API shows it.
type ClipView struct {
	Codec      string `json:"codec"` // "h264" or "h265"
	DurationMS int64  `json:"duration_ms"`
	Width      int    `json:"width"`
	Height     int    `json:"height"`
}

func view(e domain.Event) View {
	v := View{ID: e.ID, HomeID: e.HomeID, DeviceID: e.DeviceID, Kind: e.Kind, StartedAt: e.StartedAt,
		ThumbnailURL: "/api/v1/events/" + e.ID + "/thumbnail"}
	if e.ClipKey != "" {
		u := "/api/v1/events/" + e.ID + "/clip"
		v.ClipURL = &u
		if e.ClipCodec != "" {
			v.Clip = &ClipView{Codec: e.ClipCodec, DurationMS: e.ClipDurationMS, Width: e.ClipWidth, Height: e.ClipHeight}
		}
	}
	return v
}

var errNoEvent = apperr.NotFoundf("event")

// visibleEvent reads an event and decides whether p may do action on it.
// Not visible and not there answer alike.
func (s *Service) visibleEvent(ctx context.Context, p authz.Principal, eventID string, action authz.Action) (domain.Event, authz.Grant, error) {
	e, err := s.event(ctx, eventID)
	if errors.Is(err, store.ErrNotFound) {
		return domain.Event{}, authz.Grant{}, errNoEvent
	}
	if err != nil {
		return domain.Event{}, authz.Grant{}, fmt.Errorf("read event: %w", err)
	}
	if p.IsPartner() {
		// A partner is decided camera by camera: the event's camera must
		// be one its link covers now.
		dev, g, err := s.authz.Device(ctx, p, e.DeviceID, action)
		switch {
		case apperr.CodeOf(err) == apperr.NotFound:
			return domain.Event{}, authz.Grant{}, errNoEvent
		case err != nil:
			return domain.Event{}, authz.Grant{}, err
		case dev.HomeID != e.HomeID:
			return domain.Event{}, authz.Grant{}, errNoEvent
		}
		return e, g, nil
	}
	g, err := s.authz.Home(ctx, p, e.HomeID, authz.ViewHome)
	switch {
	case apperr.CodeOf(err) == apperr.NotFound:
		return domain.Event{}, authz.Grant{}, errNoEvent // not a member of its home
	case err != nil:
		return domain.Event{}, authz.Grant{}, err // a failure, never "not yours"
	case !g.CanSeeDevice(e.DeviceID):
		return domain.Event{}, authz.Grant{}, errNoEvent
	}
	if action != authz.ViewHome {
		if g, err = s.authz.Home(ctx, p, e.HomeID, action); err != nil {
			return domain.Event{}, authz.Grant{}, err
		}
	}
	return e, g, nil
}

func actorID(p authz.Principal) string { return p.ActorID() }
