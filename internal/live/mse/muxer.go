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
// (its first frame): 1/15 s, the cameras' rate.
const defaultTicks = h264.Timescale / 15

// maxTicks is the longest a frame is taken to show. A longer step between
// two frames is a gap (the viewer skipped to a keyframe, the camera
// stalled): the player's timeline steps over it instead of waiting out a
// hole in its buffer, which Chromium would stall at.
const maxTicks = h264.Timescale

// Muxer turns a live stream's frames into fragmented MP4: an init segment,
// then one fragment per frame, made as soon as the frame arrives. A frame's
// duration is not known until the next one comes, so each is given the step
// from the frame before it (a camera's rate is steady: 1/15 s), or the last
// step used after a gap; the player's timeline has no gaps or overlaps, and
// no frame waits for its successor. Not safe for concurrent use.
type Muxer struct {
	params  *h264.Params // of the last init segment sent; nil before the first keyframe
	started bool         // a fragment was made
	lastPTS int64        // the last frame's stream time, in ticks
	lastSeq uint64       // the last frame's Seq
	out     int64        // the next frame's time on the player's timeline
	step    int64        // the last duration used
	frag    uint32       // the last fragment's sequence number
}

// Push takes the stream's next frame and returns the messages it makes: an
// init segment before the first keyframe (and again when the parameter sets
// change) and the frame's fragment. Frames before the first keyframe are
// dropped: a decoder cannot start on them.
func (m *Muxer) Push(f live.Frame) ([][]byte, error) {
	nalus, err := h264.SplitAnnexB(f.AU)
	if err != nil {
		return nil, fmt.Errorf("mse: frame %d: %w", f.Seq, err)
	}
	if len(nalus) == 0 {
		return nil, fmt.Errorf("mse: frame %d is empty", f.Seq)
	}
	var msgs [][]byte
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
		return nil, nil
	}
	pts := ticks(f.PTS)
	d := m.step
	if step := pts - m.lastPTS; m.started && f.Seq == m.lastSeq+1 && step > 0 && step <= maxTicks {
		d = step
	}
	frag, err := m.fragment(f.Seq, nalus, d)
	if err != nil {
		return nil, err
	}
	m.started, m.lastPTS, m.lastSeq = true, pts, f.Seq
	return append(msgs, frag), nil
}

// fragment makes a frame's fragment, d ticks long.
func (m *Muxer) fragment(seq uint64, nalus [][]byte, d int64) ([]byte, error) {
	if d <= 0 {
		d = defaultTicks
	}
	m.frag++
	frag, err := h264.Fragment(m.frag, []h264.AccessUnit{{PTS: m.out, NALUs: nalus}}, m.out+d)
	if err != nil {
		return nil, fmt.Errorf("mse: frame %d: %w", seq, err)
	}
	m.out += d
	m.step = d
	return frag, nil
}

// ticks converts a stream time to h264.Timescale ticks, rounded: a frame
// time in nanoseconds is itself rounded from ticks.
func ticks(d time.Duration) int64 {
	return (d.Nanoseconds()*9 + 50000) / 100000 // 90 kHz = 9 per 100 µs
}
