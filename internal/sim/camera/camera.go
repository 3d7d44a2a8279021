package camera

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/camvault/camvault/internal/deviceclient"
	"github.com/camvault/camvault/internal/deviceproto"
	"github.com/coder/websocket"
)

// Errors a camera stops with.
var (
	ErrUnpaired = errors.New("the device credential is not valid (the camera was unpaired): pair it again")
	ErrReplaced = errors.New("replaced by a newer connection of the same camera")
)

// Protocol constants (docs/device-protocol.md).
const (
	defaultHeartbeat   = 30 * time.Second
	defaultSensitivity = 50
)

// Stats are a camera's counters, safe to read at any time.
type Stats struct {
	Generated    atomic.Int64 // events made (periodic and snapshots)
	Uploaded     atomic.Int64 // events the server acknowledged (201 or 200)
	Duplicates   atomic.Int64 // of those, answered 200: already stored
	Dropped      atomic.Int64 // events dropped from a full queue
	Rejected     atomic.Int64 // events the server refused for good (4xx)
	UploadErrors atomic.Int64 // upload attempts that will be retried
	Queued       atomic.Int64 // events waiting now
	Connects     atomic.Int64 // connections made
	Reconnects   atomic.Int64 // connections made after the first
	LastConnect  atomic.Int64 // Unix nanoseconds of the last connection, 0 if none
	// LastDisconnect is when the last connection ended (Unix nanoseconds,
	// 0 if none has): a storm tells by it which cameras a killed node held.
	LastDisconnect atomic.Int64
	Online         atomic.Bool  // the connection is open
	LiveFrames     atomic.Int64 // live frames sent
}

// StatsSnapshot is a copy of Stats' values.
type StatsSnapshot struct {
	Generated, Uploaded, Duplicates, Dropped, Rejected, UploadErrors int64
	Queued, Connects, Reconnects                                     int64
	LastConnect                                                      time.Time
	Online                                                           int64 // 1 for an online camera; in totals, how many are
}

// Snapshot copies the counters.
func (s *Stats) Snapshot() StatsSnapshot {
	v := StatsSnapshot{
		Generated: s.Generated.Load(), Uploaded: s.Uploaded.Load(), Duplicates: s.Duplicates.Load(),
		Dropped: s.Dropped.Load(), Rejected: s.Rejected.Load(), UploadErrors: s.UploadErrors.Load(),
		Queued: s.Queued.Load(), Connects: s.Connects.Load(), Reconnects: s.Reconnects.Load(),
	}
	if ns := s.LastConnect.Load(); ns != 0 {
		v.LastConnect = time.Unix(0, ns)
	}
	if s.Online.Load() {
		v.Online = 1
	}
	return v
}

func (t *StatsSnapshot) add(v StatsSnapshot) {
	t.Generated += v.Generated
	t.Uploaded += v.Uploaded
	t.Duplicates += v.Duplicates
	t.Dropped += v.Dropped
	t.Rejected += v.Rejected
	t.UploadErrors += v.UploadErrors
	t.Queued += v.Queued
	t.Connects += v.Connects
	t.Reconnects += v.Reconnects
	t.Online += v.Online
	if v.LastConnect.After(t.LastConnect) {
		t.LastConnect = v.LastConnect
	}
}

// Camera is one simulated camera of a fleet.
type Camera struct {
	f      *Fleet
	name   string
	creds  Credentials
	prefix string // of its event IDs: unique to this camera and this run
	stats  Stats
	inPool atomic.Bool // queued for, or held by, an upload worker
	done   chan struct{}

	mu              sync.Mutex
	stopped         bool
	stopErr         error
	homeID          string // from the server: hello or GET /api/v1/device
	seq             uint64
	queue           eventQueue
	interval        time.Duration
	sensitivity     int
	eventGen        uint64 // bumped when the interval changes
	conn            *websocket.Conn
	connGen         uint64 // bumped on each connection
	connecting      bool
	connectDue      time.Time // when the pending connect timer fires; zero: none pending
	connectErr      error     // why the last connection ended or attempt failed
	everConnected   bool
	heartbeat       time.Duration
	connAttempt     int       // failed connection attempts in a row
	connFailSince   time.Time // when the first of them failed; zero: none
	server          int       // index in the fleet's servers of the one this camera uses
	uploadAttempt   int       // failed upload attempts in a row
	uploadFailSince time.Time // when the first of them failed; zero: none
	retryAt         time.Time
	tl              timeline    // when each frame of its video shows
	stream          *Stream     // nil until the stream is first asked for
	live            *liveStream // the live stream being sent; nil when none
}

// Add adds a camera named name (shown on its frames) with its
// credentials. Cameras are added before Run.
func (f *Fleet) Add(name string, creds Credentials) (*Camera, error) {
	if err := creds.check(); err != nil {
		return nil, fmt.Errorf("add camera %q: %w", name, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.started {
		return nil, errors.New("add camera: the fleet is already running")
	}
	c := &Camera{f: f, name: name, creds: creds, done: make(chan struct{}),
		queue: newEventQueue(f.cfg.QueueSize), interval: f.cfg.EventInterval, sensitivity: defaultSensitivity}
	c.prefix = eventPrefix(creds.DeviceID, f.cfg.RandN)
	c.tl = timeline{phase: f.cfg.RandN(int64(f.video.gop) * frameTicks)}
	c.server = len(f.cams) % len(f.bases) // spread over the servers
	f.cams = append(f.cams, c)
	return c, nil
}

// serverIndex is the server this camera uses now.
func (c *Camera) serverIndex() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.server
}

// base is the base URL of the server this camera uses now.
func (c *Camera) base() string { return c.f.bases[c.serverIndex()] }

// nextServer moves the camera to the next server after a failed
// connection attempt: a node that cannot be reached is left for the others.
func (c *Camera) nextServer() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.server = (c.server + 1) % len(c.f.bases)
}

