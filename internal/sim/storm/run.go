package storm

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/camvault/camvault/internal/deviceclient"
	"github.com/camvault/camvault/internal/sim/camera"
	"github.com/camvault/camvault/internal/sim/partnerlink"
)

// runner is one storm in progress.
type runner struct {
	cfg  Config
	log  *slog.Logger
	c    counters
	vc   viewerCounters
	lc   liveCounters
	pc   partnerCounters
	res  Result
	dir  string
	srv  *cluster // nil against a target
	prox []*faultProxy

	serverBase string   // the server (or the nodes' balancer), directly: setup and the final listing
	clientBase string   // what viewers talk to: the server, the balancer, or the proxy in front
	cameraURLs []string // what cameras talk to: every node, each directly or through its proxy

	setupAPI    api
	accts       []*account
	viewers     []*viewer
	liveViewers []*liveViewer
	displays    []*display
	partners    [2]partnerlink.Partner
	displayBase string        // what displays talk to: their own fault proxy in front of the server
	hostile     *hostile      // --hostile: the household that attacks
	alerts      *alerts       // the households' webhook receiver (nil against a target)
	mqtt        *mqttReceiver // the households' MQTT broker's reader (nil without --mqtt)
	pushes      *pushes       // the households' browsers and their push service (nil against a target)
	others      *others       // --hostile: the other households measured
	hwatch      *hostileWatch // the servers while the attack is measured; under mu
	cams        []*camera.Camera
	fleet       *camera.Fleet
	ledger      *ledger
	key         []byte
	started     time.Time // the cameras started: t=0 of the timeline
	goBefore    goMemory  // the server's Go memory before any camera connected

	mu       sync.Mutex
	timeline []Sample
	phases   []PhaseMark
	phase    string
}

// Run runs a storm and returns its result. The error is for a storm that
// could not run; a storm that ran and found a leak, a loss or a duplicate
// returns a Result with OK false (and writes its files) and a nil error.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	r := &runner{cfg: cfg, log: cfg.Log}
	r.res = Result{Cameras: cfg.Cameras, Viewers: cfg.Viewers, Accounts: cfg.Accounts, Target: cfg.Target,
		NetFaults: cfg.Faults.String(), CacheFaults: cfg.CacheFaults, WarmupSeconds: cfg.Warmup.Seconds(), EventIntervalSecs: cfg.EventInterval.Seconds()}
	switch {
	case cfg.KillNode:
		r.res.KillNode = true
	case cfg.Target == "":
		r.res.OutageSeconds = cfg.Outage.Seconds()
	}
	if err := raiseFDLimit(cfg.fdsNeeded()); err != nil {
		return nil, err
	}
	if err := r.prepareDir(); err != nil {
		return nil, err
	}
	begun := time.Now()
	err := r.run(ctx)
	r.res.DurationSeconds = time.Since(begun).Seconds()
	r.shutdown()
	if err != nil {
		if r.srv != nil {
			err = fmt.Errorf("%w\n%s", err, r.srv.logTails(15))
		}
		r.log.Error("storm failed; its directory is kept", "dir", r.dir)
		return nil, err
	}
	r.res.check()
	if err := r.writeFiles(); err != nil {
		return &r.res, err
	}
	if r.dir != "" && r.cfg.Dir == "" && !r.cfg.Keep && r.res.OK {
		if err := os.RemoveAll(r.dir); err != nil {
			r.log.Warn("could not remove the run directory", "dir", r.dir, "err", err)
		}
	} else if r.dir != "" {
		r.log.Info("run directory kept", "dir", r.dir)
	}
	return &r.res, nil
}

// fdsNeeded estimates the file descriptors this process needs: a socket
// per camera connection, per upload worker and per viewer, three with the
// proxy in between (client end, proxy end, upstream).
func (c *Config) fdsNeeded() uint64 {
	per := uint64(1)
	if c.Faults.Enabled() {
		per += 2 // the proxy's two ends
	}
	n := uint64(c.Cameras + c.UploadWorkers + 3*c.Viewers + 2*c.LiveViewers + 6*c.PartnerDisplays + c.MaxDials)
	if c.Hostile {
		n += 2*hostileConns + 2*loginProbes + 16
	}
	if c.Nodes > 1 {
		n += 2 * uint64(3*c.Viewers+2*c.LiveViewers+8) // viewers also through the balancer
	}
	return per*n + 512
}

