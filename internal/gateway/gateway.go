// Package gateway holds cameras' live connections (docs/device-protocol.md):
// it admits them, tracks which device is connected on this node, records
// presence, and carries commands from people to cameras, over the bus when
// the camera is connected to another node (cluster.go). A device's
// identity is the principal its token authenticated, nothing else.
package gateway

import (
	"unicode/utf8"

	"golang.org/x/time/rate"

	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/camvault/camvault/internal/admission"
	"github.com/camvault/camvault/internal/apperr"
	"github.com/camvault/camvault/internal/authz"
	"github.com/camvault/camvault/internal/bus"
	"github.com/camvault/camvault/internal/deviceproto"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/id"
)

// Store is what the gateway keeps, presence, and what it checks a notice
// from another node against.
type Store interface {
	SetPresence(ctx context.Context, updates []domain.Presence) error
	DeviceByID(ctx context.Context, id string) (domain.Device, error)
}

// Config tunes the gateway.
type Config struct {
	Heartbeat     time.Duration // how often cameras send heartbeats
	LastSeenEvery time.Duration // how often a connected camera's last seen is written
	WriteTimeout  time.Duration
	// CommandTimeout bounds how long a command waits for the node that
	// holds the camera's connection to answer.
	CommandTimeout time.Duration
	// CloseTimeout bounds how long shutting down waits for the cameras to
	// answer the close (1001) and for the connections' readers to end;
	// past it the remaining connections are cut without a handshake.
	CloseTimeout time.Duration
	// LiveGrace is how long a camera keeps streaming after the last
	// viewer's node last asked for its stream.
	LiveGrace time.Duration
	// CameraWS is how camera connections are served: "netpoll" (the
	// default: an idle connection holds no goroutine and no buffer) or
	// "std" (a goroutine and the WebSocket library's buffers per
	// connection; kept to compare the two). Connections through
	// camvault's own TLS are served "std" either way.
	CameraWS string
	Now      func() time.Time
}

// The values of Config.CameraWS.
const (
	CameraWSNetpoll = "netpoll"
	CameraWSStd     = "std"
)

// DefaultConfig is the production configuration.
func DefaultConfig() Config {
	return Config{Heartbeat: 30 * time.Second, LastSeenEvery: 5 * time.Minute, WriteTimeout: 10 * time.Second,
		CommandTimeout: 15 * time.Second, CloseTimeout: 10 * time.Second, LiveGrace: 10 * time.Second,
		CameraWS: CameraWSNetpoll, Now: time.Now}
}

// Gateway is this node's set of live device connections.
type Gateway struct {
	cfg       Config
	admission *admission.Controller
	authz     *authz.Decider
	presence  *presenceWriter
	store     Store
	bus       Bus
	sink      LiveSink // nil: live frames are dropped
	node      string   // this node's identity on the bus, fresh each start
	log       *slog.Logger

	// ctx is the gateway's own context: what it does for a connection on
	// its own account (announcing it on the bus, the hello) ends with it.
	// Shutting down cancels it once no connection is accepted any more.
	ctx    context.Context
	cancel context.CancelFunc
	// connCtx bounds the connections' reads, and the question a
	// connection's end asks the bus. It outlives ctx, so that shutting down
	// can still close each connection with a handshake; cancelling it cuts
	// every connection at once, when the shutdown's deadline has passed.
	connCtx context.Context
	cut     context.CancelFunc
	// wg counts what the gateway owns: requests being upgraded, each
	// connection until it ended (its reader on the std socket), and the
	// closes running in the background. Each Add is made under mu while
	// the gateway is not closing, or while another count it holds keeps
	// the counter above zero, so no Add races shutdown's Wait.
	wg sync.WaitGroup
	// np serves camera connections on the poller; nil with
	// CameraWS "std".
	np *netpoll
	// framesDropped counts live frames dropped past a camera's queue.
	framesDropped atomic.Uint64

	mu      sync.Mutex
	conns   map[string]*conn // by device ID: the current connection
	closing bool             // shutting down: no connection is accepted, nothing more started
}

type conn struct {
	id       string // this connection, among all of the device's on every node
	sock     socket
	device   authz.Principal
	since    time.Time // when it began
	lastSeen time.Time // last written to the store
	commands bus.Subscription

	// The live stream, under Gateway.mu: its epoch (0: not streaming),
	// until when a viewer's node wants it, and whether the camera is kept
	// warm (streams with no viewer).
	liveEpoch uint64
	liveUntil time.Time
	warm      bool
	// warmSet: SetWarm reached this connection, so the setting read from
	// the store when it connected is older and is not applied.
	warmSet bool

	// resultLog limits the command results a camera can have logged: what
	// a camera writes must not fill the operator's disk.
	resultLog *rate.Limiter
	// ended: end ran (under Gateway.mu); the connection is never attached
	// after it.
	ended bool
}

