package camera

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/camvault/camvault/internal/media/h264"
	"github.com/camvault/camvault/internal/sim/browsertest"
)

// browser starts the headless Chromium the test drives.
func browser(t *testing.T) context.Context {
	t.Helper()
	return browsertest.Start(t, chromedp.Flag("autoplay-policy", "no-user-gesture-required"))
}

const playerPage = `<!doctype html>
<title>clip</title>
<video id="v" muted playsinline preload="auto"></video>
<script>
const v = document.getElementById("v");
window.failure = null;
v.addEventListener("error", () => { window.failure = "video error " + v.error.code + ": " + v.error.message; });
// A clip: the file, as the Events page plays it.
function playFile(src) { v.src = src; return v.play(); }
// Live: an init segment and fragments through Media Source Extensions.
async function playFragments(type, urls) {
  if (!MediaSource.isTypeSupported(type)) throw new Error("not supported: " + type);
  const ms = new MediaSource();
  v.src = URL.createObjectURL(ms);
  await new Promise(r => ms.addEventListener("sourceopen", r, { once: true }));
  const sb = ms.addSourceBuffer(type);
  for (const u of urls) {
    const buf = await (await fetch(u)).arrayBuffer();
    sb.appendBuffer(buf);
    await new Promise((ok, fail) => { sb.onupdateend = ok; sb.onerror = () => fail(new Error("append " + u + ": " + (v.error ? v.error.message : "no media error"))); });
  }
  ms.endOfStream();
  return v.play();
}
</script>`

// state is what the page says about its video element.
type videoState struct {
	Duration    float64 `json:"duration"`
	CurrentTime float64 `json:"currentTime"`
	Width       int     `json:"width"`
	Height      int     `json:"height"`
	Frames      int     `json:"frames"`
	Dropped     int     `json:"dropped"`
	Ended       bool    `json:"ended"`
	Failure     *string `json:"failure"`
}

const stateJS = `({duration: v.duration, currentTime: v.currentTime, width: v.videoWidth, height: v.videoHeight,
  frames: v.getVideoPlaybackQuality().totalVideoFrames, dropped: v.getVideoPlaybackQuality().droppedVideoFrames,
  ended: v.ended, failure: window.failure})`

// TestBrowserPlaysVideo: Chromium plays a camera's event clip in a video
// element, and the stream as fragmented MP4 through Media Source
// Extensions (as live view will): the duration is the clip's, time
// advances to the end, and frames are decoded.
func TestBrowserPlaysVideo(t *testing.T) {
	bctx := browser(t)
	for _, preset := range []string{Video360p, Video720p} {
		t.Run(preset, func(t *testing.T) {
			v := loadVideo(t, preset)
			frames := mustFrames(t, v, testKey, testDevice, testHome, 0, 44) // 3 s
			clip, err := BuildClip(frames)
			if err != nil {
				t.Fatal(err)
			}
			files := map[string][]byte{"/clip.mp4": clip}
			init, err := h264.InitSegment(v.Params())
			if err != nil {
				t.Fatal(err)
			}
			files["/init.mp4"] = init
			var fragments []string
			for i := 0; i < len(frames); i += v.GOP() {
				part := frames[i:min(i+v.GOP(), len(frames))]
				aus := make([]h264.AccessUnit, len(part))
				for j, f := range part {
					aus[j] = f.AccessUnit()
				}
				frag, err := h264.Fragment(uint32(len(fragments)+1), aus, part[len(part)-1].PTS+frameTicks)
				if err != nil {
					t.Fatal(err)
				}
				name := "/fragment-" + strconv.Itoa(len(fragments)+1) + ".m4s"
				files[name] = frag
				fragments = append(fragments, name)
			}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/" {
					w.Header().Set("Content-Type", "text/html; charset=utf-8")
					fmt.Fprint(w, playerPage)
					return
				}
				b, ok := files[r.URL.Path]
				if !ok {
					http.NotFound(w, r)
					return
				}
				w.Header().Set("Content-Type", "video/mp4")
				http.ServeContent(w, r, r.URL.Path, time.Time{}, bytes.NewReader(b))
			}))
			defer srv.Close()

			ctx, cancel := chromedp.NewContext(bctx)
			defer cancel()
			type play struct {
				name, js string
			}
			typ := `video/mp4; codecs="` + v.Params().Codec() + `"`
			for _, p := range []play{
				{"fragmented MP4 through Media Source Extensions", fmt.Sprintf(`playFragments(%q, %s)`, typ, jsList(append([]string{"/init.mp4"}, fragments...)))},
				{"clip file", `playFile("/clip.mp4")`},
			} {
				if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/"),
					chromedp.Evaluate[chromedp.Void](p.js, chromedp.EvalAwaitPromise)); err != nil {
					t.Fatalf("%s: play: %v", p.name, err)
				}
				// Wait (bounded only by the poll's own limit) for the end.
				_, err := chromedp.Run(ctx, chromedp.Poll[bool](`v.ended || window.failure !== null`, chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(60*time.Second)))
				st, err2 := chromedp.Run(ctx, chromedp.Evaluate[videoState](stateJS))
				if err != nil || err2 != nil {
					t.Fatalf("%s: %v %v; state %+v", p.name, err, err2, st)
				}
				t.Logf("%s: %+v", p.name, st)
				if st.Failure != nil {
					t.Fatalf("%s: %s", p.name, *st.Failure)
				}
				if math.Abs(st.Duration-3) > 0.05 || !st.Ended || st.CurrentTime < 2.9 {
					t.Errorf("%s: duration %v, ended %v at %v; want 3 s played to the end", p.name, st.Duration, st.Ended, st.CurrentTime)
				}
				if st.Width != v.Params().Width || st.Height != v.Params().Height {
					t.Errorf("%s: %dx%d", p.name, st.Width, st.Height)
				}
				if st.Frames == 0 {
					t.Errorf("%s: no frame decoded", p.name)
				}
			}
		})
	}
}

// jsList is a JavaScript array of strings.
func jsList(s []string) string {
	out := "["
	for i, x := range s {
		if i > 0 {
			out += ", "
		}
		out += strconv.Quote(x)
	}
	return out + "]"
}
