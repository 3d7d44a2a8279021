package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/jpeg"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/camvault/camvault/internal/deviceclient"
	"github.com/camvault/camvault/internal/deviceproto"
)

// Options tune a bridge; the zero value of each field is its default.
type Options struct {
	Log *slog.Logger
	// Client talks to the camvault server (uploads, the device connection).
	Client *http.Client
	// CameraTransport reaches the cameras' HTTP (snapshots, ONVIF).
	CameraTransport http.RoundTripper
	// Backoff is the protocol's reconnect and retry policy, for the server
	// and for the cameras alike.
	Backoff deviceclient.Backoff
	// PreRoll and PostRoll are how much of the stream before and after the
	// motion an event's clip holds: 3 s and 4 s.
	PreRoll, PostRoll time.Duration
	// SnapshotInterval is how often a camera's picture is compared for
	// motion: 500 ms.
	SnapshotInterval time.Duration
	// EventGap is the least time between the starts of two motion events
	// of a camera: 10 s.
	EventGap time.Duration
	// QueueEvents and QueueBytes bound each camera's queue on disk: 500
	// events, 512 MiB.
	QueueEvents int
	QueueBytes  int64
	// OfflineGrace is how long a camera's stream may be down before the
	// server is told the camera is offline: 10 s, so a stream that drops
	// and comes back at once does not flap.
	OfflineGrace time.Duration
	// StreamReadTimeout is how long a silent camera stream is waited for:
	// 10 s.
	StreamReadTimeout time.Duration
	// OnUploaded, when set, is told of every event the server
	// acknowledged.
	OnUploaded func(deviceID, eventID, serverID string)
}

func (o *Options) setDefaults() {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 2 * time.Minute}
	}
	if o.CameraTransport == nil {
		o.CameraTransport = http.DefaultTransport
	}
	if o.PreRoll <= 0 {
		o.PreRoll = 3 * time.Second
	}
	if o.PostRoll <= 0 {
		o.PostRoll = 4 * time.Second
	}
	if o.SnapshotInterval <= 0 {
		o.SnapshotInterval = 500 * time.Millisecond
	}
	if o.EventGap <= 0 {
		o.EventGap = 10 * time.Second
	}
	if o.QueueEvents <= 0 {
		o.QueueEvents = 500
	}
	if o.QueueBytes <= 0 {
		o.QueueBytes = 512 << 20
	}
	if o.OfflineGrace <= 0 {
		o.OfflineGrace = 10 * time.Second
	}
}

// The ring holds the pre-roll and post-roll of an event and ringSlack
// more (a keyframe interval longer than the pre-roll, a slow upload
// start), bounded in bytes for a camera that sends far more than it
// should.
const (
	ringSlack = 6 * time.Second
	ringBytes = 64 << 20
	// maxPendingClips bounds the events of a camera waiting for their
	// post-roll at once.
	maxPendingClips = 4
	// liveQueue is the access units a live viewer may be behind.
	liveQueue = 64
)

// Camera is one bridged camera at run time.
type Camera struct {
	cfg   CameraConfig
	sec   Secrets
	state *State
	opt   Options
	log   *slog.Logger

	src   *Source
	ring  *ring
	queue *queue
	snap  *snapshotter

	mu          sync.Mutex
	det         detector
	lastEvent   time.Time
	liveSrc     *Source
	liveUsers   int
	liveStop    context.CancelFunc
	liveDone    chan struct{}
	pendingClip int
	runCtx      context.Context // the camera's run, for streams opened on demand
	bg          sync.WaitGroup  // events waiting for their post-roll

	online   atomic.Bool
	uploaded atomic.Int64
	rejected atomic.Int64
	events   atomic.Int64
	up       chan struct{} // the stream's state changed
}

// CameraStats are a camera's counters.
type CameraStats struct {
	Name                                string
	Online                              bool
	Stream                              SourceStats
	Events, Uploaded, Rejected, Dropped int64
	Queued                              int
}

// Stats returns the camera's counters.
func (c *Camera) Stats() CameraStats {
	files, _ := c.queue.list()
	return CameraStats{
		Name: c.cfg.Name, Online: c.online.Load(), Stream: c.src.Stats(),
		Events: c.events.Load(), Uploaded: c.uploaded.Load(), Rejected: c.rejected.Load(),
		Dropped: c.queue.dropped.Load(), Queued: len(files),
	}
}

