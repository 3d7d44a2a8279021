package bridge

import (
	"sync"
	"time"
)

// ring keeps a camera's most recent access units, so an event's clip can
// start before the motion that made it (pre-roll). It is bounded by time
// and by bytes: a camera that sends more than it should pushes its own
// oldest pictures out, never the bridge's memory up.
type ring struct {
	mu       sync.Mutex
	aus      []AccessUnit // oldest first
	audio    []AudioFrame // oldest first
	bytes    int
	window   time.Duration
	maxBytes int
}

func newRing(window time.Duration, maxBytes int) *ring {
	return &ring{window: window, maxBytes: maxBytes}
}

// add appends au and drops what is older than the window or past the
// byte bound. A gap (a reconnect) empties it: a clip never spans two
// connections, whose times do not line up.
func (r *ring) add(au AccessUnit, restart bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if restart {
		r.aus, r.audio, r.bytes = r.aus[:0], r.audio[:0], 0
	}
	r.aus = append(r.aus, au)
	r.bytes += au.Size()
	drop := 0
	for drop < len(r.aus)-1 && (r.bytes > r.maxBytes || au.At.Sub(r.aus[drop].At) > r.window) {
		r.bytes -= r.aus[drop].Size()
		drop++
	}
	if drop > 0 {
		// Copy down rather than reslice, so the backing array does not
		// grow without end.
		n := copy(r.aus, r.aus[drop:])
		clear(r.aus[n:])
		r.aus = r.aus[:n]
	}
	// Audio goes with the pictures it plays along.
	drop = 0
	for drop < len(r.audio) && r.audio[drop].At.Before(r.aus[0].At) {
		r.bytes -= len(r.audio[drop].Data)
		drop++
	}
	if drop > 0 {
		n := copy(r.audio, r.audio[drop:])
		clear(r.audio[n:])
		r.audio = r.audio[:n]
	}
}

// maxAudioFrames bounds the audio the ring holds apart from the pictures
// (a camera sending audio and no video): about a minute of AAC at 16 kHz.
const maxAudioFrames = 1000

// addAudio appends an audio frame, kept as long as the pictures it plays
// along.
func (r *ring) addAudio(f AudioFrame) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.aus) == 0 || len(r.audio) >= maxAudioFrames {
		return
	}
	r.audio = append(r.audio, f)
	r.bytes += len(f.Data)
}

// cutAudio returns the audio frames that play from from until to.
func (r *ring) cutAudio(from, to time.Time) []AudioFrame {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []AudioFrame
	for _, f := range r.audio {
		if !f.At.Before(from) && f.At.Before(to) {
			out = append(out, f)
		}
	}
	return out
}

// cut returns the access units from the last keyframe at or before from
// (or the first keyframe after it, when the ring holds none before) up to
// the last one received at or before to. It returns nil when no keyframe
// is in range.
func (r *ring) cut(from, to time.Time) []AccessUnit {
	r.mu.Lock()
	defer r.mu.Unlock()
	start := -1
	for i, au := range r.aus {
		if au.At.After(to) {
			break
		}
		if au.Key && (start < 0 || !au.At.After(from)) {
			start = i
		}
	}
	if start < 0 {
		return nil
	}
	end := start
	for end < len(r.aus) && !r.aus[end].At.After(to) {
		end++
	}
	return append([]AccessUnit(nil), r.aus[start:end]...)
}
