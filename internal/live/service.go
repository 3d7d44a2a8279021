package live

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/camvault/camvault/internal/apperr"
	"github.com/camvault/camvault/internal/audit"
	"github.com/camvault/camvault/internal/authz"
	"github.com/camvault/camvault/internal/bus"
	"github.com/camvault/camvault/internal/cache"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/keys"
	"github.com/camvault/camvault/internal/media"
	"github.com/camvault/camvault/internal/store"
)

// Errors a Session ends with.
var (
	// ErrRevoked: the viewer lost access to the camera (removed, limited
	// to other cameras, logged out, the camera unpaired ...).
	ErrRevoked = errors.New("live: the viewer may no longer see this camera")
	// ErrEnded: the stream ended (the camera stopped or went offline, the
	// session was closed, the server is shutting down, or the last step
	// refused a frame: then the error also wraps media.ErrBlocked).
	ErrEnded = errors.New("live: the stream ended")
)

// Audit actions of live view.
const (
	AuditView = "live.view"
	AuditEnd  = "live.end"
)

// Config tunes the service.
type Config struct {
	// Per node: past them Watch answers too_many (429).
	MaxViewersPerCamera int // default 32
	MaxSessionsPerHome  int // default 16
	// Recheck is how often every session is re-decided against the
	// store's grant version, whatever the bus does.
	Recheck time.Duration // default 250 ms
	// Renew is how often a node with viewers renews its interest in a
	// camera's stream with the camera's node.
	Renew time.Duration // default 1 s
	// A viewer's queue: past either bound it drops to the next keyframe.
	QueueFrames int // default 64 (4 s at 15 frames a second)
	QueueBytes  int // default 4 MiB
	// The current group of pictures kept per camera (relay, hub): past
	// either bound it is dropped until the next keyframe.
	GOPFrames int // default 64
	GOPBytes  int // default 4 MiB
}

// DefaultConfig is the production configuration.
func DefaultConfig() Config {
	return Config{MaxViewersPerCamera: 32, MaxSessionsPerHome: 16, Recheck: 250 * time.Millisecond, Renew: time.Second,
		QueueFrames: 64, QueueBytes: 4 << 20, GOPFrames: 64, GOPBytes: 4 << 20}
}

func (c *Config) setDefaults() {
	d := DefaultConfig()
	for _, f := range []struct{ v, d *int }{{&c.MaxViewersPerCamera, &d.MaxViewersPerCamera}, {&c.MaxSessionsPerHome, &d.MaxSessionsPerHome},
		{&c.QueueFrames, &d.QueueFrames}, {&c.QueueBytes, &d.QueueBytes}, {&c.GOPFrames, &d.GOPFrames}, {&c.GOPBytes, &d.GOPBytes}} {
		if *f.v <= 0 {
			*f.v = *f.d
		}
	}
	if c.Recheck <= 0 {
		c.Recheck = d.Recheck
	}
	if c.Renew <= 0 {
		c.Renew = d.Renew
	}
}

// Store is what the service reads: a home's data key, grant versions,
// whether a person's session still exists and a partner's link.
type Store interface {
	HomeByID(ctx context.Context, id string) (domain.Home, error)
	GrantVersion(ctx context.Context, homeID, accountID string) (int64, error)
	ListSessions(ctx context.Context, accountID string) ([]domain.Session, error)
	PartnerLink(ctx context.Context, id string) (domain.PartnerLink, error)
}

// Bus is what the service needs of the bus: frames travel on a subject
// per camera, and grant notices come from authz.
type Bus interface {
	Publish(ctx context.Context, s bus.Subject, data []byte) error
	Subscribe(ctx context.Context, s bus.Subject, h bus.Handler) (bus.Subscription, error)
}

// Cache is the fast-start cache; *cache.Cache is one.
type Cache interface {
	Get(ctx context.Context, key cache.Key, tenant string) (value []byte, version uint64, hit bool, err error)
	Put(ctx context.Context, key cache.Key, tenant string, version uint64, value []byte) error
	Delete(ctx context.Context, key cache.Key, tenant string) error
}

