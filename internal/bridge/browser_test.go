package bridge

import (
	"bytes"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/chromedp/chromedp"

	"github.com/camvault/camvault/internal/sim/browsertest"
)

const clipPage = `<!doctype html>
<title>clip</title>
<video id="v" muted playsinline preload="auto"></video>
<script>
const v = document.getElementById("v");
window.failure = null;
v.addEventListener("error", () => { window.failure = "video error " + v.error.code + ": " + v.error.message; });
function playFile(src) { v.src = src; return v.play(); }
</script>`

// TestBrowserPlaysBridgeClips: Chromium plays the clips the bridge cuts
// from an H.264 camera, 360p baseline whose parameter sets came only in
// the session description, and 1080p main, from the keyframe to the end,
// at the camera's size.
func TestBrowserPlaysBridgeClips(t *testing.T) {
	bctx := browsertest.Start(t, chromedp.Flag("autoplay-policy", "no-user-gesture-required"))
	for _, tc := range []struct {
		path  string
		w, h  int
		audio bool
	}{{"../sim/camera/fixtures/640x360.h264", 640, 360, false}, {"testdata/1920x1080.h264", 1920, 1080, false}, {"../sim/camera/fixtures/640x360.h264", 640, 360, true}} {
		t.Run(fmt.Sprintf("%dx%d audio %v", tc.w, tc.h, tc.audio), func(t *testing.T) {
			t0 := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
			aus := loadStream(t, tc.path, H264, t0)
			r := newRing(time.Minute, 64<<20)
			for i, au := range aus {
				r.add(au, i == 0)
			}
			at := t0.Add(2500 * time.Millisecond)
			cut := r.cut(at.Add(-time.Second), at.Add(time.Second))
			var audio *AudioTrack
			if tc.audio {
				audio = aacTrack(t, "testdata/tone.aac", t0)
				audio.Frames = audioFor(audio.Frames, cut)
			}
			clip, err := writeClip(H264, cut, audio)
			if err != nil {
				t.Fatal(err)
			}
			want := float64(len(cut)) / 15
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/" {
					w.Header().Set("Content-Type", "text/html; charset=utf-8")
					fmt.Fprint(w, clipPage)
					return
				}
				w.Header().Set("Content-Type", "video/mp4")
				http.ServeContent(w, r, "clip.mp4", time.Time{}, bytes.NewReader(clip))
			}))
			defer srv.Close()
			ctx, cancel := chromedp.NewContext(bctx)
			defer cancel()
			if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/"),
				chromedp.Evaluate[chromedp.Void](`playFile("/clip.mp4")`, chromedp.EvalAwaitPromise)); err != nil {
				t.Fatalf("play: %v", err)
			}
			_, err = chromedp.Run(ctx, chromedp.Poll[bool](`v.ended || window.failure !== null`,
				chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(60*time.Second)))
			type state struct {
				Duration float64 `json:"duration"`
				Width    int     `json:"width"`
				Height   int     `json:"height"`
				Frames   int     `json:"frames"`
				Audio    int     `json:"audio"`
				Ended    bool    `json:"ended"`
				Failure  *string `json:"failure"`
			}
			st, err2 := chromedp.Run(ctx, chromedp.Evaluate[state](`({duration: v.duration, width: v.videoWidth, height: v.videoHeight,
  frames: v.getVideoPlaybackQuality().totalVideoFrames, audio: v.webkitAudioDecodedByteCount, ended: v.ended, failure: window.failure})`))
			if err != nil || err2 != nil {
				t.Fatalf("%v %v; state %+v", err, err2, st)
			}
			if st.Failure != nil {
				t.Fatal(*st.Failure)
			}
			if !st.Ended || math.Abs(st.Duration-want) > 0.1 || st.Width != tc.w || st.Height != tc.h || st.Frames == 0 {
				t.Fatalf("played %+v; want %.2f s at %dx%d to the end", st, want, tc.w, tc.h)
			}
			if tc.audio != (st.Audio > 0) {
				t.Fatalf("audio decoded: %d bytes; want audio %v", st.Audio, tc.audio)
			}
		})
	}
}

// aacTrack reads an ADTS file as the frames a camera would send from t0.
func aacTrack(t *testing.T, path string, t0 time.Time) *AudioTrack {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var pkts mpeg4audio.ADTSPackets
	if err := pkts.Unmarshal(raw); err != nil {
		t.Fatal(err)
	}
	p := pkts[0]
	a := &AudioTrack{Config: mpeg4audio.AudioSpecificConfig{Type: p.Type, SampleRate: p.SampleRate, ChannelConfig: p.ChannelConfig}}
	for i, p := range pkts {
		at := t0.Add(time.Duration(i*mpeg4audio.SamplesPerAccessUnit) * time.Second / time.Duration(p.SampleRate))
		a.Frames = append(a.Frames, AudioFrame{At: at, Data: p.AU})
	}
	return a
}

// audioFor keeps the frames that play along the pictures.
func audioFor(frames []AudioFrame, cut []AccessUnit) []AudioFrame {
	var out []AudioFrame
	end := cut[len(cut)-1].At.Add(time.Second / 15)
	for _, f := range frames {
		if !f.At.Before(cut[0].At) && f.At.Before(end) {
			out = append(out, f)
		}
	}
	return out
}
