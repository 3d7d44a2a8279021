package camera

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"github.com/camvault/camvault/internal/keys"
	"github.com/camvault/camvault/internal/media/h264"
)

// A video watermark is an SEI user_data_unregistered message (payload
// type 5) in every access unit a camera sends, right before the picture's
// first slice: the UUID videoMarkUUID, then
//
//	version  1 byte, 1
//	device   1 byte n, then n bytes: the device ID
//	home     1 byte n, then n bytes: the home ID
//	seq      8 bytes, big-endian: the frame's number in the camera's stream
//	pts      8 bytes, big-endian two's complement: its presentation time, 90 kHz
//	mac      32 bytes
//
// where mac is HMAC-SHA256, under the same key as the JPEG watermark, over
// the length-prefixed encoding of the tag and the four fields (the tag
// differs from the JPEG watermark's, so one can never pass for the other).
// Any frame anyone receives says which camera of which home took it, and
// when; a frame relabelled on the way fails verification. The mark covers
// its fields, not the picture: it attributes frames that go astray, it does
// not stop a forger who holds the key from moving it to another picture.

const (
	videoMarkTag     = "camvault-vwm1"
	videoMarkVersion = 1
)

// videoMarkUUID identifies camvault's watermark among SEI user data:
// c5543031-053a-4cd8-b65c-7e618b360a92, chosen at random.
const videoMarkUUID = "\xc5\x54\x30\x31\x05\x3a\x4c\xd8\xb6\x5c\x7e\x61\x8b\x36\x0a\x92"

// VideoWatermark is what a verified video watermark says.
type VideoWatermark struct {
	DeviceID string
	HomeID   string
	Seq      uint64
	PTS      int64 // 90 kHz ticks since the Unix epoch
}

func videoMarkMAC(key []byte, device, home string, seq uint64, pts int64) []byte {
	var s, p [8]byte
	binary.BigEndian.PutUint64(s[:], seq)
	binary.BigEndian.PutUint64(p[:], uint64(pts))
	m := hmac.New(sha256.New, key)
	m.Write(keys.Encode([]byte(videoMarkTag), []byte(device), []byte(home), s[:], p[:]))
	return m.Sum(nil)
}

// VideoWatermarkSEI returns the SEI NAL unit that marks an access unit as
// frame seq, shown at pts, of device's stream in home. Put it before the
// picture's first slice (h264.InsertSEI does).
func VideoWatermarkSEI(key []byte, device, home string, seq uint64, pts int64) ([]byte, error) {
	if len(key) < minKeyLen {
		return nil, fmt.Errorf("watermark key must be at least %d bytes", minKeyLen)
	}
	if !validID(device) || !validID(home) {
		return nil, fmt.Errorf("watermark: device %q and home %q must be 1 to %d of A-Z a-z 0-9 _ -", device, home, maxIDLen)
	}
	p := make([]byte, 0, 1+1+len(device)+1+len(home)+8+8+sha256.Size)
	p = append(p, videoMarkVersion, byte(len(device)))
	p = append(p, device...)
	p = append(p, byte(len(home)))
	p = append(p, home...)
	p = binary.BigEndian.AppendUint64(p, seq)
	p = binary.BigEndian.AppendUint64(p, uint64(pts))
	p = append(p, videoMarkMAC(key, device, home, seq, pts)...)
	return h264.UserDataSEI(h264.UUID([]byte(videoMarkUUID)), p), nil
}

// VerifyVideoWatermark finds the watermark among the SEI of an access unit
// (its NAL units) and checks its MAC under key. Exactly one must be there,
// exactly in the form VideoWatermarkSEI writes.
func VerifyVideoWatermark(key []byte, au [][]byte) (VideoWatermark, error) {
	if len(key) < minKeyLen {
		return VideoWatermark{}, fmt.Errorf("watermark key must be at least %d bytes", minKeyLen)
	}
	found, err := h264.UserData(au, h264.UUID([]byte(videoMarkUUID)))
	switch {
	case err != nil:
		return VideoWatermark{}, fmt.Errorf("%w: %v", ErrBadWatermark, err)
	case len(found) == 0:
		return VideoWatermark{}, ErrNoWatermark
	case len(found) > 1:
		return VideoWatermark{}, fmt.Errorf("%w: %d watermarks in one access unit", ErrBadWatermark, len(found))
	}
	w, mac, err := parseVideoMark(found[0])
	if err != nil {
		return VideoWatermark{}, err
	}
	if !hmac.Equal(mac, videoMarkMAC(key, w.DeviceID, w.HomeID, w.Seq, w.PTS)) {
		return VideoWatermark{}, fmt.Errorf("%w: wrong mac for device %s home %s seq %d", ErrBadWatermark, w.DeviceID, w.HomeID, w.Seq)
	}
	return w, nil
}

// parseVideoMark reads the payload VideoWatermarkSEI writes, nothing more
// or less, and returns the fields and the MAC.
func parseVideoMark(p []byte) (VideoWatermark, []byte, error) {
	bad := func(why string) (VideoWatermark, []byte, error) {
		return VideoWatermark{}, nil, fmt.Errorf("%w: %s", ErrBadWatermark, why)
	}
	if len(p) < 2 || p[0] != videoMarkVersion {
		return bad("not a version 1 video watermark")
	}
	p = p[1:]
	var ids [2]string
	for i := range ids {
		if len(p) < 1 || len(p) < 1+int(p[0]) {
			return bad("cut short")
		}
		ids[i] = string(p[1 : 1+int(p[0])])
		p = p[1+int(p[0]):]
	}
	if !validID(ids[0]) || !validID(ids[1]) {
		return bad("device or home is not an ID")
	}
	if len(p) != 8+8+sha256.Size {
		return bad("wrong length")
	}
	w := VideoWatermark{DeviceID: ids[0], HomeID: ids[1], Seq: binary.BigEndian.Uint64(p), PTS: int64(binary.BigEndian.Uint64(p[8:]))}
	return w, p[16:], nil
}
