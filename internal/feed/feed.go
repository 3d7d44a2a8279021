// Package feed streams what happens in a household to the people looking
// at it: each new event they may see, as it is stored, and their cameras
// going online and offline (docs/design/feed.md).
//
// Nothing on the bus is trusted to say what a person may see. A notice
// only names an event or a camera; each open stream decides it for its own
// viewer as any read would (the event through the events service, the
// camera through authz), and a stream whose viewer lost access to a home
// it covers ends.
package feed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/camvault/camvault/internal/apperr"
	"github.com/camvault/camvault/internal/authz"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/events"
	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/store"
)

// Config bounds what streams may cost.
type Config struct {
	PerAccount int           // streams one account may hold open on a node (default 16)
	PerNode    int           // streams open on a node (default 10,000)
	Buffer     int           // messages waiting for one slow reader before its stream ends (default 64)
	Queue      int           // notices waiting to be fanned out before new ones are dropped (default 4,096)
	Recheck    time.Duration // every stream re-decided at least this often (default 10 s)
}

func (c *Config) setDefaults() {
	if c.PerAccount <= 0 {
		c.PerAccount = 16
	}
	if c.PerNode <= 0 {
		c.PerNode = 10_000
	}
	if c.Buffer <= 0 {
		c.Buffer = 64
	}
	if c.Queue <= 0 {
		c.Queue = 4096
	}
	if c.Recheck <= 0 {
		c.Recheck = 10 * time.Second
	}
}

// Store is what deciding again needs of the store.
type Store interface {
	GrantVersion(ctx context.Context, homeID, accountID string) (int64, error)
	Memberships(ctx context.Context, accountID string) ([]domain.Membership, error)
	ListSessions(ctx context.Context, accountID string) ([]domain.Session, error)
	PartnerLink(ctx context.Context, linkID string) (domain.PartnerLink, error)
}

// Decider decides homes and cameras; *authz.Decider is one.
type Decider interface {
	Home(ctx context.Context, p authz.Principal, homeID string, action authz.Action) (authz.Grant, error)
	Device(ctx context.Context, p authz.Principal, deviceID string, action authz.Action) (domain.Device, authz.Grant, error)
	PartnerDevices(ctx context.Context, p authz.Principal) ([]authz.DeviceGrant, error)
}

// Events decides one event for a viewer; *events.Service is one.
type Events interface {
	Listed(ctx context.Context, p authz.Principal, eventID string) (events.View, error)
}

// Deps are what the service works with.
type Deps struct {
	Store   Store
	Decider Decider
	Events  Events
	Bus     Bus
	Log     *slog.Logger
}

// Service holds the streams open on this node.
type Service struct {
	cfg Config
	d   Deps

	work chan notice   // notices to fan out, in arrival order
	kick chan struct{} // a grant changed somewhere: re-decide

	mu         sync.Mutex
	closed     bool
	streams    map[*Stream]struct{}
	byHome     map[string]map[*Stream]struct{}
	perAccount map[string]int
	dropped    int64 // notices dropped since the last warning
	warned     time.Time
}

// New returns the service. Run must run for streams to receive anything.
func New(cfg Config, d Deps) *Service {
	cfg.setDefaults()
	if d.Log == nil {
		d.Log = slog.Default()
	}
	return &Service{cfg: cfg, d: d, work: make(chan notice, cfg.Queue), kick: make(chan struct{}, 1),
		streams: map[*Stream]struct{}{}, byHome: map[string]map[*Stream]struct{}{}, perAccount: map[string]int{}}
}

// Query narrows a stream like the timeline's filters: one home, one
// camera, some kinds. The zero Query is everything the viewer may see.
type Query struct {
	Home   string
	Device string
	Kinds  []string
}

