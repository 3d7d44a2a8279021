// Package export gives people their data: a zip of their account, the
// homes they own (or one home they own or administer), its cameras and
// events, with the media opened (docs/design/deletion.md, "Export").
//
// A request only records an export; a bounded pool of workers owned by
// the server (on whichever node claims it first) writes the zip, entry by
// entry, through media.Seal into one blob sealed under a key of the
// export's own, kept only wrapped by the master key. Nothing holds the
// whole zip in memory. The person downloads it with their own session
// until it expires; then it and its blob go. An account has at most one
// export pending or running at once.
package export

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/camvault/camvault/internal/apperr"
	"github.com/camvault/camvault/internal/audit"
	"github.com/camvault/camvault/internal/authz"
	"github.com/camvault/camvault/internal/blob"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/keys"
	"github.com/camvault/camvault/internal/media"
	"github.com/camvault/camvault/internal/store"
)

// Store is what exports read and keep.
type Store interface {
	store.Exports
	QueueBlobRemoval(ctx context.Context, key string, queued, notBefore time.Time) error
	AccountByID(ctx context.Context, id string) (domain.Account, error)
	Memberships(ctx context.Context, accountID string) ([]domain.Membership, error)
	Member(ctx context.Context, homeID, accountID string) (domain.Membership, error)
	ListDevices(ctx context.Context, homeID string) ([]domain.Device, error)
	ListEvents(ctx context.Context, q store.EventQuery) ([]domain.Event, error)
}

// Recorder appends to a home's audit log; *audit.Log is one.
type Recorder interface {
	Record(ctx context.Context, homeID string, e audit.Entry) error
}

// Config tunes exports.
type Config struct {
	// Workers is how many exports this node writes at once (default 2).
	Workers int
	// TTL is how long a finished export may be downloaded (default 24 h).
	TTL time.Duration
	// Claim is how long a worker may take over one export (default 30
	// min): past it the export is stopped, and a worker on any node may
	// take it again (a node that died mid-export).
	Claim time.Duration
	// Poll is how often a worker looks for exports other nodes recorded
	// (default 5 s); this node's own wake it at once.
	Poll time.Duration
	Now  func() time.Time
}

func (c *Config) defaults() {
	if c.Workers <= 0 {
		c.Workers = 2
	}
	if c.TTL <= 0 {
		c.TTL = 24 * time.Hour
	}
	if c.Claim <= 0 {
		c.Claim = 30 * time.Minute
	}
	if c.Poll <= 0 {
		c.Poll = 5 * time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Service records, writes and serves exports.
type Service struct {
	store Store
	blobs blob.Store
	keys  *keys.Keyring
	authz *authz.Decider
	audit Recorder
	log   *slog.Logger
	cfg   Config
	wake  chan struct{}
	// removed is told when blobs were queued for removal (nil: nobody).
	removed func()

	mu   sync.Mutex
	done int // exports this node finished, ready or failed
}

// New returns the export service; Run starts its workers.
func New(st Store, b blob.Store, k *keys.Keyring, d *authz.Decider, a Recorder, log *slog.Logger, cfg Config) *Service {
	cfg.defaults()
	return &Service{store: st, blobs: b, keys: k, authz: d, audit: a, log: log, cfg: cfg, wake: make(chan struct{}, 1)}
}

// OnRemoval sets what is told when expired exports' blobs were queued for
// removal.
func (s *Service) OnRemoval(f func()) { s.removed = f }

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

// AuditExport is the audit action of a home's data written into an
// export; the actor is the person who asked for it.
const AuditExport = "home.export"

// Status is an export as its person sees it.
type Status struct {
	ID          string              `json:"id"`
	Status      domain.ExportStatus `json:"status"`
	Home        string              `json:"home,omitempty"`
	CreatedAt   time.Time           `json:"created_at"`
	ExpiresAt   time.Time           `json:"expires_at"`
	Size        int64               `json:"size,omitempty"`
	DownloadURL string              `json:"download_url,omitempty"`
}

var errNoExport = apperr.NotFoundf("export")

// Create records an export of p's data: every home p owns, or the one
// home given, which p must own or administer (a home p only views, or
// does not belong to, answers as a missing one). 409 while p has another
// export pending or running.
func (s *Service) Create(ctx context.Context, p authz.Principal, homeID string) (Status, error) {
	if !p.IsPerson() {
		return Status{}, apperr.New(apperr.Unauthorized, "a person's session is required")
	}
	if homeID != "" {
		if !id.Valid(homeID) {
			return Status{}, apperr.NotFoundf("home")
		}
		if _, err := s.authz.Home(ctx, p, homeID, authz.ManageMembers); err != nil {
			if apperr.CodeOf(err) == apperr.Forbidden {
				return Status{}, apperr.NotFoundf("home")
			}
			return Status{}, err
		}
	}
	now := s.now()
	x := domain.Export{ID: id.New(), AccountID: p.AccountID, HomeID: homeID, Status: domain.ExportPending,
		CreatedAt: now, ExpiresAt: now.Add(s.cfg.TTL)}
	if err := s.store.CreateExport(ctx, x); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return Status{}, apperr.New(apperr.Conflict, "an export of your data is already being prepared; wait for it to finish")
		}
		return Status{}, fmt.Errorf("create export: %w", err)
	}
	s.Wake()
	return s.status(x), nil
}

