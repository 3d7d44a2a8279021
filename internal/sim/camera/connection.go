package camera

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/camvault/camvault/internal/deviceclient"
	"github.com/camvault/camvault/internal/deviceproto"
	"github.com/coder/websocket"
)

// onConnectTimer starts a connection attempt unless one is open or under
// way. The goroutine it starts lives as long as the connection: it is the
// connection's reader.
func (c *Camera) onConnectTimer(ctx context.Context) {
	c.mu.Lock()
	c.connectDue = time.Time{}
	if c.stopped || c.connecting || c.conn != nil || c.f.closing.Load() {
		c.mu.Unlock()
		return
	}
	c.connecting = true
	c.mu.Unlock()
	c.f.goBackground(func() { c.connection(ctx) })
}

// connection dials, reads until the connection ends, and decides what
// comes next: stop, or reconnect after a backoff.
func (c *Camera) connection(ctx context.Context) {
	conn, ra, err := c.dial(ctx)
	if err != nil {
		c.mu.Lock()
		c.connecting = false
		c.mu.Unlock()
		switch {
		case ctx.Err() != nil:
		case errors.Is(err, ErrUnpaired):
			c.stop(ErrUnpaired)
		default:
			c.nextServer()
			c.scheduleReconnect(ra, err)
		}
		return
	}
	gen, ok := c.attach(conn)
	if !ok {
		conn.Close(websocket.StatusGoingAway, "camera stopping")
		return
	}
	err = c.readLoop(ctx, conn, gen)
	// Release the socket now: a connection whose peer died is not closed by
	// the failed read, and ten thousand of them left to the garbage
	// collector once used up the storm's file descriptors, so that some
	// cameras could not dial again after a server restart.
	conn.CloseNow()
	c.detach(gen)
	switch websocket.CloseStatus(err) {
	case deviceproto.CloseReplaced:
		c.stop(ErrReplaced)
	case deviceproto.CloseRevoked:
		c.stop(ErrUnpaired)
	default:
		if ctx.Err() == nil && !c.f.closing.Load() {
			c.scheduleReconnect(0, fmt.Errorf("connection ended: %w", err))
		}
	}
}

// dial opens the connection. It returns ErrUnpaired for 401, and the
// server's Retry-After with any other refusal.
func (c *Camera) dial(ctx context.Context) (*websocket.Conn, time.Duration, error) {
	select {
	case c.f.dials <- struct{}{}:
	case <-ctx.Done():
		return nil, 0, ctx.Err()
	}
	defer func() { <-c.f.dials }()
	dctx, cancel := context.WithTimeout(ctx, c.f.cfg.DialTimeout)
	defer cancel()
	h := http.Header{}
	h.Set("Authorization", "Bearer "+c.creds.Token)
	conn, res, err := websocket.Dial(dctx, c.f.wsURLs[c.serverIndex()], &websocket.DialOptions{
		HTTPClient: c.f.cfg.WSClient, HTTPHeader: h, Subprotocols: []string{deviceproto.Subprotocol}})
	if err != nil {
		if res == nil {
			return nil, 0, fmt.Errorf("connect: %w", err)
		}
		if res.StatusCode == http.StatusUnauthorized {
			return nil, 0, ErrUnpaired
		}
		return nil, deviceclient.RetryAfter(res.Header, c.f.cfg.Now()), fmt.Errorf("connect: server answered %s", res.Status)
	}
	if conn.Subprotocol() != deviceproto.Subprotocol {
		conn.Close(websocket.StatusProtocolError, "subprotocol camvault.v1 required")
		return nil, 0, fmt.Errorf("connect: server chose subprotocol %q, not %s", conn.Subprotocol(), deviceproto.Subprotocol)
	}
	conn.SetReadLimit(deviceproto.MaxMessage)
	return conn, 0, nil
}

// attach makes conn the camera's connection. It fails when the camera or
// the fleet is stopping.
func (c *Camera) attach(conn *websocket.Conn) (uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.connecting = false
	if c.stopped || c.f.closing.Load() {
		return 0, false
	}
	c.conn = conn
	c.connGen++
	c.stats.Connects.Add(1)
	if c.everConnected {
		c.stats.Reconnects.Add(1)
	}
	c.everConnected = true
	c.stats.LastConnect.Store(c.f.cfg.Now().UnixNano())
	c.stats.Online.Store(true)
	c.f.log.Info("camera connected", c.logAttrs()...)
	return c.connGen, true
}

func (c *Camera) detach(gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.live != nil && c.live.gen == gen {
		c.live.cancel() // the stream ends with its connection
		c.live = nil
	}
	if c.connGen == gen && c.conn != nil {
		c.conn = nil
		c.stats.Online.Store(false)
		c.stats.LastDisconnect.Store(c.f.cfg.Now().UnixNano())
	}
}

// scheduleReconnect waits for the next attempt on the fleet's timer, not
// on a goroutine.
func (c *Camera) scheduleReconnect(ra time.Duration, cause error) {
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		return
	}
	now := c.f.cfg.Now()
	if c.connAttempt == 0 {
		c.connFailSince = now
	}
	d := c.f.cfg.Backoff.Delay(c.connAttempt, now.Sub(c.connFailSince), ra, c.f.cfg.RandN)
	c.connAttempt++
	attempt := c.connAttempt
	when := now.Add(d)
	c.connectDue, c.connectErr = when, cause
	c.mu.Unlock()
	c.f.log.Info("camera disconnected; will reconnect", c.logAttrs("err", cause, "attempt", attempt, "in", d)...)
	c.f.sched.add(timerEntry{when: when, cam: c, kind: timerConnect})
}