// Open starts a stream of what p may see that q selects. A home or camera
// p may not see answers exactly like a missing one; past the limits it
// answers too_many. Close the stream when done.
func (s *Service) Open(ctx context.Context, p authz.Principal, q Query) (*Stream, error) {
	st := &Stream{svc: s, p: p, device: q.Device, scoped: q.Home != "" || q.Device != "",
		out: make(chan Message, s.cfg.Buffer), done: make(chan struct{})}
	for _, raw := range q.Kinds {
		k, err := domain.ParseEventKind(raw)
		if err != nil {
			return nil, apperr.New(apperr.Invalid, "%v", err)
		}
		st.kinds = append(st.kinds, k)
	}
	if q.Home != "" && !id.Valid(q.Home) {
		return nil, apperr.NotFoundf("home")
	}
	if q.Device != "" && !id.Valid(q.Device) {
		return nil, apperr.NotFoundf("device")
	}
	homes, err := s.homes(ctx, p, q)
	if err != nil {
		return nil, err
	}
	// Each home's version is read before the decision it is kept with
	// (the homes are decided again after it): a change committed after the
	// read moves the version past what is kept, and the next recheck
	// decides again.
	st.homes, st.versions = homes, make(map[string]int64, len(homes))
	for _, h := range homes {
		v, err := s.version(ctx, p, h)
		if err != nil {
			return nil, err
		}
		st.versions[h] = v
	}
	for _, h := range homes {
		if err := s.decideHome(ctx, st, h); err != nil {
			return nil, err
		}
	}
	if err := s.add(st); err != nil {
		return nil, err
	}
	return st, nil
}

// homes decides which homes a stream of p for q covers.
func (s *Service) homes(ctx context.Context, p authz.Principal, q Query) ([]string, error) {
	switch {
	case q.Device != "":
		dev, _, err := s.d.Decider.Device(ctx, p, q.Device, authz.ViewHome)
		if err != nil {
			return nil, err
		}
		if q.Home != "" && dev.HomeID != q.Home {
			return nil, apperr.NotFoundf("device")
		}
		return []string{dev.HomeID}, nil
	case p.IsPartner():
		dgs, err := s.d.Decider.PartnerDevices(ctx, p)
		if err != nil {
			return nil, err
		}
		var out []string
		for _, dg := range dgs {
			if (q.Home == "" || dg.Device.HomeID == q.Home) && !slices.Contains(out, dg.Device.HomeID) {
				out = append(out, dg.Device.HomeID)
			}
		}
		if q.Home != "" && len(out) == 0 {
			return nil, apperr.NotFoundf("home")
		}
		return out, nil
	case q.Home != "":
		if _, err := s.d.Decider.Home(ctx, p, q.Home, authz.ViewHome); err != nil {
			return nil, err
		}
		return []string{q.Home}, nil
	case p.IsPerson():
		ms, err := s.d.Store.Memberships(ctx, p.AccountID)
		if err != nil {
			return nil, fmt.Errorf("feed: list memberships: %w", err)
		}
		out := make([]string, 0, len(ms))
		for _, m := range ms {
			if m.SecondFactorMissing() {
				continue // that home's events wait for the member's second factor
			}
			out = append(out, m.Home.ID)
		}
		return out, nil
	}
	return nil, apperr.New(apperr.Unauthorized, "a person or partner credential is required")
}

// version is what a grant of p in a home was decided at: the account's
// grant version there, plus the link's for a partner.
func (s *Service) version(ctx context.Context, p authz.Principal, homeID string) (int64, error) {
	v, err := s.d.Store.GrantVersion(ctx, homeID, p.AccountID)
	if err != nil {
		return 0, fmt.Errorf("feed: read grant version: %w", err)
	}
	if !p.IsPartner() {
		return v, nil
	}
	link, err := s.d.Store.PartnerLink(ctx, p.LinkID)
	if err != nil {
		return 0, fmt.Errorf("feed: read partner link: %w", err)
	}
	return v + link.PartnerVersion, nil
}

func (s *Service) add(st *Stream) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return apperr.New(apperr.Unavailable, "the server is shutting down")
	case len(s.streams) >= s.cfg.PerNode:
		return apperr.New(apperr.TooMany, "too many event streams on this server; try again later")
	case s.perAccount[st.p.AccountID] >= s.cfg.PerAccount:
		return apperr.New(apperr.TooMany, "at most %d event streams per account at once; close one first", s.cfg.PerAccount)
	}
	s.streams[st] = struct{}{}
	s.perAccount[st.p.AccountID]++
	for _, h := range st.homes {
		set := s.byHome[h]
		if set == nil {
			set = map[*Stream]struct{}{}
			s.byHome[h] = set
		}
		set[st] = struct{}{}
	}
	return nil
}