func (r *runner) prepareDir() error {
	if r.cfg.Target != "" && r.cfg.Dir == "" {
		return nil
	}
	if r.cfg.Dir != "" {
		if err := os.MkdirAll(r.cfg.Dir, 0o700); err != nil {
			return fmt.Errorf("storm directory: %w", err)
		}
		r.dir = r.cfg.Dir
		return nil
	}
	dir, err := os.MkdirTemp("", "camvault-storm-")
	if err != nil {
		return fmt.Errorf("storm directory: %w", err)
	}
	r.dir = dir
	return nil
}

func (r *runner) writeFiles() error {
	var errs []error
	if r.cfg.JSONPath != "" {
		errs = append(errs, r.res.WriteJSON(r.cfg.JSONPath))
	}
	if r.cfg.ReportPath != "" {
		errs = append(errs, r.res.WriteHTML(r.cfg.ReportPath))
	}
	return errors.Join(errs...)
}

// mark records the start of a phase.
func (r *runner) mark(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.phase = name
	t := 0.0
	if !r.started.IsZero() {
		t = time.Since(r.started).Seconds()
	}
	r.phases = append(r.phases, PhaseMark{Name: name, T: t})
	r.log.Info("storm phase", "phase", name, "t", fmt.Sprintf("%.1fs", t))
}

func (r *runner) run(ctx context.Context) error {
	if err := r.startServer(ctx); err != nil {
		return err
	}
	setupClient := &http.Client{Transport: newAPITransport(32), Timeout: time.Minute}
	r.setupAPI = api{client: setupClient, base: r.serverBase}
	err := r.setup(ctx)
	if r.alerts != nil {
		defer r.alerts.close()
	}
	if r.mqtt != nil {
		defer r.mqtt.close()
	}
	if r.pushes != nil {
		defer r.pushes.close()
	}
	if err != nil {
		return err
	}
	if err := r.clientPaths(); err != nil {
		return err
	}
	if r.cfg.CacheFaults != "" {
		r.log.Info("cache faults on in every node", "faults", r.cfg.CacheFaults)
	}
	if err := r.newFleet(); err != nil {
		return err
	}
	if r.cfg.PartnerDisplays > 0 {
		var err error
		if r.partners, err = r.registerPartners(ctx); err != nil {
			return err
		}
		apiClient := &http.Client{Transport: newAPITransport(2*r.cfg.PartnerDisplays + 8)}
		if err := r.linkDisplays(ctx, r.partners, apiClient, &http.Client{Transport: newWSTransport()}, r.displayBase); err != nil {
			return err
		}
		r.log.Info("partner displays linked", "displays", len(r.displays))
	}

	// The server's memory before any camera connects, in a fresh process:
	// setup (argon2 above all) leaves garbage on the heap that connections
	// would reuse, hiding what they cost.
	if r.srv != nil {
		if err := r.srv.stop(30 * time.Second); err != nil {
			return err
		}
		if err := r.srv.start(ctx); err != nil {
			return err
		}
		if err := sleep(ctx, time.Second); err != nil {
			return err
		}
		r.res.ServerRSSBefore = r.srv.rss()
		before, err := r.srv.goMemory(ctx)
		if err != nil {
			r.log.Warn("reading the server's Go memory", "err", err)
		}
		r.goBefore = before
	}

	fleetCtx, stopFleet := context.WithCancel(context.WithoutCancel(ctx))
	defer stopFleet()
	fleetDone := make(chan error, 1)
	r.started = time.Now()
	r.mark("connect")
	go func() { fleetDone <- r.fleet.Run(fleetCtx) }()
	monCtx, stopMonitor := context.WithCancel(ctx)
	var monitor sync.WaitGroup
	monitor.Go(func() { r.monitor(monCtx) })
	defer func() {
		stopMonitor()
		monitor.Wait()
	}()

	if err := r.measureIdle(ctx, fleetDone); err != nil {
		return err
	}

	// Steady state: events, and viewers.
	r.mark("warmup")
	stopGenerating := r.startGenerating(ctx)
	defer func() { stopGenerating() }() // the latest round's generator, on every return
	viewCtx, stopViewers := context.WithCancel(ctx)
	defer stopViewers()
	var views sync.WaitGroup
	// Each viewer also keeps its event stream open, as an open timeline
	// does, on connections of its own (a stream holds one for its life).
	streams := &http.Client{Transport: counting{next: newAPITransport(r.cfg.Viewers + 2), c: &r.c}}
	for _, v := range r.viewers {
		views.Go(func() { v.run(viewCtx) })
		views.Go(func() { v.watch(viewCtx, streams) })
	}
	for _, v := range r.liveViewers {
		views.Go(func() { v.run(viewCtx) })
	}
	for _, d := range r.displays {
		views.Go(func() { d.run(viewCtx) })
	}
	stopWatch := func() {}
	if r.hostile != nil {
		stopWatch = r.startHostile(viewCtx, &views)
	}
	if len(r.displays) > 0 {
		// Mid-run, before the outage: links stopped while the displays
		// watch.
		views.Go(func() {
			if sleep(viewCtx, r.cfg.Warmup/2) == nil {
				r.stopLinks(viewCtx)
			}
		})
	}
	if err := sleep(ctx, r.cfg.Warmup); err != nil {
		return err
	}
	stopWatch()

	if r.srv != nil && r.cfg.KillNode {
		if err := r.killNode(ctx, stopGenerating); err != nil {
			return err
		}
	} else if err := r.outageOrDrain(ctx, stopGenerating); err != nil {
		return err
	}
	// A soak goes round again, warm-up and outage, until the viewers have
	// checked enough media.
	for r.cfg.SoakMedia > 0 && r.mediaChecked() < r.cfg.SoakMedia && !r.res.TimedOut {
		r.res.SoakRounds++
		r.log.Info("soak: another round", "round", r.res.SoakRounds+1, "media_checked", r.mediaChecked(), "goal", r.cfg.SoakMedia)
		r.mark("warmup")
		stopGenerating = r.startGenerating(ctx)
		if err := sleep(ctx, r.cfg.Warmup); err != nil {
			return err
		}
		if err := r.outageOrDrain(ctx, stopGenerating); err != nil {
			return err
		}
	}

	stopViewers()
	views.Wait()
	// The cameras stop before the final listing, so the acknowledgements
	// are final when they are compared with it. Only after a timeout can
	// an upload be cut off here; it then counts as lost (and, if the
	// server had stored it, as a duplicate too).
	r.mark("verify")
	stopFleet()
	select {
	case err := <-fleetDone:
		if err != nil {
			r.log.Warn("the cameras stopped with an error", "err", err)
		}
	case <-time.After(time.Minute):
		return errors.New("the cameras did not stop within a minute")
	}
	stopMonitor()
	monitor.Wait()
	if err := r.verify(ctx); err != nil {
		return err
	}
	r.collect()
	return nil
}