// socket is a connection's WebSocket, served one of two ways: on the
// poller (netpoll.go: no goroutine and no buffer while the camera is
// idle), or by a goroutine of its own (stdconn.go: connections through
// camvault's own TLS, or everything with --camera-ws=std).
type socket interface {
	// writeText sends one text message, within Config.WriteTimeout.
	writeText(ctx context.Context, data []byte) error
	// close starts the closing handshake with code; the connection ends
	// when the camera answers, or is cut when it does not in time. On the
	// std socket it returns only then.
	close(code websocket.StatusCode, reason string)
	// cut ends the connection now, without a handshake.
	cut()
}

// maxLoggedText is how much of a text a camera sent goes into a log line.
const maxLoggedText = 256

// logText is s cut to maxLoggedText bytes (on a rune boundary), marked
// when cut.
func logText(s string) string {
	if len(s) <= maxLoggedText {
		return s
	}
	cut := maxLoggedText
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + fmt.Sprintf("... (%d bytes)", len(s))
}

// New returns a gateway; Run must run for presence to be written and for
// notices from other nodes to be heard.
func New(cfg Config, s Store, a *admission.Controller, d *authz.Decider, b Bus, log *slog.Logger) *Gateway {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.CommandTimeout <= 0 {
		cfg.CommandTimeout = DefaultConfig().CommandTimeout
	}
	if cfg.CloseTimeout <= 0 {
		cfg.CloseTimeout = DefaultConfig().CloseTimeout
	}
	if cfg.LiveGrace <= 0 {
		cfg.LiveGrace = DefaultConfig().LiveGrace
	}
	g := &Gateway{cfg: cfg, admission: a, authz: d, store: s, bus: b, node: id.New(), log: log,
		conns: map[string]*conn{}, presence: newPresenceWriter(s, log)}
	if cfg.CameraWS != CameraWSStd {
		g.np = newNetpoll(g)
	}
	g.ctx, g.cancel = context.WithCancel(context.Background())
	g.connCtx, g.cut = context.WithCancel(context.Background())
	return g
}

// Run writes presence changes and hears the other nodes' notices until ctx
// ends, then shuts the gateway down in this order: no connection is
// accepted any more; the gateway's own work is cancelled; every connection
// is closed with 1001 (going away), all at once, and the readers are waited
// for, within Config.CloseTimeout (past it the rest are cut); the presence
// they left (every camera of this node offline) is written; the notices
// are unsubscribed. When Run returns nothing the gateway started runs any
// more, so the bus and the store may be closed.
func (g *Gateway) Run(ctx context.Context) {
	unlisten := g.listen(g.ctx)
	// The writer outlives ctx: the readers' "offline" comes after it.
	wctx, stopWriter := context.WithCancel(context.WithoutCancel(ctx))
	var writer sync.WaitGroup
	writer.Go(func() { g.presence.run(wctx) })
	writer.Go(func() { g.sweepLive(g.ctx) })

	<-ctx.Done()
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), g.cfg.CloseTimeout)
	g.closeAll(cctx)
	cancel()

	stopWriter()
	writer.Wait()
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), g.cfg.WriteTimeout)
	if n, err := g.presence.flush(fctx); err != nil {
		g.log.Error("writing presence at shutdown; these cameras show online until their last seen is stale",
			"devices", n, "err", err)
	}
	cancel()
	unlisten()
}

// closeAll stops accepting connections, cancels the gateway's own work,
// closes every connection with 1001 in parallel and waits for everything
// the gateway started, cutting what is left when ctx ends.
func (g *Gateway) closeAll(ctx context.Context) {
	g.mu.Lock()
	g.closing = true
	conns := make([]*conn, 0, len(g.conns))
	for _, c := range g.conns {
		conns = append(conns, c)
	}
	g.mu.Unlock()
	g.cancel()

	// Each close on the std socket waits for its camera's answer, up to
	// seconds for one that vanished: one at a time they would add up.
	var closers sync.WaitGroup
	for _, c := range conns {
		closers.Go(func() { c.sock.close(websocket.StatusGoingAway, "server shutting down") })
	}
	done := make(chan struct{})
	go func() { // waited for below, on every path
		closers.Wait()
		g.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		g.log.Warn("cameras did not answer the close in time; cutting their connections")
		g.cut() // every read on the std socket ends, and with it every close and reader
		if g.np != nil {
			g.np.stop() // every connection on the poller is closed, and ends
		}
		<-done
	}
	g.cut()
	if g.np != nil {
		g.np.stop()
	}
}

