package camera

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// clipTimescale is the movie's time units per second.
const clipTimescale = 1000

// BuildClip wraps JPEG frames into a small ISO base media file: an ftyp
// box, a moov box holding a minimal mvhd (the clip's duration), and an
// mdat box holding the frames one after another. It passes camvault's
// upload checks (media.MP4Checker); it has no track, so players will not
// show it. frameGap is the time between frames.
func BuildClip(frames [][]byte, frameGap time.Duration) ([]byte, error) {
	if len(frames) == 0 {
		return nil, errors.New("build clip: no frames")
	}
	mdatLen := 8
	for _, f := range frames {
		mdatLen += len(f)
	}
	if mdatLen > 1<<31 {
		return nil, fmt.Errorf("build clip: %d bytes of frames is too much for a clip", mdatLen)
	}
	duration := uint32(time.Duration(len(frames)) * frameGap / (time.Second / clipTimescale))

	out := make([]byte, 0, 28+116+mdatLen)
	// ftyp: major brand, minor version, compatible brands.
	out = box(out, "ftyp", func(b []byte) []byte {
		b = append(b, "isom"...)
		b = binary.BigEndian.AppendUint32(b, 0x200)
		return append(b, "isomiso2mp41"...)
	})
	out = box(out, "moov", func(b []byte) []byte {
		return box(b, "mvhd", func(b []byte) []byte {
			b = append(b, 0, 0, 0, 0)               // version 0, flags
			b = binary.BigEndian.AppendUint32(b, 0) // creation time
			b = binary.BigEndian.AppendUint32(b, 0) // modification time
			b = binary.BigEndian.AppendUint32(b, clipTimescale)
			b = binary.BigEndian.AppendUint32(b, duration)
			b = binary.BigEndian.AppendUint32(b, 0x00010000) // rate 1.0
			b = binary.BigEndian.AppendUint16(b, 0x0100)     // volume 1.0
			b = append(b, make([]byte, 10)...)               // reserved
			for _, v := range [9]uint32{0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000} {
				b = binary.BigEndian.AppendUint32(b, v) // unity matrix
			}
			b = append(b, make([]byte, 24)...)         // pre-defined
			return binary.BigEndian.AppendUint32(b, 1) // next track ID
		})
	})
	out = binary.BigEndian.AppendUint32(out, uint32(mdatLen))
	out = append(out, "mdat"...)
	for _, f := range frames {
		out = append(out, f...)
	}
	return out, nil
}

// box appends a box of type typ whose body body appends.
func box(b []byte, typ string, body func([]byte) []byte) []byte {
	start := len(b)
	b = append(b, 0, 0, 0, 0)
	b = append(b, typ...)
	b = body(b)
	binary.BigEndian.PutUint32(b[start:], uint32(len(b)-start))
	return b
}