// Streams asks the camera's node for a camera's stream (start, or renew
// interest); *gateway.Gateway is one.
type Streams interface {
	WantLive(ctx context.Context, dev domain.Device) (StreamState, error)
}

// Guard is the last step; *media.Guard is one.
type Guard interface {
	CheckSegment(ctx context.Context, p authz.Principal, grant authz.Grant, deviceID string, l media.SegmentLabel) error
}

// Auditor records looks; *audit.Log is one.
type Auditor interface {
	Record(ctx context.Context, homeID string, e audit.Entry) error
}

// Keys unwraps homes' data keys; *keys.Keyring is one.
type Keys interface {
	UnwrapDataKey(wrapped []byte, homeID string) (keys.DataKey, error)
}

// Deps are the parts the service uses.
type Deps struct {
	Store Store
	Bus   Bus
	Cache Cache // nil: no fast start; a new viewer waits for the next keyframe
	// Bypass reports whether the breaker is open: the fast-start cache
	// is then not used, as every cache is not.
	Bypass  func() bool
	Streams Streams
	Decider *authz.Decider // decides from the store alone
	Guard   Guard
	Audit   Auditor
	Keys    Keys
	Log     *slog.Logger
	Now     func() time.Time // for session start times and durations
}

// Service is live view on this node: the relays of the cameras streaming
// here, the hubs of the cameras watched here, and their sessions.
type Service struct {
	cfg Config
	d   Deps

	// ctx is the service's own; Run cancels it when it ends. wg counts the
	// goroutines it owns (hubs' renewers); Add only under mu while !closed.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	kick   chan struct{} // a grant notice arrived: re-decide now

	// The grant notices not yet acted on: their sessions are re-decided
	// first, before the periodic sweep of all. Past maxPendingNotices
	// every session is (noticedAll).
	noticeMu   sync.Mutex
	noticed    []authz.GrantNotice
	noticedAll bool

	mu       sync.Mutex
	closed   bool
	relays   map[string]*relay // by device: cameras streaming on this node
	hubs     map[string]*hub   // by device: cameras watched on this node
	sessions map[*Session]struct{}
	perHome  map[string]int
}

// New returns the service. Run must run for sessions to be re-decided.
func New(cfg Config, d Deps) *Service {
	cfg.setDefaults()
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	s := &Service{cfg: cfg, d: d, kick: make(chan struct{}, 1), relays: map[string]*relay{}, hubs: map[string]*hub{},
		sessions: map[*Session]struct{}{}, perHome: map[string]int{}}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s
}

// Run re-decides every session on each grant notice and at least every
// Config.Recheck, until ctx ends; then it ends every session (ErrEnded),
// stops the hubs and waits for everything the service started.
func (s *Service) Run(ctx context.Context) {
	sub, err := authz.ListenGrantNotices(ctx, s.d.Bus, func(_ context.Context, n authz.GrantNotice) {
		s.noticeMu.Lock()
		if len(s.noticed) < maxPendingNotices {
			s.noticed = append(s.noticed, n)
		} else {
			s.noticedAll = true
		}
		s.noticeMu.Unlock()
		select {
		case s.kick <- struct{}{}:
		default:
		}
	})
	if err != nil {
		s.d.Log.Error("live: grant notices will not be heard; sessions are re-decided on the timer alone", "err", err)
	}
	// Notices are acted on beside the sweep, not after it: on a loaded
	// node a sweep of all sessions can take longer than the second a
	// revoked session has.
	var notices sync.WaitGroup
	notices.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-s.kick:
				s.recheckNoticed(ctx)
			}
		}
	})
	t := time.NewTicker(s.cfg.Recheck)
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-t.C:
			s.recheck(ctx, nil)
		}
	}
	notices.Wait()
	t.Stop()
	if sub != nil {
		if err := sub.Unsubscribe(); err != nil {
			s.d.Log.Warn("live: unsubscribe from grant notices", "err", err)
		}
	}
	s.mu.Lock()
	s.closed = true
	sessions := make([]*Session, 0, len(s.sessions))
	for ss := range s.sessions {
		sessions = append(sessions, ss)
	}
	s.mu.Unlock()
	for _, ss := range sessions {
		ss.end(fmt.Errorf("%w: the server is shutting down", ErrEnded))
	}
	s.cancel()
	s.wg.Wait()
}

