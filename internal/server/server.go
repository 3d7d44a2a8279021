package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/camvault/camvault/api"
	"github.com/camvault/camvault/internal/admin"
	"github.com/camvault/camvault/internal/admission"
	"github.com/camvault/camvault/internal/audit"
	"github.com/camvault/camvault/internal/authz"
	"github.com/camvault/camvault/internal/breaker"
	"github.com/camvault/camvault/internal/bus/natsbus"
	"github.com/camvault/camvault/internal/events"
	"github.com/camvault/camvault/internal/gateway"
	"github.com/camvault/camvault/internal/homes"
	"github.com/camvault/camvault/internal/httpapi"
	"github.com/camvault/camvault/internal/httpmw"
	"github.com/camvault/camvault/internal/identity"
	"github.com/camvault/camvault/internal/keys"
	"github.com/camvault/camvault/internal/media"
	"github.com/camvault/camvault/internal/metrics"
	"github.com/camvault/camvault/internal/store"
	"github.com/camvault/camvault/internal/web"
)

const databaseFile = "camvault.db"

// App is a camvault server with its backends open, ready to serve.
type App struct {
	cfg      Config
	log      *slog.Logger
	store    store.Store
	metrics  *metrics.Metrics
	identity *identity.Service
	events   *events.Service
	gateway  *gateway.Gateway
	breaker  *breaker.Breaker
	closeC   func() // closes the cache's backend
	bus      *natsbus.Bus
	public   http.Handler
	admin    http.Handler
}

// Options tune an App beyond its Config; tests use them to run the real
// services with a controllable clock.
type Options struct {
	Identity  identity.Config
	Homes     homes.Config
	Events    events.Config
	Gateway   gateway.Config
	Admission admission.Config
	Cache     CacheOptions
	Breaker   breaker.Config
}

// DefaultOptions are the production settings.
func DefaultOptions() Options {
	return Options{Identity: identity.DefaultConfig(), Homes: homes.DefaultConfig(), Events: events.DefaultConfig(),
		Gateway: gateway.DefaultConfig(), Admission: admission.DefaultConfig(), Breaker: breaker.DefaultConfig()}
}

