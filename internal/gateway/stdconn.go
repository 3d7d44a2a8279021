package gateway

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/coder/websocket"

	"github.com/camvault/camvault/internal/deviceproto"
)

// stdSocket is a connection served by a goroutine of its own, which reads
// with coder/websocket: connections through camvault's own TLS, and every
// connection with Config.CameraWS "std". An idle one costs that
// goroutine's stack and the library's 4 KiB read and 4 KiB write buffers.
type stdSocket struct {
	g  *Gateway
	ws *websocket.Conn
}

func (s stdSocket) writeText(ctx context.Context, data []byte) error {
	wctx, cancel := context.WithTimeout(ctx, s.g.cfg.WriteTimeout)
	defer cancel()
	err := s.ws.Write(wctx, websocket.MessageText, data)
	if errors.Is(err, context.DeadlineExceeded) {
		s.ws.Close(deviceproto.CloseTooSlow, "camera reads too slowly")
	}
	return err
}

func (s stdSocket) close(code websocket.StatusCode, reason string) { s.ws.Close(code, reason) }
func (s stdSocket) cut()                                           { s.ws.CloseNow() }

// serveStd upgrades the request and serves c on a fresh goroutine; the
// handler returns. The handler's goroutine went deep (middleware,
// authentication, the upgrade) and its stack would stay that large while
// the camera is idle; a fresh one waiting in the read loop needs a
// fraction of it. c holds its count in g.wg.
func (g *Gateway) serveStd(w http.ResponseWriter, r *http.Request, c *conn) {
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{deviceproto.Subprotocol}})
	if err != nil {
		g.end(c) // Accept has answered the request
		return
	}
	// Live frames are binary messages of up to a header and 1 MiB; text
	// messages are still held to MaxMessage in handle.
	ws.SetReadLimit(deviceproto.MaxFrameMessage)
	c.sock = stdSocket{g: g, ws: ws}
	if !g.attach(c) {
		// Shutting down began during the upgrade: this camera was never
		// connected here, and it reconnects elsewhere after its backoff.
		g.end(c)
		return
	}
	go func() { // counted in g.wg (c's count), given back by end
		defer g.end(c)
		if g.greet(c) != nil {
			return
		}
		g.readLoop(c, ws)
	}()
}

func (g *Gateway) readLoop(c *conn, ws *websocket.Conn) {
	// Three heartbeat intervals without a message close the connection
	// with 4003. Not a deadline on the read: coder/websocket cuts the
	// connection when a read's context ends, and no close code would go.
	limit := 3 * g.cfg.Heartbeat
	quiet := time.AfterFunc(limit, func() {
		if !g.hold(c) {
			return
		}
		defer g.wg.Done()
		ws.Close(deviceproto.CloseNoHeartbeat, "no heartbeat") // the read below then ends
	})
	defer quiet.Stop()
	for {
		typ, data, err := ws.Read(g.connCtx)
		if err != nil {
			return
		}
		quiet.Reset(limit)
		if !g.handle(c, typ == websocket.MessageBinary, data) {
			return
		}
	}
}
