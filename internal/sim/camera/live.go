package camera

import (
	"context"
	"errors"

	"github.com/coder/websocket"

	"github.com/camvault/camvault/internal/deviceproto"
)

// liveStream is a camera's answer to live_start: one goroutine of the
// fleet's, writing the frames of a subscription to its Stream on the
// connection the request came on, until live_stop, a newer live_start,
// the end of that connection or of the fleet.
type liveStream struct {
	epoch  uint64
	gen    uint64 // the connection it streams on
	cancel context.CancelFunc
}

// Streaming reports the epoch of the live stream the camera is sending, 0
// when none.
func (c *Camera) Streaming() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.live == nil {
		return 0
	}
	return c.live.epoch
}

func (c *Camera) onLiveStart(ctx context.Context, m deviceproto.Message, gen uint64) {
	if m.StreamEpoch == 0 {
		return
	}
	stream, err := c.Stream()
	if err != nil {
		c.f.log.Warn("cannot stream live", c.logAttrs("err", err)...)
		return
	}
	c.mu.Lock()
	conn := c.conn
	if gen != c.connGen || conn == nil || (c.live != nil && c.live.epoch == m.StreamEpoch) {
		c.mu.Unlock()
		return
	}
	if c.live != nil {
		c.live.cancel()
	}
	sctx, cancel := context.WithCancel(ctx)
	ls := &liveStream{epoch: m.StreamEpoch, gen: gen, cancel: cancel}
	c.live = ls
	c.mu.Unlock()
	c.f.log.Info("streaming live", c.logAttrs("epoch", ls.epoch)...)
	c.f.goBackground(func() {
		defer c.endLive(ls)
		c.streamLive(sctx, conn, stream, ls.epoch)
	})
}

func (c *Camera) onLiveStop(m deviceproto.Message) {
	c.mu.Lock()
	ls := c.live
	c.mu.Unlock()
	if ls != nil && ls.epoch == m.StreamEpoch {
		c.endLive(ls)
	}
}

// endLive stops ls and forgets it if it is still the camera's stream.
func (c *Camera) endLive(ls *liveStream) {
	ls.cancel()
	c.mu.Lock()
	if c.live == ls {
		c.live = nil
	}
	c.mu.Unlock()
}

// streamLive writes frames until ctx ends or a write fails. Frames are
// numbered from 0 and timed from the first, as the protocol says.
func (c *Camera) streamLive(ctx context.Context, conn *websocket.Conn, stream *Stream, epoch uint64) {
	sub := stream.Subscribe()
	defer sub.Close()
	var n uint64
	var first int64
	for {
		f, err := sub.Next(ctx)
		if err != nil {
			return
		}
		if n == 0 {
			first = f.PTS
		}
		h := deviceproto.FrameHeader{Version: deviceproto.FrameVersion, Epoch: epoch, Seq: n, PTS: f.PTS - first}
		if f.Keyframe {
			h.Flags |= deviceproto.FlagKeyframe
		}
		n++
		wctx, cancel := context.WithTimeout(ctx, c.f.cfg.WriteTimeout)
		err = conn.Write(wctx, websocket.MessageBinary, deviceproto.EncodeFrame(h, f.Data))
		cancel()
		if err != nil {
			if !errors.Is(err, context.Canceled) {
				c.f.log.Info("live stream ended: write failed", c.logAttrs("err", err)...)
			}
			return
		}
		c.stats.LiveFrames.Add(1)
	}
}
