package live

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/camvault/camvault/internal/apperr"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/keys"
)

// hub is a camera watched through this node: one subscription to the
// camera's subject, fanned out to this node's sessions of it, and the
// current group of pictures in memory for the next viewer. It renews the
// node's interest in the stream every Config.Renew until its last viewer
// leaves.
type hub struct {
	s   *Service
	dev domain.Device // as the store had it when the first viewer came

	ready  chan struct{} // closed once start returned
	failed error         // set by start before ready is closed

	// members is under Service.mu: admission and leaving decide there.
	members map[*Session]struct{}

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{} // the renewer ended
	renew  chan struct{} // renew now: a frame of another epoch came

	dk keys.DataKey // the home's, for opening frames

	mu       sync.Mutex
	epoch    uint64
	gop      []Frame // from a keyframe; nil until one came
	gopBytes int
	// While the group is being filled from the cache, frames that arrive
	// live without a group to join wait here, so that the filled group
	// and they join up instead of leaving a gap that would send the first
	// viewer to the next keyframe (bounded like the group).
	filling bool
	pending []Frame
	viewers []*Session // those that joined: frames go to them
	ended   bool
}

func newHub(s *Service, dev domain.Device) *hub {
	h := &hub{s: s, dev: dev, ready: make(chan struct{}), members: map[*Session]struct{}{}, done: make(chan struct{}),
		renew: make(chan struct{}, 1)}
	h.ctx, h.cancel = context.WithCancel(s.ctx)
	return h
}

// start subscribes to the camera's frames, fills the group of pictures
// from the fast-start cache and starts the renewer. The caller counted
// the renewer in Service.wg.
func (h *hub) start(ctx context.Context, st StreamState) (err error) {
	defer func() {
		if err != nil {
			h.failed = err
			h.cancel()
			close(h.done)
			h.s.wg.Done()
		}
	}()
	if h.dk, err = h.s.dataKey(ctx, h.dev.HomeID); err != nil {
		return err
	}
	subj, err := liveSubject(h.dev.ID)
	if err != nil {
		return err
	}
	h.mu.Lock()
	h.epoch = st.Epoch
	h.filling = true // before the subscription: every live frame is kept until the fill is done
	h.mu.Unlock()
	sub, err := h.s.d.Bus.Subscribe(h.ctx, subj, h.onMessage)
	if err != nil {
		return fmt.Errorf("live: subscribe to the camera's frames: %w", err)
	}
	h.fill(ctx, st)
	go func() { // counted in Service.wg by admit
		defer h.s.wg.Done()
		defer close(h.done)
		h.renewLoop()
		if err := sub.Unsubscribe(); err != nil {
			h.s.d.Log.Warn("live: unsubscribe from a camera's frames", "device", h.dev.ID, "err", err)
		}
	}()
	return nil
}

func (h *hub) keyFor(home string) (keys.DataKey, error) {
	if home != h.dev.HomeID {
		return keys.DataKey{}, fmt.Errorf("live: a frame names home %s, not the camera's", home)
	}
	return h.dk, nil
}

// onMessage takes a sealed frame from the bus. A frame that does not
// open under the camera's home's key with the label it claims, or whose
// label is not this camera's current stream, is dropped here; the last
// step checks the label again before each viewer gets it.
func (h *hub) onMessage(_ context.Context, data []byte) {
	f, err := open(data, h.keyFor)
	if err != nil {
		h.s.d.Log.Error("live: a frame on the camera's subject does not open; dropped", "device", h.dev.ID, "err", err)
		return
	}
	if f.Label.Device != h.dev.ID {
		h.s.d.Log.Error("live: a frame of another camera on this camera's subject; dropped", "device", h.dev.ID, "label_device", f.Label.Device)
		return
	}
	h.mu.Lock()
	epoch := h.epoch
	h.mu.Unlock()
	if f.Label.Epoch != epoch {
		// A new stream (the camera reconnected) or a late frame of an old
		// one: ask the camera's node which it is.
		select {
		case h.renew <- struct{}{}:
		default:
		}
		return
	}
	h.deliver(f)
}

// deliver keeps f in the group of pictures and hands it to every viewer.
// It never waits for a viewer: a full queue drops to the next keyframe.
func (h *hub) deliver(f Frame) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ended {
		return
	}
	h.keep(f)
	for _, ss := range h.viewers {
		ss.push(f)
	}
}

// keep adds f to the group of pictures, within the bounds. h.mu held.
func (h *hub) keep(f Frame) {
	cfg := h.s.cfg
	switch {
	case f.Keyframe:
		h.gop, h.gopBytes = append(h.gop[:0:0], f), len(f.AU)
	case h.gop == nil:
		if h.filling && len(h.pending) < cfg.GOPFrames {
			h.pending = append(h.pending, f)
		}
	case len(h.gop) >= cfg.GOPFrames || h.gopBytes+len(f.AU) > cfg.GOPBytes || f.Seq != h.gop[len(h.gop)-1].Seq+1:
		h.gop, h.gopBytes = nil, 0 // no fast start from memory until the next keyframe
	default:
		h.gop, h.gopBytes = append(h.gop, f), h.gopBytes+len(f.AU)
	}
}

