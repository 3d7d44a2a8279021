package gateway

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/lesismal/nbio"
	nblogging "github.com/lesismal/nbio/logging"
	"github.com/lesismal/nbio/nbhttp"
	nbws "github.com/lesismal/nbio/nbhttp/websocket"

	"github.com/camvault/camvault/internal/deviceproto"
)

// netpoll serves camera connections on an nbio engine's poller. After the
// upgrade (by Go's net/http server, its middleware, authentication and
// admission, as any request), the TCP connection is taken from net/http
// and given to the poller: an idle camera then costs no goroutine and no
// buffer, only its socket and a few hundred bytes of state. When bytes
// arrive, the poller reads them into its own buffer, parses them and
// handles each whole message at once, in order: a text message costs
// microseconds (a JSON object of at most 16 KiB, a presence update, a
// rate-limited log line), and a camera sending them faster than that is
// slowed by TCP, as before. A live frame may wait for the store, the
// cache and the bus (up to 2 s), so it is queued for the camera's turn on
// a bounded set of workers, one frame of a camera at a time, in order;
// past the queue's bound frames are dropped, as a camera does with frames
// it cannot send in time, and no other camera waits for it. The engine and
// the workers are the gateway's: started with the first connection,
// stopped and waited for at shutdown.
type netpoll struct {
	g *Gateway

	engine *nbhttp.Engine
	// template is the upgrader every connection's is copied from.
	template *nbws.Upgrader
	// frames relays the cameras' live frames, at most maxFrameWorkers at
	// once; ends runs what follows a connection's end (a question on the
	// bus, up to seconds), at most maxEndWorkers at once.
	frames, ends *workers

	started, stopped bool // under g.mu
	stopOnce         sync.Once
}

const (
	// maxFrameWorkers bounds the goroutines relaying frames at once. A
	// frame waits for at most the live relay's bound (2 s); a camera
	// whose relay is slow holds one of them, never the others' turn.
	maxFrameWorkers = 256
	// maxEndWorkers bounds the connections whose end is being handled at
	// once (a node's cameras all leaving at shutdown).
	maxEndWorkers = 64
	// A camera's frames waiting for their turn: past either bound the
	// next is dropped unrelayed (the relay's fast start resumes at the
	// next keyframe). What a camera can make the node hold is bounded so.
	maxQueuedFrames     = 64
	maxQueuedFrameBytes = 4 << 20
	// closeGrace is how long a camera is given to answer the close.
	closeGrace = 5 * time.Second
	// readBuffer is each poller's one buffer for reading.
	readBuffer = 32 << 10
	// maxUnsent bounds what is written to a camera and not yet taken by
	// its socket; past it the camera is cut (it reads too slowly).
	maxUnsent = 64 << 10
)

func newNetpoll(g *Gateway) *netpoll {
	np := &netpoll{g: g, frames: newWorkers(maxFrameWorkers), ends: newWorkers(maxEndWorkers)}
	np.engine = nbhttp.NewEngine(nbhttp.Config{
		Name:    "camvault-cameras",
		NPoller: max(1, runtime.NumCPU()/4),
		// Bytes of a frame not yet whole: a frame of a header and 1 MiB,
		// and what one read added to it.
		ReadLimit:          deviceproto.MaxFrameMessage + 64 + readBuffer,
		ReadBufferSize:     readBuffer,
		MaxWriteBufferSize: maxUnsent,
		// A connection's messages (and its close) are handled where they
		// are parsed, on the poller, one after another; see netpoll.
		ServerExecutor:    func(f func()) { f() },
		SupportServerOnly: true,
		// A message's bytes are never handed out again: a frame is read
		// into memory of its own, and the collector takes it back.
		ReleaseWebsocketPayload: false,
	})
	u := nbws.NewUpgrader()
	u.Engine = np.engine
	u.Subprotocols = []string{deviceproto.Subprotocol}
	u.KeepaliveTime = 0 // the gateway's own timer (heartbeats)
	u.MessageLengthLimit = deviceproto.MaxFrameMessage
	u.HandshakeTimeout = g.cfg.WriteTimeout
	u.BlockingModHandleRead = false
	u.BlockingModAsyncWrite = false
	np.template = u
	return np
}

// start starts the engine unless it runs or has stopped; g.mu is held.
// It reports whether connections can go on the poller.
func (np *netpoll) start() bool {
	if np.stopped {
		return false
	}
	if !np.started {
		if err := np.engine.Start(); err != nil {
			np.g.log.Error("camera connections: starting the poller failed; serving them with a goroutine each", "err", err)
			np.stopped = true
			return false
		}
		np.started = true
	}
	return true
}

