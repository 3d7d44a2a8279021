package media

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/jpeg"
	"testing"
)

func testJPEG(t testing.TB) []byte {
	var buf bytes.Buffer
	img := image.NewRGBA(image.Rect(0, 0, 64, 36))
	for i := range img.Pix {
		img.Pix[i] = byte(i * 7)
	}
	if err := jpeg.Encode(&buf, img, nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func box(typ string, payload []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(8+len(payload)))
	return append(append(b, typ...), payload...)
}

// testMP4 is a small fragmented MP4 of one H.264 track (no real
// pictures: the check reads boxes, not media data).
func testMP4() []byte {
	return append(craftFragmented(craft{samples: 3, perSample: 1000}), box("mdat", make([]byte, 5000))...)
}

func TestCheckJPEG(t *testing.T) {
	good := testJPEG(t)
	if err := CheckJPEG(good); err != nil {
		t.Fatalf("good JPEG refused: %v", err)
	}
	for name, b := range map[string][]byte{
		"empty":                    nil,
		"png":                      []byte("\x89PNG\r\n\x1a\n0000"),
		"truncated":                good[:len(good)/2],
		"no header":                append([]byte{0xFF, 0xD8, 0xFF, 0xD9}, 0xFF, 0xD9),
		"cut, end marker restored": append(append([]byte{}, good[:len(good)/2]...), 0xFF, 0xD9),
	} {
		if err := CheckJPEG(b); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
}

func checkMP4(b []byte, chunk int) error {
	var c MP4Checker
	for len(b) > 0 {
		n := min(chunk, len(b))
		if _, err := c.Write(b[:n]); err != nil {
			return err
		}
		b = b[n:]
	}
	return c.Close()
}

func TestCheckMP4(t *testing.T) {
	good := testMP4()
	for _, chunk := range []int{1, 3, 7, 8, 100, 1 << 20} {
		if err := checkMP4(good, chunk); err != nil {
			t.Fatalf("good MP4 in chunks of %d refused: %v", chunk, err)
		}
	}
	for name, b := range map[string][]byte{
		"empty":     nil,
		"jpeg":      testJPEG(t),
		"truncated": good[:len(good)-10],
		"no ftyp":   append(box("moov", nil), box("mdat", nil)...),
		"no moov":   append(box("ftyp", []byte("isom\x00\x00\x02\x00")), box("mdat", nil)...),
		"tiny box":  append(good, 0, 0, 0, 4, 'f', 'r', 'e', 'e'),
		"binary":    append(good, 0, 0, 0, 8, 0, 1, 2, 3),
		"trailing":  append(good, 1, 2, 3),
	} {
		if err := checkMP4(b, 5); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
}

func FuzzCheckJPEG(f *testing.F) {
	f.Add(testJPEG(f))
	f.Add([]byte{0xFF, 0xD8, 0xFF, 0xD9})
	f.Fuzz(func(t *testing.T, b []byte) { _ = CheckJPEG(b) })
}

// FuzzCheckMP4 checks the streaming checker never panics and gives the
// same verdict however the bytes are split.
func FuzzCheckMP4(f *testing.F) {
	f.Add(testMP4(), 3)
	f.Add([]byte("\x00\x00\x00\x01ftyp\x00\x00\x00\x00\x00\x00\x00\x20"), 1)
	f.Fuzz(func(t *testing.T, b []byte, chunk int) {
		if chunk <= 0 || chunk > 1<<16 {
			chunk = 1
		}
		whole, split := checkMP4(b, len(b)+1), checkMP4(b, chunk)
		if (whole == nil) != (split == nil) {
			t.Fatalf("verdict depends on chunking: whole %v, chunks of %d %v", whole, chunk, split)
		}
	})
}