// Watch starts a live session of p on a camera: authorized like viewing
// the camera (someone who may not see it gets the same not-found as for a
// missing one), camera_offline (409) when the camera is connected to no
// node, too_many (429) past the limits. The session's frames start with
// a keyframe. It is recorded (live.view) before it starts. Close it.
func (s *Service) Watch(ctx context.Context, p authz.Principal, deviceID string) (*Session, error) {
	dev, _, err := s.d.Decider.Device(ctx, p, deviceID, authz.WatchLive)
	if err != nil {
		return nil, err
	}
	// The version is read before the decision the session starts with: a
	// change committed after it moves it, and the session is re-decided.
	version, err := s.version(ctx, p, dev.HomeID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, apperr.NotFoundf("device") // a partner's link went meanwhile
	}
	if err != nil {
		return nil, fmt.Errorf("live: read grant version: %w", err)
	}
	dev, grant, err := s.d.Decider.Device(ctx, p, deviceID, authz.WatchLive)
	if err != nil {
		return nil, err
	}
	state, err := s.d.Streams.WantLive(ctx, dev)
	if err != nil {
		return nil, err
	}
	ss := &Session{s: s, p: p, dev: dev, grant: grant, version: version, since: s.d.Now(), notify: make(chan struct{}, 1)}
	h, created, err := s.admit(ss)
	if err != nil {
		return nil, err
	}
	if created {
		// A fast-start entry that does not open is reported as asked for
		// by this viewer.
		err = h.start(cache.WithRequester(ctx, p.Kind, p.AccountID), state)
		close(h.ready)
	} else {
		select {
		case <-h.ready:
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	if err == nil && h.failed != nil {
		err = h.failed
	}
	if err == nil {
		err = s.d.Audit.Record(ctx, dev.HomeID, audit.Entry{ActorKind: p.Kind, ActorID: p.ActorID(), Action: AuditView,
			DeviceID: dev.ID, Result: audit.ResultOK})
	}
	if err != nil {
		ss.end(fmt.Errorf("%w: %w", ErrEnded, err))
		s.leave(ss, false)
		return nil, err
	}
	h.join(ss)
	return ss, nil
}

// admit counts ss against the limits and finds or makes its hub.
func (s *Service) admit(ss *Session) (*hub, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, false, apperr.New(apperr.Unavailable, "the server is shutting down")
	}
	h := s.hubs[ss.dev.ID]
	if h != nil && h.isEnded() {
		h = nil // its stream ended; its sessions end, and a new stream gets a new hub
	}
	if h != nil && len(h.members) >= s.cfg.MaxViewersPerCamera {
		return nil, false, apperr.New(apperr.TooMany, "this camera already has %d live viewers, the most it allows", s.cfg.MaxViewersPerCamera)
	}
	if s.perHome[ss.dev.HomeID] >= s.cfg.MaxSessionsPerHome {
		return nil, false, apperr.New(apperr.TooMany, "this home already has %d live sessions, the most it allows", s.cfg.MaxSessionsPerHome)
	}
	created := h == nil
	if created {
		h = newHub(s, ss.dev)
		s.hubs[ss.dev.ID] = h
		s.wg.Add(1) // the hub's renewer, started by start (or released by it on failure)
	}
	h.members[ss] = struct{}{}
	ss.h = h
	s.sessions[ss] = struct{}{}
	s.perHome[ss.dev.HomeID]++
	return h, created, nil
}

// leave forgets ss; the last viewer of a hub stops it. audited tells
// whether the session's start was recorded (then so is its end).
func (s *Service) leave(ss *Session, audited bool) {
	s.mu.Lock()
	if _, ok := s.sessions[ss]; !ok {
		s.mu.Unlock()
		return
	}
	delete(s.sessions, ss)
	if s.perHome[ss.dev.HomeID]--; s.perHome[ss.dev.HomeID] <= 0 {
		delete(s.perHome, ss.dev.HomeID)
	}
	h := ss.h
	delete(h.members, ss)
	last := len(h.members) == 0
	if last && s.hubs[ss.dev.ID] == h {
		delete(s.hubs, ss.dev.ID)
	}
	s.mu.Unlock()
	h.part(ss)
	if last {
		h.stop()
	}
	if audited {
		result := audit.ResultOK
		switch err := ss.Err(); {
		case errors.Is(err, media.ErrBlocked):
			result = audit.ResultBlocked
		case errors.Is(err, ErrRevoked):
			result = "revoked"
		}
		// The session is over whatever the caller's context says; the
		// duration is the time between this entry and live.view.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), 5*time.Second)
		defer cancel()
		if err := s.d.Audit.Record(ctx, ss.dev.HomeID, audit.Entry{ActorKind: ss.p.Kind, ActorID: ss.p.ActorID(),
			Action: AuditEnd, DeviceID: ss.dev.ID, Result: result}); err != nil {
			s.d.Log.Error("live: recording the end of a session", "device", ss.dev.ID, "duration", s.d.Now().Sub(ss.since), "err", err)
		}
	}
}

// Watcher is someone watching a camera live now.
type Watcher struct {
	AccountID string
	Since     time.Time
}

// Watchers lists who is watching a camera live through this node,
// authorized like viewing the camera.
func (s *Service) Watchers(ctx context.Context, p authz.Principal, deviceID string) ([]Watcher, error) {
	if _, _, err := s.d.Decider.Device(ctx, p, deviceID, authz.ViewHome); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Watcher
	if h := s.hubs[deviceID]; h != nil {
		for ss := range h.members {
			out = append(out, Watcher{AccountID: ss.p.AccountID, Since: ss.since})
		}
	}
	return out, nil
}

// version is the version a session's grant is decided at: the person's
// grant version in the home, plus for a partner its partner's version,
// which disabling and enabling the partner move. ErrNotFound for a
// partner whose link is gone.
func (s *Service) version(ctx context.Context, p authz.Principal, homeID string) (int64, error) {
	v, err := s.d.Store.GrantVersion(ctx, homeID, p.AccountID)
	if err != nil || !p.IsPartner() {
		return v, err
	}
	link, err := s.d.Store.PartnerLink(ctx, p.LinkID)
	if err != nil {
		return 0, err
	}
	return v + link.PartnerVersion, nil
}

// recheckNoticed re-decides the sessions the notices heard since the last
// call name (all of them past maxPendingNotices).
func (s *Service) recheckNoticed(ctx context.Context) {
	s.noticeMu.Lock()
	notices, all := s.noticed, s.noticedAll
	s.noticed, s.noticedAll = nil, false
	s.noticeMu.Unlock()
	if all {
		s.recheck(ctx, nil)
		return
	}
	s.recheck(ctx, func(ss *Session) bool {
		for _, n := range notices {
			if noticeCovers(n, ss) {
				return true
			}
		}
		return false
	})
}

// maxPendingNotices bounds the grant notices kept for the next re-decision;
// past it every session is re-decided.
const maxPendingNotices = 256

// noticeCovers reports whether the grants n says changed may be ss's: each
// ID n names must be ss's.
func noticeCovers(n authz.GrantNotice, ss *Session) bool {
	return (n.HomeID == "" || n.HomeID == ss.dev.HomeID) &&
		(n.AccountID == "" || n.AccountID == ss.p.AccountID) &&
		(n.PartnerID == "" || n.PartnerID == ss.p.PartnerID)
}

// recheck re-decides the sessions whose grant version moved, of those only
// selects (all when nil).
func (s *Service) recheck(ctx context.Context, only func(*Session) bool) {
	s.mu.Lock()
	sessions := make([]*Session, 0, len(s.sessions))
	for ss := range s.sessions {
		if only == nil || only(ss) {
			sessions = append(sessions, ss)
		}
	}
	s.mu.Unlock()
	// Sessions of one person (or link) in one home share a version read;
	// the groups are re-decided side by side, so that ending many
	// sessions at once (a partner disabled) is not as slow as the store
	// round trips one after another.
	type pair struct{ home, account, link string }
	groups := map[pair][]*Session{}
	for _, ss := range sessions {
		if ss.Err() == nil {
			k := pair{ss.dev.HomeID, ss.p.AccountID, ss.p.LinkID}
			groups[k] = append(groups[k], ss)
		}
	}
	sem := make(chan struct{}, recheckParallel)
	var wg sync.WaitGroup
	for k, group := range groups {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			s.recheckGroup(ctx, k.home, group)
		}()
	}
	wg.Wait()
}

