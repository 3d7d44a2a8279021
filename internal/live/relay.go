package live

import (
	"context"
	"time"

	"github.com/camvault/camvault/internal/bus"
	"github.com/camvault/camvault/internal/keys"
)

// relay is a camera's stream on the camera's node: it seals each frame
// under the home's data key, publishes it on the camera's subject and
// keeps the current group of pictures in the fast-start cache. It lives
// from the stream's first frame until the gateway says it stopped.
type relay struct {
	label Label
	dk    keys.DataKey
	subj  bus.Subject
	// The current group of pictures in the cache: frames first to last,
	// when has. Bounded by Config.GOPFrames and GOPBytes.
	first, last uint64
	has         bool
	bytes       int
}

// relayTimeout bounds the store read, publish and cache write of a frame:
// the camera's next frames wait for them.
const relayTimeout = 2 * time.Second

// LiveFrame relays one frame of a camera streaming on this node. The
// gateway calls it one frame at a time per camera, in order.
func (s *Service) LiveFrame(f Frame) {
	ctx, cancel := context.WithTimeout(s.ctx, relayTimeout)
	defer cancel()
	s.mu.Lock()
	r := s.relays[f.Label.Device]
	s.mu.Unlock()
	if r == nil || r.label != f.Label {
		// A new stream: its home's key is read once.
		dk, err := s.dataKey(ctx, f.Label.Home)
		if err != nil {
			s.d.Log.Warn("live: dropping a frame", "device", f.Label.Device, "err", err)
			return
		}
		subj, err := liveSubject(f.Label.Device)
		if err != nil {
			s.d.Log.Error("live: subject", "device", f.Label.Device, "err", err)
			return
		}
		if r != nil {
			s.dropGOP(ctx, r)
		}
		r = &relay{label: f.Label, dk: dk, subj: subj}
		s.mu.Lock()
		s.relays[f.Label.Device] = r
		s.mu.Unlock()
	}
	sealed := seal(r.dk, f)
	// Into the fast-start cache first, then on the bus: a hub that
	// subscribes and then fills its group from the cache finds every frame
	// published before its subscription there, so it never misses the
	// stream's first keyframe between the two.
	s.cacheFrame(ctx, r, f, sealed)
	if err := s.d.Bus.Publish(ctx, r.subj, sealed); err != nil && ctx.Err() == nil {
		s.d.Log.Warn("live: publish a frame", "device", f.Label.Device, "err", err)
	}
}

// cacheFrame keeps the current group of pictures in the fast-start cache:
// a keyframe starts a new group and drops the previous one's entries.
func (s *Service) cacheFrame(ctx context.Context, r *relay, f Frame, sealed []byte) {
	c := s.cache()
	if c == nil {
		return
	}
	s.mu.Lock()
	if f.Keyframe {
		old := *r
		r.first, r.last, r.has, r.bytes = f.Seq, f.Seq, true, len(sealed)
		s.mu.Unlock()
		s.dropGOP(ctx, &old)
	} else {
		if !r.has || f.Seq != r.last+1 || r.bytes+len(sealed) > s.cfg.GOPBytes || int(f.Seq-r.first) >= s.cfg.GOPFrames {
			// No keyframe yet, a gap, or past the bounds: no fast start
			// until the next keyframe.
			old := *r
			r.has = false
			s.mu.Unlock()
			s.dropGOP(ctx, &old)
			return
		}
		r.last, r.bytes = f.Seq, r.bytes+len(sealed)
		s.mu.Unlock()
	}
	// Best effort: a failed write is a miss for a new viewer, who then
	// waits for the next keyframe.
	_ = c.Put(ctx, frameKey(f.Label, f.Seq), f.Label.Home, f.Label.Epoch, sealed)
}

// dropGOP deletes the cache entries of a copy of r's group of pictures.
func (s *Service) dropGOP(ctx context.Context, r *relay) {
	if s.d.Cache == nil || !r.has {
		return
	}
	for seq := r.first; seq <= r.last; seq++ {
		_ = s.d.Cache.Delete(ctx, frameKey(r.label, seq), r.label.Home)
	}
}

// LiveStopped forgets a camera's stream on this node.
func (s *Service) LiveStopped(l Label) {
	s.mu.Lock()
	r := s.relays[l.Device]
	if r == nil || r.label != l {
		s.mu.Unlock()
		return
	}
	delete(s.relays, l.Device)
	old := *r
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), relayTimeout)
	defer cancel()
	s.dropGOP(ctx, &old)
}

// LiveGOP names the current group of pictures of a stream in the cache.
func (s *Service) LiveGOP(l Label) (first, last uint64, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.relays[l.Device]
	if r == nil || r.label != l || !r.has {
		return 0, 0, false
	}
	return r.first, r.last, true
}
