package camera

import (
	"errors"
	"fmt"
	"time"

	"github.com/camvault/camvault/internal/media/h264"
)

// BuildClip makes an event clip: a progressive MP4 (ftyp, moov, mdat) with
// one H.264 track holding the frames, which start with a keyframe and
// follow one another in time. Each frame shows for 1/15 s, so the clip
// lasts len(frames)/15 s; its timeline starts at 0. The samples are the
// access units as the camera sent them, each with its watermark. Browsers
// play it in a video element; it passes camvault's upload check
// (media.MP4Checker).
func BuildClip(frames []VideoFrame) ([]byte, error) {
	if len(frames) == 0 {
		return nil, errors.New("build clip: no frames")
	}
	aus := make([]h264.AccessUnit, len(frames))
	for i, f := range frames {
		aus[i] = f.AccessUnit()
	}
	clip, err := h264.WriteMP4(aus, frames[len(frames)-1].PTS+frameTicks)
	if err != nil {
		return nil, fmt.Errorf("build clip: %w", err)
	}
	return clip, nil
}

// eventClip is the clip of an event at time at: from the newest keyframe
// at or before ClipPreroll earlier (pre-roll, from the camera's buffer when
// it is streaming) to ClipPostroll later. The simulation makes the
// post-roll at once, ahead of time (a frame is a function of its number); a
// real camera would upload once the post-roll had been recorded.
func (c *Camera) eventClip(at time.Time, home string) ([]byte, error) {
	cfg := &c.f.cfg
	v := c.f.video
	first := v.keyframeAtOrBefore(c.tl.frameAt(at.Add(-cfg.ClipPreroll)))
	last := c.tl.frameAt(at.Add(cfg.ClipPostroll))
	c.mu.Lock()
	s := c.stream
	c.mu.Unlock()
	var frames []VideoFrame
	var err error
	if s != nil && s.home == home {
		frames, err = s.frames(first, last)
	} else {
		frames, err = v.frames(cfg.WatermarkKey, c.creds.DeviceID, home, c.tl, first, last)
	}
	if err != nil {
		return nil, err
	}
	return BuildClip(frames)
}