// recheckParallel bounds the groups of sessions re-decided at once.
const recheckParallel = 8

// recheckGroup re-decides the sessions of one principal in one home whose
// grant version moved.
func (s *Service) recheckGroup(ctx context.Context, homeID string, group []*Session) {
	v, err := s.version(ctx, group[0].p, homeID)
	for _, ss := range group {
		switch {
		case errors.Is(err, store.ErrNotFound):
			// A partner's link that is gone (unlinked, replaced): the
			// decision says so, and the session ends revoked.
			s.redecide(ctx, ss, 0)
		case err != nil:
			ss.storeFailed(err)
		case v != ss.currentVersion():
			s.redecide(ctx, ss, v)
		}
	}
}

// redecide decides ss again from the store at version v (read before).
func (s *Service) redecide(ctx context.Context, ss *Session, v int64) {
	dev, grant, err := s.d.Decider.Device(ctx, ss.p, ss.dev.ID, authz.WatchLive)
	switch code := apperr.CodeOf(err); {
	case err == nil && dev.HomeID != ss.dev.HomeID:
		ss.end(fmt.Errorf("%w: the camera moved to another home", ErrRevoked))
		return
	case err != nil && apperr.Denied(code):
		ss.end(fmt.Errorf("%w: %w", ErrRevoked, err))
		return
	case err != nil:
		ss.storeFailed(err)
		return
	}
	if ss.p.SessionID != "" {
		alive, err := authz.LoginSessionAlive(ctx, s.d.Store, ss.p, s.d.Now())
		if err != nil {
			ss.storeFailed(err)
			return
		}
		if !alive {
			ss.end(fmt.Errorf("%w: the viewer logged out", ErrRevoked))
			return
		}
	}
	ss.regrant(grant, v)
}