func (s *Service) remove(st *Stream) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.streams[st]; !ok {
		return
	}
	delete(s.streams, st)
	if s.perAccount[st.p.AccountID]--; s.perAccount[st.p.AccountID] <= 0 {
		delete(s.perAccount, st.p.AccountID)
	}
	for _, h := range st.homes {
		delete(s.byHome[h], st)
		if len(s.byHome[h]) == 0 {
			delete(s.byHome, h)
		}
	}
}

// Streams returns how many streams are open on this node.
func (s *Service) Streams() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.streams)
}

// of returns the streams covering a home.
func (s *Service) of(homeID string) []*Stream {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Stream, 0, len(s.byHome[homeID]))
	for st := range s.byHome[homeID] {
		out = append(out, st)
	}
	return out
}

// Run fans notices out to the streams and re-decides them on each grant
// notice and at least every Config.Recheck, until ctx ends; then it ends
// every stream.
func (s *Service) Run(ctx context.Context) {
	subs, err := s.listen(ctx)
	if err != nil {
		s.d.Log.Error("feed: notices will not be heard; streams receive nothing", "err", err)
	}
	var wg sync.WaitGroup
	wg.Go(func() { s.fanOut(ctx) })
	t := time.NewTicker(s.cfg.Recheck)
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
			continue
		case <-t.C:
		case <-s.kick:
		}
		s.recheck(ctx)
	}
	t.Stop()
	for _, sub := range subs {
		if err := sub.Unsubscribe(); err != nil {
			s.d.Log.Warn("feed: unsubscribe", "err", err)
		}
	}
	wg.Wait()
	s.mu.Lock()
	s.closed = true
	all := make([]*Stream, 0, len(s.streams))
	for st := range s.streams {
		all = append(all, st)
	}
	s.mu.Unlock()
	for _, st := range all {
		st.end(EndShutdown)
	}
}

// fanOut offers each notice to the streams of its home, one notice at a
// time so that each stream sees them in the order they came.
func (s *Service) fanOut(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case n := <-s.work:
			if n.Event != nil {
				s.offerEvent(ctx, *n.Event)
			}
			for _, pr := range n.Presence {
				s.offerPresence(ctx, pr)
			}
		}
	}
}

// offerEvent decides a new event for each stream of its home.
func (s *Service) offerEvent(ctx context.Context, n eventNotice) {
	for _, st := range s.of(n.HomeID) {
		if st.Err() != "" {
			continue
		}
		v, err := s.d.Events.Listed(ctx, st.p, n.EventID)
		switch {
		case apperr.CodeOf(err) == apperr.NotFound:
			continue // not this viewer's to see
		case err != nil:
			s.d.Log.Warn("feed: deciding an event for a stream; the stream skips it", "err", err)
			continue
		case v.HomeID != n.HomeID:
			continue // the notice named the wrong home: trust the record, offer nothing
		case st.device != "" && v.DeviceID != st.device:
			continue
		case len(st.kinds) > 0 && !slices.Contains(st.kinds, v.Kind):
			continue
		}
		st.send(Message{Kind: KindEvent, ID: v.ID, Data: v})
	}
}

// DeviceState is a camera's connection state as a stream tells it.
type DeviceState struct {
	ID       string    `json:"id"`
	HomeID   string    `json:"home_id"`
	Online   bool      `json:"online"`
	LastSeen time.Time `json:"last_seen"`
}

// offerPresence tells each stream of the camera's home that may see the
// camera that it went online or offline.
func (s *Service) offerPresence(ctx context.Context, n presenceNotice) {
	for _, st := range s.of(n.HomeID) {
		if st.Err() != "" || (st.device != "" && st.device != n.DeviceID) {
			continue
		}
		dev, _, err := s.d.Decider.Device(ctx, st.p, n.DeviceID, authz.ViewHome)
		switch {
		case apperr.CodeOf(err) == apperr.NotFound:
			continue
		case err != nil:
			s.d.Log.Warn("feed: deciding a camera for a stream; the stream skips it", "err", err)
			continue
		case dev.HomeID != n.HomeID:
			continue
		}
		st.send(Message{Kind: KindDevice, Data: DeviceState{ID: dev.ID, HomeID: dev.HomeID, Online: n.Online, LastSeen: n.LastSeen.UTC()}})
	}
}

