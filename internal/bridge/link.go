package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/camvault/camvault/internal/deviceclient"
	"github.com/camvault/camvault/internal/deviceproto"
)

// Errors a camera's link stops with for good.
var (
	ErrUnpaired = errors.New("the server no longer knows this camera (it was removed in the app): pair it again")
	ErrReplaced = errors.New("another connection with this camera's credential took over (is a second bridge running with a copy of this state?)")
)

// link is a bridged camera's connection to the server: the same device
// connection a camvault camera holds (docs/device-protocol.md). While it
// is open the server shows the camera online; the bridge opens it only
// while the camera's stream is up, so a camera that is unplugged shows
// offline. It answers commands and live_start with the camera's stream.
type link struct {
	server   string
	token    string
	name     string
	log      *slog.Logger
	client   *http.Client
	backoff  deviceclient.Backoff
	handlers linkHandlers
}

// linkHandlers are what the camera does for the server.
type linkHandlers struct {
	// snapshot takes a picture now and queues it as an event.
	snapshot func(ctx context.Context) (eventID string, err error)
	// settings applies a settings command.
	settings func(deviceproto.Settings) error
	// live streams frames of epoch on conn until ctx ends.
	live func(ctx context.Context, conn *websocket.Conn, epoch uint64)
}

// run keeps the connection open until ctx ends, reconnecting with the
// protocol's backoff. It returns ErrUnpaired or ErrReplaced when the
// server ends the camera for good, nil when ctx ends.
func (l *link) run(ctx context.Context, online func(bool)) error {
	attempt := 0
	var failSince time.Time
	for {
		conn, ra, err := l.dial(ctx)
		if err == nil {
			attempt, failSince = 0, time.Time{}
			online(true)
			err = l.serve(ctx, conn)
			online(false)
			switch websocket.CloseStatus(err) {
			case deviceproto.CloseRevoked:
				return ErrUnpaired
			case deviceproto.CloseReplaced:
				return ErrReplaced
			}
		}
		if errors.Is(err, ErrUnpaired) {
			return err
		}
		if ctx.Err() != nil {
			return nil
		}
		if failSince.IsZero() {
			failSince = time.Now()
		}
		d := l.backoff.Delay(attempt, time.Since(failSince), ra, rand.Int64N)
		attempt++
		l.log.Info("server connection lost; reconnecting", "camera", l.name, "err", err, "in", d.Round(time.Millisecond))
		if !sleep(ctx, d) {
			return nil
		}
	}
}

func (l *link) dial(ctx context.Context) (*websocket.Conn, time.Duration, error) {
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	url := "ws" + strings.TrimPrefix(l.server, "http") + "/api/v1/device/connect"
	conn, res, err := websocket.Dial(dctx, url, &websocket.DialOptions{
		HTTPClient:   l.client,
		HTTPHeader:   http.Header{"Authorization": {"Bearer " + l.token}},
		Subprotocols: []string{deviceproto.Subprotocol},
	})
	if err != nil {
		if res != nil {
			if res.StatusCode == http.StatusUnauthorized {
				return nil, 0, ErrUnpaired
			}
			return nil, deviceclient.RetryAfter(res.Header, time.Now()), fmt.Errorf("connect: server answered %s", res.Status)
		}
		return nil, 0, fmt.Errorf("connect: %w", err)
	}
	conn.SetReadLimit(deviceproto.MaxMessage)
	return conn, 0, nil
}

// serve reads the connection until it ends. The heartbeat and any live
// stream are goroutines of this connection: they end with it.
func (l *link) serve(ctx context.Context, conn *websocket.Conn) error {
	cctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		conn.CloseNow()
		wg.Wait()
	}()
	var hello deviceproto.Message
	if err := readJSON(cctx, conn, &hello); err != nil {
		return fmt.Errorf("read hello: %w", err)
	}
	if hello.Type != deviceproto.TypeHello {
		return fmt.Errorf("first message is %q, not hello", hello.Type)
	}
	l.log.Info("camera online", "camera", l.name, "device", hello.DeviceID)
	beat := time.Duration(hello.HeartbeatSeconds) * time.Second
	if beat <= 0 {
		beat = 30 * time.Second
	}
	wg.Go(func() {
		t := time.NewTicker(beat)
		defer t.Stop()
		for {
			select {
			case <-cctx.Done():
				return
			case <-t.C:
				if err := writeJSON(cctx, conn, deviceproto.Message{Type: deviceproto.TypeHeartbeat}); err != nil {
					conn.CloseNow()
					return
				}
			}
		}
	})
	var live struct {
		epoch  uint64
		cancel context.CancelFunc
	}
	stopLive := func() {
		if live.cancel != nil {
			live.cancel()
			live.cancel, live.epoch = nil, 0
		}
	}
	defer stopLive()
	for {
		var m deviceproto.Message
		if err := readJSON(cctx, conn, &m); err != nil {
			return err
		}
		switch m.Type {
		case deviceproto.TypeCommand:
			wg.Go(func() { l.command(cctx, conn, m) })
		case deviceproto.TypeLiveStart:
			if m.StreamEpoch == 0 || m.StreamEpoch == live.epoch {
				continue
			}
			stopLive()
			lctx, lcancel := context.WithCancel(cctx)
			live.epoch, live.cancel = m.StreamEpoch, lcancel
			epoch := m.StreamEpoch
			wg.Go(func() { l.handlers.live(lctx, conn, epoch) })
		case deviceproto.TypeLiveStop:
			if m.StreamEpoch == live.epoch {
				stopLive()
			}
		}
	}
}

func (l *link) command(ctx context.Context, conn *websocket.Conn, m deviceproto.Message) {
	var eventID string
	var err error
	switch m.Command {
	case deviceproto.CommandSnapshot:
		eventID, err = l.handlers.snapshot(ctx)
	case deviceproto.CommandSettings:
		var s deviceproto.Settings
		if s, err = deviceproto.ParseSettings(m.Settings); err == nil {
			err = l.handlers.settings(s)
		}
	default:
		err = fmt.Errorf("unknown command %q", m.Command)
	}
	ok := err == nil
	res := deviceproto.Message{Type: deviceproto.TypeCommandResult, ID: m.ID, OK: &ok, EventID: eventID}
	if err != nil {
		res.Error = err.Error()
	}
	if werr := writeJSON(ctx, conn, res); werr != nil {
		l.log.Debug("command result not sent", "camera", l.name, "err", werr)
	}
}

func readJSON(ctx context.Context, conn *websocket.Conn, v any) error {
	typ, b, err := conn.Read(ctx)
	if err != nil {
		return err
	}
	if typ != websocket.MessageText {
		return errors.New("the server sent a binary message")
	}
	return json.Unmarshal(b, v)
}

func writeJSON(ctx context.Context, conn *websocket.Conn, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return conn.Write(wctx, websocket.MessageText, b)
}
