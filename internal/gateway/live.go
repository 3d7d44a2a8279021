package gateway

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"time"

	"github.com/camvault/camvault/internal/apperr"
	"github.com/camvault/camvault/internal/bus"
	"github.com/camvault/camvault/internal/deviceproto"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/live"
)

// LiveSink is what the gateway hands a streaming camera's frames to on the
// camera's node: the relay of internal/live. LiveFrame is called one
// frame of a camera at a time, in order, and must not block for long (a
// camera's frames queue behind it, and past a bound are dropped).
type LiveSink interface {
	LiveFrame(f live.Frame)
	// LiveStopped: the stream of l ended (stopped, or the connection ended).
	LiveStopped(l live.Label)
	// LiveGOP names the frames of the current group of pictures of l that
	// are in the fast-start cache.
	LiveGOP(l live.Label) (first, last uint64, ok bool)
}

// SetLiveSink sets where live frames go. Call it before the gateway
// accepts connections.
func (g *Gateway) SetLiveSink(s LiveSink) { g.sink = s }

// ErrCameraOffline is the answer when the camera is connected nowhere.
func errCameraOffline() error {
	return apperr.New(apperr.CameraOffline, "the camera is offline")
}

// WantLive asks the node holding the camera's connection (this one or
// another, over the bus, as commands go) for its live stream: the camera
// is asked to stream if it is not streaming already, and the stream is
// kept for Config.LiveGrace from now. Viewers' nodes call it again every
// second while they have viewers. The caller has authorized the request;
// dev is the camera as the store has it.
func (g *Gateway) WantLive(ctx context.Context, dev domain.Device) (live.StreamState, error) {
	g.mu.Lock()
	c := g.conns[dev.ID]
	g.mu.Unlock()
	if c != nil && c.device.HomeID == dev.HomeID {
		return g.wantLocal(ctx, c)
	}
	subj, err := bus.NewSubject(subjectCommand, dev.ID)
	if err != nil {
		return live.StreamState{}, err
	}
	reqID := id.New()
	req, err := json.Marshal(remoteCommand{DeviceID: dev.ID, HomeID: dev.HomeID, ID: reqID, Live: true})
	if err != nil {
		return live.StreamState{}, err
	}
	raw, err := g.bus.Request(ctx, subj, req, g.cfg.CommandTimeout)
	switch {
	case errors.Is(err, bus.ErrNoResponders):
		return live.StreamState{}, errCameraOffline()
	case errors.Is(err, bus.ErrTimeout):
		return live.StreamState{}, apperr.Wrap(err, apperr.CameraOffline, "the camera did not answer")
	case err != nil:
		return live.StreamState{}, err
	}
	var rep commandReply
	if err := json.Unmarshal(raw, &rep); err != nil || rep.DeviceID != dev.ID || rep.ID != reqID || !rep.OK || rep.Live == nil {
		return live.StreamState{}, apperr.New(apperr.CameraOffline, "the camera did not start streaming")
	}
	return *rep.Live, nil
}

// wantLocal starts (or keeps) the stream of c, this node's connection.
func (g *Gateway) wantLocal(ctx context.Context, c *conn) (live.StreamState, error) {
	g.mu.Lock()
	if g.conns[c.device.DeviceID] != c || g.closing {
		g.mu.Unlock()
		return live.StreamState{}, errCameraOffline()
	}
	start := c.liveEpoch == 0
	if start {
		c.liveEpoch = newEpoch()
	}
	epoch := c.liveEpoch
	c.liveUntil = time.Now().Add(g.cfg.LiveGrace)
	g.mu.Unlock()
	if start {
		if err := g.write(ctx, c, deviceproto.Message{Type: deviceproto.TypeLiveStart, StreamEpoch: epoch}); err != nil {
			g.mu.Lock()
			if c.liveEpoch == epoch {
				c.liveEpoch = 0
			}
			g.mu.Unlock()
			return live.StreamState{}, apperr.Wrap(err, apperr.CameraOffline, "the camera did not start streaming")
		}
		g.log.Info("camera streaming live", "device", c.device.DeviceID, "epoch", epoch)
	}
	st := live.StreamState{Epoch: epoch}
	if g.sink != nil {
		st.First, st.Last, st.HasGOP = g.sink.LiveGOP(live.Label{Home: c.device.HomeID, Device: c.device.DeviceID, Epoch: epoch})
	}
	return st, nil
}

// newEpoch is a fresh random stream epoch, never 0 (no stream).
func newEpoch() uint64 {
	var b [8]byte
	for {
		_, _ = rand.Read(b[:]) // never fails (crypto/rand)
		if e := binary.BigEndian.Uint64(b[:]); e != 0 {
			return e
		}
	}
}

// liveFrame takes one binary message of c. It reports false for a
// message the protocol does not have (the connection is closed). A frame
// of another epoch than c's current stream is dropped: a late frame of a
// stopped stream never passes for one of the next.
func (g *Gateway) liveFrame(c *conn, data []byte) bool {
	h, au, err := deviceproto.DecodeFrame(data)
	if err != nil {
		return false
	}
	g.mu.Lock()
	epoch := c.liveEpoch
	g.mu.Unlock()
	if epoch == 0 || h.Epoch != epoch || g.sink == nil {
		return true
	}
	g.sink.LiveFrame(live.Frame{
		// The label comes from the connection's credential and the
		// gateway's own epoch, never from the camera's message.
		Label:    live.Label{Home: c.device.HomeID, Device: c.device.DeviceID, Epoch: epoch},
		Seq:      h.Seq,
		PTS:      time.Duration(h.PTS) * time.Second / 90000,
		Keyframe: h.Keyframe(),
		AU:       au,
	})
	return true
}

// liveEnded ends c's stream, if any, after the connection ended: the relay
// forgets it.
func (g *Gateway) liveEnded(c *conn) {
	g.mu.Lock()
	epoch := c.liveEpoch
	c.liveEpoch = 0
	g.mu.Unlock()
	if epoch != 0 && g.sink != nil {
		g.sink.LiveStopped(live.Label{Home: c.device.HomeID, Device: c.device.DeviceID, Epoch: epoch})
	}
}

// sweepLive stops, every quarter of the grace period, the streams nobody
// asked for within the grace period, unless the camera is kept warm.
func (g *Gateway) sweepLive(ctx context.Context) {
	t := time.NewTicker(max(g.cfg.LiveGrace/4, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		type stop struct {
			c     *conn
			epoch uint64
		}
		var stops []stop
		g.mu.Lock()
		for _, c := range g.conns {
			if c.liveEpoch != 0 && !c.warm && now.After(c.liveUntil) {
				stops = append(stops, stop{c, c.liveEpoch})
				c.liveEpoch = 0
			}
		}
		g.mu.Unlock()
		for _, s := range stops {
			g.log.Info("camera live stream stopped: no viewer within the grace period", "device", s.c.device.DeviceID, "epoch", s.epoch)
			if g.sink != nil {
				g.sink.LiveStopped(live.Label{Home: s.c.device.HomeID, Device: s.c.device.DeviceID, Epoch: s.epoch})
			}
			// A camera that does not take the stop is closed by write
			// (4004) and reconnects; its frames are dropped meanwhile.
			_ = g.write(ctx, s.c, deviceproto.Message{Type: deviceproto.TypeLiveStop, StreamEpoch: s.epoch})
		}
	}
}

// Streaming reports the epoch of a camera's live stream on this node, 0
// when it is not streaming here.
func (g *Gateway) Streaming(deviceID string) uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	if c := g.conns[deviceID]; c != nil {
		return c.liveEpoch
	}
	return 0
}
