package storm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/jpeg"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/camvault/camvault/internal/deviceclient"
)

// What the hostile household sends: crafted pictures, upload bodies and
// Range headers.

// eventForm is an upload's multipart body, for a new event ID, and its
// Content-Type.
func eventForm(eventID string, thumb, clip []byte) ([]byte, string, error) {
	meta, err := json.Marshal(map[string]any{"event_id": eventID, "started_at": time.Now().UTC(), "kind": "motion"})
	if err != nil {
		return nil, "", fmt.Errorf("encode meta: %w", err)
	}
	return deviceclient.EventForm(meta, thumb, clip)
}

// manyRanges is a Range header of 2,000 one-byte ranges.
func manyRanges() string {
	var b strings.Builder
	b.WriteString("bytes=")
	for j := range 2000 {
		if j > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%d-%d", 2*j, 2*j)
	}
	return b.String()
}

// craftedJPEG is a progressive JPEG of one grey component side pixels
// square, with a DC scan (a bit a block), then a scan of the AC
// coefficients but for their last bit, then acScans-1 scans refining
// that bit (at least one). All its AC data are end-of-band runs that
// cover every block in a few bytes, so its cost for a decoder grows with
// the scans and the picture's size, not with the bytes: in a refinement
// it must still go through every block. Go's image/jpeg took 17 s for
// 2,000 scans at 2048 pixels (44 KB), and the bomb is 8192 pixels (380
// KB); the server's check, which reads at the Huffman level, took 19 ms
// for it with its limit on scans taken away. With 11 AC scans (twelve in
// all, the most the check lets through, over the largest picture it
// takes) it is about the costliest file the check reads
// (docs/design/events.md).
func craftedJPEG(side, acScans int) []byte {
	seg := func(b []byte, marker byte, body ...byte) []byte {
		return append(append(b, 0xFF, marker, byte((len(body)+2)>>8), byte(len(body)+2)), body...)
	}
	b := []byte{0xFF, 0xD8}
	b = seg(b, 0xDB, append([]byte{0x00}, bytes.Repeat([]byte{1}, 64)...)...)                // quantization table 0, all ones
	b = seg(b, 0xC2, 8, byte(side>>8), byte(side), byte(side>>8), byte(side), 1, 1, 0x11, 0) // progressive, 1 component
	// Huffman tables: DC 0 has one code, "0", for a difference of 0; AC 0
	// has a 4-bit code for each end-of-band run symbol, EOB0 to EOB14
	// (symbol r<<4 is code r, followed by r bits: a run of 2^r and those).
	dht := []byte{0x00, 1}
	dht = append(dht, make([]byte, 15)...)
	dht = append(dht, 0x00, 0x10, 0, 0, 0, 15)
	dht = append(dht, make([]byte, 12)...)
	for r := range 15 {
		dht = append(dht, byte(r<<4))
	}
	b = seg(b, 0xC4, dht...)
	blocks := (side + 7) / 8 * ((side + 7) / 8)
	// The DC scan: one "0" bit a block.
	b = seg(b, 0xDA, 1, 1, 0x00, 0, 0, 0x00)
	b = append(b, make([]byte, (blocks+7)/8)...)
	// An AC scan's data: runs of 32,767 blocks (EOB14 and fourteen ones),
	// then the rest in one run. A refinement's is the same: no block has
	// a coefficient to correct.
	var w jpegBits
	for left := blocks; left > 0; {
		run := min(left, 1<<15-1)
		r := 0
		for 1<<(r+1) <= run {
			r++
		}
		w.put(uint32(r), 4)
		w.put(uint32(run-1<<r), r)
		left -= run
	}
	ac := w.bytes()
	for i := range max(acScans, 2) {
		approx := byte(0x10) // refine the last bit: Ah 1, Al 0
		if i == 0 {
			approx = 0x01 // all but the last bit: Ah 0, Al 1
		}
		b = seg(b, 0xDA, 1, 1, 0x00, 1, 63, approx)
		b = append(b, ac...)
	}
	return append(b, 0xFF, 0xD9)
}

// jpegBits writes entropy-coded data: bits most significant first, a
// 0x00 stuffed after each 0xFF, the last byte padded with ones.
type jpegBits struct {
	out  []byte
	acc  uint32
	nacc int
}

func (w *jpegBits) put(v uint32, n int) {
	for i := n - 1; i >= 0; i-- {
		w.acc = w.acc<<1 | v>>i&1
		w.nacc++
		if w.nacc == 8 {
			w.flush()
		}
	}
}

func (w *jpegBits) flush() {
	w.out = append(w.out, byte(w.acc))
	if byte(w.acc) == 0xFF {
		w.out = append(w.out, 0x00)
	}
	w.acc, w.nacc = 0, 0
}

func (w *jpegBits) bytes() []byte {
	if w.nacc > 0 {
		w.put(1<<(8-w.nacc)-1, 8-w.nacc)
	}
	return w.out
}

// densePicture is a baseline JPEG of noise, 2048 pixels a side and about
// 400 KB: for a picture made the ordinary way, the check's work grows
// with its bytes, and few thumbnails have more.
func densePicture() ([]byte, error) {
	const side = 2048
	img := image.NewYCbCr(image.Rect(0, 0, side, side), image.YCbCrSubsampleRatio420)
	for y := range side {
		for x := range side {
			img.Y[y*img.YStride+x] = uint8((x ^ y) + rand.IntN(8))
		}
	}
	for i := range img.Cb {
		img.Cb[i], img.Cr[i] = uint8(i), uint8(i>>3)
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 60}); err != nil {
		return nil, fmt.Errorf("dense picture: %w", err)
	}
	return buf.Bytes(), nil
}
