// Package camera is a simulated camvault camera (docs/device-protocol.md):
// it pairs, renders watermarked thumbnails (JPEG) and clips (H.264 MP4),
// streams watermarked H.264 video to whoever subscribes (Stream), uploads
// motion events with a bounded offline queue, and holds the WebSocket
// connection with heartbeats, commands and jittered exponential reconnects.
//
// It is built to run many cameras in one process (camvault camera --count,
// camvault storm): a Fleet shares one renderer, one video fixture, one HTTP
// client, one timer heap and one pool of upload workers among its cameras,
// so an idle camera costs a few hundred bytes and, while connected, the one
// goroutine that reads its connection; streaming adds no goroutine of its
// own.
package camera

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/camvault/camvault/internal/deviceclient"
)

// Config configures a fleet of cameras. Zero fields take the defaults
// noted.
type Config struct {
	Server string // base URL, e.g. http://127.0.0.1:8080
	// MoreServers are further addresses of the same service (other nodes of
	// a scale-out deployment reached without a load balancer, as several
	// DNS addresses would give them). Each camera starts on one of all of
	// them, spread, and moves to the next when a connection attempt fails.
	MoreServers  []string
	WatermarkKey []byte // at least 16 bytes; required

	EventInterval time.Duration        // between motion events; default 30 s
	EventJitter   float64              // each interval is spread by ± this fraction; default 0.2, negative for none
	QueueSize     int                  // events kept while offline; default 200
	ClipFrames    int                  // negative: events carry no clip; else an H.264 clip (below); the number no longer counts
	Backoff       deviceclient.Backoff // reconnects and upload retries; default the protocol's (Backoff)
	UploadBatch   int                  // events one worker uploads for a camera before serving others; default 8

	// Video (docs/device-protocol.md, "Video"). An event's clip starts at the
	// newest keyframe at least ClipPreroll before the event and ends
	// ClipPostroll after it: 2 to 4 s, 250 to 500 KiB at 640x360, with the
	// defaults.
	VideoPreset  string        // the picture size the cameras stream: Video360p (default) or Video720p
	ClipPreroll  time.Duration // default 1 s
	ClipPostroll time.Duration // default 1 s

	UploadWorkers int           // uploads in flight across the fleet; default 16
	MaxDials      int           // connection attempts in flight across the fleet; default 64
	StartSpread   time.Duration // first connections spread over this; default 0
	DialTimeout   time.Duration // default 30 s
	UploadTimeout time.Duration // default 60 s
	WriteTimeout  time.Duration // WebSocket writes; default 10 s
	ShutdownGrace time.Duration // uploads under way at a stop may finish within it; default 10 s

	HTTPClient *http.Client // API requests; default NewHTTPClient(UploadWorkers)
	WSClient   *http.Client // WebSocket dials; default NewWebSocketClient()
	Renderer   *Renderer    // default NewRenderer(DefaultQuality)
	Video      *Video       // the looped video; default LoadVideo(VideoPreset)

	Now   func() time.Time    // default time.Now
	RandN func(n int64) int64 // uniform in [0, n), safe for concurrent use; default math/rand/v2.Int64N
	Log   *slog.Logger        // default slog.Default()
	OnAck func(Ack)           // called, from any goroutine, when the server acknowledges an event
}

// Ack is an acknowledged upload.
type Ack struct {
	DeviceID string
	EventID  string // the camera's ID for the event
	ServerID string // the server's ID for it
	Seq      uint64
	Created  bool // 201; false: 200, it was already stored
	Snapshot bool // taken for a snapshot command
}

// baseURL checks a server address and drops its trailing slashes.
func baseURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("camera: server %q is not an http(s) URL", s)
	}
	return strings.TrimRight(s, "/"), nil
}

