// Package livefeed is a live stream for tests of live delivery: a
// simulated camera's watermarked frames, paced as the camera sends them,
// as the Source the delivery packages take.
package livefeed

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/camvault/camvault/internal/live"
	"github.com/camvault/camvault/internal/media/h264"
	"github.com/camvault/camvault/internal/sim/camera"
)

// ErrEnded is what Next returns after the source's last frame.
var ErrEnded = errors.New("livefeed: stream ended")

// ErrClosed is what Next returns once the source is closed.
var ErrClosed = errors.New("livefeed: source closed")

// Source plays frames 0, 1, 2 ... of a fixture video as device of home
// would send them, each when due (15 a second from the first Next), then
// ends with ErrEnded after Frames of them (0: never), or with Fail once
// Fail is set. Next is for one goroutine; Close and Revoke for any.
type Source struct {
	Video  *camera.Video
	Key    []byte // watermark key
	Home   string
	Device string
	Frames uint64

	mu     sync.Mutex
	fail   error
	wake   chan struct{} // closed on Close or Revoke
	closed bool
	next   uint64
	start  time.Time
}

// New returns a source of preset's video (camera.Video360p ...).
func New(preset string, key []byte, home, device string) (*Source, error) {
	v, err := camera.LoadVideo(preset)
	if err != nil {
		return nil, err
	}
	return &Source{Video: v, Key: key, Home: home, Device: device, wake: make(chan struct{})}, nil
}

// Next returns the next frame when it is due.
func (s *Source) Next(ctx context.Context) (live.Frame, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return live.Frame{}, ErrClosed
	}
	if s.fail != nil {
		err := s.fail
		s.mu.Unlock()
		return live.Frame{}, err
	}
	if s.Frames > 0 && s.next >= s.Frames {
		s.mu.Unlock()
		return live.Frame{}, ErrEnded
	}
	if s.start.IsZero() {
		s.start = time.Now()
	}
	n, due := s.next, s.start.Add(time.Duration(s.next)*time.Second/camera.VideoFPS)
	wake := s.wake
	s.mu.Unlock()
	if wait := time.Until(due); wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return live.Frame{}, ctx.Err()
		case <-wake:
			t.Stop()
			return s.Next(ctx) // closed or revoked: say which
		case <-t.C:
		}
	}
	fs, err := s.Video.Frames(s.Key, s.Device, s.Home, n, n)
	if err != nil {
		return live.Frame{}, fmt.Errorf("livefeed: frame %d: %w", n, err)
	}
	s.mu.Lock()
	s.next++
	s.mu.Unlock()
	f := fs[0]
	return live.Frame{
		Label:    live.Label{Home: s.Home, Device: s.Device, Epoch: 1},
		Seq:      f.Seq,
		PTS:      time.Duration(f.PTS) * time.Second / h264.Timescale,
		Keyframe: f.Keyframe,
		AU:       f.Data,
	}, nil
}

// Fail makes Next return err from now on (a revoked session: err wraps
// what the relay's would).
func (s *Source) Fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail == nil && !s.closed {
		s.fail = err
		close(s.wake)
	}
}

// Close ends the source.
func (s *Source) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	if s.fail == nil {
		close(s.wake)
	}
}

// Closed reports whether Close was called.
func (s *Source) Closed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}