// Open checks cfg, loads the keys and opens the backends.
func Open(ctx context.Context, cfg Config, opts Options, log *slog.Logger) (*App, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	dbPath := filepath.Join(cfg.DataDir, databaseFile)
	kr, err := loadKeys(ctx, cfg, dbPath, log)
	if err != nil {
		return nil, err
	}
	// What is opened is closed again, newest first, if Open fails later.
	var undo []func()
	opened := false
	defer func() {
		if opened {
			return
		}
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}()
	st, err := openStore(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	undo = append(undo, func() { st.Close() })
	if err := checkKeys(ctx, st, kr); err != nil {
		return nil, err
	}
	b, err := openBus(ctx, cfg, log)
	if err != nil {
		return nil, fmt.Errorf("open bus: %w", err)
	}
	undo = append(undo, func() { b.Close() })
	// Every committed change of grants is announced to the other nodes.
	st = authz.AnnounceGrantChanges(st, b, log)
	a := &App{cfg: cfg, log: log, store: st, bus: b, metrics: metrics.New()}
	a.identity, err = identity.New(st, kr, opts.Identity)
	if err != nil {
		return nil, err
	}
	blobs, err := openBlobs(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open blob store: %w", err)
	}
	a.breaker = breaker.New(st, opts.Breaker, log, breakerMetrics(a.metrics))
	if err := a.breaker.Sync(ctx); err != nil {
		return nil, fmt.Errorf("cache breaker: %w", err)
	}
	c, closeC, err := openCache(ctx, cfg, opts.Cache, kr, &cacheAlarms{metrics: a.metrics, incidents: st, breaker: a.breaker, log: log, now: time.Now}, log)
	if err != nil {
		return nil, err
	}
	a.closeC = closeC
	undo = append(undo, closeC)
	// The media path decides from cached grants (versions checked against
	// the store on every request); managing homes reads the store alone.
	decider := authz.New(st)
	if opts.Homes.PresenceTTL == 0 {
		// A connected camera's last seen is written at least this often.
		opts.Homes.PresenceTTL = opts.Gateway.LastSeenEvery + 3*opts.Gateway.Heartbeat
	}
	admit := admission.New(opts.Admission, func(kind string) { a.metrics.Shed.WithLabelValues(kind).Inc() })
	a.gateway = gateway.New(opts.Gateway, st, admit, decider, b, log)
	a.metrics.ConnectedDevices(a.gateway.Connected)
	hs := homes.New(st, decider, kr, a.identity, a.gateway, opts.Homes)
	auditLog := audit.New(st, kr.Derive("audit-chain"), opts.Events.Now)
	a.events = events.New(st, blobs, authz.NewCached(st, c, a.breaker.Open), kr, auditLog, log, opts.Events).
		WithCache(c, a.breaker.Open)
	auditReader := audit.NewReader(auditLog, decider, a.identity)
	guard := media.NewGuard(auditLog, st, blockedAlarm{a.metrics.EgressBlocked, a.breaker}, log, opts.Events.Now)
	apiHandler := httpapi.New(httpapi.Deps{
		Identity: a.identity, Homes: hs, Events: a.events, Audit: auditReader, Guard: guard, Gateway: a.gateway, Admit: admit,
		Metrics: a.metrics, Log: log, OpenAPI: api.OpenAPI(),
	}).Handler()
	webApp, err := web.New(web.Deps{Identity: a.identity, Homes: hs, Events: a.events, Audit: auditReader, Log: log})
	if err != nil {
		return nil, err
	}
	// /api/... as before, the browser app everywhere else, both behind one
	// chain: request ID, base headers, panic recovery, access log, metrics.
	a.public = httpmw.New(log, a.metrics).Handler(web.Mount(apiHandler, webApp))
	// Blobs without a record are what a crash between storing a blob and
	// committing its record leaves; remove them before accepting uploads.
	// On a blob store other nodes share, only old ones: a young blob may
	// be an upload another node is about to commit.
	if n, err := a.events.RemoveOrphans(ctx, cfg.orphanMinAge()); err != nil {
		return nil, fmt.Errorf("remove orphan blobs: %w", err)
	} else if n > 0 {
		log.Info("removed orphan blobs", "count", n)
	}
	a.admin = admin.Handler(a.metrics.Registry, map[string]admin.Pinger{"store": st})
	if _, err := authz.DropOnNotice(ctx, b, c, st, log); err != nil {
		return nil, err
	}
	opened = true
	return a, nil
}

// loadKeys finds the master key: the environment first, then the key file.
// A missing key file is created only for a new data directory; when a
// database already exists, a missing key means its data could not be read,
// so the server refuses to start rather than make a new key.
func loadKeys(ctx context.Context, cfg Config, dbPath string, log *slog.Logger) (*keys.Keyring, error) {
	if cfg.MasterKey != "" {
		kr, err := keys.ParseKeys(cfg.MasterKey)
		if err != nil {
			return nil, fmt.Errorf("CAMVAULT_MASTER_KEY: %w", err)
		}
		return kr, nil
	}
	path := cfg.keyFile()
	kr, err := keys.LoadFile(path)
	if err == nil {
		return kr, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if _, statErr := os.Stat(dbPath); statErr == nil {
		return nil, fmt.Errorf("key file %s is missing but %s exists: restore the key file (a new key could not read the data)", path, dbPath)
	}
	if !cfg.embeddedStore() {
		if has, err := sharedStoreHasData(ctx, cfg); err != nil {
			return nil, err
		} else if has {
			return nil, fmt.Errorf("key file %s is missing but the --store database holds data: give every node the key it was written with (a new key could not read the data)", path)
		}
	}
	kr, err = keys.CreateFile(path)
	if err != nil {
		return nil, err
	}
	log.Warn("created a new master key; back it up apart from the data", "key_file", path)
	return kr, nil
}

// sharedStoreHasData reports whether the store named by --store already
// holds accounts or homes. A store that cannot tell counts as holding data:
// creating a key is the step that cannot be undone.
func sharedStoreHasData(ctx context.Context, cfg Config) (bool, error) {
	st, err := openStore(ctx, cfg)
	if err != nil {
		return false, fmt.Errorf("open store: %w", err)
	}
	defer st.Close()
	hd, ok := st.(interface {
		HasData(ctx context.Context) (bool, error)
	})
	if !ok {
		return true, nil
	}
	return hd.HasData(ctx)
}

// Public is the public API handler.
func (a *App) Public() http.Handler { return a.public }

// Admin is the admin handler.
func (a *App) Admin() http.Handler { return a.admin }

// Close closes the backends.
func (a *App) Close() error {
	a.bus.Close() // first: its handlers use the store
	a.closeC()
	return a.store.Close()
}

// Run serves until ctx ends, then shuts down gracefully.
func (a *App) Run(ctx context.Context) error {
	pubLn, err := net.Listen("tcp", a.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on --addr: %w", err)
	}
	admLn, err := net.Listen("tcp", a.cfg.AdminAddr)
	if err != nil {
		pubLn.Close()
		return fmt.Errorf("listen on --admin-addr: %w", err)
	}
	errLog := slog.NewLogLogger(a.log.Handler(), slog.LevelWarn)
	pub := &http.Server{
		Handler:           a.public,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          errLog,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	adm := &http.Server{Handler: a.admin, ReadHeaderTimeout: 10 * time.Second, ErrorLog: errLog}

	errs := make(chan error, 2)
	go func() {
		if a.cfg.TLSCert != "" {
			pub.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
			errs <- pub.ServeTLS(pubLn, a.cfg.TLSCert, a.cfg.TLSKey)
			return
		}
		errs <- pub.Serve(pubLn)
	}()
	go func() { errs <- adm.Serve(admLn) }()
	waitBackground := a.Background(ctx)
	a.log.Info("camvault serving", "addr", pubLn.Addr().String(), "admin_addr", admLn.Addr().String(), "tls", a.cfg.TLSCert != "")

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errs:
	}
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_ = pub.Shutdown(shutCtx)
	_ = adm.Shutdown(shutCtx)
	waitBackground() // device connections closed, presence written
	if errors.Is(runErr, http.ErrServerClosed) {
		runErr = nil
	}
	return runErr
}

// Background starts the server's background work (sweepers, the device
// gateway) until ctx ends; the returned function waits for it to finish.
func (a *App) Background(ctx context.Context) (wait func()) {
	var wg sync.WaitGroup
	wg.Go(func() { a.sweepSessions(ctx) })
	wg.Go(func() { a.events.RunSweeper(ctx) })
	wg.Go(func() { a.gateway.Run(ctx) })
	wg.Go(func() { a.breaker.Run(ctx) })
	if minAge := a.cfg.orphanMinAge(); minAge > 0 {
		wg.Go(func() { a.events.RunOrphanSweeper(ctx, time.Hour, minAge) })
	}
	return wg.Wait
}

// sweepSessions removes expired and idle sessions now and then; they are
// refused on use anyway, this only keeps the table small.
func (a *App) sweepSessions(ctx context.Context) {
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	for {
		if n, err := a.identity.SweepSessions(ctx); err != nil && ctx.Err() == nil {
			a.log.Warn("sweeping sessions", "err", err)
		} else if n > 0 {
			a.log.Info("swept sessions", "removed", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
