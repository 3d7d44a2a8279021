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
	"github.com/camvault/camvault/internal/blob/disk"
	"github.com/camvault/camvault/internal/breaker"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/events"
	"github.com/camvault/camvault/internal/export"
	"github.com/camvault/camvault/internal/feed"
	"github.com/camvault/camvault/internal/gateway"
	"github.com/camvault/camvault/internal/homes"
	"github.com/camvault/camvault/internal/httpapi"
	"github.com/camvault/camvault/internal/httpmw"
	"github.com/camvault/camvault/internal/identity"
	"github.com/camvault/camvault/internal/keys"
	"github.com/camvault/camvault/internal/lease"
	"github.com/camvault/camvault/internal/live"
	"github.com/camvault/camvault/internal/live/whep"
	"github.com/camvault/camvault/internal/mail"
	"github.com/camvault/camvault/internal/media"
	"github.com/camvault/camvault/internal/metrics"
	"github.com/camvault/camvault/internal/mqttpub"
	"github.com/camvault/camvault/internal/partner"
	"github.com/camvault/camvault/internal/peer"
	"github.com/camvault/camvault/internal/push"
	"github.com/camvault/camvault/internal/store"
	"github.com/camvault/camvault/internal/web"
	"github.com/camvault/camvault/internal/webhook"
)

const databaseFile = "camvault.db"

