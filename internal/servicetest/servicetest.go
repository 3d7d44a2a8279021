// Package servicetest is the services' shared test harness. New opens, for
// one test, the parts the product runs on a single node, each embedded and
// fresh: SQLite in t.TempDir(), a keyring, the in-process cache, the
// embedded bus, blobs on disk, a gateway. On them it builds the services as
// internal/server does, on a clock the test moves. A service's own tests
// then exercise its use cases directly, without HTTP, and nothing stands in
// for a part the product runs.
package servicetest

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"log/slog"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/admission"
	"github.com/camvault/camvault/internal/apperr"
	"github.com/camvault/camvault/internal/audit"
	"github.com/camvault/camvault/internal/authz"
	"github.com/camvault/camvault/internal/blob"
	"github.com/camvault/camvault/internal/blob/disk"
	"github.com/camvault/camvault/internal/bus/natsbus"
	"github.com/camvault/camvault/internal/cache"
	"github.com/camvault/camvault/internal/cache/faults"
	"github.com/camvault/camvault/internal/cache/memory"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/events"
	"github.com/camvault/camvault/internal/gateway"
	"github.com/camvault/camvault/internal/homes"
	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/identity"
	"github.com/camvault/camvault/internal/keys"
	"github.com/camvault/camvault/internal/live"
	"github.com/camvault/camvault/internal/media"
	"github.com/camvault/camvault/internal/store"
	"github.com/camvault/camvault/internal/store/sqlite"
)

// Patience bounds every wait in a test so that something lost fails the
// test instead of hanging it. It is never what a test measures.
const Patience = 20 * time.Second

// Clock is a time the test moves. It starts at the wall clock, since some
// checks (an event's start "not in the future") meet times taken from it.
type Clock struct{ ns atomic.Int64 }

// NewClock returns a clock at the current wall-clock second.
func NewClock() *Clock {
	c := &Clock{}
	c.ns.Store(time.Now().UTC().Truncate(time.Second).UnixNano())
	return c
}

// Now is the clock's time.
func (c *Clock) Now() time.Time { return time.Unix(0, c.ns.Load()).UTC() }

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// Options are the services' configurations; New starts from the production
// ones, on the Env's clock, with cheap password hashing.
type Options struct {
	Identity identity.Config
	Homes    homes.Config
	Events   events.Config
	Gateway  gateway.Config
	Live     live.Config
	// CacheFaults breaks the cache on purpose (internal/cache/faults).
	CacheFaults faults.Spec
}

// Env is one test's parts and services.
type Env struct {
	t     testing.TB
	Clock *Clock
	Log   *slog.Logger

	// The parts. Store announces every change of grants on Bus, and this
	// node drops the cached grants each notice names, as in the server.
	Store store.Store
	Keys  *keys.Keyring
	Cache *cache.Cache
	Bus   *natsbus.Bus
	Blobs blob.Store

	// Authz decides from the store alone (managing homes, the gateway,
	// the audit log); CachedAuthz keeps grants in Cache (the events
	// service), as in the server.
	Authz       *authz.Decider
	CachedAuthz *authz.Decider

	// The services.
	Identity *identity.Service
	Homes    *homes.Service
	Events   *events.Service
	Gateway  *gateway.Gateway
	Audit    *audit.Log
	Reader   *audit.Reader
	// Mismatches counts refused cache entries (each also an incident).
	Mismatches atomic.Int64
	// Guard is the last step; Blocked counts what it refused (the server
	// tells the breaker of each).
	Guard   *media.Guard
	Blocked *Count
	Live    *live.Service

	opts      Options
	deviceURL string
	seq       atomic.Int64
}

// Count is a counter safe for concurrent use.
type Count struct{ n atomic.Int64 }

// Inc adds one.
func (c *Count) Inc() { c.n.Add(1) }

// Load is the count.
func (c *Count) Load() int64 { return c.n.Load() }