// startServer starts the server, or checks the target.
func (r *runner) startServer(ctx context.Context) error {
	if r.cfg.Target != "" {
		r.serverBase = strings.TrimRight(r.cfg.Target, "/")
		r.clientBase = r.serverBase
		client := &http.Client{Timeout: 10 * time.Second}
		return retry(ctx, 3, func() error {
			return api{client: client, base: r.serverBase}.do(ctx, "GET", "/api/v1/openapi.json", "", nil, nil, http.StatusOK)
		})
	}
	cl, err := newCluster(&r.cfg, r.dir)
	if err != nil {
		return err
	}
	r.srv = cl
	if err := r.srv.start(ctx); err != nil {
		return err
	}
	r.serverBase = "http://" + r.srv.addr()
	r.clientBase = r.serverBase
	r.log.Info("server started", "addr", r.srv.addr(), "nodes", len(r.srv.nodes), "dir", r.dir)
	return nil
}

// setup creates the accounts, pairs the cameras and logs the viewers in.
func (r *runner) setup(ctx context.Context) error {
	t := time.Now()
	defer func() { r.res.SetupSeconds = time.Since(t).Seconds() }()
	var accounts, cameras, viewers atomic.Int64
	if r.cfg.Progress != nil {
		pctx, stop := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Go(func() {
			tick := time.NewTicker(500 * time.Millisecond)
			defer tick.Stop()
			for {
				fmt.Fprintf(r.cfg.Progress, "\r\x1b[Ksetup    %5.0fs  accounts %d/%d  cameras paired %d/%d  viewers %d/%d",
					time.Since(t).Seconds(), accounts.Load(), r.cfg.Accounts, cameras.Load(), r.cfg.Cameras, viewers.Load(), r.cfg.Viewers)
				select {
				case <-pctx.Done():
					fmt.Fprintln(r.cfg.Progress)
					return
				case <-tick.C:
				}
			}
		})
		defer func() {
			stop()
			wg.Wait()
		}()
	}
	signup := func(int) api { return r.setupAPI }
	if r.srv != nil {
		signup = func(i int) api {
			return api{client: &http.Client{Transport: transportFrom(householdAddr(i), 1), Timeout: time.Minute}, base: "http://" + r.srv.nodes[0].addr}
		}
	}
	var err error
	if r.accts, err = setupAccounts(ctx, r.setupAPI, signup, r.cfg.Accounts, &accounts); err != nil {
		return err
	}
	if err := pairCameras(ctx, r.setupAPI, r.accts, r.cfg.Cameras, &cameras); err != nil {
		return err
	}
	if r.srv != nil {
		// Every household's webhook, on the storm's receiver (the server
		// runs with --allow-private-targets to reach it on loopback).
		if r.alerts, err = newAlerts(r.accts); err != nil {
			return err
		}
		if err := r.alerts.register(ctx, r.setupAPI); err != nil {
			return err
		}
		// Every household's owner turns notifications on in a browser whose
		// push service is the storm's.
		if r.pushes, err = newPushes(r.accts); err != nil {
			return err
		}
		if err := r.pushes.register(ctx, r.setupAPI); err != nil {
			return err
		}
		if r.cfg.MQTT != "" {
			if r.mqtt, err = newMQTTReceiver(r.cfg.MQTT, r.accts); err != nil {
				return err
			}
			if err := r.mqtt.register(ctx, r.setupAPI); err != nil {
				return err
			}
		}
	}
	r.log.Info("accounts and cameras ready", "accounts", len(r.accts), "cameras", r.cfg.Cameras, "took", time.Since(t).Round(time.Millisecond))
	if r.key, err = newKey(); err != nil {
		return err
	}
	if r.mqtt != nil {
		r.mqtt.key.Store(r.key)
	}
	if r.cfg.Hostile {
		targets := make([]string, len(r.srv.nodes))
		for i, n := range r.srv.nodes {
			targets[i] = "http://" + n.addr
		}
		if r.hostile, err = newHostile(targets, r.key, r.log); err != nil {
			return err
		}
		if err := r.hostile.setup(ctx); err != nil {
			return err
		}
		for _, ac := range r.accts[:min(loginProbes, len(r.accts))] {
			r.hostile.victims = append(r.hostile.victims, ac.email)
		}
		r.others = &others{}
		r.c.others = r.others
	}
	r.viewers = make([]*viewer, r.cfg.Viewers)
	return parallel(ctx, r.cfg.Viewers, 4, func(ctx context.Context, i int) error {
		ac := r.accts[i%len(r.accts)]
		tok, err := login(ctx, r.setupAPI, ac)
		if err != nil {
			return fmt.Errorf("viewer %d: %w", i, err)
		}
		r.viewers[i] = &viewer{index: i, ac: ac, token: tok, key: r.key, every: r.cfg.ViewerEvery,
			perRun: r.cfg.ViewerMedia, c: &r.vc, others: r.others, log: r.log}
		viewers.Add(1)
		return nil
	})
}