func newCamera(st *State, cfg CameraConfig, opt Options) (*Camera, error) {
	sec, err := st.Secrets(cfg)
	if err != nil {
		return nil, err
	}
	if sec.DeviceToken == "" {
		return nil, fmt.Errorf("camera %q has no device token: pair it again", cfg.Name)
	}
	q, err := openQueue(st.queueDir(cfg.DeviceID), opt.QueueEvents, opt.QueueBytes)
	if err != nil {
		return nil, err
	}
	streamURL, err := withUserinfo(cfg.StreamURL, cfg.Username, sec.Password)
	if err != nil {
		return nil, err
	}
	c := &Camera{
		cfg: cfg, sec: sec, state: st, opt: opt, queue: q,
		log:  opt.Log.With("camera", cfg.Name),
		ring: newRing(opt.PreRoll+opt.PostRoll+ringSlack, ringBytes),
		det:  detector{sensitivity: cfg.Motion.Sensitivity, zones: cfg.Motion.Zones},
		up:   make(chan struct{}, 1),
	}
	if sec.SnapshotURL != "" {
		c.snap = newSnapshotter(sec.SnapshotURL, cfg.Username, sec.Password, opt.CameraTransport)
	}
	c.src = c.newSource(streamURL, "main", c.ring.add)
	c.src.audioSink = c.ring.addAudio
	c.src.onState = func(bool, error) {
		select {
		case c.up <- struct{}{}:
		default:
		}
	}
	return c, nil
}

func (c *Camera) newSource(url, which string, sink func(AccessUnit, bool)) *Source {
	return &Source{url: url, name: c.cfg.Name + " (" + which + ")", log: c.opt.Log, backoff: c.opt.Backoff,
		readTimeout: c.opt.StreamReadTimeout, sink: sink}
}

// Run connects the camera until ctx ends; it returns an error only when
// the server ended the camera for good (ErrUnpaired, ErrReplaced).
func (c *Camera) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c.mu.Lock()
	c.runCtx = ctx
	c.mu.Unlock()
	var wg sync.WaitGroup
	defer wg.Wait()
	var fatal atomic.Pointer[error]
	stop := func(err error) {
		fatal.CompareAndSwap(nil, &err)
		cancel()
	}
	wg.Go(func() { c.src.Run(ctx) })
	wg.Go(func() {
		if err := c.uploads(ctx); err != nil {
			stop(err)
		}
	})
	wg.Go(func() { c.watchMotion(ctx) })
	wg.Go(func() {
		if err := c.presence(ctx, &wg); err != nil {
			stop(err)
		}
	})
	<-ctx.Done()
	wg.Wait()
	c.bg.Wait() // events cut short by the end are queued with what they have
	c.stopLiveSource()
	if p := fatal.Load(); p != nil {
		return *p
	}
	return nil
}

// presence holds the server connection while the camera's stream is up,
// and closes it once the stream has been down for OfflineGrace, so the
// server shows the camera as it is.
func (c *Camera) presence(ctx context.Context, wg *sync.WaitGroup) error {
	l := &link{server: c.cfg.Server, token: c.sec.DeviceToken, name: c.cfg.Name, log: c.log,
		client: c.opt.Client, backoff: c.opt.Backoff,
		handlers: linkHandlers{snapshot: c.snapshotEvent, settings: c.applySettings, live: c.streamLive}}
	var linkCancel context.CancelFunc
	linkDone := make(chan error, 1)
	var downSince time.Time
	grace := time.NewTimer(time.Hour)
	grace.Stop()
	defer grace.Stop()
	for {
		up, _, _, srcErr := c.src.State()
		switch {
		case up && linkCancel == nil:
			var lctx context.Context
			lctx, linkCancel = context.WithCancel(ctx)
			wg.Go(func() { linkDone <- l.run(lctx, c.online.Store) })
			downSince = time.Time{}
		case up:
			downSince = time.Time{}
			grace.Stop()
		case linkCancel != nil && downSince.IsZero():
			downSince = time.Now()
			grace.Reset(c.opt.OfflineGrace)
		case linkCancel != nil && time.Since(downSince) >= c.opt.OfflineGrace:
			c.log.Warn("camera offline: its stream is down", "err", srcErr)
			linkCancel()
			<-linkDone
			linkCancel = nil
		}
		select {
		case <-ctx.Done():
			if linkCancel != nil {
				linkCancel()
				<-linkDone
			}
			return nil
		case err := <-linkDone:
			linkCancel()
			linkCancel = nil
			if err != nil {
				c.log.Error("camera stopped", "err", err)
				return err
			}
		case <-c.up:
		case <-grace.C:
		}
	}
}

