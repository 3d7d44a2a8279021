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

	"github.com/camvault/camvault/internal/sim/camera"
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
	return camera.EventForm(meta, thumb, clip)
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

// craftedJPEG is a progressive JPEG of one grey 2048×2048 component
// (65,536 blocks) with a DC scan and then acScans scans of the AC
// coefficients, each a few bytes: three end-of-band runs that cover every
// block. A decoder passes over every block in every scan, so the cost
// grows with the scans and not with the bytes: with 2,000 scans (34 KB)
// Go's decoder takes seconds; with 11 (twelve scans, the most the check
// lets through) it is the costliest progressive picture the server
// decodes.
func craftedJPEG(acScans int) []byte {
	const side = 2048
	seg := func(b []byte, marker byte, body ...byte) []byte {
		return append(append(b, 0xFF, marker, byte((len(body)+2)>>8), byte(len(body)+2)), body...)
	}
	b := []byte{0xFF, 0xD8}
	b = seg(b, 0xDB, append([]byte{0x00}, bytes.Repeat([]byte{1}, 64)...)...)  // quantization table 0, all ones
	b = seg(b, 0xC2, 8, side>>8, side&0xFF, side>>8, side&0xFF, 1, 1, 0x11, 0) // progressive, 1 component
	// Huffman tables: DC 0 has one code, "0", for a difference of 0; AC 0
	// has "00" for an end-of-band run of 2^14 + 14 bits and "01" for one
	// of 2 + 1 bit.
	dht := []byte{0x00, 1}
	dht = append(dht, make([]byte, 15)...)
	dht = append(dht, 0x00, 0x10, 0, 2)
	dht = append(dht, make([]byte, 14)...)
	dht = append(dht, 0xE0, 0x10)
	b = seg(b, 0xC4, dht...)
	// The DC scan: one "0" bit a block.
	b = seg(b, 0xDA, 1, 1, 0x00, 0, 0, 0x00)
	b = append(b, make([]byte, side/8*side/8/8)...)
	// Each AC scan: runs of 32,767, 32,767 and 2 blocks (0x3FFF, 0x3FFF,
	// then "01" "0" and padding ones), 0xFF bytes stuffed with 0x00.
	for range acScans {
		b = seg(b, 0xDA, 1, 1, 0x00, 1, 63, 0x00)
		b = append(b, 0x3F, 0xFF, 0x00, 0x3F, 0xFF, 0x00, 0x5F)
	}
	return append(b, 0xFF, 0xD9)
}

// largestPicture is a JPEG of the largest size a thumbnail may have, 2048
// pixels a side: the most a full decode in the check pool costs.
func largestPicture() ([]byte, error) {
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
		return nil, fmt.Errorf("largest picture: %w", err)
	}
	return buf.Bytes(), nil
}
