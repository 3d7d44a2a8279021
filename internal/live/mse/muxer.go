// Package mse delivers a live stream to a browser as fragmented MP4 over a
// WebSocket, for Media Source Extensions: the fallback of WebRTC (package
// whep) where a peer connection cannot be made. See docs/design/web.md,
// "Live view".
package mse

import (
	"bytes"
	"fmt"
	"time"

	"github.com/camvault/camvault/internal/live"
	"github.com/camvault/camvault/internal/media/h264"
)

// defaultTicks is a frame's duration when the stream gives none to go by
// (its first frame, or one after a gap): 1/15 s, the cameras' rate.
const defaultTicks = h264.Timescale / 15

// maxTicks is the longest a frame is taken to show. A longer step between
// two frames is a gap (the viewer skipped to a keyframe, the camera
// stalled): the player's timeline steps over it instead of waiting out a
// hole in its buffer, which Chromium would stall at.
const maxTicks = h264.Timescale

// Muxer turns a live stream's frames into fragmented MP4: an init segment,
// then one fragment per frame. A frame goes out when the next one arrives,
// because its duration is the step to the next: one frame of latency
// (67 ms at 15 fps) for a timeline without gaps or overlaps. Not safe for
// concurrent use.
type Muxer struct {
	params  *h264.Params // of the last init segment sent; nil before the first keyframe
	pending *h264.AccessUnit
	pendPTS int64  // the pending frame's stream time, in ticks
	pendSeq uint64 // the pending frame's Seq
	out     int64  // the pending frame's time on the player's timeline
	step    int64  // the last duration used
	frag    uint32 // the last fragment's sequence number
}

// Push takes the stream's next frame and returns the messages that are
// ready: an init segment before the first keyframe (and again when the
// parameter sets change) and the fragment of the previous frame. Frames
// before the first keyframe are dropped: a decoder cannot start on them.
func (m *Muxer) Push(f live.Frame) ([][]byte, error) {
	nalus, err := h264.SplitAnnexB(f.AU)
	if err != nil {
		return nil, fmt.Errorf("mse: frame %d: %w", f.Seq, err)
	}
	if len(nalus) == 0 {
		return nil, fmt.Errorf("mse: frame %d is empty", f.Seq)
	}
	pts := ticks(f.PTS)
	var msgs [][]byte
	if m.pending != nil {
		d := pts - m.pendPTS
		if f.Seq != m.pendSeq+1 || d <= 0 || d > maxTicks {
			d = m.step
		}
		frag, err := m.fragment(d)
		if err != nil {
			return nil, err
		}
		msgs = append(msgs, frag)
	}
	if h264.IsKeyframe(nalus) {
		p, err := h264.FindParams(nalus)
		if err != nil {
			return nil, fmt.Errorf("mse: keyframe %d: %w", f.Seq, err)
		}
		if m.params == nil || !bytes.Equal(p.SPS, m.params.SPS) || !bytes.Equal(p.PPS, m.params.PPS) {
			init, err := h264.InitSegment(p)
			if err != nil {
				return nil, fmt.Errorf("mse: %w", err)
			}
			msgs = append(msgs, init)
			m.params = &p
		}
	} else if m.params == nil {
		return msgs, nil
	}
	m.pending = &h264.AccessUnit{NALUs: nalus}
	m.pendPTS, m.pendSeq = pts, f.Seq
	return msgs, nil
}

// fragment makes the pending frame's fragment, d ticks long.
func (m *Muxer) fragment(d int64) ([]byte, error) {
	if d <= 0 {
		d = defaultTicks
	}
	m.frag++
	au := *m.pending
	au.PTS = m.out
	frag, err := h264.Fragment(m.frag, []h264.AccessUnit{au}, m.out+d)
	if err != nil {
		return nil, fmt.Errorf("mse: frame %d: %w", m.pendSeq, err)
	}
	m.out += d
	m.step = d
	m.pending = nil
	return frag, nil
}

// ticks converts a stream time to h264.Timescale ticks, rounded: a frame
// time in nanoseconds is itself rounded from ticks.
func ticks(d time.Duration) int64 {
	return (d.Nanoseconds()*9 + 50000) / 100000 // 90 kHz = 9 per 100 µs
}