// watchMotion finds the camera's motion: from its ONVIF events when it
// was paired through ONVIF (unless told to compare snapshots), else, or
// when the camera cannot send events and the source is "auto", by
// comparing its snapshots.
func (c *Camera) watchMotion(ctx context.Context) {
	src := c.cfg.Motion.Source
	if c.cfg.ONVIF != "" && src != "snapshot" {
		if c.watchONVIF(ctx) || src == "onvif" {
			return
		}
	}
	if c.snap != nil {
		c.watchSnapshots(ctx)
	}
}

// watchSnapshots compares the camera's picture every SnapshotInterval and
// makes an event when it sees motion.
func (c *Camera) watchSnapshots(ctx context.Context) {
	t := time.NewTicker(c.opt.SnapshotInterval)
	defer t.Stop()
	var lastLogged time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		c.mu.Lock()
		off := c.det.sensitivity <= 0
		c.mu.Unlock()
		if off {
			continue // motion events are off: no picture to fetch and compare
		}
		err := c.checkSnapshot(ctx)
		if err != nil && ctx.Err() == nil && time.Since(lastLogged) > time.Minute {
			c.log.Warn("motion check failed", "err", err)
			lastLogged = time.Now()
		}
	}
}

func (c *Camera) checkSnapshot(ctx context.Context) error {
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	b, err := c.snap.get(sctx)
	cancel()
	if err != nil {
		return err
	}
	img, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	at := time.Now()
	c.mu.Lock()
	_, motion, err := c.det.feed(img)
	start := motion && c.startEventLocked(at)
	c.mu.Unlock()
	if err != nil || !start {
		return err
	}
	thumb, err := fitThumbnail(b, img)
	if err != nil {
		c.eventDone()
		return err
	}
	c.log.Info("motion", "at", at.Format(time.RFC3339Nano))
	c.bg.Go(func() {
		defer c.eventDone()
		if _, err := c.makeEvent(ctx, at, "motion", thumb, c.opt.PostRoll); err != nil && ctx.Err() == nil {
			c.log.Error("event lost", "err", err)
		}
	})
	return nil
}

// startEventLocked decides whether motion at at starts an event: not
// within EventGap of the last, and not past maxPendingClips waiting for
// their post-roll. A started event is ended with eventDone.
func (c *Camera) startEventLocked(at time.Time) bool {
	if at.Sub(c.lastEvent) < c.opt.EventGap || c.pendingClip >= maxPendingClips {
		return false
	}
	c.lastEvent = at
	c.pendingClip++
	return true
}

func (c *Camera) eventDone() {
	c.mu.Lock()
	c.pendingClip--
	c.mu.Unlock()
}

// motion is told of motion the camera itself reported (ONVIF): the
// picture taken now is the thumbnail.
func (c *Camera) motion(ctx context.Context, at time.Time) error {
	c.mu.Lock()
	start := c.det.sensitivity > 0 && c.startEventLocked(at)
	c.mu.Unlock()
	if !start {
		return nil
	}
	defer c.eventDone()
	thumb, err := c.thumbnail(ctx)
	if err != nil {
		return err
	}
	_, err = c.makeEvent(ctx, at, "motion", thumb, c.opt.PostRoll)
	return err
}

func (c *Camera) thumbnail(ctx context.Context) ([]byte, error) {
	if c.snap == nil {
		return nil, errors.New("the camera has no snapshot address, so an event has no picture")
	}
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	b, err := c.snap.get(sctx)
	if err != nil {
		return nil, err
	}
	img, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	return fitThumbnail(b, img)
}

// snapshotEvent answers the server's snapshot command: a picture now and
// the pre-roll before it, queued as an event.
func (c *Camera) snapshotEvent(ctx context.Context) (string, error) {
	thumb, err := c.thumbnail(ctx)
	if err != nil {
		return "", err
	}
	return c.makeEvent(ctx, time.Now(), "motion", thumb, 0)
}