func newKey() ([]byte, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("watermark key: %w", err)
	}
	return key, nil
}

// newFleet makes the cameras, and points the viewers at the same
// transport.
func (r *runner) newFleet() error {
	apiTransport := newAPITransport(r.cfg.UploadWorkers + 2*r.cfg.Viewers + 8)
	apiClient := &http.Client{Transport: counting{next: apiTransport, c: &r.c}}
	wsClient := &http.Client{Transport: counting{next: newWSTransport(), c: &r.c}}
	viewerClient := &http.Client{Transport: counting{next: apiTransport, c: &r.c}, Timeout: time.Minute}
	for _, v := range r.viewers {
		v.client, v.base = viewerClient, r.clientBase
	}
	// Live streams are dialled apart from the cameras' counting transport:
	// its upgrades are the cameras' admitted connections.
	r.newLiveViewers(r.cfg.LiveViewers, viewerClient, &http.Client{Transport: newWSTransport()}, r.clientBase)
	var ids []string
	for _, ac := range r.accts {
		for _, c := range ac.creds {
			ids = append(ids, c.DeviceID)
		}
	}
	r.ledger = newLedger(ids)
	camLevel := slog.LevelWarn
	if r.cfg.CameraLogLevel != nil {
		camLevel = *r.cfg.CameraLogLevel
	}
	renderer, err := camera.NewRenderer(camera.DefaultQuality)
	if err != nil {
		return fmt.Errorf("camera renderer: %w", err)
	}
	r.fleet, err = camera.NewFleet(camera.Config{
		Server:       r.cameraURLs[0],
		MoreServers:  r.cameraURLs[1:],
		WatermarkKey: r.key,
		// Storm makes the events itself (generate), so it can hold them
		// back while it measures idle connections; the fleet's own timer
		// would first fire in about a century.
		EventInterval: 100 * 365 * 24 * time.Hour,
		EventJitter:   -1,
		QueueSize:     r.cfg.QueueSize,
		Backoff:       deviceclient.Backoff{Cap: r.cfg.BackoffCap},
		UploadWorkers: r.cfg.UploadWorkers,
		MaxDials:      r.cfg.MaxDials,
		HTTPClient:    apiClient,
		WSClient:      wsClient,
		Renderer:      renderer,
		Log:           slog.New(minLevel{Handler: r.log.Handler(), min: camLevel}),
		OnAck:         r.ledger.onAck,
	})
	if err != nil {
		return fmt.Errorf("camera fleet: %w", err)
	}
	// Cameras in creation order: camera i is in account i mod accounts.
	perAcct := make([]int, len(r.accts))
	for i := range r.cfg.Cameras {
		ai := i % len(r.accts)
		ac := r.accts[ai]
		cam, err := r.fleet.Add(ac.names[perAcct[ai]], ac.creds[perAcct[ai]])
		if err != nil {
			return fmt.Errorf("camera fleet: %w", err)
		}
		perAcct[ai]++
		r.cams = append(r.cams, cam)
	}
	return nil
}