// eventPrefix is the first 8 characters of the device ID and 8 random
// ones, so event IDs stay unique across restarts of the simulator (the
// server takes a repeated event ID for a retry).
func eventPrefix(deviceID string, randN func(int64) int64) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz234567"
	b := make([]byte, 0, 17)
	b = append(b, deviceID[:min(8, len(deviceID))]...)
	b = append(b, '-')
	for range 8 {
		b = append(b, alphabet[randN(int64(len(alphabet)))])
	}
	return string(b)
}

// Connecting reports whether a connection attempt is under way (waiting
// for a dial slot, dialing, or in the handshake).
func (c *Camera) Connecting() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.connecting
}

// ConnectDue is when the camera's next connection attempt is due (zero
// when none is scheduled), how many attempts in a row have failed, and why
// the last connection ended or attempt failed.
func (c *Camera) ConnectDue() (time.Time, int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.connectDue, c.connAttempt, c.connectErr
}

// Name is the camera's name.
func (c *Camera) Name() string { return c.name }

// DeviceID is the camera's device ID.
func (c *Camera) DeviceID() string { return c.creds.DeviceID }

// Stats are the camera's counters.
func (c *Camera) Stats() *Stats { return &c.stats }

// Done is closed when the camera stops for good (unpaired or replaced).
func (c *Camera) Done() <-chan struct{} { return c.done }

// Err says why the camera stopped, or nil while it runs.
func (c *Camera) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stopErr
}

// Settings returns the current event interval and motion sensitivity.
func (c *Camera) Settings() (time.Duration, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.interval, c.sensitivity
}

// HomeID is the home the server said the camera is in, "" until it said.
func (c *Camera) HomeID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.homeID
}

// EventID is the camera's ID for its event number seq.
func (c *Camera) EventID(seq uint64) string {
	return fmt.Sprintf("%s-%d", c.prefix, seq)
}

func (c *Camera) logAttrs(args ...any) []any {
	return append([]any{"camera", c.name, "device", c.creds.DeviceID}, args...)
}

// stop ends the camera for good.
func (c *Camera) stop(err error) {
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		return
	}
	c.stopped, c.stopErr = true, err
	conn := c.conn
	c.mu.Unlock()
	close(c.done)
	if conn != nil {
		conn.CloseNow()
	}
	c.f.log.Error("camera stopped", c.logAttrs("err", err)...)
	c.f.cameraStopped()
}

// Trigger makes an event now, as if motion were seen, and queues it.
func (c *Camera) Trigger() uint64 {
	c.mu.Lock()
	ev := c.newEventLocked(false)
	c.enqueueLocked(ev)
	c.mu.Unlock()
	c.requestFlush()
	return ev.seq
}

func (c *Camera) newEventLocked(snapshot bool) queuedEvent {
	c.seq++
	c.stats.Generated.Add(1)
	return queuedEvent{seq: c.seq, at: c.f.cfg.Now(), kind: "motion", snapshot: snapshot}
}

func (c *Camera) enqueueLocked(ev queuedEvent) {
	if old, dropped := c.queue.push(ev); dropped {
		c.stats.Dropped.Add(1)
		c.f.log.Debug("event queue full: dropped the oldest", c.logAttrs("event_id", c.EventID(old.seq))...)
	}
	c.stats.Queued.Store(int64(c.queue.len()))
}

// onEventTimer makes the periodic motion event and sets the next one.
func (c *Camera) onEventTimer(gen uint64) {
	c.mu.Lock()
	if c.stopped || gen != c.eventGen {
		c.mu.Unlock()
		return
	}
	if c.sensitivity > 0 {
		c.enqueueLocked(c.newEventLocked(false))
	}
	next := deviceclient.Jittered(c.interval, c.f.cfg.EventJitter, c.f.cfg.RandN)
	c.mu.Unlock()
	c.f.sched.add(timerEntry{when: c.f.cfg.Now().Add(next), cam: c, kind: timerEvent, gen: gen})
	c.requestFlush()
}

// applySettings applies a settings command: a new interval takes effect
// from now; sensitivity 0 turns periodic motion events off.
func (c *Camera) applySettings(raw json.RawMessage) error {
	s, err := deviceproto.ParseSettings(raw)
	if err != nil {
		return err
	}
	c.mu.Lock()
	if s.MotionSensitivity != nil {
		c.sensitivity = *s.MotionSensitivity
	}
	var reschedule bool
	var gen uint64
	var next time.Duration
	if s.EventIntervalSeconds != nil {
		c.interval = time.Duration(*s.EventIntervalSeconds) * time.Second
		c.eventGen++
		reschedule, gen = true, c.eventGen
		next = deviceclient.Jittered(c.interval, c.f.cfg.EventJitter, c.f.cfg.RandN)
	}
	c.mu.Unlock()
	if reschedule {
		c.f.sched.add(timerEntry{when: c.f.cfg.Now().Add(next), cam: c, kind: timerEvent, gen: gen})
	}
	return nil
}