// LiveFramesDropped reports how many live frames were dropped because too
// many of their camera's frames waited for the relay.
func (g *Gateway) LiveFramesDropped() uint64 { return g.framesDropped.Load() }

// Connected reports how many devices are connected to this node.
func (g *Gateway) Connected() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.conns)
}

// Serve upgrades an authenticated device's request to its connection.
// Errors before the upgrade are returned for the HTTP layer to answer (503
// when shedding load). The connection lives on after Serve returns: on the
// poller, or on a goroutine of its own (std).
func (g *Gateway) Serve(w http.ResponseWriter, r *http.Request, p authz.Principal) error {
	if !p.IsDevice() {
		return apperr.New(apperr.Unauthorized, "a device token is required")
	}
	np, ok := g.enter(r)
	if !ok {
		e := apperr.New(apperr.Unavailable, "the server is shutting down; connect again")
		e.RetryAfter = time.Second // the HTTP layer jitters it
		return e
	}
	defer g.wg.Done()
	if err := g.admission.Connect(); err != nil {
		return err
	}
	now := g.cfg.Now()
	c := &conn{id: id.New(), device: p, since: now, lastSeen: now}
	// The connection's own count, given back by end. The request's count
	// is held, so this Add never races shutdown's Wait.
	g.wg.Add(1)
	if np != nil {
		np.serve(w, r, c)
	} else {
		g.serveStd(w, r, c)
	}
	return nil
}

// enter counts a request being upgraded as the gateway's, unless the
// gateway is shutting down, and says whether its connection goes on the
// poller (then started, if it was not yet).
func (g *Gateway) enter(r *http.Request) (*netpoll, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closing {
		return nil, false
	}
	g.wg.Add(1)
	// camvault's own TLS (crypto/tls) needs a goroutine to read; behind a
	// TLS-terminating proxy the connection is plain TCP.
	if g.np == nil || r.TLS != nil || !g.np.start() {
		return nil, true
	}
	return g.np, true
}

// attach makes c the device's current connection, replacing (and closing)
// any older one, here and on every other node. It returns false, and does
// nothing, once the gateway is shutting down or c has already ended.
func (g *Gateway) attach(c *conn) bool {
	g.mu.Lock()
	if g.closing || c.ended {
		g.mu.Unlock()
		return false
	}
	old := g.conns[c.device.DeviceID]
	g.conns[c.device.DeviceID] = c
	if old != nil {
		// Close waits for the peer's answer (up to seconds when it is gone):
		// never hold up the new connection for it.
		g.closeLater(old, deviceproto.CloseReplaced, "replaced by a newer connection of this camera")
	}
	g.mu.Unlock()
	g.presence.set(domain.Presence{DeviceID: c.device.DeviceID, HomeID: c.device.HomeID, Online: true, LastSeen: c.lastSeen})
	g.announce(g.ctx, c)
	return true
}

// greet sends the hello and starts the stream of a camera kept warm.
func (g *Gateway) greet(c *conn) error {
	if err := g.write(g.ctx, c, deviceproto.Message{Type: deviceproto.TypeHello, DeviceID: c.device.DeviceID,
		HomeID: c.device.HomeID, HeartbeatSeconds: int(g.cfg.Heartbeat / time.Second)}); err != nil {
		return err
	}
	g.startWarm(c)
	return nil
}

// closeLater closes c with code in a goroutine of the gateway's, so that
// nobody waits for the camera's answer. Once the gateway is shutting down
// it does nothing: shutting down closes every connection itself. g.mu
// must be held.
func (g *Gateway) closeLater(c *conn, code websocket.StatusCode, reason string) {
	if g.closing {
		return
	}
	g.wg.Go(func() { c.sock.close(code, reason) })
}

// end runs once when c's connection has ended (or its upgrade failed): it
// forgets c if it is still the device's current connection, and only
// then marks the device offline: a replaced connection ending must not
// make the new one look offline, on this node or on another. It gives
// back the connection's count in wg.
func (g *Gateway) end(c *conn) {
	g.mu.Lock()
	if c.ended {
		g.mu.Unlock()
		return
	}
	c.ended = true
	current := g.conns[c.device.DeviceID] == c
	if current {
		delete(g.conns, c.device.DeviceID)
	}
	g.mu.Unlock()
	defer g.wg.Done()
	g.unsubscribe(c) // before asking: this node must not answer for c
	g.liveEnded(c)
	if current && !g.heldElsewhere(c) {
		g.presence.set(domain.Presence{DeviceID: c.device.DeviceID, HomeID: c.device.HomeID, Online: false, LastSeen: g.cfg.Now()})
	}
	if c.sock != nil {
		c.sock.cut()
	}
}