// makeEvent waits out the post-roll, cuts the clip from the ring and
// queues the event on disk. The clip is the camera's own pictures from
// the keyframe before at-PreRoll to at+postRoll; an event whose stream
// was down has its picture and no clip.
func (c *Camera) makeEvent(ctx context.Context, at time.Time, kind string, thumb []byte, postRoll time.Duration) (string, error) {
	if postRoll > 0 {
		// Cut short by the end of ctx, the event is queued now with what
		// the ring has: it is not lost to a shutdown.
		sleep(ctx, time.Until(at.Add(postRoll)))
	}
	id := eventID(at)
	var clip []byte
	_, codec, _, _ := c.src.State()
	if aus := c.ring.cut(at.Add(-c.opt.PreRoll), at.Add(postRoll)); len(aus) > 0 {
		var audio *AudioTrack
		if cfg := c.src.Audio(); cfg != nil {
			end := aus[len(aus)-1].At.Add(time.Second / 15)
			audio = &AudioTrack{Config: *cfg, Frames: c.ring.cutAudio(aus[0].At, end)}
		}
		var err error
		if clip, err = writeClip(codec, aus, audio); err != nil {
			c.log.Warn("event without a clip", "event_id", id, "err", err)
			clip = nil
		}
	}
	meta, err := json.Marshal(map[string]any{"event_id": id, "started_at": at.UTC(), "kind": kind})
	if err != nil {
		return "", fmt.Errorf("event meta: %w", err)
	}
	body, ctype, err := deviceclient.EventForm(meta, thumb, clip)
	if err != nil {
		return "", err
	}
	if err := c.queue.put(id, ctype, body); err != nil {
		return "", err
	}
	c.events.Add(1)
	c.log.Info("event queued", "event_id", id, "clip_bytes", len(clip))
	return id, nil
}

// eventID is the bridge's ID for an event: its time and a random part,
// unique across restarts, so a retry of the same upload is recognised by
// the server and two events never share an ID.
func eventID(at time.Time) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz234567"
	b := make([]byte, 6)
	for i := range b {
		b[i] = alphabet[rand.IntN(len(alphabet))]
	}
	return fmt.Sprintf("br-%d-%s", at.UnixMilli(), b)
}

// applySettings applies the server's settings command: the motion
// sensitivity (0 turns motion events off); the event interval is a
// simulated camera's and means nothing to a real one.
func (c *Camera) applySettings(s deviceproto.Settings) error {
	if s.MotionSensitivity == nil {
		return nil
	}
	v := *s.MotionSensitivity
	c.mu.Lock()
	c.det.sensitivity = v
	c.mu.Unlock()
	return c.state.setSensitivity(c.cfg.DeviceID, v)
}

// uploads sends the queued events, oldest first, with the protocol's
// backoff while the server is away. It returns ErrUnpaired when the
// server no longer knows the camera.
func (c *Camera) uploads(ctx context.Context) error {
	attempt := 0
	var failSince time.Time
	var files []queuedFile // the queue as last listed, oldest first
	for {
		if len(files) == 0 {
			var err error
			if files, err = c.queue.list(); err != nil {
				return err
			}
		}
		if len(files) == 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-c.queue.wake:
				continue
			}
		}
		f := files[0]
		ctype, body, err := c.queue.read(f)
		if errors.Is(err, fs.ErrNotExist) {
			files = files[1:] // dropped from a full queue since it was listed
			continue
		}
		outcome, serverID, ra := deviceclient.Rejected, "", time.Duration(0)
		if err == nil {
			outcome, serverID, ra, err = c.upload(ctx, ctype, body)
		}
		if ctx.Err() != nil {
			return nil
		}
		switch outcome {
		case deviceclient.Stored, deviceclient.Duplicate:
			attempt, failSince = 0, time.Time{}
			c.uploaded.Add(1)
			if err := c.queue.remove(f); err != nil {
				return err
			}
			files = files[1:]
			c.log.Info("event uploaded", "event_id", f.eventID, "id", serverID)
			if c.opt.OnUploaded != nil {
				c.opt.OnUploaded(c.cfg.DeviceID, f.eventID, serverID)
			}
			continue
		case deviceclient.Rejected:
			c.rejected.Add(1)
			c.log.Error("the server refused an event; it is dropped", "event_id", f.eventID, "err", err)
			if err := c.queue.remove(f); err != nil {
				return err
			}
			files = files[1:]
			continue
		case deviceclient.Unpaired:
			return ErrUnpaired
		}
		if failSince.IsZero() {
			failSince = time.Now()
		}
		d := c.opt.Backoff.Delay(attempt, time.Since(failSince), ra, rand.Int64N)
		attempt++
		c.log.Info("upload failed; will retry", "event_id", f.eventID, "err", err, "in", d.Round(time.Millisecond))
		if !sleep(ctx, d) {
			return nil
		}
	}
}

