package camera

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// ErrSubscriptionClosed is what Next returns once its subscription is
// closed.
var ErrSubscriptionClosed = errors.New("video subscription closed")

// Stream is a camera's live video: its frames, 15 a second, each
// watermarked. Frame n is a function of the camera and n alone (the
// fixture's access unit n modulo its length, and the watermark of frame n),
// so the stream costs nothing while nobody watches: there is no goroutine
// per camera, even while streaming. Frames are made when a subscriber
// asks for one that is due, on the subscriber's goroutine, and kept in a
// buffer of the last two GOPs (4 s) that every subscriber shares, which
// also gives event clips their pre-roll. Safe for concurrent use.
type Stream struct {
	video  *Video
	key    []byte
	device string
	home   string
	tl     timeline
	now    func() time.Time

	mu     sync.Mutex
	ring   []VideoFrame // frames lo to hi-1, frame n at n % len(ring); nil while nobody streams
	lo, hi uint64
	subs   int
}

// Stream returns the camera's live video stream. Its frames are
// watermarked with the home the server said the camera is in, so there is
// none before the first hello (or answer to GET /api/v1/device).
func (c *Camera) Stream() (*Stream, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stream != nil {
		return c.stream, nil
	}
	if c.homeID == "" {
		return nil, errors.New("camera: no video stream before the server has said which home the camera is in")
	}
	c.stream = &Stream{video: c.f.video, key: c.f.cfg.WatermarkKey, device: c.creds.DeviceID, home: c.homeID,
		tl: c.tl, now: c.f.cfg.Now}
	return c.stream, nil
}

// Video is the stream's video: its preset, parameter sets and GOP.
func (s *Stream) Video() *Video { return s.video }

// Subscribers is the number of open subscriptions: the stream is being
// generated while it is above zero.
func (s *Stream) Subscribers() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.subs
}

// Subscribe starts receiving the stream. The first frame is the newest
// keyframe at or before now, so that a decoder can start at once; the
// frames from it up to now follow without delay, then each comes when it
// is due. Generation runs while a subscription is open: the first
// Subscribe starts it, the last Close stops it and frees the buffer. A
// camera kept warm keeps a subscription open.
func (s *Stream) Subscribe() *Subscription {
	s.mu.Lock()
	s.subs++
	s.mu.Unlock()
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &Subscription{s: s, timer: t, done: make(chan struct{})}
}

// Subscription is one reader of a stream. Next is for one goroutine at a
// time; Close may be called from any.
type Subscription struct {
	s       *Stream
	timer   *time.Timer
	done    chan struct{}
	closed  bool // under s.mu
	started bool
	next    uint64
	skipped uint64
}

// Next returns the next frame, waiting until it is due (or ctx ends, or
// the subscription is closed). A reader that falls more than the buffer
// (two GOPs) behind skips to the newest keyframe: the frame's Seq shows the
// gap, and Skipped counts such skips.
func (sub *Subscription) Next(ctx context.Context) (VideoFrame, error) {
	s := sub.s
	for {
		s.mu.Lock()
		if sub.closed {
			s.mu.Unlock()
			return VideoFrame{}, ErrSubscriptionClosed
		}
		now := s.now()
		due := s.tl.frameAt(now)
		if !sub.started {
			sub.next, sub.started = s.video.keyframeAtOrBefore(due), true
		}
		if sub.next <= due {
			if err := s.advanceLocked(due); err != nil {
				s.mu.Unlock()
				return VideoFrame{}, err
			}
			if sub.next < s.lo {
				sub.next = s.video.keyframeAtOrBefore(due)
				sub.skipped++
			}
			f := s.ring[sub.next%uint64(len(s.ring))]
			sub.next++
			s.mu.Unlock()
			return f, nil
		}
		wait := s.tl.timeOf(sub.next).Sub(now)
		s.mu.Unlock()
		sub.timer.Reset(wait)
		select {
		case <-ctx.Done():
			sub.timer.Stop()
			return VideoFrame{}, ctx.Err()
		case <-sub.done:
			sub.timer.Stop()
			return VideoFrame{}, ErrSubscriptionClosed
		case <-sub.timer.C:
		}
	}
}

// Skipped is how many times the reader fell behind the buffer and skipped
// ahead to a keyframe. Read it from the goroutine that calls Next.
func (sub *Subscription) Skipped() uint64 { return sub.skipped }

// Close ends the subscription; a Next waiting on another goroutine returns
// ErrSubscriptionClosed. Closing the last one stops the stream. Closing
// twice does nothing.
func (sub *Subscription) Close() {
	s := sub.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if sub.closed {
		return
	}
	sub.closed = true
	close(sub.done)
	s.subs--
	if s.subs == 0 {
		s.ring, s.lo, s.hi = nil, 0, 0
	}
}

// advanceLocked makes the frames up to due (inclusive) that the buffer
// lacks. When it holds nothing still wanted it starts afresh at the newest
// keyframe at or before due.
func (s *Stream) advanceLocked(due uint64) error {
	if s.ring == nil {
		s.ring = make([]VideoFrame, 2*s.video.gop)
	}
	size := uint64(len(s.ring))
	if s.lo == s.hi || due >= s.hi+size {
		s.lo = s.video.keyframeAtOrBefore(due)
		s.hi = s.lo
	}
	for ; s.hi <= due; s.hi++ {
		f, err := s.video.frame(s.key, s.device, s.home, s.tl, s.hi)
		if err != nil {
			return err
		}
		s.ring[s.hi%size] = f
		if s.hi-s.lo >= size {
			s.lo++
		}
	}
	return nil
}

// frames returns frames first to last: from the buffer where it holds
// them, made afresh otherwise (the same bytes either way).
func (s *Stream) frames(first, last uint64) ([]VideoFrame, error) {
	if last < first || last-first >= maxClipFrames {
		return nil, fmt.Errorf("camera: video frames %d to %d: not 1 to %d frames", first, last, maxClipFrames)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]VideoFrame, 0, last-first+1)
	for n := first; n <= last; n++ {
		if s.ring != nil && s.lo <= n && n < s.hi {
			out = append(out, s.ring[n%uint64(len(s.ring))])
			continue
		}
		f, err := s.video.frame(s.key, s.device, s.home, s.tl, n)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// Frames makes frames first to last of the stream that device of home
// would send with its video origin at the Unix epoch (a camera's own origin
// is a little later: see timeline). For tests and tools.
func (v *Video) Frames(key []byte, device, home string, first, last uint64) ([]VideoFrame, error) {
	return v.frames(key, device, home, timeline{}, first, last)
}

// maxClipFrames bounds the frames made at once (about 73 minutes).
const maxClipFrames = 1 << 16

func (v *Video) frames(key []byte, device, home string, tl timeline, first, last uint64) ([]VideoFrame, error) {
	if last < first || last-first >= maxClipFrames {
		return nil, fmt.Errorf("camera: video frames %d to %d: not 1 to %d frames", first, last, maxClipFrames)
	}
	out := make([]VideoFrame, 0, last-first+1)
	for n := first; n <= last; n++ {
		f, err := v.frame(key, device, home, tl, n)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}