// dataKey returns a home's data key, read from the store.
func (s *Service) dataKey(ctx context.Context, homeID string) (keys.DataKey, error) {
	h, err := s.d.Store.HomeByID(ctx, homeID)
	if err != nil {
		return keys.DataKey{}, fmt.Errorf("live: read home %s: %w", homeID, err)
	}
	dk, err := s.d.Keys.UnwrapDataKey(h.WrappedDataKey, h.ID)
	if err != nil {
		return keys.DataKey{}, fmt.Errorf("live: unwrap data key of home %s: %w", h.ID, err)
	}
	return dk, nil
}

// cache is the fast-start cache, nil while there is none or the breaker
// is open.
func (s *Service) cache() Cache {
	if s.d.Cache == nil || (s.d.Bypass != nil && s.d.Bypass()) {
		return nil
	}
	return s.d.Cache
}

func liveSubject(deviceID string) (bus.Subject, error) { return bus.NewSubject("live", deviceID) }

// LabelMismatch fills in, for an incident about a refused cache entry, the
// home a fast-start frame was asked for. It reports whether the key was
// one of this package's.
func LabelMismatch(m cache.Mismatch, in *domain.Incident) bool {
	if m.Key.Kind() != KindLiveFrame {
		return false
	}
	in.RequestedHome = m.Tenant
	return true
}