func (c *Camera) upload(ctx context.Context, ctype string, body []byte) (deviceclient.Outcome, string, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.Server+"/api/v1/device/events", bytes.NewReader(body))
	if err != nil {
		return deviceclient.Rejected, "", 0, fmt.Errorf("upload: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.sec.DeviceToken)
	req.Header.Set("Content-Type", ctype)
	res, err := c.opt.Client.Do(req)
	if err != nil {
		return deviceclient.Retry, "", 0, fmt.Errorf("upload: %w", err)
	}
	defer res.Body.Close()
	o := deviceclient.Classify(res.StatusCode)
	switch o {
	case deviceclient.Stored, deviceclient.Duplicate:
		var ans struct {
			ID string `json:"id"`
		}
		if err := json.NewDecoder(io.LimitReader(res.Body, 4<<10)).Decode(&ans); err != nil || ans.ID == "" {
			// Stored, but the answer was lost: the retry gets 200.
			return deviceclient.Retry, "", 0, fmt.Errorf("upload: unreadable answer: %v", err)
		}
		return o, ans.ID, 0, nil
	case deviceclient.Retry:
		return o, "", deviceclient.RetryAfter(res.Header, time.Now()), deviceclient.Describe("upload", res)
	}
	return o, "", 0, deviceclient.Describe("upload", res)
}

// streamLive answers live_start: the camera's H.264 stream (its main one,
// or the live stream configured for a camera whose main one is H.265)
// sent as frames of epoch until ctx ends or a write fails. A viewer that
// falls behind loses pictures up to the next keyframe.
func (c *Camera) streamLive(ctx context.Context, conn *websocket.Conn, epoch uint64) {
	src, release, err := c.liveSource()
	if err != nil {
		c.log.Warn("cannot stream live", "err", err)
		return
	}
	defer release()
	sub := src.Subscribe(liveQueue)
	defer src.Unsubscribe(sub)
	c.log.Info("streaming live", "epoch", epoch)
	// Frames are numbered and timed on from the stream's first: a camera
	// that reconnects meanwhile resumes at its next keyframe, a frame
	// interval after the last frame sent, within the same epoch.
	var seq uint64
	var base, last int64 // the camera's PTS at the stream's time 0; the last PTS sent
	needKey, rebase := true, true
	for {
		var au AccessUnit
		select {
		case <-ctx.Done():
			return
		case au = <-sub.ch:
		}
		if sub.gap.Swap(false) {
			needKey, rebase = true, true
		}
		if needKey && !au.Key {
			continue
		}
		needKey = false
		if rebase {
			if seq == 0 {
				base = au.PTS
			} else {
				base = au.PTS - (last + clipTimescale/15)
			}
			rebase = false
		}
		frame := annexB(au.NALUs)
		if len(frame) > deviceproto.MaxFrame {
			needKey = true // the pictures after it refer to it
			continue
		}
		pts := au.PTS - base
		if seq > 0 && pts <= last {
			continue // times must increase
		}
		h := deviceproto.FrameHeader{Version: deviceproto.FrameVersion, Epoch: epoch, Seq: seq, PTS: pts}
		if au.Key {
			h.Flags |= deviceproto.FlagKeyframe
		}
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := conn.Write(wctx, websocket.MessageBinary, deviceproto.EncodeFrame(h, frame))
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				c.log.Info("live stream ended: write failed", "err", err)
			}
			return
		}
		seq++
		last = pts
	}
}

// liveSource is the stream live view uses: the main one when it is H.264,
// else the configured live stream, opened while someone watches.
func (c *Camera) liveSource() (*Source, func(), error) {
	if c.cfg.LiveURL == "" {
		_, codec, _, _ := c.src.State()
		if codec != H264 {
			return nil, nil, fmt.Errorf("live view needs an H.264 stream and the camera's is %s: give its H.264 sub-stream with --live-rtsp", codec)
		}
		return c.src, func() {}, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.liveSrc == nil {
		url, err := withUserinfo(c.cfg.LiveURL, c.cfg.Username, c.sec.Password)
		if err != nil {
			return nil, nil, err
		}
		src := c.newSource(url, "live", nil)
		ctx, cancel := context.WithCancel(c.runCtx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			src.Run(ctx)
		}()
		c.liveSrc, c.liveStop, c.liveDone = src, cancel, done
	}
	c.liveUsers++
	src := c.liveSrc
	return src, func() {
		c.mu.Lock()
		c.liveUsers--
		last := c.liveUsers == 0
		c.mu.Unlock()
		if last {
			c.stopLiveSource()
		}
	}, nil
}

// stopLiveSource ends the live stream's connection when nobody watches.
func (c *Camera) stopLiveSource() {
	c.mu.Lock()
	if c.liveSrc == nil || c.liveUsers > 0 {
		c.mu.Unlock()
		return
	}
	cancel, done := c.liveStop, c.liveDone
	c.liveSrc, c.liveStop, c.liveDone = nil, nil, nil
	c.mu.Unlock()
	cancel()
	<-done
}