// stop closes every connection still on the poller, stops the engine and
// waits for its workers. Each closed connection ends (end runs).
func (np *netpoll) stop() {
	np.stopOnce.Do(func() {
		np.g.mu.Lock()
		started := np.started
		np.stopped = true
		np.g.mu.Unlock()
		if started {
			np.engine.Stop()
		}
		np.frames.wait()
		np.ends.wait()
	})
}

// npSocket is a connection on the poller.
type npSocket struct {
	g  *Gateway
	ws atomic.Pointer[nbws.Conn] // set by whichever callback comes first
	// lastRead is when the last message came (Unix ns): the timer reads it.
	lastRead  atomic.Int64
	closeSent atomic.Bool
	// timer ends a connection idle for three heartbeats (4003), and cuts
	// one whose camera did not answer the close in time. One runtime timer,
	// no goroutine until it fires.
	timer *time.Timer

	// The camera's live frames waiting for their turn on np.frames (nil
	// when none waits), and, while a worker relays them, what it closes
	// when it stops. Once the connection ended nothing more is queued.
	mu         sync.Mutex
	queue      [][]byte
	queueBytes int
	relaying   chan struct{}
	ended      bool
}

// serve upgrades the request and gives the connection to the poller; the
// handler then returns and no goroutine is left for the camera. c holds
// its count in g.wg, given back by end.
func (np *netpoll) serve(w http.ResponseWriter, r *http.Request, c *conn) {
	g := np.g
	s := &npSocket{g: g}
	s.lastRead.Store(time.Now().UnixNano())
	c.sock = s
	s.timer = time.AfterFunc(3*g.cfg.Heartbeat, func() { np.onTimer(c, s) })

	// The callbacks are bound to this connection: messages may arrive
	// before Upgrade returns.
	u := *np.template
	u.OnOpen(func(ws *nbws.Conn) { s.ws.CompareAndSwap(nil, ws) })
	u.OnMessage(func(ws *nbws.Conn, t nbws.MessageType, data []byte) {
		s.ws.CompareAndSwap(nil, ws)
		s.lastRead.Store(time.Now().UnixNano())
		if s.closeSent.Load() {
			return // closing: what else the camera says is not read
		}
		if t == nbws.BinaryMessage {
			np.queueFrame(c, s, data)
			return
		}
		g.handle(c, false, data)
	})
	u.SetCloseHandler(func(ws *nbws.Conn, code int, _ string) {
		// The camera closes: answer with its code, unless this side
		// closed first. The connection is closed after this returns.
		if s.closeSent.Swap(true) {
			return
		}
		if code == 1005 { // no status
			_ = ws.WriteMessage(nbws.CloseMessage, nil)
			return
		}
		_ = ws.WriteClose(code, "")
	})
	u.OnClose(func(*nbws.Conn, error) {
		s.timer.Stop()
		np.ends.Go(func() {
			s.stopRelaying()
			g.end(c)
		})
	})
	ws, err := u.UpgradeAndTransferConnToPoller(hijacker{w}, r, nil)
	if err != nil {
		s.timer.Stop()
		g.end(c) // Upgrade has answered, or closed the connection
		return
	}
	s.ws.CompareAndSwap(nil, ws)
	if ws.IsBlockingMod() {
		// Not a TCP connection (a listener wrapping it): nothing would
		// read it.
		g.log.Error("camera connection could not be given to the poller; closing it", "device", c.device.DeviceID)
		s.timer.Stop()
		_ = ws.Close()
		g.end(c)
		return
	}
	if !g.attach(c) {
		// Shutting down began during the upgrade, or the camera already
		// left: it was never connected here.
		_ = ws.Close()
		return
	}
	_ = g.greet(c) // on this request's goroutine, which returns next
}

// hijacker takes the connection from net/http through whatever the
// middleware wrapped around the ResponseWriter (nbio asks the writer
// itself). Bytes the camera sent before the upgrade was answered would be
// in net/http's buffer, not on the socket the poller reads: the protocol
// has none, and such a connection is refused.
type hijacker struct{ http.ResponseWriter }

func (h hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	if brw.Reader.Buffered() > 0 {
		_ = conn.Close()
		return nil, nil, errors.New("the camera sent data before the upgrade was answered")
	}
	return conn, brw, nil
}

