package storm

import (
	"bytes"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/sim/camera"
)

func renderThumb(t *testing.T, key []byte, device, home string) []byte {
	t.Helper()
	r, err := camera.NewRenderer(camera.DefaultQuality)
	if err != nil {
		t.Fatal(err)
	}
	wm, err := camera.Watermark(key, device, home, 7)
	if err != nil {
		t.Fatal(err)
	}
	f, err := r.Render(camera.Frame{Name: "test", DeviceID: device, Time: time.Unix(1700000000, 0), Seq: 7}, wm)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// videoFrames are frames first to last of device's stream in home.
func videoFrames(t *testing.T, key []byte, device, home string, first, last uint64) []camera.VideoFrame {
	t.Helper()
	v, err := camera.LoadVideo(camera.Video360p)
	if err != nil {
		t.Fatal(err)
	}
	f, err := v.Frames(key, device, home, first, last)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestClipFrames(t *testing.T) {
	key := bytes.Repeat([]byte("k"), 32)
	frames := videoFrames(t, key, "dev1", "home1", 0, 2)
	clip, err := camera.BuildClip(frames)
	if err != nil {
		t.Fatal(err)
	}
	got, err := camera.ClipFrames(clip)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("%d frames, want 3", len(got))
	}
	for i := range got {
		if !bytes.Equal(bytes.Join(got[i].NALUs, nil), bytes.Join(frames[i].NALUs, nil)) {
			t.Errorf("frame %d differs", i)
		}
	}
	if _, err := camera.ClipFrames(clip[:len(clip)-10]); err == nil {
		t.Error("a truncated clip splits without error")
	}
	if _, err := camera.ClipFrames([]byte("not a clip at all")); err == nil {
		t.Error("garbage splits without error")
	}
}

func TestCheckMedia(t *testing.T) {
	key := bytes.Repeat([]byte("k"), 32)
	ac := &account{home: "home1", devices: map[string]bool{"dev1": true, "dev2": true}}
	plain, err := camera.NewRenderer(camera.DefaultQuality)
	if err != nil {
		t.Fatal(err)
	}
	unmarked, err := plain.Render(camera.Frame{Name: "x", DeviceID: "dev1", Time: time.Unix(0, 0)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Clips are made of frames 0 to 2 of some cameras' streams (frame 0
	// is a keyframe).
	frame := func(key []byte, device, home string, n uint64) camera.VideoFrame {
		return videoFrames(t, key, device, home, n, n)[0]
	}
	own := videoFrames(t, key, "dev1", "home1", 0, 2)
	clip := func(frames ...camera.VideoFrame) []byte {
		c, err := camera.BuildClip(frames)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	// A frame of the fixture without the camera's SEI.
	bare := own[1]
	bare.NALUs = bare.NALUs[1:]
	for _, c := range []struct {
		name, kind string
		body       []byte
		want       verdict
	}{
		{"own thumbnail", "thumbnail", renderThumb(t, key, "dev1", "home1"), verdict{frames: 1}},
		{"own clip", "clip", clip(own...), verdict{frames: 3}},
		{"sibling camera's thumbnail", "thumbnail", renderThumb(t, key, "dev2", "home1"), verdict{frames: 1, mislabeled: 1}},
		{"stranger's thumbnail", "thumbnail", renderThumb(t, key, "dev9", "home9"), verdict{frames: 1, foreign: 1}},
		{"right camera, wrong home", "thumbnail", renderThumb(t, key, "dev1", "home9"), verdict{frames: 1, foreign: 1}},
		{"forged watermark", "thumbnail", renderThumb(t, bytes.Repeat([]byte("x"), 32), "dev1", "home1"), verdict{frames: 1, foreign: 1}},
		{"no watermark", "thumbnail", unmarked, verdict{frames: 1, foreign: 1}},
		{"one stranger's frame in a clip", "clip", clip(own[0], frame(key, "dev9", "home9", 1), own[2]), verdict{frames: 3, foreign: 1}},
		{"a sibling's frame in a clip", "clip", clip(own[0], own[1], frame(key, "dev2", "home1", 2)), verdict{frames: 3, mislabeled: 1}},
		{"a forged frame in a clip", "clip", clip(own[0], frame(bytes.Repeat([]byte("x"), 32), "dev1", "home1", 1), own[2]), verdict{frames: 3, foreign: 1}},
		{"an unmarked frame in a clip", "clip", clip(own[0], bare, own[2]), verdict{frames: 3, foreign: 1}},
		{"a JPEG for a clip", "clip", renderThumb(t, key, "dev1", "home1"), verdict{frames: 1, foreign: 1}},
		{"not a clip", "clip", []byte("garbage"), verdict{frames: 1, foreign: 1}},
		{"empty thumbnail", "thumbnail", nil, verdict{frames: 1, foreign: 1}},
	} {
		if got := checkMedia(key, ac, "dev1", c.kind, c.body); got != c.want {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
}

func TestParseVmRSS(t *testing.T) {
	status := []byte("Name:\tcamvault\nVmPeak:\t  900000 kB\nVmRSS:\t   12345 kB\nThreads:\t9\n")
	if got, err := parseVmRSS(status); err != nil || got != 12345*1024 {
		t.Errorf("got %d, %v", got, err)
	}
	if _, err := parseVmRSS([]byte("Name:\tx\n")); err == nil {
		t.Error("no VmRSS line, no error")
	}
	if _, err := parseVmRSS([]byte("VmRSS:\t12 MB\n")); err == nil {
		t.Error("an odd unit, no error")
	}
}