// recheck re-decides the streams whose grant version moved.
func (s *Service) recheck(ctx context.Context) {
	s.mu.Lock()
	all := make([]*Stream, 0, len(s.streams))
	for st := range s.streams {
		all = append(all, st)
	}
	s.mu.Unlock()
	type key struct{ home, account, link string }
	versions := map[key]int64{}
	for _, st := range all {
		if st.Err() != "" {
			continue
		}
		moved := false
		for h, kept := range st.versions {
			k := key{h, st.p.AccountID, st.p.LinkID}
			v, ok := versions[k]
			if !ok {
				var err error
				if v, err = s.version(ctx, st.p, h); err != nil {
					if errors.Is(err, store.ErrNotFound) {
						moved = true // a partner's link gone: decide, and end
						break
					}
					// Nothing may be offered on a grant that cannot be
					// checked; the viewer reconnects once the store is back.
					s.d.Log.Warn("feed: re-deciding a stream; it ends", "err", err)
					st.end(EndUnavailable)
					break
				}
				versions[k] = v
			}
			if v != kept {
				moved = true
			}
		}
		if moved && st.Err() == "" {
			s.redecide(ctx, st)
		}
	}
}

// redecide decides st again; a stream that lost any of its homes ends.
// The versions are read first, as in Open.
func (s *Service) redecide(ctx context.Context, st *Stream) {
	versions := make(map[string]int64, len(st.homes))
	for _, h := range st.homes {
		v, err := s.version(ctx, st.p, h)
		switch {
		case errors.Is(err, store.ErrNotFound):
			st.end(EndRevoked) // a partner's link gone
			return
		case err != nil:
			s.d.Log.Warn("feed: re-deciding a stream; it ends", "err", err)
			st.end(EndUnavailable)
			return
		}
		versions[h] = v
	}
	for _, h := range st.homes {
		err := s.decideHome(ctx, st, h)
		switch c := apperr.CodeOf(err); {
		case err == nil:
		case apperr.Denied(c):
			st.end(EndRevoked)
			return
		default:
			s.d.Log.Warn("feed: re-deciding a stream; it ends", "err", err)
			st.end(EndUnavailable)
			return
		}
	}
	if st.p.SessionID != "" {
		alive, err := authz.LoginSessionAlive(ctx, s.d.Store, st.p, time.Now())
		switch {
		case err != nil:
			st.end(EndUnavailable)
			return
		case !alive:
			st.end(EndLoggedOut)
			return
		}
	}
	st.versions = versions
}

// decideHome decides whether st's viewer still sees what st covers of a
// home: the camera it is filtered to, a camera a partner's link names, or
// the home.
func (s *Service) decideHome(ctx context.Context, st *Stream, homeID string) error {
	switch {
	case st.device != "":
		dev, _, err := s.d.Decider.Device(ctx, st.p, st.device, authz.ViewHome)
		if err == nil && dev.HomeID != homeID {
			err = apperr.NotFoundf("device")
		}
		return err
	case st.p.IsPartner():
		dgs, err := s.d.Decider.PartnerDevices(ctx, st.p)
		if err != nil {
			return err
		}
		for _, dg := range dgs {
			if dg.Device.HomeID == homeID {
				return nil
			}
		}
		return apperr.NotFoundf("home")
	}
	_, err := s.d.Decider.Home(ctx, st.p, homeID, authz.ViewHome)
	return err
}

// homesChanged ends the unfiltered streams of an account that just joined
// a home they do not cover, so that the viewer reconnects and gets it too.
func (s *Service) homesChanged(accountID, homeID string) {
	s.mu.Lock()
	var stale []*Stream
	for st := range s.streams {
		if st.p.AccountID != accountID || st.scoped || st.p.IsPartner() {
			continue
		}
		if !slices.Contains(st.homes, homeID) {
			stale = append(stale, st)
		}
	}
	s.mu.Unlock()
	for _, st := range stale {
		st.end(EndChanged)
	}
}