// App is a camvault server with its backends open, ready to serve.
type App struct {
	cfg      Config
	log      *slog.Logger
	store    store.Store
	metrics  *metrics.Metrics
	identity *identity.Service
	homes    *homes.Service
	events   *events.Service
	gateway  *gateway.Gateway
	live     *live.Service
	feed     *feed.Service
	webhooks *webhook.Service
	push     *push.Service
	mqtt     *mqttpub.Service
	partners *partner.Service
	mail     *mail.Outbox
	breaker  *breaker.Breaker
	deletion deletionParts
	public   http.Handler
	admin    http.Handler

	// closers is what Open opened (the data directory's lock, backends,
	// subscriptions), in order: Close, or Open when it fails, closes them
	// newest first.
	closers []closer

	// ctx is the App's own: what Run and Background start ends when it is
	// cancelled, and wg counts it, so that Close stops and waits for it
	// before closing anything it uses. wg.Add is called only under mu
	// while the App is not closed.
	ctx       context.Context
	cancel    context.CancelFunc
	mu        sync.Mutex
	closed    bool
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// closer closes one thing Open opened.
type closer struct {
	what  string
	close func() error
}

// onClose adds f to what Close closes.
func (a *App) onClose(what string, f func() error) {
	a.closers = append(a.closers, closer{what: what, close: f})
}

// closeAll closes what Open opened, newest first.
func (a *App) closeAll() error {
	var errs []error
	for i := len(a.closers) - 1; i >= 0; i-- {
		if err := a.closers[i].close(); err != nil {
			errs = append(errs, fmt.Errorf("close %s: %w", a.closers[i].what, err))
		}
	}
	a.closers = nil
	return errors.Join(errs...)
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
	Live      live.Config
	Feed      feed.Config
	Webhooks  webhook.Config
	MQTT      mqttpub.Config
	Push      push.Config
	Partner   partner.Config
	// Export tunes the writing of people's exports of their data.
	Export export.Config
	// WebRTC tunes live view's WebRTC sessions; its UDP address comes
	// from Config.WebRTCAddr when it names none.
	WebRTC whep.Config
	// Deadlines bound how slowly a client may send a body or take an
	// answer on the public listener (zero fields: the defaults).
	Deadlines httpmw.Deadlines
	// Lease tunes this node's lease to answer from memory (zero fields:
	// the defaults; docs/design/leases.md).
	Lease lease.Config
	// Mail tunes the outbox (its From comes from Config.SMTPFrom);
	// MailTLS, if set, is the TLS configuration for the relay (tests give
	// their own roots); Security tunes password resets and new-device
	// warnings (its PublicURL comes from Config.PublicURL).
	Mail     mail.Config
	MailTLS  *tls.Config
	Security identity.SecurityConfig
	// DiskSync, if set, wraps every fsync of the blob directory in the
	// data directory (disk.Options.WrapSync): tests see what is durable
	// when.
	DiskSync func(path string, sync func() error) error
}

// liveRoutes gives the live routes and the live page the live service's
// sessions and watchers.
func (a *App) liveRoutes() (httpapi.Live, web.Live) {
	accessLost := func(err error) bool { return errors.Is(err, live.ErrRevoked) }
	ended := func(err error) bool { return errors.Is(err, live.ErrEnded) }
	api := httpapi.Live{
		Watch: func(ctx context.Context, p authz.Principal, deviceID string) (httpapi.LiveSource, error) {
			s, err := a.live.Watch(ctx, p, deviceID)
			if err != nil {
				return nil, err // never a nil *Session in the interface
			}
			return s, nil
		},
		AccessLost: accessLost,
		Ended:      ended,
	}
	page := web.Live{Watchers: func(ctx context.Context, p authz.Principal, deviceID string) ([]web.Watcher, error) {
		ws, err := a.live.Watchers(ctx, p, deviceID)
		if err != nil {
			return nil, err
		}
		out := make([]web.Watcher, len(ws))
		for i, w := range ws {
			out[i] = web.Watcher{AccountID: w.AccountID, Since: w.Since}
		}
		return out, nil
	}}
	return api, page
}

// DefaultOptions are the production settings.
func DefaultOptions() Options {
	return Options{Identity: identity.DefaultConfig(), Homes: homes.DefaultConfig(), Events: events.DefaultConfig(),
		Gateway: gateway.DefaultConfig(), Admission: admission.DefaultConfig(), Breaker: breaker.DefaultConfig(),
		Live: live.DefaultConfig(), Deadlines: httpmw.DefaultDeadlines(), Partner: partner.DefaultConfig()}
}

// Open checks cfg, locks the data directory, loads the keys and opens the
// backends.
func Open(ctx context.Context, cfg Config, opts Options, log *slog.Logger) (_ *App, err error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	if err := checkDataDir(cfg.DataDir, log); err != nil {
		return nil, err
	}
	a := &App{cfg: cfg, log: log, metrics: metrics.New()}
	a.ctx, a.cancel = context.WithCancel(context.WithoutCancel(ctx))
	// What is opened is closed again, newest first, if Open fails later:
	// the same list Close uses.
	defer func() {
		if err != nil {
			a.cancel()
			if cerr := a.closeAll(); cerr != nil {
				log.Warn("closing after a failed start", "err", cerr)
			}
		}
	}()
	// First, before a key file is made or a database opened: two
	// processes on one data directory would each believe they hold its
	// cameras, blobs and key.
	lock, err := lockDataDir(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	a.onClose("data directory lock", lock.release)
	dbPath := filepath.Join(cfg.DataDir, databaseFile)
	kr, err := loadKeys(ctx, cfg, dbPath, log)
	if err != nil {
		return nil, err
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	a.onClose("store", st.Close)
	if retired, err := checkKeys(ctx, st, kr, 0); err != nil {
		return nil, err
	} else if len(retired) > 0 {
		log.Warn("the key file still holds retired master key generations whole; run camvault admin keys retire again to take them out",
			"generations", retired)
	}
	a.breaker = breaker.New(st, opts.Breaker, log, breakerMetrics(a.metrics))
	if err := a.breaker.Sync(ctx); err != nil {
		return nil, fmt.Errorf("cache breaker: %w", err)
	}
	c, closeC, err := openCache(ctx, cfg, opts.Cache, kr, &cacheAlarms{metrics: a.metrics, incidents: st, breaker: a.breaker, log: log, now: time.Now}, log)
	if err != nil {
		return nil, err
	}
	a.onClose("cache", func() error { closeC(); return nil })
	// The bus is opened after the cache and the store so that it closes
	// before them: its Close returns once no handler runs, and handlers
	// use both.
	b, err := openBus(ctx, cfg, log)
	if err != nil {
		return nil, fmt.Errorf("open bus: %w", err)
	}
	a.onClose("bus", b.Close)
	// The lease to answer grants, sessions and events from memory: every
	// committed change of them waits until each node holding a lease has
	// applied it, then is announced to the other nodes.
	ln := lease.New(opts.Lease, st, b, log)
	if err := ln.Start(ctx); err != nil {
		return nil, err
	}
	a.onClose("lease", ln.Close)
	a.metrics.LeaseHeld(ln.Fresh)
	st = authz.AnnounceGrantChanges(st, b, ln, log)
	a.store = st
	if opts.Identity.PublicURL == "" {
		opts.Identity.PublicURL = cfg.publicURL()
	}
	a.identity, err = identity.New(st, kr, opts.Identity)
	if err != nil {
		return nil, err
	}
	a.identity.WithLease(ln, a.breaker.Open)
	if a.mail, err = a.openMail(cfg, opts, st, kr); err != nil {
		return nil, err
	}
	blobs, err := openBlobs(ctx, cfg, disk.Options{Log: log, WrapSync: opts.DiskSync})
	if err != nil {
		return nil, fmt.Errorf("open blob store: %w", err)
	}
	// The media path decides from cached grants (versions checked against
	// the store on every request); managing homes reads the store alone.
	decider := authz.New(st)
	if opts.Homes.PresenceTTL == 0 {
		// A connected camera's last seen is written at least this often.
		opts.Homes.PresenceTTL = opts.Gateway.LastSeenEvery + 3*opts.Gateway.Heartbeat
	}
	admit := admission.New(opts.Admission, func(kind string) { a.metrics.Shed.WithLabelValues(kind).Inc() })
	auditLog := audit.New(st, kr, opts.Events.Now).WithLogger(log)
	a.identity.OnNewDevice(func(ctx context.Context, accountID string) {
		// Best effort: the login itself has succeeded.
		if err := audit.RecordLogin(ctx, auditLog, st, accountID); err != nil {
			log.Warn("recording a login from a new device", "account", accountID, "err", err)
		}
	})
	a.events = events.New(st, blobs, authz.NewCached(st, c, a.breaker.Open).WithLease(ln), kr, auditLog, log, opts.Events).
		WithCache(c, a.breaker.Open).WithLease(ln)
	// Open event streams hear of each new event and each camera going
	// online or offline, on any node, and decide each for their viewer.
	a.feed = feed.New(opts.Feed, feed.Deps{Store: st, Decider: decider, Events: a.events, Bus: b, Log: log})
	// Webhooks: an event's deliveries are stored with it; those of
	// cameras going online or offline once their presence is written.
	a.webhooks = webhook.New(opts.Webhooks, st, decider, kr, log).WithAudit(auditLog)
	// MQTT: each node publishes what happens on it to the homes' brokers.
	a.mqtt = mqttpub.New(opts.MQTT, st, decider, kr, a.events, log).WithAudit(auditLog)
	a.gateway = gateway.New(opts.Gateway, newPresenceNotices(st, a.feed, a.webhooks, a.mqtt), admit, decider, b, log)
	a.metrics.ConnectedDevices(a.gateway.Connected)
	a.metrics.LiveFramesDropped(a.gateway.LiveFramesDropped)
	hs := homes.New(st, decider, kr, a.identity, a.gateway, auditLog, opts.Homes)
	a.homes = hs
	// Push: an event's notifications are stored with it, and decided for
	// each person when sent.
	pushCfg := opts.Push
	if pushCfg.Subscriber == "" && cfg.PublicURL != "" {
		pushCfg.Subscriber = cfg.PublicURL
	}
	a.push = push.New(pushCfg, st, a.events, hs, kr, log)
	// The VAPID key is made now, not at the first subscription: it is a
	// secret of the data like the others, and a key rotation reseals it.
	if _, err := a.push.VAPID(ctx); err != nil {
		return nil, err
	}
	a.events.WithAnnouncer(announcers{a.feed, a.webhooks, a.mqtt, a.push})
	a.deletion = a.openDeletion(st, blobs, kr, decider, auditLog, ln, opts, log)
	auditReader := audit.NewReader(auditLog, decider, a.identity).WithPartners(st)
	guard := media.NewGuard(auditLog, st, blockedAlarm{a.metrics.EgressBlocked, a.breaker}, log, opts.Events.Now)
	// Live view: the relay of the cameras streaming on this node takes
	// their frames from the gateway; sessions decide from the store.
	a.live = live.New(opts.Live, live.Deps{Store: st, Bus: b, Cache: c, Bypass: a.breaker.Open, Streams: a.gateway,
		Decider: decider, Guard: guard, Audit: auditLog, Keys: kr, Log: log, Now: opts.Events.Now})
	a.gateway.SetLiveSink(a.live)
	liveAPI, livePage := a.liveRoutes()
	wcfg := opts.WebRTC
	if wcfg.UDPAddr == "" {
		wcfg.UDPAddr = cfg.webRTCAddr()
	}
	wcfg.AccessLost, wcfg.Ended, wcfg.Log = liveAPI.AccessLost, liveAPI.Ended, log
	if liveAPI.WHEP, err = whep.New(wcfg); err != nil {
		return nil, err
	}
	a.onClose("WebRTC live sessions", liveAPI.WHEP.Close)
	// Partners: their links are read from the store on every request; an
	// unlink or a disabled partner is announced like a grant change.
	a.partners = partner.New(st, decider, opts.Partner, log).WithAudit(auditLog)
	oauth, err := partner.NewOAuth(a.partners)
	if err != nil {
		return nil, err
	}
	apiHandler := httpapi.New(httpapi.Deps{
		Identity: a.identity, Homes: hs, Events: a.events, Audit: auditReader, Guard: guard, Gateway: a.gateway, Admit: admit,
		Metrics: a.metrics, Live: liveAPI, Partners: a.partners, Feed: a.feed, Webhooks: a.webhooks, MQTT: a.mqtt, Push: a.push, Log: log, OpenAPI: api.OpenAPI(),
		Deletion: a.deletion.deletion, Exports: a.deletion.exports,
	}).Handler()
	webApp, err := web.New(web.Deps{Identity: a.identity, Homes: hs, Events: a.events, Audit: auditReader,
		Live: livePage, Commands: a.gateway, Partners: oauth, Webhooks: a.webhooks, MQTT: a.mqtt, Push: a.push, Log: log,
		Deletion: a.deletion.deletion, Exports: a.deletion.exports})
	if err != nil {
		return nil, err
	}
	// /api/... as before, the OAuth routes, the browser app everywhere
	// else, all behind one chain: request ID, base headers, panic
	// recovery, access log, metrics; in front of it the client's address
	// and scheme (through trusted proxies) and the deadlines.
	proxies, err := peer.ParseProxies(cfg.TrustedProxies)
	if err != nil {
		return nil, fmt.Errorf("--trusted-proxy: %w", err)
	}
	a.public = proxies.Trusted(opts.Deadlines.Wrap(httpmw.New(log, a.metrics).Handler(oauth.Handler(web.Mount(apiHandler, webApp)))))
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
	grants, err := authz.DropOnNotice(ctx, b, c, st, log)
	if err != nil {
		return nil, err
	}
	a.onClose("grant notices", grants.Unsubscribe)
	return a, nil
}

// checkDataDir refuses a data directory every user may write to (anyone
// could replace its database or key file) and warns about one its group
// may write to.
func checkDataDir(dir string, log *slog.Logger) error {
	st, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("no data directory here: %s does not exist (give --data the directory camvault serve uses)", dir)
	}
	if err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("data directory %s is not a directory", dir)
	}
	mode := st.Mode().Perm()
	if mode&0o002 != 0 {
		return fmt.Errorf("data directory %s may be written by every user (mode %v): anyone could replace its database or key file; chmod 700 %s", dir, mode, dir)
	}
	if mode&0o020 != 0 && log != nil {
		log.Warn("the data directory may be written by its group; chmod 700 it unless that is meant", "data", dir, "mode", mode.String())
	}
	return nil
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

// Close stops what Run and Background started, as when their context
// ends, waits for it, then closes what Open opened, newest first: the
// grant notices' subscription, the bus, the cache, the store, and last the
// data directory's lock. It may be called more than once.
func (a *App) Close() error {
	a.closeOnce.Do(func() {
		a.mu.Lock()
		a.closed = true
		a.mu.Unlock()
		a.cancel()
		a.wg.Wait()
		a.closeErr = a.closeAll()
	})
	return a.closeErr
}

// start counts work the App starts as its own, unless it is closed.
func (a *App) start() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return false
	}
	a.wg.Add(1)
	return true
}