// measureIdle waits for every camera to connect, then takes the server's
// memory: the difference from before, per camera, is what an idle
// connection costs.
func (r *runner) measureIdle(ctx context.Context, fleetDone <-chan error) error {
	deadline := time.Now().Add(time.Minute + time.Duration(r.cfg.Cameras)*time.Millisecond*2)
	for r.online() < int64(len(r.cams)) {
		select {
		case err := <-fleetDone:
			return fmt.Errorf("the cameras stopped before they all connected: %w", err)
		default:
		}
		if time.Now().After(deadline) {
			r.log.Warn("not every camera connected; idle connection memory not measured", "online", r.online(), "cameras", len(r.cams))
			return nil
		}
		if err := sleep(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
	r.log.Info("every camera connected", "took", time.Since(r.started).Round(time.Millisecond))
	if r.srv == nil {
		return nil
	}
	if err := sleep(ctx, time.Second); err != nil {
		return err
	}
	r.res.ServerRSSIdle = r.srv.rss()
	n := int64(len(r.cams))
	if r.res.ServerRSSBefore > 0 && r.res.ServerRSSIdle > 0 {
		r.res.IdleConnBytes = (r.res.ServerRSSIdle - r.res.ServerRSSBefore) / n
	}
	// The same difference as the Go runtime sees it: live heap spans and
	// goroutine stacks per connection. RSS also holds the garbage the
	// collector has not yet reclaimed (with GOGC=100, up to as much again).
	if idle, err := r.srv.goMemory(ctx); err != nil {
		r.log.Warn("reading the server's Go memory", "err", err)
	} else if r.goBefore.HeapInuse > 0 {
		r.res.IdleConnHeapBytes = (idle.HeapInuse - r.goBefore.HeapInuse) / n
		r.res.IdleConnStackBytes = (idle.StackInuse - r.goBefore.StackInuse) / n
		r.res.IdleConnGoroutines = float64(idle.Goroutines-r.goBefore.Goroutines) / float64(n)
	}
	return nil
}

func (r *runner) online() int64 {
	var n int64
	for _, c := range r.cams {
		if c.Stats().Online.Load() {
			n++
		}
	}
	return n
}

// startGenerating has every camera record events until the returned
// function is called; it waits for the generator to stop.
func (r *runner) startGenerating(ctx context.Context) (stop func()) {
	genCtx, cancel := context.WithCancel(ctx)
	var gen sync.WaitGroup
	gen.Go(func() { generate(genCtx, r.cams, r.cfg.EventInterval) })
	return func() {
		cancel()
		gen.Wait()
	}
}

// outageOrDrain ends a round: with an outage, the server killed and
// restarted and every camera back; without one, the cameras stop
// recording. Either way every event is then acknowledged.
func (r *runner) outageOrDrain(ctx context.Context, stopGenerating func()) error {
	if r.srv != nil && r.cfg.Outage > 0 {
		return r.outage(ctx, stopGenerating)
	}
	stopGenerating()
	r.mark("drain")
	return r.waitDrained(ctx, time.Now().Add(r.cfg.Timeout))
}

// mediaChecked counts the media responses whose every frame a client
// has checked: viewers' thumbnails and clips, live frames, partner
// displays' stills and frames.
func (r *runner) mediaChecked() int64 {
	return r.vc.mediaResponses.Load() + r.lc.frames.Load() + r.pc.media.Load()
}

// outage kills the server, waits, restarts it, and waits for every camera
// to come back (then stops generating events) and for every event to be
// acknowledged.
func (r *runner) outage(ctx context.Context, stopGenerating func()) error {
	r.mark("outage")
	if err := r.srv.kill(); err != nil {
		return err
	}
	if err := sleep(ctx, r.cfg.Outage); err != nil {
		return err
	}
	restart := time.Now()
	r.mark("recovery")
	if err := r.srv.start(ctx); err != nil {
		return err
	}
	r.res.RestartReadySecs = time.Since(restart).Seconds()
	return r.recover(ctx, restart, func(*camera.Camera) bool { return true }, stopGenerating)
}

// killNode kills one node of several with SIGKILL; it stays down. The
// cameras it held lose their connection at once (the kernel closes the
// dead node's sockets), find it refusing connections and move to their
// next address; the others' cameras are not disturbed.
func (r *runner) killNode(ctx context.Context, stopGenerating func()) error {
	r.mark("kill-node")
	killed := time.Now()
	if err := r.srv.nodes[0].kill(); err != nil {
		return err
	}
	since := killed.UnixNano()
	moved := func(c *camera.Camera) bool {
		st := c.Stats()
		return st.LastDisconnect.Load() >= since || st.LastConnect.Load() >= since
	}
	// A camera learns its node is gone within moments on loopback; give
	// every one of them that long to notice before counting who moved.
	if err := sleep(ctx, 2*time.Second); err != nil {
		return err
	}
	r.mark("recovery")
	err := r.recover(ctx, killed, moved, stopGenerating)
	for _, c := range r.cams {
		if moved(c) {
			r.res.CamerasMoved++
		}
	}
	return err
}

// recover waits, from the moment t, for every camera that counts (all of
// them after an outage; those of the killed node after a node is killed)
// to connect again, then stops the events and waits for every one to be
// acknowledged, and records the reconnect times.
func (r *runner) recover(ctx context.Context, t time.Time, counts func(*camera.Camera) bool, stopGenerating func()) error {
	deadline := t.Add(r.cfg.Timeout)
	since := t.UnixNano()
	back := make([]float64, len(r.cams)) // seconds from t; 0: not (yet) back
	generating := true
	for {
		nBack, nCount := 0, 0
		for i, c := range r.cams {
			if !counts(c) {
				continue
			}
			nCount++
			if back[i] == 0 {
				if lc := c.Stats().LastConnect.Load(); lc >= since {
					back[i] = max(float64(lc-since)/1e9, 1e-9)
				}
			}
			if back[i] > 0 {
				nBack++
			}
		}
		if generating && nBack == nCount {
			stopGenerating()
			generating = false
			r.mark("drain")
		}
		if !generating && r.drained() {
			break
		}
		if time.Now().After(deadline) {
			r.res.TimedOut = true
			r.log.Warn("timed out", "cameras_back", nBack, "cameras_expected_back", nCount, "cameras", len(r.cams))
			r.logNotBack(back, counts, since)
			break
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
	if generating {
		stopGenerating()
	}
	r.res.RecoverySeconds = time.Since(t).Seconds()
	var vals []float64
	notBack := 0
	for i, c := range r.cams {
		switch {
		case back[i] > 0:
			vals = append(vals, back[i])
		case counts(c):
			notBack++
		}
	}
	r.res.CamerasNotBack = notBack
	r.res.ReconnectSecondsP50 = Percentile(vals, 50)
	r.res.ReconnectSecondsP99 = Percentile(vals, 99)
	r.res.ReconnectSecondsMax = Percentile(vals, 100)
	return nil
}

// logNotBack says, for a few cameras that did not come back, where each
// one is: what a timed-out storm needs to be understood.
func (r *runner) logNotBack(back []float64, counts func(*camera.Camera) bool, since int64) {
	shown := 0
	for i, c := range r.cams {
		if back[i] > 0 || !counts(c) || shown == 5 {
			continue
		}
		shown++
		st := c.Stats()
		due, attempts, lastErr := c.ConnectDue()
		dueIn := "none"
		if !due.IsZero() {
			dueIn = time.Until(due).Round(time.Millisecond).String()
		}
		r.log.Warn("camera not back", "device", c.DeviceID(), "online", st.Online.Load(), "connecting", c.Connecting(),
			"next_attempt_in", dueIn, "failed_attempts", attempts, "last_error", lastErr,
			"connects", st.Connects.Load(), "last_connect_s", float64(st.LastConnect.Load()-since)/1e9,
			"last_disconnect_s", float64(st.LastDisconnect.Load()-since)/1e9, "queued", st.Queued.Load(), "err", c.Err())
	}
}

// waitDrained waits until every event is acknowledged, or the deadline.
func (r *runner) waitDrained(ctx context.Context, deadline time.Time) error {
	start := time.Now()
	for !r.drained() {
		if time.Now().After(deadline) {
			r.res.TimedOut = true
			break
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
	r.res.RecoverySeconds = time.Since(start).Seconds()
	return nil
}

// drained reports whether every camera's queue is empty and every event
// it made acknowledged.
func (r *runner) drained() bool {
	for _, c := range r.cams {
		st := c.Stats()
		if st.Queued.Load() > 0 || r.ledger.ackedCount(c.DeviceID()) < st.Generated.Load() {
			return false
		}
	}
	return true
}

// verify lists every account's events as its owner and compares them with
// what the cameras had acknowledged.
func (r *runner) verify(ctx context.Context) error {
	listed := make([]map[string][]string, len(r.accts))
	foreign := make([]int64, len(r.accts))
	err := parallel(ctx, len(r.accts), 4, func(ctx context.Context, i int) error {
		listed[i] = map[string][]string{}
		var err error
		foreign[i], err = listAll(ctx, r.setupAPI, r.accts[i], listed[i])
		return err
	})
	if err != nil {
		return fmt.Errorf("final listing: %w", err)
	}
	all := map[string][]string{}
	for i, m := range listed {
		for dev, ids := range m {
			all[dev] = append(all[dev], ids...)
		}
		r.res.ForeignEvents += foreign[i]
	}
	generated := make(map[string]int64, len(r.cams))
	for _, c := range r.cams {
		generated[c.DeviceID()] = c.Stats().Generated.Load()
	}
	if r.alerts != nil {
		// Each stored event reached its household's webhook at least once,
		// through the outage: a claim the killed server held runs out
		// within a minute, and retries come within seconds.
		r.res.AlertsMissing = r.alerts.missing(ctx, listed, 2*time.Minute)
	}
	if r.pushes != nil {
		// And each was pushed to its household's browser at least once.
		r.res.AlertsPushMissing = r.pushes.missing(ctx, listed, 2*time.Minute)
	}
	t := r.ledger.compare(generated, all)
	r.res.EventsGenerated, r.res.EventsAcknowledged, r.res.EventsStored = t.Generated, t.Acked, t.Stored
	r.res.Lost, r.res.Duplicates = t.Lost, t.Dups
	return nil
}

// collect copies the counters into the result.
func (r *runner) collect() {
	res := &r.res
	res.MediaResponses = r.vc.mediaResponses.Load()
	res.MediaChecked = r.mediaChecked()
	res.MediaFrames = r.vc.mediaFrames.Load()
	res.ForeignMedia = r.vc.foreignMedia.Load()
	res.MislabeledMedia = r.vc.mislabeled.Load()
	res.ForeignEvents += r.vc.foreignEvents.Load()
	res.ViewerListings = r.vc.listings.Load()
	if r.alerts != nil {
		res.Alerts, res.AlertsForeign, res.AlertsBadSignature = r.alerts.received.Load(), r.alerts.foreign.Load(), r.alerts.badSig.Load()
		res.Webhooks = true
	}
	if r.mqtt != nil {
		res.MQTT, res.AlertsMQTT, res.AlertsMQTTImages = true, r.mqtt.messages.Load(), r.mqtt.pictures.Load()
		res.AlertsForeign += r.mqtt.foreign.Load()
	}
	if r.pushes != nil {
		res.Pushes, res.AlertsPush = true, r.pushes.received.Load()
		res.AlertsForeign += r.pushes.foreign.Load()
	}
	res.StreamEvents = r.vc.streamEvents.Load()
	res.ForeignStreamEvents = r.vc.foreignStream.Load()
	res.StreamBreaks = r.vc.streamBreaks.Load()
	res.ViewerErrors = r.vc.errors.Load()
	res.LiveViewers = len(r.liveViewers)
	res.LiveAttempts = r.lc.attempts.Load()
	res.LiveSessions = r.lc.sessions.Load()
	res.LiveFrames = r.lc.frames.Load()
	res.ForeignLiveFrames = r.lc.foreign.Load()
	res.MislabeledLiveFrames = r.lc.mislabeled.Load()
	res.LiveErrors = r.lc.errors.Load()
	res.LiveTTFFMsP50 = r.lc.ttff.Percentile(50)
	res.LiveTTFFMsP99 = r.lc.ttff.Percentile(99)
	res.LiveLatencyMsP50 = r.lc.latency.Percentile(50)
	res.LiveLatencyMsP99 = r.lc.latency.Percentile(99)
	res.LiveRevocations = r.lc.revocations.Load()
	res.LiveRevokeCutoffMsP50 = r.lc.cutoff.Percentile(50)
	res.LiveRevokeCutoffMsMax = r.lc.cutoff.Max()
	res.PartnerDisplays = len(r.displays)
	res.PartnerMedia = r.pc.media.Load()
	res.PartnerForeign = r.pc.foreign.Load()
	res.PartnerUnconsented = r.pc.unconsented.Load()
	res.PartnerAfterRevoke = r.pc.afterRevoke.Load()
	res.PartnerErrors = r.pc.errors.Load()
	res.PartnerRevocations = r.pc.revocations.Load()
	res.PartnerRevokeCutoffMsMax = r.pc.cutoff.Max()
	res.PartnerRevokeEndMsMax = r.pc.streamEnd.Max()
	if r.cfg.PartnerDisplays > 0 {
		res.PartnerNetFaults = r.cfg.PartnerFaults.String()
	}
	if r.hostile != nil {
		r.collectHostile()
	}
	res.Shed503 = r.c.shed503.Load()
	res.Connects = r.c.connects.Load()
	res.Requests = r.c.requests.Load()
	res.TransportErrors = r.c.transportErrs.Load()
	res.Uploads = r.c.uploads.Load()
	res.UploadMsP50 = r.c.uploadMillis.Percentile(50)
	res.UploadMsP99 = r.c.uploadMillis.Percentile(99)
	res.UploadMsMax = r.c.uploadMillis.Max()
	tot := r.fleet.Totals()
	res.EventsDropped = tot.Dropped
	res.RetriesRecognized = tot.Duplicates
	res.UploadErrors = tot.UploadErrors
	if r.srv != nil {
		res.ServerRSSPeakBytes = r.srv.rssPeak.Load()
		res.Nodes = len(r.srv.nodes)
		for _, n := range r.srv.nodes {
			res.NodeRSSPeakBytes = append(res.NodeRSSPeakBytes, n.rssPeak.Load())
		}
		if r.srv.lb != nil {
			res.BalancerRefused = r.srv.lb.refused.Load()
		}
	}
	r.mu.Lock()
	res.Timeline = r.timeline
	res.Phases = r.phases
	r.mu.Unlock()
	connects := make([]int64, 0, len(res.Timeline))
	for _, s := range res.Timeline {
		connects = append(connects, s.Connects)
	}
	res.ConnectsPerSecondPeak = PeakRate(connects, sampleEvery.Seconds(), int(time.Second/sampleEvery))
}

// shutdown stops what is still running: the server (cleanly if it can)
// and the proxy.
func (r *runner) shutdown() {
	if r.srv != nil {
		if err := r.srv.close(30 * time.Second); err != nil {
			r.log.Warn("stopping the server", "err", err)
		}
	}
	for _, p := range r.prox {
		p.Close()
	}
}

// clientPaths decides how clients reach the servers. Viewers go to the
// server (or the nodes' balancer); cameras are given every node's address
// and spread over them, moving to the next when theirs fails, as cameras
// given several addresses do: through the balancer, each would cost the
// storm two more sockets, and ten thousand cameras on three nodes would
// not fit a process's file descriptors. With network faults, a proxy sits
// in front of each of those paths.
func (r *runner) clientPaths() error {
	// through puts a proxy with faults f in front of base.
	through := func(f Faults, base string) (string, error) {
		u, err := url.Parse(base)
		if err != nil {
			return "", fmt.Errorf("server address: %w", err)
		}
		p, err := startProxy(f, u.Host)
		if err != nil {
			return "", err
		}
		r.prox = append(r.prox, p)
		r.log.Info("network faults on", "proxy", p.addr, "to", u.Host, "faults", f.String())
		return "http://" + p.addr, nil
	}
	via := func(base string) (string, error) {
		if !r.cfg.Faults.Enabled() {
			return base, nil
		}
		return through(r.cfg.Faults, base)
	}
	var err error
	if r.clientBase, err = via(r.serverBase); err != nil {
		return err
	}
	if r.cfg.PartnerDisplays > 0 {
		// The displays' own poor network, whatever the others' is.
		if r.displayBase, err = through(r.cfg.PartnerFaults, r.serverBase); err != nil {
			return err
		}
	}
	if r.srv == nil || len(r.srv.nodes) == 1 {
		r.cameraURLs = []string{r.clientBase}
		return nil
	}
	for _, n := range r.srv.nodes {
		u, err := via("http://" + n.addr)
		if err != nil {
			return err
		}
		r.cameraURLs = append(r.cameraURLs, u)
	}
	return nil
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return fmt.Errorf("storm interrupted: %w", ctx.Err())
	case <-t.C:
		return nil
	}
}
