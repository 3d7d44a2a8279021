package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/camvault/camvault/internal/bus"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/store"
)

// SetWarm tells the node holding the camera's connection (this one or
// another, over the bus, as commands go) that the camera is now kept warm
// or no longer: kept warm, it is asked to stream at once and streams for
// as long as it is connected; no longer, its stream stops a grace period
// from now unless a viewer's node asks for it. The setting is already in
// the store (a camera connecting later reads it there), so a camera
// connected nowhere is nothing to do, and a failure is logged, not
// returned: the camera picks the setting up when it next connects. dev is
// the camera as the store has it.
func (g *Gateway) SetWarm(ctx context.Context, dev domain.Device, warm bool) {
	// The setting is stored: a caller that gave up must not stop the news,
	// nor wait long for it.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), g.cfg.CommandTimeout)
	defer cancel()
	g.mu.Lock()
	c := g.conns[dev.ID]
	g.mu.Unlock()
	if c != nil && c.device.HomeID == dev.HomeID {
		if err := g.setWarmLocal(ctx, c, warm); err != nil {
			g.log.Warn("keeping a camera warm", "device", dev.ID, "warm", warm, "err", err)
		}
		return
	}
	if err := g.setWarmRemote(ctx, dev, warm); err != nil {
		g.log.Warn("keeping a camera warm on another node", "device", dev.ID, "warm", warm, "err", err)
	}
}

func (g *Gateway) setWarmRemote(ctx context.Context, dev domain.Device, warm bool) error {
	subj, err := bus.NewSubject(subjectCommand, dev.ID)
	if err != nil {
		return err
	}
	reqID := id.New()
	req, err := json.Marshal(remoteCommand{DeviceID: dev.ID, HomeID: dev.HomeID, ID: reqID, KeepWarm: &warm})
	if err != nil {
		return fmt.Errorf("encode keep warm: %w", err)
	}
	raw, err := g.bus.Request(ctx, subj, req, g.cfg.CommandTimeout)
	switch {
	case errors.Is(err, bus.ErrNoResponders):
		return nil // connected nowhere: it reads the setting when it connects
	case err != nil:
		return fmt.Errorf("ask the camera's node: %w", err)
	}
	var rep commandReply
	if err := json.Unmarshal(raw, &rep); err != nil || rep.DeviceID != dev.ID || rep.ID != reqID {
		return errors.New("the camera's node answered about another request")
	}
	if !rep.OK {
		return fmt.Errorf("the camera's node: %s", rep.Error)
	}
	return nil
}

// setWarmLocal sets c's warm flag: kept warm, its stream starts now if it
// is not streaming; no longer, the stream lapses a grace period from now
// unless a viewer's node asks for it again.
func (g *Gateway) setWarmLocal(ctx context.Context, c *conn, warm bool) error {
	g.mu.Lock()
	if g.conns[c.device.DeviceID] != c || g.closing {
		g.mu.Unlock()
		return nil // gone: a newer connection reads the setting itself
	}
	c.warm, c.warmSet = warm, true
	if !warm && c.liveEpoch != 0 {
		c.liveUntil = later(c.liveUntil, time.Now().Add(g.cfg.LiveGrace))
	}
	g.mu.Unlock()
	if !warm {
		return nil
	}
	if _, err := g.wantLocal(ctx, c); err != nil {
		return fmt.Errorf("start the stream: %w", err)
	}
	return nil
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// startWarm reads, once a camera has connected (after the hello, on the
// connection's own goroutine), whether it is kept warm, and if so starts
// its stream. A setting that reached the connection meanwhile (SetWarm)
// is newer than this read and wins.
func (g *Gateway) startWarm(c *conn) {
	ctx, cancel := context.WithTimeout(g.ctx, g.cfg.WriteTimeout)
	defer cancel()
	dev, err := g.store.DeviceByID(ctx, c.device.DeviceID)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) && ctx.Err() == nil {
			g.log.Warn("reading whether a camera is kept warm; it streams on demand until set again",
				"device", c.device.DeviceID, "err", err)
		}
		return
	}
	if !dev.KeepWarm || dev.HomeID != c.device.HomeID {
		return
	}
	g.mu.Lock()
	set := c.warmSet
	if !set {
		c.warm = true
	}
	g.mu.Unlock()
	if set {
		return
	}
	if _, err := g.wantLocal(ctx, c); err != nil && ctx.Err() == nil {
		g.log.Warn("starting a kept-warm camera's stream", "device", c.device.DeviceID, "err", err)
	}
}