// bound returns a context that ends with ctx or when the App closes.
func (a *App) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(a.ctx, cancel)
	return ctx, func() { stop(); cancel() }
}

// shutdownTimeout bounds how long requests in progress are given to finish
// when the server stops; the device gateway has its own deadline
// (gateway.Config.CloseTimeout), running at the same time.
const shutdownTimeout = 10 * time.Second

// Run serves until ctx ends (or Close is called), then shuts down in order:
// the listeners stop accepting and the requests in progress finish; the
// background work is cancelled and the device gateway closes its
// connections, waits for their readers and writes their presence (see
// gateway.Gateway.Run); Run returns when all of it has ended, and Close
// then closes the backends.
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
	return a.Serve(ctx, pubLn, admLn)
}

// Serve is Run on listeners the caller opened (on the configured
// addresses): one that picks its ports, as the demo does, knows they are
// its own before it talks to them.
func (a *App) Serve(ctx context.Context, pubLn, admLn net.Listener) error {
	if !a.start() {
		pubLn.Close()
		admLn.Close()
		return errors.New("server: run after close")
	}
	defer a.wg.Done()
	ctx, stop := a.bound(ctx)
	defer stop()
	errLog := slog.NewLogLogger(a.log.Handler(), slog.LevelWarn)
	// Requests in progress when the server stops are given until the
	// shutdown deadline to finish, so their context ends only then.
	reqCtx, cutRequests := context.WithCancel(context.WithoutCancel(ctx))
	defer cutRequests()
	// They are counted too, so that shutting down waits for those the HTTP
	// server gave up on at its deadline before the backends close.
	var reqs requests
	pub := &http.Server{
		Handler:           reqs.wrap(a.public),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          errLog,
		BaseContext:       func(net.Listener) context.Context { return reqCtx },
	}
	adm := &http.Server{Handler: reqs.wrap(a.admin), ReadHeaderTimeout: 10 * time.Second, ErrorLog: errLog}

	var serving sync.WaitGroup
	errs := make(chan error, 2)
	serving.Go(func() {
		if a.cfg.TLSCert != "" {
			pub.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
			errs <- pub.ServeTLS(pubLn, a.cfg.TLSCert, a.cfg.TLSKey)
			return
		}
		errs <- pub.Serve(pubLn)
	})
	serving.Go(func() { errs <- adm.Serve(admLn) })
	bgCtx, stopBackground := context.WithCancel(ctx)
	defer stopBackground()
	waitBackground := a.Background(bgCtx)
	a.log.Info("camvault serving", "addr", pubLn.Addr().String(), "admin_addr", admLn.Addr().String(), "tls", a.cfg.TLSCert != "")

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errs:
	}
	a.log.Info("camvault stopping")
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	// Stop accepting: Shutdown closes the listeners at once, then waits
	// for the requests in progress.
	var stopping sync.WaitGroup
	for _, srv := range []*http.Server{pub, adm} {
		stopping.Go(func() {
			if err := srv.Shutdown(shutCtx); err != nil {
				a.log.Warn("requests still running at the shutdown deadline; cutting them", "err", err)
				cutRequests()
				srv.Close()
			}
		})
	}
	// Cancel: the sweepers stop and the gateway closes the cameras'
	// connections, in parallel with the requests finishing.
	stopBackground()
	stopping.Wait()
	serving.Wait()
	cutRequests()
	wctx, cancelWait := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancelWait()
	if err := reqs.wait(wctx); err != nil {
		a.log.Error("requests still running after their connections were cut; the backends close under them", "err", err)
	}
	waitBackground() // device connections closed, presence written
	if errors.Is(runErr, http.ErrServerClosed) {
		runErr = nil
	}
	return runErr
}

