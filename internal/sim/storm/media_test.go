package storm

import (
	"bytes"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/sim/camera"
)

func renderFrames(t *testing.T, key []byte, device, home string, n int) [][]byte {
	t.Helper()
	r, err := camera.NewRenderer(camera.DefaultQuality)
	if err != nil {
		t.Fatal(err)
	}
	wm, err := camera.Watermark(key, device, home, 7)
	if err != nil {
		t.Fatal(err)
	}
	var frames [][]byte
	for i := range n {
		f, err := r.Render(camera.Frame{Name: "test", DeviceID: device, Time: time.Unix(1700000000, 0), Seq: 7, Index: i}, wm)
		if err != nil {
			t.Fatal(err)
		}
		frames = append(frames, f)
	}
	return frames
}

func TestClipFrames(t *testing.T) {
	key := bytes.Repeat([]byte("k"), 32)
	frames := renderFrames(t, key, "dev1", "home1", 3)
	clip, err := camera.BuildClip(frames, 200*time.Millisecond)
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
		if !bytes.Equal(got[i], frames[i]) {
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
	own := renderFrames(t, key, "dev1", "home1", 3)
	sibling := renderFrames(t, key, "dev2", "home1", 1)
	stranger := renderFrames(t, key, "dev9", "home9", 1)
	wrongHome := renderFrames(t, key, "dev1", "home9", 1)
	forged := renderFrames(t, bytes.Repeat([]byte("x"), 32), "dev1", "home1", 1)
	plain, err := camera.NewRenderer(camera.DefaultQuality)
	if err != nil {
		t.Fatal(err)
	}
	unmarked, err := plain.Render(camera.Frame{Name: "x", DeviceID: "dev1", Time: time.Unix(0, 0)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	clip := func(frames ...[]byte) []byte {
		c, err := camera.BuildClip(frames, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	for _, c := range []struct {
		name, kind string
		body       []byte
		want       verdict
	}{
		{"own thumbnail", "thumbnail", own[0], verdict{frames: 1}},
		{"own clip", "clip", clip(own...), verdict{frames: 3}},
		{"sibling camera's thumbnail", "thumbnail", sibling[0], verdict{frames: 1, mislabeled: 1}},
		{"stranger's thumbnail", "thumbnail", stranger[0], verdict{frames: 1, foreign: 1}},
		{"right camera, wrong home", "thumbnail", wrongHome[0], verdict{frames: 1, foreign: 1}},
		{"forged watermark", "thumbnail", forged[0], verdict{frames: 1, foreign: 1}},
		{"no watermark", "thumbnail", unmarked, verdict{frames: 1, foreign: 1}},
		{"one stranger's frame in a clip", "clip", clip(own[0], stranger[0], own[2]), verdict{frames: 3, foreign: 1}},
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
