package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// The bounds of a thumbnail, and so of the work and memory its check
// takes (invariant 13):
//   - at most maxJPEGSide pixels on a side: 8K UHD (7680x4320) and a
//     margin, so at most 64 Mpx;
//   - at most MaxJPEGScans scans: a baseline JPEG, what cameras send, has
//     one; libjpeg's progressive script has ten. Each scan may cost a pass
//     over the picture's blocks however few bytes it has (an end-of-band
//     run covers up to 32,767 blocks in a few bits);
//   - at most maxJPEGSegments marker segments in all.
//
// The markers are counted by a walk over the file that costs one pass over
// its bytes, before anything is decoded.
const (
	maxJPEGSide     = 8192
	MaxJPEGScans    = 12
	maxJPEGSegments = 256
)

// CheckJPEG checks that b is a whole JPEG image: it starts with a
// start-of-image marker, ends with an end-of-image marker, has no more
// scans and segments than a camera sends, and its entropy-coded data
// decodes, at the Huffman level, to exactly the blocks its header
// declares, with its restart markers in sequence, in a picture of at most
// maxJPEGSide pixels on a side (scanJPEG). A file cut short with an end
// marker stuck back on fails the last: its data ends before its last
// block. Nothing is decoded to pixels, so the work is bounded per byte and
// per declared block, not by what the picture holds.
func CheckJPEG(b []byte) error {
	if len(b) < 4 || b[0] != 0xFF || b[1] != 0xD8 || b[2] != 0xFF {
		return errors.New("not a JPEG: no start-of-image marker")
	}
	if !bytes.HasSuffix(b, []byte{0xFF, 0xD9}) {
		return errors.New("not a complete JPEG: no end-of-image marker")
	}
	if err := checkJPEGMarkers(b); err != nil {
		return err
	}
	return scanJPEG(b)
}

// checkJPEGMarkers walks the marker segments of b (after its start of
// image) and refuses more than MaxJPEGScans scans or maxJPEGSegments
// segments. Entropy-coded data after a scan header is skipped up to the
// next marker (0xFF followed by neither 0x00 nor a restart marker).
func checkJPEGMarkers(b []byte) error {
	scans, segments := 0, 0
	i := 2
	for i+1 < len(b) {
		if b[i] != 0xFF {
			return fmt.Errorf("not a valid JPEG: no marker at byte %d", i)
		}
		m := b[i+1]
		switch {
		case m == 0xFF: // fill byte
			i++
			continue
		case m == 0xD9:
			return nil
		case m >= 0xD0 && m <= 0xD7, m == 0x01:
			i += 2
			continue
		}
		if i+3 >= len(b) {
			return errors.New("not a complete JPEG: a segment is cut short")
		}
		segments++
		if segments > maxJPEGSegments {
			return fmt.Errorf("JPEG has more than %d marker segments; a camera's picture has a few dozen", maxJPEGSegments)
		}
		n := int(binary.BigEndian.Uint16(b[i+2:]))
		if n < 2 || i+2+n > len(b) {
			return errors.New("not a valid JPEG: a segment runs past the end")
		}
		i += 2 + n
		if m != 0xDA {
			continue
		}
		scans++
		if scans > MaxJPEGScans {
			return fmt.Errorf("JPEG has more than %d scans; a camera's picture has one (progressive ones about ten)", MaxJPEGScans)
		}
		for i+1 < len(b) && (b[i] != 0xFF || b[i+1] == 0x00 || (b[i+1] >= 0xD0 && b[i+1] <= 0xD7)) {
			i++
		}
	}
	return errors.New("not a complete JPEG: no end-of-image marker after its segments")
}

// MP4Checker checks, as bytes stream through it, that they form a sane
// ISO base media file: a sequence of top-level boxes, the first an ftyp,
// each with a printable four-character type and a size that fits, ending
// exactly at a box boundary, with one moov box that declares an H.264 or
// H.265 video track. It reads the clip's info (Info) on the way: it holds
// the moov box (at most MaxMoovBox bytes) and each moof box (at most
// MaxMoofBox) whole while it reads them, and of any other box no more
// than its header.
type MP4Checker struct {
	off    int64 // bytes seen
	boxEnd int64 // where the current box ends; 0 before the first
	hdr    []byte
	boxes  int
	toEnd  bool // the current box has size 0: it runs to the end
	err    error

	// hold is the moov or moof box being read, header included, up to
	// holdMax bytes; holding says one is.
	hold    []byte
	holdMax int
	holding bool
	clip    clipReader
	info    ClipInfo
	closed  bool
}

