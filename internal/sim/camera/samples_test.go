package camera

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/media"
)

// samplesDir holds the picture and clip docs/quickstart.md uploads.
const samplesDir = "../../../docs/samples"

// TestQuickstartSamples checks that the committed samples are what a
// camera sends and what the server accepts: a whole JPEG and an MP4 that
// pass the upload checks. With CAMVAULT_WRITE_SAMPLES=1 (docs/samples/make.sh)
// it first makes them afresh: a simulated camera's picture and a 3 s clip
// of its video, watermarked under a fixed sample key.
func TestQuickstartSamples(t *testing.T) {
	snapshot, clip := filepath.Join(samplesDir, "snapshot.jpg"), filepath.Join(samplesDir, "clip.mp4")
	if os.Getenv("CAMVAULT_WRITE_SAMPLES") == "1" {
		key := []byte("camvault sample watermark key")
		const device, home = "sample-camera", "sample-home"
		r, err := NewRenderer(DefaultQuality)
		if err != nil {
			t.Fatal(err)
		}
		at := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
		mark, err := Watermark(key, device, home, 1)
		if err != nil {
			t.Fatal(err)
		}
		jpg, err := r.Render(Frame{Name: "Front door", DeviceID: device, Time: at, Seq: 1}, mark)
		if err != nil {
			t.Fatal(err)
		}
		v, err := LoadVideo(Video360p)
		if err != nil {
			t.Fatal(err)
		}
		frames, err := v.Frames(key, device, home, 0, 3*VideoFPS-1)
		if err != nil {
			t.Fatal(err)
		}
		mp4, err := BuildClip(frames)
		if err != nil {
			t.Fatal(err)
		}
		for path, b := range map[string][]byte{snapshot: jpg, clip: mp4} {
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	jpg, err := os.ReadFile(snapshot)
	if err != nil {
		t.Fatal(err)
	}
	if err := media.CheckJPEG(jpg); err != nil {
		t.Errorf("%s: %v", snapshot, err)
	}
	mp4, err := os.ReadFile(clip)
	if err != nil {
		t.Fatal(err)
	}
	var check media.MP4Checker
	if _, err := check.Write(mp4); err != nil {
		t.Errorf("%s: %v", clip, err)
	}
	if err := check.Close(); err != nil {
		t.Errorf("%s: %v", clip, err)
	}
	if frames, err := ClipFrames(mp4); err != nil || len(frames) != 3*VideoFPS || !bytes.Contains(mp4, []byte("avc1")) {
		t.Errorf("%s: %d H.264 frames, %v; want %d", clip, len(frames), err, 3*VideoFPS)
	}
}