func (s *Service) status(x domain.Export) Status {
	st := Status{ID: x.ID, Status: x.Status, Home: x.HomeID, CreatedAt: x.CreatedAt, ExpiresAt: x.ExpiresAt}
	if x.Status == domain.ExportReady {
		st.Size = x.Size
		st.DownloadURL = "/api/v1/me/exports/" + x.ID + "/download"
	}
	return st
}

// get reads p's export; anyone else's, or an expired one, answers as a
// missing one.
func (s *Service) get(ctx context.Context, p authz.Principal, exportID string) (domain.Export, error) {
	if !p.IsPerson() || !id.Valid(exportID) {
		return domain.Export{}, errNoExport
	}
	x, err := s.store.ExportByID(ctx, exportID)
	if errors.Is(err, store.ErrNotFound) {
		return domain.Export{}, errNoExport
	}
	if err != nil {
		return domain.Export{}, fmt.Errorf("read export: %w", err)
	}
	if x.AccountID != p.AccountID || !s.now().Before(x.ExpiresAt) {
		return domain.Export{}, errNoExport
	}
	return x, nil
}

// Get returns where p's export stands.
func (s *Service) Get(ctx context.Context, p authz.Principal, exportID string) (Status, error) {
	x, err := s.get(ctx, p, exportID)
	if err != nil {
		return Status{}, err
	}
	return s.status(x), nil
}

// Download is a ready export opened for p: its zip, Size bytes, read
// through the export's key.
type Download struct {
	io.Reader
	Size int64
	obj  blob.Object
}

// Close closes the blob.
func (d *Download) Close() error { return d.obj.Close() }

// Open opens p's ready export for download.
func (s *Service) Open(ctx context.Context, p authz.Principal, exportID string) (*Download, error) {
	x, err := s.get(ctx, p, exportID)
	if err != nil {
		return nil, err
	}
	if x.Status != domain.ExportReady {
		return nil, apperr.New(apperr.Conflict, "the export is %s, not ready", x.Status)
	}
	dk, err := s.keys.UnwrapExportKey(x.KeyWrapped, x.ID)
	if err != nil {
		return nil, fmt.Errorf("unwrap export key: %w", err)
	}
	obj, err := s.blobs.Open(ctx, x.BlobKey)
	if err != nil {
		return nil, fmt.Errorf("open export blob: %w", err)
	}
	b, err := media.Open(obj, obj.Size(), func(string) (keys.DataKey, error) { return dk, nil })
	if err != nil {
		obj.Close()
		return nil, fmt.Errorf("open export: %w", err)
	}
	if b.Label != label(x) {
		obj.Close()
		return nil, fmt.Errorf("export blob %s is labelled %+v", x.ID, b.Label)
	}
	return &Download{Reader: io.NewSectionReader(b, 0, b.Size()), Size: b.Size(), obj: obj}, nil
}

// label is what an export's blob is sealed for: its person and itself.
func label(x domain.Export) media.Label {
	return media.Label{Home: "export", Device: x.AccountID, Event: x.ID, Kind: "export"}
}

// Wake asks a worker to look for exports now; it never blocks.
func (s *Service) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Finished is how many exports this node finished (ready or failed).
func (s *Service) Finished() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.done
}

// expirySweep is how often a node removes expired exports.
const expirySweep = time.Minute

// Run writes exports, at most Workers at once, and removes expired ones,
// until ctx ends; it returns once every export it started has stopped.
func (s *Service) Run(ctx context.Context) {
	slots := make(chan struct{}, s.cfg.Workers)
	var wg sync.WaitGroup
	defer wg.Wait()
	t := time.NewTicker(s.cfg.Poll)
	defer t.Stop()
	var swept time.Time
	for {
		if now := s.now(); now.Sub(swept) >= expirySweep {
			swept = now
			if n, err := s.store.DeleteExpiredExports(ctx, now); err != nil && ctx.Err() == nil {
				s.log.WarnContext(ctx, "removing expired exports", "err", err)
			} else if n > 0 && s.removed != nil {
				s.removed()
			}
		}
	claim:
		for {
			select {
			case slots <- struct{}{}:
			default:
				break claim // every worker busy: the ticker comes back
			}
			now := s.now()
			x, err := s.store.ClaimExport(ctx, now, now.Add(s.cfg.Claim))
			if err != nil {
				<-slots
				if !errors.Is(err, store.ErrNotFound) && ctx.Err() == nil {
					s.log.WarnContext(ctx, "claiming an export", "err", err)
				}
				break
			}
			wg.Go(func() {
				defer func() { <-slots }()
				s.write(ctx, x)
				s.Wake() // a slot is free
			})
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.wake:
		}
	}
}
