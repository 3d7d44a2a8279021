package mse

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/camvault/camvault/internal/live"
)

// Subprotocol is the WebSocket subprotocol of a live stream: binary
// messages, an init segment and then fragments (docs/api, "Live view").
const Subprotocol = "camvault.live.v1"

// CloseAccessLost is the close code when the viewer lost access to the
// camera: the browser must not retry as if the network had failed.
const CloseAccessLost websocket.StatusCode = 4403

// Source is a viewer's live session: its frames, the first a keyframe with
// its parameter sets. live.Session is one.
type Source interface {
	Next(ctx context.Context) (live.Frame, error)
	Close()
}

// Options say how a stream ends.
type Options struct {
	// WriteTimeout bounds one message's write: a viewer that cannot take
	// a frame in this long is cut off rather than buffered for. Default 5 s.
	WriteTimeout time.Duration
	// AccessLost reports whether Next's error means the viewer lost
	// access (the close code is then CloseAccessLost); Ended whether it
	// means the stream ended (a normal closure). Any other error closes
	// with an internal error. Nil reports false.
	AccessLost func(error) bool
	Ended      func(error) bool
	Log        *slog.Logger
}

// Serve upgrades the request to a WebSocket and sends src's frames until
// src ends, the viewer loses access or goes away, or ctx ends. It closes
// src. The caller has authenticated the request and opened src for it;
// the WebSocket library refuses an Origin of another host, so a page of
// another site cannot open a stream with the viewer's cookie.
func Serve(ctx context.Context, w http.ResponseWriter, r *http.Request, src Source, opts Options) error {
	// The upstream session is released as soon as the stream ends, before
	// the close handshake.
	closeSrc := sync.OnceFunc(src.Close)
	defer closeSrc()
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		Subprotocols:    []string{Subprotocol},
		CompressionMode: websocket.CompressionDisabled, // video does not compress
	})
	if err != nil {
		return nil // Accept has answered the request
	}
	if ws.Subprotocol() != Subprotocol {
		ws.Close(websocket.StatusPolicyViolation, "subprotocol "+Subprotocol+" required")
		return nil
	}
	code, reason, err := stream(ws.CloseRead(ctx), ws, src, opts)
	closeSrc()
	switch {
	case err == nil:
	case opts.Log != nil:
		opts.Log.WarnContext(ctx, "live stream failed", "err", err)
	}
	if code < 0 {
		ws.CloseNow() // the viewer is gone or not reading: nobody to tell
		return nil
	}
	// Close waits (at most 5 s) for the viewer's answer.
	_ = ws.Close(code, reason)
	return nil
}

// stream sends frames and returns how to close: code -1 for no close
// handshake.
func stream(ctx context.Context, ws *websocket.Conn, src Source, opts Options) (websocket.StatusCode, string, error) {
	timeout := opts.WriteTimeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	var m Muxer
	for {
		f, err := src.Next(ctx)
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return -1, "", nil
		case opts.AccessLost != nil && opts.AccessLost(err):
			return CloseAccessLost, "access lost", nil
		case opts.Ended != nil && opts.Ended(err):
			return websocket.StatusNormalClosure, "stream ended", nil
		default:
			return websocket.StatusInternalError, "stream failed", fmt.Errorf("next frame: %w", err)
		}
		msgs, err := m.Push(f)
		if err != nil {
			return websocket.StatusInternalError, "bad frame", err
		}
		for _, msg := range msgs {
			if err := write(ctx, ws, msg, timeout); err != nil {
				// The viewer went away or fell too far behind.
				return -1, "", nil
			}
		}
	}
}

func write(ctx context.Context, ws *websocket.Conn, msg []byte, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return ws.Write(ctx, websocket.MessageBinary, msg)
}