// fill loads the current group of pictures from the fast-start cache, if
// the hub has not seen a keyframe of its own yet. It reads on past the
// last frame st names until a miss: frames the camera sent between the
// answer and the subscription are in the cache, not on the hub's
// subscription. A stream that had no group when asked (one just asked to
// start) is read from its first frame, which the camera sends at once and
// which may have been relayed before the hub subscribed. An entry that
// does not open for its key is a miss the cache reports as a mismatch; a
// frame in it that is not exactly the one asked for is a miss too.
func (h *hub) fill(ctx context.Context, st StreamState) {
	var frames []Frame
	defer func() { h.install(frames, st.Epoch) }()
	c := h.s.cache()
	if c == nil || (st.HasGOP && (st.Last < st.First || int(st.Last-st.First) >= h.s.cfg.GOPFrames)) {
		return
	}
	first := st.First
	if !st.HasGOP {
		first = 0
	}
	want := Label{Home: h.dev.HomeID, Device: h.dev.ID, Epoch: st.Epoch}
	for seq := first; seq-first < uint64(2*h.s.cfg.GOPFrames); seq++ {
		raw, version, hit, err := c.Get(ctx, frameKey(want, seq), want.Home)
		if err != nil || !hit || version != st.Epoch {
			break
		}
		f, err := open(raw, h.keyFor)
		if err != nil || f.Label != want || f.Seq != seq || (seq == first && !f.Keyframe) || (seq <= st.Last && st.HasGOP && (seq == first) != f.Keyframe) {
			h.s.d.Log.Error("live: a fast-start entry holds another frame than its key; a miss", "device", h.dev.ID, "seq", seq)
			break
		}
		if f.Keyframe {
			frames = frames[:0] // a newer group started: it is the current one
		}
		if len(frames) >= h.s.cfg.GOPFrames {
			break
		}
		frames = append(frames, f)
	}
}

// install ends the fill: the frames read from the cache become the group
// (unless a keyframe came live meanwhile: that group is newer), followed
// by the frames that came live during the fill and continue it.
func (h *hub) install(frames []Frame, epoch uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	pending := h.pending
	h.filling, h.pending = false, nil
	if h.gop != nil || h.epoch != epoch || len(frames) == 0 {
		return
	}
	for _, f := range frames {
		h.keep(f)
	}
	for _, f := range pending {
		if h.gop == nil {
			return
		}
		if last := h.gop[len(h.gop)-1].Seq; f.Seq > last {
			h.keep(f) // a gap (a frame lost on the way) ends the group, as live
		}
	}
}

// join starts ss on the current group of pictures (a keyframe first), or
// on the next keyframe.
func (h *hub) join(ss *Session) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ended {
		ss.end(fmt.Errorf("%w: the camera stopped streaming", ErrEnded))
		return
	}
	ss.mu.Lock()
	ss.waitKey = true
	ss.mu.Unlock()
	for _, f := range h.gop {
		ss.push(f)
	}
	h.viewers = append(h.viewers, ss)
}

func (h *hub) isEnded() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ended
}

// part stops handing frames to ss.
func (h *hub) part(ss *Session) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, v := range h.viewers {
		if v == ss {
			h.viewers = append(h.viewers[:i], h.viewers[i+1:]...)
			break
		}
	}
}

// stop ends the hub once its last viewer left; the camera's node stops
// the stream after its grace period.
func (h *hub) stop() {
	h.mu.Lock()
	h.ended, h.gop = true, nil
	h.mu.Unlock()
	h.cancel()
}

// renewLoop renews the node's interest in the stream until the hub is
// stopped; a camera no longer connected anywhere ends every session.
func (h *hub) renewLoop() {
	t := time.NewTicker(h.s.cfg.Renew)
	defer t.Stop()
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-t.C:
		case <-h.renew:
		}
		ctx, cancel := context.WithTimeout(h.ctx, h.s.cfg.Renew*5)
		st, err := h.s.d.Streams.WantLive(ctx, h.dev)
		cancel()
		switch {
		case h.ctx.Err() != nil:
			return
		case apperr.CodeOf(err) == apperr.CameraOffline:
			h.endAll(fmt.Errorf("%w: %w", ErrEnded, err))
			return
		case err != nil:
			h.s.d.Log.Warn("live: renewing interest in a stream", "device", h.dev.ID, "err", err)
			continue
		}
		h.mu.Lock()
		if st.Epoch != h.epoch {
			// A new stream: viewers continue from its first keyframe.
			h.epoch, h.gop, h.gopBytes = st.Epoch, nil, 0
			for _, ss := range h.viewers {
				ss.mu.Lock()
				ss.waitKey = true
				ss.mu.Unlock()
			}
		}
		h.mu.Unlock()
	}
}

// endAll ends every session of the hub: each is re-decided first, so a
// viewer who lost access learns that rather than that the stream ended.
func (h *hub) endAll(err error) {
	h.mu.Lock()
	h.ended = true
	viewers := append([]*Session(nil), h.viewers...)
	h.mu.Unlock()
	for _, ss := range viewers {
		if v, verr := h.s.d.Store.GrantVersion(h.ctx, ss.dev.HomeID, ss.p.AccountID); verr == nil && v != ss.currentVersion() {
			h.s.redecide(h.ctx, ss, v)
		}
		ss.end(err)
	}
}
