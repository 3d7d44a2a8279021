package camera

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ClipFrames returns the JPEG frames of a clip BuildClip made, the way a
// receiver that wants to check each frame's watermark reads them back: the
// clip is an MP4 (ftyp, moov, mdat) whose mdat holds the frames one after
// another.
func ClipFrames(mp4 []byte) ([][]byte, error) {
	mdat, err := findBox(mp4, "mdat")
	if err != nil {
		return nil, err
	}
	return splitJPEGs(mdat)
}

// findBox returns the payload of the first top-level box of type typ.
func findBox(b []byte, typ string) ([]byte, error) {
	for pos := 0; pos < len(b); {
		if len(b)-pos < 8 {
			return nil, errors.New("clip: truncated box header")
		}
		size := uint64(binary.BigEndian.Uint32(b[pos:]))
		name := string(b[pos+4 : pos+8])
		hdr := uint64(8)
		switch size {
		case 0: // to the end of the file
			size = uint64(len(b) - pos)
		case 1: // 64-bit size follows
			if len(b)-pos < 16 {
				return nil, errors.New("clip: truncated box header")
			}
			size, hdr = binary.BigEndian.Uint64(b[pos+8:]), 16
		}
		if size < hdr || size > uint64(len(b)-pos) {
			return nil, fmt.Errorf("clip: box %q has a bad size", name)
		}
		if name == typ {
			return b[pos+int(hdr) : pos+int(size)], nil
		}
		pos += int(size)
	}
	return nil, fmt.Errorf("clip: no %s box", typ)
}

// splitJPEGs cuts concatenated JPEG images apart, walking each one's
// marker segments and entropy-coded data to its end-of-image marker.
func splitJPEGs(b []byte) ([][]byte, error) {
	var out [][]byte
	for len(b) > 0 {
		n, err := jpegLen(b)
		if err != nil {
			return out, fmt.Errorf("frame %d: %w", len(out), err)
		}
		out = append(out, b[:n])
		b = b[n:]
	}
	if len(out) == 0 {
		return nil, errors.New("no frames")
	}
	return out, nil
}

// jpegLen is the length of the JPEG image at the start of b, up to and
// including its EOI marker.
func jpegLen(b []byte) (int, error) {
	if len(b) < 2 || b[0] != 0xFF || b[1] != 0xD8 {
		return 0, errors.New("not a JPEG (no start-of-image marker)")
	}
	pos := 2
	for {
		if pos >= len(b) || b[pos] != 0xFF {
			return 0, fmt.Errorf("malformed JPEG at byte %d", pos)
		}
		for pos < len(b) && b[pos] == 0xFF {
			pos++
		}
		if pos >= len(b) {
			return 0, errors.New("JPEG cut short")
		}
		m := b[pos]
		pos++
		switch {
		case m == 0xD9: // EOI
			return pos, nil
		case m == 0x01 || (m >= 0xD0 && m <= 0xD7):
			continue // no length
		}
		if pos+2 > len(b) {
			return 0, errors.New("JPEG segment length cut short")
		}
		n := int(binary.BigEndian.Uint16(b[pos:]))
		if n < 2 || pos+n > len(b) {
			return 0, fmt.Errorf("JPEG segment at byte %d has a bad length", pos-2)
		}
		pos += n
		if m != 0xDA { // not start of scan
			continue
		}
		// Entropy-coded data: it ends at a marker other than a stuffed
		// 0xFF00 or a restart marker.
		for {
			if pos+1 >= len(b) {
				return 0, errors.New("JPEG scan cut short")
			}
			if b[pos] == 0xFF {
				next := b[pos+1]
				if next != 0x00 && !(next >= 0xD0 && next <= 0xD7) && next != 0xFF {
					break
				}
				if next == 0xFF {
					pos++
					continue
				}
				pos += 2
				continue
			}
			pos++
		}
	}
}