// New opens the parts and builds the services for t; everything is closed
// when t ends. tune, if given, changes the configurations first.
func New(t testing.TB, tune ...func(*Options)) *Env {
	t.Helper()
	e := &Env{t: t, Clock: NewClock(), Log: slog.New(slog.DiscardHandler)}
	opts := Options{Identity: identity.DefaultConfig(), Homes: homes.DefaultConfig(), Events: events.DefaultConfig(), Gateway: gateway.DefaultConfig(),
		Live: live.DefaultConfig()}
	opts.Identity.Argon2 = identity.Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1} // these are not tests of hashing cost
	opts.Identity.Now, opts.Homes.Now, opts.Events.Now, opts.Gateway.Now = e.Clock.Now, e.Clock.Now, e.Clock.Now, e.Clock.Now
	for _, f := range tune {
		f(&opts)
	}
	e.opts = opts
	ctx := t.Context()
	dir := t.TempDir()

	st, err := sqlite.Open(ctx, filepath.Join(dir, "camvault.db"))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	raw := make([]byte, keys.KeySize)
	_, _ = rand.Read(raw)
	if e.Keys, err = keys.ParseKeys(base64.StdEncoding.EncodeToString(raw)); err != nil {
		t.Fatalf("keys: %v", err)
	}
	if e.Bus, err = natsbus.Embedded(ctx, e.Log); err != nil {
		t.Fatalf("open bus: %v", err)
	}
	t.Cleanup(func() { e.Bus.Close() })
	mem, err := memory.New(64 << 20)
	if err != nil {
		t.Fatal(err)
	}
	var backend cache.Backend = mem
	if opts.CacheFaults != (faults.Spec{}) {
		backend = faults.Wrap(mem, opts.CacheFaults)
	}
	if e.Cache, err = cache.New(backend, e.Keys, cache.Options{Logger: e.Log, Reporter: cache.ReporterFunc(e.mismatch)}); err != nil {
		t.Fatalf("cache: %v", err)
	}
	if e.Blobs, err = disk.Open(filepath.Join(dir, "blobs")); err != nil {
		t.Fatalf("open blobs: %v", err)
	}

	e.Store = authz.AnnounceGrantChanges(st, e.Bus, e.Log)
	if _, err := authz.DropOnNotice(ctx, e.Bus, e.Cache, e.Store, e.Log); err != nil {
		t.Fatal(err)
	}
	e.Authz = authz.New(e.Store)
	e.CachedAuthz = authz.NewCached(e.Store, e.Cache, nil)
	if e.Identity, err = identity.New(e.Store, e.Keys, opts.Identity); err != nil {
		t.Fatal(err)
	}
	admit := admission.New(admission.DefaultConfig(), func(string) {})
	e.Gateway = gateway.New(opts.Gateway, e.Store, admit, e.Authz, e.Bus, e.Log)
	e.Audit = audit.New(e.Store, e.Keys, e.Clock.Now)
	e.Homes = homes.New(e.Store, e.Authz, e.Keys, e.Identity, e.Gateway, e.Audit, opts.Homes)
	e.Reader = audit.NewReader(e.Audit, e.Authz, e.Identity)
	e.Events = events.New(e.Store, e.Blobs, e.CachedAuthz, e.Keys, e.Audit, e.Log, opts.Events).WithCache(e.Cache, nil)
	e.Blocked = &Count{}
	e.Guard = media.NewGuard(e.Audit, e.Store, e.Blocked, e.Log, e.Clock.Now)
	e.Live = e.newLive(e.Bus, e.Cache, e.Gateway)

	// The gateway listens to other nodes and writes presence, and live
	// view re-decides its sessions, until the test ends; the bus and store
	// close after them.
	e.run(e.Gateway, e.Live)
	return e
}

// newLive builds the live service of a node, as the server does.
func (e *Env) newLive(b live.Bus, c live.Cache, g *gateway.Gateway) *live.Service {
	l := live.New(e.opts.Live, live.Deps{Store: e.Store, Bus: b, Cache: c, Streams: g, Decider: e.Authz, Guard: e.Guard,
		Audit: e.Audit, Keys: e.Keys, Log: e.Log, Now: e.Clock.Now})
	g.SetLiveSink(l)
	return l
}

func (e *Env) run(g *gateway.Gateway, l *live.Service) {
	runCtx, stop := context.WithCancel(context.WithoutCancel(e.t.Context()))
	var wg sync.WaitGroup
	wg.Go(func() { g.Run(runCtx) })
	wg.Go(func() { l.Run(runCtx) })
	e.t.Cleanup(func() { stop(); wg.Wait() })
}

// mismatch records a refused cache entry as the server does (an
// incident), minus the metric and the breaker.
func (e *Env) mismatch(ctx context.Context, m cache.Mismatch) {
	e.Mismatches.Add(1)
	in := domain.Incident{ID: id.New(), At: e.Clock.Now(), Kind: domain.IncidentCacheMismatch, RequesterKind: m.RequesterKind,
		RequesterID: m.RequesterID, Detail: "cache entry " + m.Key.String() + " refused (" + m.Reason + ")"}
	live.LabelMismatch(m, &in)
	_ = e.Store.RecordIncident(context.WithoutCancel(ctx), in)
}

// Node is a second node of the Env: its own bus client of the same bus
// server, its own cache, gateway and live service, on the Env's store.
type Node struct {
	Bus     *natsbus.Bus
	Cache   *cache.Cache
	Gateway *gateway.Gateway
	Live    *live.Service
	url     string
}

// NewNode opens another node sharing the Env's store, keys and bus.
func (e *Env) NewNode() *Node {
	e.t.Helper()
	b, err := e.Bus.Connect(e.Ctx())
	if err != nil {
		e.t.Fatalf("second bus client: %v", err)
	}
	e.t.Cleanup(func() { b.Close() })
	mem, err := memory.New(64 << 20)
	if err != nil {
		e.t.Fatal(err)
	}
	c, err := cache.New(mem, e.Keys, cache.Options{Logger: e.Log})
	if err != nil {
		e.t.Fatal(err)
	}
	n := &Node{Bus: b, Cache: c}
	n.Gateway = gateway.New(e.opts.Gateway, e.Store, admission.New(admission.DefaultConfig(), func(string) {}), e.Authz, b, e.Log)
	n.Live = e.newLive(b, c, n.Gateway)
	e.run(n.Gateway, n.Live)
	n.url = e.serveDevices(n.Gateway)
	return n
}

// DeviceURL is the node's base URL for cameras' connections.
func (n *Node) DeviceURL() string { return n.url }

// Ctx is the test's context.
func (e *Env) Ctx() context.Context { return e.t.Context() }

// unique makes names that differ within one Env.
func (e *Env) unique(name string) string { return name + strconv.FormatInt(e.seq.Add(1), 10) }

// WantCode fails t unless err carries code (apperr.Internal for an error
// that carries none; nil never matches).
func WantCode(t testing.TB, what string, err error, code apperr.Code) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error, want %s", what, code)
		return
	}
	if got := apperr.CodeOf(err); got != code {
		t.Errorf("%s: %v (%s), want %s", what, err, got, code)
	}
}