func (c *Config) setDefaults() error {
	if c.Server == "" {
		return errors.New("camera: no server URL")
	}
	var err error
	if c.Server, err = baseURL(c.Server); err != nil {
		return err
	}
	c.MoreServers = slices.Clone(c.MoreServers) // trimmed below: not the caller's slice
	for i, s := range c.MoreServers {
		if c.MoreServers[i], err = baseURL(s); err != nil {
			return err
		}
	}
	if len(c.WatermarkKey) < minKeyLen {
		return fmt.Errorf("camera: watermark key must be at least %d bytes", minKeyLen)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.EventInterval, 30*time.Second)
	def(&c.ClipPreroll, time.Second)
	def(&c.ClipPostroll, time.Second)
	def(&c.DialTimeout, 30*time.Second)
	def(&c.UploadTimeout, 60*time.Second)
	def(&c.WriteTimeout, 10*time.Second)
	def(&c.ShutdownGrace, 10*time.Second)
	if c.EventJitter == 0 {
		c.EventJitter = 0.2
	}
	if c.QueueSize <= 0 {
		c.QueueSize = 200
	}
	if c.UploadBatch <= 0 {
		c.UploadBatch = 8
	}
	if c.UploadWorkers <= 0 {
		c.UploadWorkers = 16
	}
	if c.MaxDials <= 0 {
		c.MaxDials = 64
	}
	c.Backoff = c.Backoff.WithDefaults()
	if c.HTTPClient == nil {
		c.HTTPClient = NewHTTPClient(c.UploadWorkers)
	}
	if c.WSClient == nil {
		c.WSClient = NewWebSocketClient()
	}
	if c.Renderer == nil {
		if c.Renderer, err = NewRenderer(DefaultQuality); err != nil {
			return err
		}
	}
	if c.Video == nil {
		if c.VideoPreset == "" {
			c.VideoPreset = Video360p
		}
		if c.Video, err = LoadVideo(c.VideoPreset); err != nil {
			return err
		}
	} else if c.VideoPreset != "" && c.VideoPreset != c.Video.Preset() {
		return fmt.Errorf("camera: video preset %q, but the video given is %s", c.VideoPreset, c.Video.Preset())
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.RandN == nil {
		c.RandN = rand.Int64N
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	return nil
}

// NewHTTPClient returns a client for the API with sane limits: at most
// maxConns connections to the server, kept alive, and timeouts on every
// step before the answer's headers. Requests carry their own deadline.
func NewHTTPClient(maxConns int) *http.Client {
	maxConns = max(1, maxConns)
	return &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          maxConns,
		MaxIdleConnsPerHost:   maxConns,
		MaxConnsPerHost:       maxConns,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 2 * time.Minute,
		ExpectContinueTimeout: time.Second,
	}}
}

// NewWebSocketClient returns the client WebSocket dials go through. It is
// separate from the API client because an upgraded connection keeps
// counting against its transport's per-host limit for as long as it is
// open: ten thousand cameras need ten thousand. It speaks HTTP/1.1 only,
// which the upgrade needs.
func NewWebSocketClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          16,
		IdleConnTimeout:       30 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		TLSNextProto:          map[string]func(string, *tls.Conn) http.RoundTripper{},
	}}
}

// Fleet runs cameras. Add them, then Run.
type Fleet struct {
	cfg    Config
	log    *slog.Logger
	video  *Video
	bases  []string // Server, then MoreServers
	wsURLs []string // their device connection URLs
	sched  *scheduler
	dials  chan struct{}

	mu      sync.Mutex
	cams    []*Camera
	started bool

	work    atomic.Pointer[chan *Camera] // cameras with events to upload; each at most once
	running sync.WaitGroup
	closing atomic.Bool
	active  atomic.Int64 // cameras not stopped
	allDone chan struct{}
}

// NewFleet checks cfg and returns an empty fleet.
func NewFleet(cfg Config) (*Fleet, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	bases := append([]string{cfg.Server}, cfg.MoreServers...)
	ws := make([]string, len(bases))
	for i, b := range bases {
		ws[i] = "ws" + strings.TrimPrefix(b, "http") + "/api/v1/device/connect"
	}
	return &Fleet{cfg: cfg, log: cfg.Log, video: cfg.Video, bases: bases, wsURLs: ws, sched: newScheduler(),
		dials: make(chan struct{}, cfg.MaxDials), allDone: make(chan struct{})}, nil
}

// Cameras returns the fleet's cameras, in the order they were added.
func (f *Fleet) Cameras() []*Camera {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*Camera(nil), f.cams...)
}

// Totals adds up the cameras' counters.
func (f *Fleet) Totals() StatsSnapshot {
	var t StatsSnapshot
	for _, c := range f.Cameras() {
		t.add(c.stats.Snapshot())
	}
	return t
}