// Write consumes the next bytes of the file.
func (c *MP4Checker) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 && c.err == nil {
		if c.toEnd || c.off < c.boxEnd {
			skip := int64(len(p))
			if !c.toEnd && c.boxEnd-c.off < skip {
				skip = c.boxEnd - c.off
			}
			if c.holding {
				if len(c.hold)+int(skip) > c.holdMax {
					c.err = fmt.Errorf("the %s box is larger than %d bytes", c.hold[4:8], c.holdMax)
					break
				}
				c.hold = append(c.hold, p[:skip]...)
			}
			c.off += skip
			p = p[skip:]
			if c.holding && !c.toEnd && c.off == c.boxEnd {
				c.readHeld()
			}
			continue
		}
		// At a box boundary: gather the header (8 bytes, or 16 with a
		// 64-bit size).
		need := 8
		if len(c.hdr) >= 4 && binary.BigEndian.Uint32(c.hdr[:4]) == 1 {
			need = 16
		}
		take := min(need-len(c.hdr), len(p))
		c.hdr = append(c.hdr, p[:take]...)
		c.off += int64(take)
		p = p[take:]
		if len(c.hdr) < need || (need == 8 && binary.BigEndian.Uint32(c.hdr[:4]) == 1) {
			continue
		}
		c.startBox()
	}
	if c.err != nil {
		return n, c.err
	}
	return n, nil
}

func (c *MP4Checker) startBox() {
	start := c.off - int64(len(c.hdr))
	typ := c.hdr[4:8]
	for _, ch := range typ {
		if ch < 0x20 || ch > 0x7E {
			c.err = fmt.Errorf("not an MP4: box at %d has a non-printable type", start)
			return
		}
	}
	if c.boxes == 0 && string(typ) != "ftyp" {
		c.err = errors.New("not an MP4: the first box is not ftyp")
		return
	}
	size := int64(binary.BigEndian.Uint32(c.hdr[:4]))
	switch size {
	case 0:
		c.toEnd = true
	case 1:
		size = int64(binary.BigEndian.Uint64(c.hdr[8:16]))
		if size < 16 || size > 1<<40 {
			c.err = fmt.Errorf("not an MP4: box at %d has a bad 64-bit size", start)
			return
		}
	default:
		if size < 8 {
			c.err = fmt.Errorf("not an MP4: box at %d has size %d", start, size)
			return
		}
	}
	if c.boxes == 0 && !c.toEnd && (size < 16 || size > 4096) {
		c.err = errors.New("not an MP4: ftyp box size out of range")
		return
	}
	c.boxEnd = start + size
	c.boxes++
	switch string(typ) {
	case "moov", "moof":
		c.holdMax = MaxMoofBox
		if string(typ) == "moov" {
			c.holdMax = MaxMoovBox
		}
		if !c.toEnd && size > int64(c.holdMax) {
			c.err = fmt.Errorf("the %s box is larger than %d bytes (%d)", typ, c.holdMax, size)
			return
		}
		c.holding = true
		c.hold = append(c.hold[:0], c.hdr...)
		if !c.toEnd && c.off == c.boxEnd {
			c.readHeld()
		}
	}
	c.hdr = c.hdr[:0]
}

// readHeld reads the held moov or moof box, now whole.
func (c *MP4Checker) readHeld() {
	c.holding = false
	b := c.hold
	if c.toEnd {
		// A box that runs to the end says so with size 0; the parser
		// wants its real size.
		binary.BigEndian.PutUint32(b, uint32(len(b)))
	}
	if string(b[4:8]) == "moov" {
		c.err = c.clip.moov(b)
	} else {
		c.err = c.clip.moof(b)
	}
	c.hold = c.hold[:0]
	if c.holdMax == MaxMoovBox && cap(c.hold) > MaxMoofBox {
		c.hold = nil // a large moov's buffer is not kept for the fragments
	}
}

// Close reports whether the bytes seen form a complete file with an
// H.264 or H.265 video track (ErrClipCodec when they have none). Calling
// it again returns the same answer.
func (c *MP4Checker) Close() error {
	if !c.closed {
		c.closed = true
		c.err = c.finish()
	}
	return c.err
}

func (c *MP4Checker) finish() error {
	if c.err != nil {
		return c.err
	}
	switch {
	case c.boxes == 0:
		return errors.New("not an MP4: empty or no complete box")
	case len(c.hdr) > 0 || (!c.toEnd && c.off != c.boxEnd):
		return errors.New("not a complete MP4: the last box is cut short")
	}
	if c.holding {
		if c.readHeld(); c.err != nil {
			return c.err
		}
	}
	info, err := c.clip.info()
	if err != nil {
		return err
	}
	c.info = info
	return nil
}

// Info is the clip's info, once Close has accepted the clip.
func (c *MP4Checker) Info() ClipInfo { return c.info }
