package live

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/camvault/camvault/internal/cache"
	"github.com/camvault/camvault/internal/keys"
)

// A sealed frame is what crosses the bus and what the fast-start cache
// holds: keys.Encode of
//
//	format, home, device, epoch (8 bytes), seq (8), pts (8), flags (1), sealed AU
//
// where the AU is sealed under the home's data key with the frame's AD:
// the label's encoding, seq, pts and flags. A frame that opens therefore
// carries the label the camera's node gave it, and nothing else.
const wireFormat = "livef/v1"

const flagKeyframe byte = 1

// KindLiveFrame is the fast-start cache's entry: tenant the home, parts
// the device, the stream epoch and the frame's seq; version the epoch.
const KindLiveFrame cache.EntryKind = "live-frame"

func frameKey(l Label, seq uint64) cache.Key {
	return cache.NewKey(KindLiveFrame, l.Home, l.Device, strconv.FormatUint(l.Epoch, 10), strconv.FormatUint(seq, 10))
}

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func frameAD(l Label, seq uint64, pts time.Duration, flags byte) []byte {
	return keys.Encode(l.Encode(), u64(seq), u64(uint64(pts)), []byte{flags})
}

// seal returns the sealed form of f under its home's data key.
func seal(dk keys.DataKey, f Frame) []byte {
	var flags byte
	if f.Keyframe {
		flags = flagKeyframe
	}
	sealed := dk.Seal(f.AU, frameAD(f.Label, f.Seq, f.PTS, flags))
	return keys.Encode([]byte(wireFormat), []byte(f.Label.Home), []byte(f.Label.Device), u64(f.Label.Epoch),
		u64(f.Seq), u64(uint64(f.PTS)), []byte{flags}, sealed)
}

var errWire = errors.New("live: malformed sealed frame")

// open opens a sealed frame with keyFor(home of its claimed label). Only
// a frame sealed with exactly that label, seq, pts and flags opens.
func open(b []byte, keyFor func(home string) (keys.DataKey, error)) (Frame, error) {
	parts, ok := keys.Decode(b)
	if !ok || len(parts) != 8 || string(parts[0]) != wireFormat || len(parts[3]) != 8 || len(parts[4]) != 8 ||
		len(parts[5]) != 8 || len(parts[6]) != 1 || parts[6][0]&^flagKeyframe != 0 {
		return Frame{}, errWire
	}
	f := Frame{Label: Label{Home: string(parts[1]), Device: string(parts[2]), Epoch: binary.BigEndian.Uint64(parts[3])},
		Seq: binary.BigEndian.Uint64(parts[4]), PTS: time.Duration(binary.BigEndian.Uint64(parts[5])), Keyframe: parts[6][0] == flagKeyframe}
	dk, err := keyFor(f.Label.Home)
	if err != nil {
		return Frame{}, err
	}
	au, err := dk.Open(parts[7], frameAD(f.Label, f.Seq, f.PTS, parts[6][0]))
	if err != nil {
		return Frame{}, fmt.Errorf("live: frame of %s/%s epoch %d seq %d does not open: %w", f.Label.Home, f.Label.Device, f.Label.Epoch, f.Seq, err)
	}
	f.AU = au
	return f, nil
}
