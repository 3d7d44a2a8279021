// Package live carries cameras' live video to viewers: the relay on the
// camera's node, the fast-start cache, the hub on each viewer's node and the
// per-viewer writer whose last step checks every frame's label against the
// viewer's current grant (invariant 11).
package live

import (
	"strconv"
	"time"

	"github.com/camvault/camvault/internal/keys"
)

// Label is what a live frame belongs to: the home and device of the
// authenticated camera connection that produced it, and the stream epoch
// the server chose when it asked that connection to stream. It comes from
// the connection, never from anything the camera sent.
type Label struct {
	Home   string
	Device string
	Epoch  uint64
}

// Encode is the label's unambiguous encoding, for associated data and keys.
func (l Label) Encode() []byte {
	return keys.Encode([]byte("live"), []byte(l.Home), []byte(l.Device), []byte(strconv.FormatUint(l.Epoch, 10)))
}

// Frame is one access unit of a live stream.
type Frame struct {
	Label    Label
	Seq      uint64        // the frame's number in its stream, from 0
	PTS      time.Duration // presentation time since the stream began
	Keyframe bool          // an IDR access unit, with SPS and PPS before it
	AU       []byte        // the access unit in Annex-B form; shared, never modified
}

// StreamState is what the camera's node answers a request for its stream:
// the stream's epoch and the current group of pictures in the fast-start
// cache, frames First to Last, when HasGOP.
type StreamState struct {
	Epoch  uint64 `json:"epoch"`
	First  uint64 `json:"first,omitempty"`
	Last   uint64 `json:"last,omitempty"`
	HasGOP bool   `json:"has_gop,omitempty"`
}
