package camera

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/media"
)

func checkMP4(t *testing.T, b []byte, chunk int) {
	t.Helper()
	var c media.MP4Checker
	for len(b) > 0 {
		n := min(chunk, len(b))
		if _, err := c.Write(b[:n]); err != nil {
			t.Fatalf("server's checker refuses the clip: %v", err)
		}
		b = b[n:]
	}
	if err := c.Close(); err != nil {
		t.Fatalf("server's checker refuses the clip: %v", err)
	}
}

func TestClip(t *testing.T) {
	r := newTestRenderer(t)
	wm := mustWatermark(t, testKey, testDevice, testHome, 3)
	var frames [][]byte
	for i := range 3 {
		f, err := r.Render(Frame{Name: "cam", DeviceID: testDevice, Time: time.Unix(1_800_000_000, 0).Add(time.Duration(i) * 200 * time.Millisecond), Seq: 3, Index: i}, wm)
		if err != nil {
			t.Fatal(err)
		}
		frames = append(frames, f)
	}
	clip, err := BuildClip(frames, 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	for _, chunk := range []int{1, 7, 4096, len(clip)} {
		checkMP4(t, clip, chunk)
	}

	// Top-level boxes: ftyp, moov (holding mvhd), mdat holding the frames.
	var types []string
	var mdat []byte
	for off := 0; off < len(clip); {
		size := int(binary.BigEndian.Uint32(clip[off:]))
		typ := string(clip[off+4 : off+8])
		types = append(types, typ)
		switch typ {
		case "moov":
			if string(clip[off+12:off+16]) != "mvhd" || binary.BigEndian.Uint32(clip[off+8:]) != 108 {
				t.Fatalf("moov does not hold a 108-byte mvhd")
			}
			if d := binary.BigEndian.Uint32(clip[off+8+24:]); d != 600 {
				t.Errorf("mvhd duration %d, want 600 (ms)", d)
			}
		case "mdat":
			mdat = clip[off+8 : off+size]
		}
		off += size
	}
	if want := []string{"ftyp", "moov", "mdat"}; len(types) != 3 || types[0] != want[0] || types[1] != want[1] || types[2] != want[2] {
		t.Fatalf("boxes %v, want %v", types, want)
	}
	if !bytes.Equal(mdat, bytes.Join(frames, nil)) {
		t.Fatal("mdat does not hold the frames")
	}
	// Every frame in the clip carries the watermark.
	for i, f := range frames {
		if info, err := VerifyWatermark(testKey, f); err != nil || info.Seq != 3 {
			t.Fatalf("frame %d: %+v, %v", i, info, err)
		}
	}
}

func TestClipNeedsFrames(t *testing.T) {
	if _, err := BuildClip(nil, time.Second); err == nil {
		t.Fatal("a clip without frames was built")
	}
}
