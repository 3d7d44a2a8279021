package camera

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/camvault/camvault/internal/keys"
)

// A watermark is a JPEG comment (COM, FF FE) put right after the
// start-of-image marker:
//
//	camvault-wm1 device=<id> home=<id> seq=<n> mac=<hex>
//
// where mac is HMAC-SHA256, under a key only the verifying side and the
// camera know, over the length-prefixed encoding of the tag and the three
// fields (never over a joined string, so no field can bleed into another).
// A frame that reaches the wrong household, or a frame forged or relabelled
// on the way, shows its origin or fails verification.

const (
	watermarkTag = "camvault-wm1"
	macHexLen    = 2 * sha256.Size
	maxIDLen     = 64
	minKeyLen    = 16
	markerSOI    = 0xD8
	markerEOI    = 0xD9
	markerSOS    = 0xDA
	markerCOM    = 0xFE
)

// Errors of VerifyWatermark.
var (
	ErrNoWatermark  = errors.New("no camvault watermark")
	ErrBadWatermark = errors.New("watermark does not verify")
)

// WatermarkInfo is what a verified watermark says.
type WatermarkInfo struct {
	DeviceID string
	HomeID   string
	Seq      uint64
}

// validID reports whether s can stand in a watermark: 1 to 64 of
// A-Z a-z 0-9 _ - (camvault's IDs and event IDs all are).
func validID(s string) bool {
	if s == "" || len(s) > maxIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func watermarkMAC(key []byte, device, home string, seq uint64) []byte {
	var s [8]byte
	binary.BigEndian.PutUint64(s[:], seq)
	m := hmac.New(sha256.New, key)
	m.Write(keys.Encode([]byte(watermarkTag), []byte(device), []byte(home), s[:]))
	return m.Sum(nil)
}

// Watermark returns the COM segment (marker, length and text) that marks a
// frame as taken by device of home, with sequence number seq. Insert it
// right after a JPEG's SOI marker (InsertWatermark does).
func Watermark(key []byte, device, home string, seq uint64) ([]byte, error) {
	if len(key) < minKeyLen {
		return nil, fmt.Errorf("watermark key must be at least %d bytes", minKeyLen)
	}
	if !validID(device) || !validID(home) {
		return nil, fmt.Errorf("watermark: device %q and home %q must be 1 to %d of A-Z a-z 0-9 _ -", device, home, maxIDLen)
	}
	text := watermarkTag + " device=" + device + " home=" + home + " seq=" + strconv.FormatUint(seq, 10) +
		" mac=" + hex.EncodeToString(watermarkMAC(key, device, home, seq))
	seg := make([]byte, 0, 4+len(text))
	seg = append(seg, 0xFF, markerCOM)
	seg = binary.BigEndian.AppendUint16(seg, uint16(2+len(text)))
	return append(seg, text...), nil
}

// InsertWatermark returns a copy of jpeg with the segment (from Watermark)
// right after its SOI marker.
func InsertWatermark(jpeg, segment []byte) ([]byte, error) {
	if len(jpeg) < 4 || jpeg[0] != 0xFF || jpeg[1] != markerSOI {
		return nil, errors.New("insert watermark: not a JPEG (no start-of-image marker)")
	}
	out := make([]byte, 0, len(jpeg)+len(segment))
	out = append(out, jpeg[:2]...)
	out = append(out, segment...)
	return append(out, jpeg[2:]...), nil
}

// VerifyWatermark finds the camvault watermark among the header segments
// of a JPEG (before its image data) and checks its MAC under key. Exactly
// one watermark must be there; its text must be exactly in the form
// Watermark writes.
func VerifyWatermark(key []byte, jpeg []byte) (WatermarkInfo, error) {
	if len(key) < minKeyLen {
		return WatermarkInfo{}, fmt.Errorf("watermark key must be at least %d bytes", minKeyLen)
	}
	text, err := findWatermark(jpeg)
	if err != nil {
		return WatermarkInfo{}, err
	}
	info, mac, err := parseWatermark(text)
	if err != nil {
		return WatermarkInfo{}, err
	}
	if !hmac.Equal(mac, watermarkMAC(key, info.DeviceID, info.HomeID, info.Seq)) {
		return WatermarkInfo{}, fmt.Errorf("%w: wrong mac for device %s home %s seq %d", ErrBadWatermark, info.DeviceID, info.HomeID, info.Seq)
	}
	return info, nil
}

// findWatermark walks the JPEG's marker segments up to the start of scan
// and returns the text of the one COM segment that starts with the tag.
func findWatermark(b []byte) ([]byte, error) {
	if len(b) < 2 || b[0] != 0xFF || b[1] != markerSOI {
		return nil, fmt.Errorf("%w: not a JPEG (no start-of-image marker)", ErrNoWatermark)
	}
	var found []byte
	pos := 2
	for {
		if pos >= len(b) || b[pos] != 0xFF {
			return nil, fmt.Errorf("%w: malformed JPEG header at byte %d", ErrBadWatermark, pos)
		}
		for pos < len(b) && b[pos] == 0xFF { // fill bytes
			pos++
		}
		if pos >= len(b) {
			return nil, fmt.Errorf("%w: JPEG header cut short", ErrBadWatermark)
		}
		m := b[pos]
		pos++
		switch {
		case m == markerSOS || m == markerEOI:
			if found == nil {
				return nil, ErrNoWatermark
			}
			return found, nil
		case m == 0x01 || (m >= 0xD0 && m <= 0xD7) || m == markerSOI:
			continue // markers without a length
		}
		if pos+2 > len(b) {
			return nil, fmt.Errorf("%w: JPEG segment length cut short", ErrBadWatermark)
		}
		n := int(binary.BigEndian.Uint16(b[pos:]))
		if n < 2 || pos+n > len(b) {
			return nil, fmt.Errorf("%w: JPEG segment at byte %d has a bad length", ErrBadWatermark, pos-2)
		}
		payload := b[pos+2 : pos+n]
		pos += n
		if m == markerCOM && strings.HasPrefix(string(payload), watermarkTag+" ") {
			if found != nil {
				return nil, fmt.Errorf("%w: more than one watermark", ErrBadWatermark)
			}
			found = payload
		}
	}
}

// parseWatermark reads "camvault-wm1 device=D home=H seq=N mac=X", fields
// in that order, nothing else, and returns the fields and the MAC.
func parseWatermark(text []byte) (WatermarkInfo, []byte, error) {
	bad := func(why string) (WatermarkInfo, []byte, error) {
		return WatermarkInfo{}, nil, fmt.Errorf("%w: %s", ErrBadWatermark, why)
	}
	fields := strings.Split(string(text), " ")
	if len(fields) != 5 || fields[0] != watermarkTag {
		return bad("not five space-separated fields")
	}
	names := [...]string{"device", "home", "seq", "mac"}
	var vals [4]string
	for i, name := range names {
		v, ok := strings.CutPrefix(fields[i+1], name+"=")
		if !ok {
			return bad("field " + strconv.Itoa(i+1) + " is not " + name)
		}
		vals[i] = v
	}
	info := WatermarkInfo{DeviceID: vals[0], HomeID: vals[1]}
	if !validID(info.DeviceID) || !validID(info.HomeID) {
		return bad("device or home is not an ID")
	}
	seq, err := strconv.ParseUint(vals[2], 10, 64)
	if err != nil || strconv.FormatUint(seq, 10) != vals[2] {
		return bad("seq is not a canonical decimal number")
	}
	info.Seq = seq
	if len(vals[3]) != macHexLen || strings.ToLower(vals[3]) != vals[3] {
		return bad("mac is not 64 lowercase hex digits")
	}
	mac, err := hex.DecodeString(vals[3])
	if err != nil {
		return bad("mac is not hex")
	}
	return info, mac, nil
}