// Background starts the server's background work (sweepers, the device
// gateway) until ctx ends or the App closes; the returned function waits
// for it to finish.
func (a *App) Background(ctx context.Context) (wait func()) {
	if !a.start() {
		return func() {}
	}
	ctx, stop := a.bound(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { a.sweepSessions(ctx) })
	wg.Go(func() { a.events.RunSweeper(ctx) })
	wg.Go(func() { a.gateway.Run(ctx) })
	wg.Go(func() { a.live.Run(ctx) })
	wg.Go(func() { a.feed.Run(ctx) })
	wg.Go(func() { a.webhooks.Run(ctx) })
	wg.Go(func() { a.mqtt.Run(ctx) })
	wg.Go(func() { a.push.Run(ctx) })
	wg.Go(func() { a.breaker.Run(ctx) })
	wg.Go(func() { a.runMail(ctx) })
	wg.Go(func() { a.deletion.remover.Run(ctx) })
	wg.Go(func() { a.deletion.exports.Run(ctx) })
	if minAge := a.cfg.orphanMinAge(); minAge > 0 {
		wg.Go(func() { a.events.RunOrphanSweeper(ctx, time.Hour, minAge) })
	}
	done := make(chan struct{})
	go func() { // counted in a.wg: Close waits for the background work too
		defer a.wg.Done()
		wg.Wait()
		stop()
		close(done)
	}()
	return func() { <-done }
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
		if n, err := a.homes.SweepInvitations(ctx); err != nil && ctx.Err() == nil {
			a.log.Warn("sweeping invitations", "err", err)
		} else if n > 0 {
			a.log.Info("swept expired invitations", "removed", n)
		}
		if n, err := a.partners.SweepExpired(ctx); err != nil && ctx.Err() == nil {
			a.log.Warn("sweeping partner requests and tokens", "err", err)
		} else if n > 0 {
			a.log.Info("swept partner requests and tokens", "removed", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// presenceNotices is the gateway's store: once presence changes are
// written, the cameras that went online or offline on this node since it
// last told are told to open event streams, webhooks and MQTT brokers. A camera that
// stays online (its last seen moving) is not news. The map holds only the
// cameras online here.
type presenceNotices struct {
	gateway.Store
	feed     *feed.Service
	webhooks *webhook.Service
	mqtt     *mqttpub.Service
	mu       sync.Mutex
	online   map[string]bool
}

func newPresenceNotices(s gateway.Store, f *feed.Service, w *webhook.Service, m *mqttpub.Service) *presenceNotices {
	return &presenceNotices{Store: s, feed: f, webhooks: w, mqtt: m, online: map[string]bool{}}
}

func (p *presenceNotices) SetPresence(ctx context.Context, updates []domain.Presence) error {
	if err := p.Store.SetPresence(ctx, updates); err != nil {
		return err
	}
	var changed []domain.Presence
	p.mu.Lock()
	for _, u := range updates {
		if u.HomeID == "" || p.online[u.DeviceID] == u.Online {
			continue
		}
		if u.Online {
			p.online[u.DeviceID] = true
		} else {
			delete(p.online, u.DeviceID)
		}
		changed = append(changed, u)
	}
	p.mu.Unlock()
	if len(changed) > 0 {
		p.feed.PresenceChanged(ctx, changed)
		p.webhooks.PresenceChanged(ctx, changed)
		p.mqtt.PresenceChanged(ctx, changed)
	}
	return nil
}

// announcers tells each of its members of every new event.
type announcers []events.Announcer

func (as announcers) EventCreated(ctx context.Context, homeID, eventID string) {
	for _, a := range as {
		a.EventCreated(ctx, homeID, eventID)
	}
}