// stopRelaying drops the frames still queued and waits for the one being
// relayed, if any: the stream ends after its last frame (end).
func (s *npSocket) stopRelaying() {
	s.mu.Lock()
	s.ended = true
	done := s.relaying
	s.mu.Unlock()
	if done != nil {
		<-done
	}
}

func (s *npSocket) writeText(ctx context.Context, data []byte) error {
	ws := s.ws.Load()
	if ws == nil {
		return errors.New("not upgraded")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// Nothing waits: what the socket does not take now is kept (up to
	// maxUnsent) and sent when it can be; if that takes longer than the
	// write timeout the camera reads too slowly and is cut. A close
	// frame would wait behind what it does not read, so none is sent.
	if nc, ok := ws.Conn.(*nbio.Conn); ok {
		_ = nc.SetWriteDeadline(time.Now().Add(s.g.cfg.WriteTimeout))
	}
	return ws.WriteMessage(nbws.TextMessage, data)
}

func (s *npSocket) close(code websocket.StatusCode, reason string) {
	if s.closeSent.Swap(true) {
		return
	}
	ws := s.ws.Load()
	if ws == nil {
		return
	}
	if ws.WriteClose(int(code), reason) != nil {
		_ = ws.Close()
		return
	}
	s.timer.Reset(closeGrace)
}

func (s *npSocket) cut() {
	s.timer.Stop()
	if ws := s.ws.Load(); ws != nil {
		_ = ws.Close()
	}
}

// queueFrame queues one of the camera's live frames for its turn, or drops
// it past the queue's bounds.
func (np *netpoll) queueFrame(c *conn, s *npSocket, data []byte) {
	s.mu.Lock()
	if s.ended || len(s.queue) >= maxQueuedFrames || s.queueBytes+len(data) > maxQueuedFrameBytes {
		s.mu.Unlock()
		if !s.ended {
			np.g.framesDropped.Add(1)
		}
		return
	}
	s.queue = append(s.queue, data)
	s.queueBytes += len(data)
	var done chan struct{}
	if s.relaying == nil {
		done = make(chan struct{})
		s.relaying = done
	}
	s.mu.Unlock()
	if done != nil {
		np.frames.Go(func() {
			defer close(done)
			np.relay(c, s)
		})
	}
}

// relay hands the camera's queued frames to the gateway, one at a time,
// until none waits.
func (np *netpoll) relay(c *conn, s *npSocket) {
	for {
		s.mu.Lock()
		if len(s.queue) == 0 || s.ended {
			s.queue, s.queueBytes, s.relaying = nil, 0, nil
			s.mu.Unlock()
			return
		}
		data := s.queue[0]
		s.queue[0] = nil
		s.queue = s.queue[1:]
		s.queueBytes -= len(data)
		s.mu.Unlock()
		if s.closeSent.Load() || !np.g.handle(c, true, data) {
			s.mu.Lock()
			s.queue, s.queueBytes, s.relaying = nil, 0, nil
			s.mu.Unlock()
			return
		}
	}
}

// onTimer: the connection has been quiet, or its close unanswered. It runs
// on the runtime's timer goroutine and does not wait: writes and closes on
// the poller never block.
func (np *netpoll) onTimer(c *conn, s *npSocket) {
	g := np.g
	if !g.hold(c) {
		return
	}
	defer g.wg.Done()
	if s.closeSent.Load() {
		s.cut()
		return
	}
	limit := 3 * g.cfg.Heartbeat
	if quiet := time.Since(time.Unix(0, s.lastRead.Load())); quiet < limit {
		s.timer.Reset(limit - quiet)
		return
	}
	s.close(deviceproto.CloseNoHeartbeat, "no heartbeat")
}

// LibraryLogger is nbio's log (engine starts and stops, recovered panics)
// in log, for logging.SetLogger: the library writes to standard output
// otherwise. Its chatter goes to debug.
func LibraryLogger(log *slog.Logger) nblogging.Logger { return nbLog{log} }

type nbLog struct{ log *slog.Logger }

func (l nbLog) Debug(format string, v ...any) { l.print(slog.LevelDebug, format, v) }
func (l nbLog) Info(format string, v ...any)  { l.print(slog.LevelDebug, format, v) }
func (l nbLog) Warn(format string, v ...any)  { l.print(slog.LevelWarn, format, v) }
func (l nbLog) Error(format string, v ...any) { l.print(slog.LevelError, format, v) }

func (l nbLog) print(level slog.Level, format string, v []any) {
	if l.log.Enabled(context.Background(), level) {
		l.log.Log(context.Background(), level, "camera connections: "+fmt.Sprintf(format, v...), "library", "nbio")
	}
}