// Run runs the cameras until ctx ends (then closes their connections with
// 1001, going away) or every camera has stopped (then it returns why).
// Events still queued when it returns are lost; Totals counts them.
func (f *Fleet) Run(ctx context.Context) error {
	f.mu.Lock()
	if f.started {
		f.mu.Unlock()
		return errors.New("camera: fleet already running")
	}
	f.started = true
	cams := f.cams
	f.mu.Unlock()
	if len(cams) == 0 {
		return errors.New("camera: no cameras to run")
	}
	f.active.Store(int64(len(cams)))
	work := make(chan *Camera, len(cams))
	f.work.Store(&work)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Uploads get their own context: at a stop, those under way may finish
	// (an acknowledged event is one the camera can forget) for up to
	// ShutdownGrace, while no new one starts.
	uploadCtx, cancelUploads := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelUploads()
	stopWorkers := make(chan struct{})
	var sched, workers sync.WaitGroup
	sched.Go(func() { f.sched.run(ctx, f.cfg.Now, func(e timerEntry) { f.fire(ctx, e) }) })
	for range f.cfg.UploadWorkers {
		workers.Go(func() {
			for {
				select {
				case <-stopWorkers:
					return
				case c := <-work:
					c.flushBatch(uploadCtx)
				}
			}
		})
	}
	now := f.cfg.Now()
	for _, c := range cams {
		var spread time.Duration
		if f.cfg.StartSpread > 0 {
			spread = time.Duration(f.cfg.RandN(int64(f.cfg.StartSpread) + 1))
		}
		c.mu.Lock()
		c.connectDue = now.Add(spread)
		c.mu.Unlock()
		f.sched.add(timerEntry{when: now.Add(spread), cam: c, kind: timerConnect})
		first := time.Duration(f.cfg.RandN(int64(c.interval) + 1))
		f.sched.add(timerEntry{when: now.Add(first), cam: c, kind: timerEvent, gen: c.eventGen})
	}

	for _, c := range cams {
		c.requestFlush() // events triggered before Run
	}

	select {
	case <-ctx.Done():
	case <-f.allDone:
	}
	f.closing.Store(true)
	close(stopWorkers)
	f.closeAll(cams)
	cancel()
	sched.Wait()
	grace := time.AfterFunc(f.cfg.ShutdownGrace, cancelUploads)
	workers.Wait()
	grace.Stop()
	cancelUploads()
	f.running.Wait()

	var errs []error
	lost := 0
	for _, c := range cams {
		lost += int(c.stats.Queued.Load())
		if err := c.Err(); err != nil {
			errs = append(errs, fmt.Errorf("camera %s (%s): %w", c.name, c.creds.DeviceID, err))
		}
	}
	if lost > 0 {
		f.log.Warn("cameras stopped with events not uploaded", "events", lost)
	}
	if len(errs) == len(cams) {
		return errors.Join(errs...)
	}
	return nil
}

// closeAll closes the open connections, a few hundred at a time, each with
// a close handshake.
func (f *Fleet) closeAll(cams []*Camera) {
	sem := make(chan struct{}, 256)
	var wg sync.WaitGroup
	for _, c := range cams {
		c.mu.Lock()
		conn := c.conn
		c.mu.Unlock()
		if conn == nil {
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			conn.Close(1001, "camera stopping")
		})
	}
	wg.Wait()
}

// fire handles one due timer. It runs on the scheduler's goroutine, so it
// only changes state and hands network work to other goroutines.
func (f *Fleet) fire(ctx context.Context, e timerEntry) {
	c := e.cam
	switch e.kind {
	case timerEvent:
		c.onEventTimer(e.gen)
	case timerHeartbeat:
		c.onHeartbeatTimer(ctx, e.gen)
	case timerConnect:
		c.onConnectTimer(ctx)
	case timerFlush:
		c.requestFlush()
	}
}

// goBackground runs fn on a goroutine Run waits for.
func (f *Fleet) goBackground(fn func()) { f.running.Go(fn) }

func (f *Fleet) cameraStopped() {
	if f.active.Add(-1) == 0 {
		close(f.allDone)
	}
}