// readLoop reads the server's messages until the connection ends. It does
// not stop with ctx: the fleet closes connections with a handshake.
func (c *Camera) readLoop(ctx context.Context, conn *websocket.Conn, gen uint64) error {
	rctx := context.WithoutCancel(ctx)
	for {
		typ, data, err := conn.Read(rctx)
		if err != nil {
			return err
		}
		var m deviceproto.Message
		if typ != websocket.MessageText || json.Unmarshal(data, &m) != nil {
			c.f.log.Warn("ignoring a message that is not a JSON object in a text frame", c.logAttrs()...)
			continue
		}
		switch m.Type {
		case deviceproto.TypeHello:
			c.onHello(m, gen)
		case deviceproto.TypeCommand:
			c.onCommand(ctx, m, gen)
		case deviceproto.TypeLiveStart:
			c.onLiveStart(ctx, m, gen)
		case deviceproto.TypeLiveStop:
			c.onLiveStop(m)
		default:
			c.f.log.Debug("ignoring unknown message", c.logAttrs("type", m.Type)...)
		}
	}
}

// onHello starts heartbeats, and counts the connection as a success: the
// reconnect and upload backoffs start over and queued events go now.
func (c *Camera) onHello(m deviceproto.Message, gen uint64) {
	hb := time.Duration(m.HeartbeatSeconds) * time.Second
	if hb <= 0 {
		hb = defaultHeartbeat
	}
	c.mu.Lock()
	if gen != c.connGen || c.conn == nil {
		c.mu.Unlock()
		return
	}
	if m.DeviceID != c.creds.DeviceID {
		// The server knows the device from the token; a different ID means
		// the credentials file is not the one this camera was paired with.
		c.f.log.Warn("server names this camera differently", c.logAttrs("server_device_id", m.DeviceID)...)
	}
	if validID(m.HomeID) {
		c.homeID = m.HomeID
	}
	c.heartbeat = hb
	c.connAttempt, c.connFailSince = 0, time.Time{}
	c.uploadAttempt, c.uploadFailSince, c.retryAt = 0, time.Time{}, time.Time{}
	c.mu.Unlock()
	c.f.sched.add(timerEntry{when: c.f.cfg.Now().Add(hb), cam: c, kind: timerHeartbeat, gen: gen})
	c.requestFlush()
}

// onHeartbeatTimer sends a heartbeat and pings: a connection whose server
// vanished without closing it is noticed within a heartbeat or two.
func (c *Camera) onHeartbeatTimer(ctx context.Context, gen uint64) {
	c.mu.Lock()
	conn, hb := c.conn, c.heartbeat
	if gen != c.connGen || conn == nil {
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	c.f.sched.add(timerEntry{when: c.f.cfg.Now().Add(hb), cam: c, kind: timerHeartbeat, gen: gen})
	c.f.goBackground(func() {
		// Not cancelled by a stop: the fleet closes connections itself.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), min(hb, c.f.cfg.WriteTimeout))
		defer cancel()
		err := c.write(ctx, conn, deviceproto.Message{Type: deviceproto.TypeHeartbeat})
		if err == nil {
			err = conn.Ping(ctx)
		}
		if err != nil && !c.f.closing.Load() {
			c.f.log.Info("heartbeat failed; dropping the connection", c.logAttrs("err", err)...)
			conn.CloseNow()
		}
	})
}

func (c *Camera) write(ctx context.Context, conn *websocket.Conn, m deviceproto.Message) error {
	data, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode %s: %w", m.Type, err)
	}
	wctx, cancel := context.WithTimeout(ctx, c.f.cfg.WriteTimeout)
	defer cancel()
	if err := conn.Write(wctx, websocket.MessageText, data); err != nil {
		return fmt.Errorf("send %s: %w", m.Type, err)
	}
	return nil
}

// reply sends a command's result on the connection it came on.
func (c *Camera) reply(ctx context.Context, gen uint64, cmdID, eventID string, cmdErr error) {
	c.mu.Lock()
	conn := c.conn
	if gen != c.connGen {
		conn = nil
	}
	c.mu.Unlock()
	if conn == nil {
		return // that connection is gone; so is the command
	}
	ok := cmdErr == nil
	m := deviceproto.Message{Type: deviceproto.TypeCommandResult, ID: cmdID, OK: &ok, EventID: eventID}
	if cmdErr != nil {
		m.Error = cmdErr.Error()
	}
	if err := c.write(context.WithoutCancel(ctx), conn, m); err != nil {
		c.f.log.Info("could not send a command result", c.logAttrs("err", err)...)
	}
}

func (c *Camera) onCommand(ctx context.Context, m deviceproto.Message, gen uint64) {
	switch m.Command {
	case deviceproto.CommandSnapshot:
		c.f.goBackground(func() {
			eventID, err := c.snapshot(ctx)
			c.reply(ctx, gen, m.ID, eventID, err)
		})
	case deviceproto.CommandSettings:
		err := c.applySettings(m.Settings)
		if err == nil {
			iv, s := c.Settings()
			c.f.log.Info("settings changed", c.logAttrs("event_interval", iv, "motion_sensitivity", s)...)
		}
		c.reply(ctx, gen, m.ID, "", err)
	default:
		c.reply(ctx, gen, m.ID, "", fmt.Errorf("unknown command %q", m.Command))
	}
}