// hold counts a timer's work on c in wg, unless c has ended. c's own count
// is held until it ends, so this Add never races shutdown's Wait. The
// caller calls wg.Done when it reported true.
func (g *Gateway) hold(c *conn) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if c.ended {
		return false
	}
	g.wg.Add(1)
	return true
}

// handle takes one message of c, in the order the camera sent them. It
// reports false when the message closed the connection. It does not wait
// for long: the live sink is bounded in time (live.relayTimeout), the rest
// is memory and a log line.
func (g *Gateway) handle(c *conn, binary bool, data []byte) bool {
	if binary {
		if !g.liveFrame(c, data) {
			c.sock.close(deviceproto.CloseProtocol, "a binary message is a live frame")
			return false
		}
		return true
	}
	var m deviceproto.Message
	if len(data) > deviceproto.MaxMessage || json.Unmarshal(data, &m) != nil {
		c.sock.close(deviceproto.CloseProtocol, "messages are JSON objects in text frames")
		return false
	}
	switch m.Type {
	case deviceproto.TypeHeartbeat:
		if now := g.cfg.Now(); now.Sub(c.lastSeen) >= g.cfg.LastSeenEvery {
			c.lastSeen = now
			g.presence.set(domain.Presence{DeviceID: c.device.DeviceID, HomeID: c.device.HomeID, Online: true, LastSeen: now})
		}
	case deviceproto.TypeCommandResult:
		if c.resultLog == nil {
			c.resultLog = rate.NewLimiter(1, 5) // a result a second, five at once
		}
		if c.resultLog.Allow() {
			g.log.Info("camera command result", "device", c.device.DeviceID, "command_id", logText(m.ID),
				"ok", m.OK != nil && *m.OK, "error", logText(m.Error), "event_id", logText(m.EventID))
		}
	default:
		c.sock.close(deviceproto.CloseProtocol, "unknown message type")
		return false
	}
	return true
}

func (g *Gateway) write(ctx context.Context, c *conn, m deviceproto.Message) error {
	data, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode message: %w", err)
	}
	if err := c.sock.writeText(ctx, data); err != nil {
		return fmt.Errorf("write to camera: %w", err)
	}
	return nil
}

// Revoke closes a device's connection because its credential was revoked
// (it was unpaired), on this node and, through the bus, on the others.
func (g *Gateway) Revoke(ctx context.Context, deviceID string) {
	g.closeRevoked(deviceID)
	g.announceRevoked(ctx, deviceID)
}

func (g *Gateway) closeRevoked(deviceID string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if c := g.conns[deviceID]; c != nil {
		g.closeLater(c, deviceproto.CloseRevoked, "the camera was unpaired")
	}
}

// Command is what a person asks a camera to do.
type Command struct {
	Command  string          `json:"command"`
	Settings json.RawMessage `json:"settings,omitempty"`
}

// Send delivers a command from p to a camera. Owners and admins only; the
// camera may be connected to this node or to any other.
func (g *Gateway) Send(ctx context.Context, p authz.Principal, deviceID string, cmd Command) (string, error) {
	dev, _, err := g.authz.Device(ctx, p, deviceID, authz.ManageDevices)
	if err != nil {
		return "", err
	}
	if err := cmd.check(); err != nil {
		return "", err
	}
	cmdID := id.New()
	g.mu.Lock()
	c := g.conns[deviceID]
	g.mu.Unlock()
	if c == nil {
		if err := g.sendRemote(ctx, dev, cmdID, cmd); err != nil {
			return "", err
		}
		return cmdID, nil
	}
	if err := g.write(ctx, c, deviceproto.Message{Type: deviceproto.TypeCommand, ID: cmdID, Command: cmd.Command, Settings: cmd.Settings}); err != nil {
		return "", apperr.Wrap(err, apperr.Conflict, "the camera did not take the command")
	}
	return cmdID, nil
}

// check refuses a command the protocol does not have; it runs where the
// command is asked for and again where it is delivered.
func (cmd Command) check() error {
	switch cmd.Command {
	case deviceproto.CommandSnapshot:
		if len(cmd.Settings) > 0 {
			return apperr.New(apperr.Invalid, "snapshot takes no settings")
		}
	case deviceproto.CommandSettings:
		if _, err := deviceproto.ParseSettings(cmd.Settings); err != nil {
			return apperr.New(apperr.Invalid, "%s", err.Error())
		}
	default:
		return apperr.New(apperr.Invalid, `command must be "snapshot" or "settings"`)
	}
	return nil
}
