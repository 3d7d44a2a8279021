package live

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/camvault/camvault/internal/authz"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/media"
)

// storeFailures is how many re-decisions in a row may fail to read the
// store before a session ends: it can no longer be shown to be allowed.
const storeFailures = 4

// Session is one viewer watching one camera. Next is for one goroutine at
// a time; Close may be called from any.
type Session struct {
	s     *Service
	h     *hub // under Service.mu
	p     authz.Principal
	dev   domain.Device
	since time.Time

	notify chan struct{} // a frame was queued or the session ended

	mu       sync.Mutex
	grant    authz.Grant // the viewer's current grant, re-decided on every version change
	version  int64       // the grant version grant was decided at
	failures int         // store reads failed in a row
	queue    []Frame
	qBytes   int
	waitKey  bool // drop frames until the next keyframe
	dropped  uint64
	err      error // why it ended; nil while it runs
	closed   bool
}

// Device is the camera watched.
func (ss *Session) Device() string { return ss.dev.ID }

// Since is when the session started.
func (ss *Session) Since() time.Time { return ss.since }

// Dropped counts the times the viewer fell behind and skipped to the
// next keyframe.
func (ss *Session) Dropped() uint64 {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.dropped
}

// Err is why the session ended, nil while it runs.
func (ss *Session) Err() error {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.err
}

// Next returns the next frame that passed the last step, waiting for it.
// The first is a keyframe (its access unit carries SPS and PPS). It
// returns an error wrapping ErrRevoked when the viewer lost access, or
// ErrEnded when the stream ended (wrapping media.ErrBlocked too when the
// last step refused a frame), or ctx's error.
func (ss *Session) Next(ctx context.Context) (Frame, error) {
	for {
		ss.mu.Lock()
		if ss.err != nil {
			err := ss.err
			ss.mu.Unlock()
			return Frame{}, err
		}
		if len(ss.queue) > 0 {
			f := ss.queue[0]
			ss.queue[0] = Frame{}
			ss.queue = ss.queue[1:]
			ss.qBytes -= len(f.AU)
			grant := ss.grant
			ss.mu.Unlock()
			// The last step: the frame's label against the viewer's
			// current grant, before it is handed to the writer.
			l := media.SegmentLabel{Home: f.Label.Home, Device: f.Label.Device, Epoch: f.Label.Epoch}
			if err := ss.s.d.Guard.CheckSegment(ctx, ss.p, grant, ss.dev.ID, l); err != nil {
				err = fmt.Errorf("%w: %w", ErrEnded, err)
				ss.end(err)
				return Frame{}, err
			}
			return f, nil
		}
		ss.mu.Unlock()
		select {
		case <-ctx.Done():
			return Frame{}, ctx.Err()
		case <-ss.notify:
		}
	}
}

// Close ends the session and records its end. Calling it more than once
// does nothing.
func (ss *Session) Close() {
	ss.mu.Lock()
	if ss.closed {
		ss.mu.Unlock()
		return
	}
	ss.closed = true
	if ss.err == nil {
		ss.err = fmt.Errorf("%w: closed", ErrEnded)
	}
	ss.mu.Unlock()
	ss.signal()
	ss.s.leave(ss, true)
}

// push queues f for the viewer, never waiting: a viewer that fell behind
// its queue's bounds loses what is queued and resumes at the next
// keyframe, so it slows neither the camera nor the other viewers.
func (ss *Session) push(f Frame) {
	cfg := ss.s.cfg
	ss.mu.Lock()
	if ss.err != nil {
		ss.mu.Unlock()
		return
	}
	if ss.waitKey && !f.Keyframe {
		ss.mu.Unlock()
		return
	}
	if len(ss.queue)+1 > cfg.QueueFrames || ss.qBytes+len(f.AU) > cfg.QueueBytes {
		clear(ss.queue)
		ss.queue, ss.qBytes = ss.queue[:0], 0
		ss.dropped++
		if !f.Keyframe {
			ss.waitKey = true
			ss.mu.Unlock()
			return
		}
	}
	ss.waitKey = false
	ss.queue = append(ss.queue, f)
	ss.qBytes += len(f.AU)
	ss.mu.Unlock()
	ss.signal()
}

func (ss *Session) signal() {
	select {
	case ss.notify <- struct{}{}:
	default:
	}
}

// end ends the session with err, unless it has ended already; what is
// queued is dropped.
func (ss *Session) end(err error) {
	ss.mu.Lock()
	if ss.err == nil {
		ss.err = err
		clear(ss.queue)
		ss.queue, ss.qBytes = nil, 0
	}
	ss.mu.Unlock()
	ss.signal()
}

func (ss *Session) currentVersion() int64 {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.version
}

// regrant records the grant re-decided at version v, unless a decision at
// a later version was recorded meanwhile (a notice's re-decision and the
// sweep run side by side).
func (ss *Session) regrant(g authz.Grant, v int64) {
	ss.mu.Lock()
	if v >= ss.version {
		ss.grant, ss.version, ss.failures = g, v, 0
	}
	ss.mu.Unlock()
}

// storeFailed counts a re-decision the store could not answer; past
// storeFailures in a row the session ends, since it can no longer be
// shown to be allowed.
func (ss *Session) storeFailed(err error) {
	ss.mu.Lock()
	ss.failures++
	n := ss.failures
	ss.mu.Unlock()
	ss.s.d.Log.Warn("live: re-deciding a session", "device", ss.dev.ID, "err", err)
	if n >= storeFailures {
		ss.end(fmt.Errorf("%w: the store cannot confirm the viewer's access: %w", ErrEnded, err))
	}
}
