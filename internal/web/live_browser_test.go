package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/camvault/camvault/internal/sim/camera"
)

// liveState is what the live page says about its video.
type liveState struct {
	State       string  `json:"state"`
	Transport   string  `json:"transport"`
	CurrentTime float64 `json:"currentTime"`
	Frames      int     `json:"frames"`
	Width       int     `json:"width"`
	Status      string  `json:"status"`
}

const liveStateJS = `(() => { const v = document.getElementById("live-video"), s = document.getElementById("live");
  return {state: s.dataset.state || "", transport: s.dataset.transport || "", currentTime: v.currentTime,
    frames: v.getVideoPlaybackQuality().totalVideoFrames, width: v.videoWidth,
    status: document.getElementById("live-status").textContent}; })()`

// TestBrowserLive: the live page plays a simulated camera in Chromium,
// through the real live service, over WebRTC and over the WebSocket stream
// (time advances and frames are decoded), says who is watching, and ends
// with a message when access is lost (here: the person logs out
// everywhere from another device).
func TestBrowserLive(t *testing.T) {
	bctx := browser(t)
	srv := startServer(t)

	const password = "correct horse battery staple"
	alice := newPerson(t, bctx, srv.URL, "alice", "alice@example.com")
	alice.signup(password)
	alice.do("create home", chromedp.WaitVisible(css("#create-home")), chromedp.Click(css("#create-home")),
		chromedp.WaitVisible(css(`button[id^="add-camera-"]`)))
	alice.do("add camera", chromedp.Click(css(`button[id^="add-camera-"]`)), chromedp.WaitVisible(css("#pairing-code")))
	paired, err := camera.Pair(t.Context(), srv.Client(), srv.URL, alice.text("#pairing-code"), "CV-SIM", "1.0")
	if err != nil {
		t.Fatal(err)
	}
	startLiveCamera(t, srv.URL, paired)
	alice.reloadUntil("/cameras", ".status.online")
	livePath := "/cameras/" + paired.DeviceID + "/live"

	// From the camera card; WebRTC first.
	alice.open("/cameras", "#live-"+paired.DeviceID)
	alice.do("watch live", chromedp.Click(css("#live-"+paired.DeviceID)), chromedp.WaitVisible(css("#live-video")))
	alice.plays(t, "webrtc")
	alice.do("see who watches", poll(`document.querySelector("#watching[data-count='1'] .who")?.textContent.includes("alice@example.com (you)")`,
		chromedp.WithPollingTimeout(30*time.Second)))
	if dir := os.Getenv("CAMVAULT_SCREENSHOTS"); dir != "" {
		liveScreenshots(t, alice, dir, livePath)
	}
	logoutEverywhere(t, srv, alice.email, password)
	alice.endsWith(t, "lost access")

	// The WebSocket stream, as when WebRTC cannot connect.
	alice.login(password)
	alice.open(livePath+"?transport=mse", "#live-video")
	alice.plays(t, "mse")
	logoutEverywhere(t, srv, alice.email, password)
	alice.endsWith(t, "You no longer have access to this camera.")
	alice.login(password)

	// With WebRTC unable to connect, the page falls back by itself.
	alice.do("break WebRTC", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
			Source: `RTCPeerConnection.prototype.setRemoteDescription = () => Promise.reject(new Error("blocked by the test"));`})
		return err
	}))
	alice.open(livePath, "#live-video")
	alice.plays(t, "mse")
	if e := alice.attr("#live", "data-webrtc-error"); e == "" {
		t.Error("fell back to the WebSocket without trying WebRTC")
	}
}

// plays waits for the live page to play over transport, then checks that
// its time advances and frames keep being decoded.
func (p *person) plays(t *testing.T, transport string) {
	t.Helper()
	p.do("play live over "+transport, poll(`(() => { const v = document.getElementById("live-video");
		return document.getElementById("live").dataset.state === "playing" && v.currentTime > 0.3 && v.getVideoPlaybackQuality().totalVideoFrames > 3; })()`,
		chromedp.WithPollingTimeout(30*time.Second)))
	first := get(p, "read the video", chromedp.Evaluate[liveState](liveStateJS))
	if first.Transport != transport {
		t.Fatalf("playing over %q, want %q (%+v)", first.Transport, transport, first)
	}
	p.do("keep playing over "+transport, poll(fmt.Sprintf(`(() => { const v = document.getElementById("live-video");
		return v.currentTime > %f + 1 && v.getVideoPlaybackQuality().totalVideoFrames > %d + 10; })()`, first.CurrentTime, first.Frames),
		chromedp.WithPollingTimeout(30*time.Second)))
	later := get(p, "read the video", chromedp.Evaluate[liveState](liveStateJS))
	t.Logf("%s: %+v then %+v", transport, first, later)
	if later.Width != 640 {
		t.Errorf("%s: video %d wide, want 640", transport, later.Width)
	}
}

// endsWith waits for the live page to end with a message containing text.
func (p *person) endsWith(t *testing.T, text string) {
	t.Helper()
	p.do("live view ends", poll(fmt.Sprintf(`document.getElementById("live").dataset.state === "ended" &&
		document.getElementById("live-status").textContent.includes(%q)`, text), chromedp.WithPollingTimeout(30*time.Second)))
}

// liveScreenshots saves the live page, playing, at phone and desktop
// widths (as screenshots does for the other pages).
func liveScreenshots(t *testing.T, p *person, dir, path string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, w := range []struct {
		name          string
		width, height int64
		mobile        bool
	}{{"phone", 390, 844, true}, {"desktop", 1280, 860, false}} {
		p.do("viewport", chromedp.EmulateViewport(w.width, w.height, func(sp *emulation.SetDeviceMetricsOverrideParams, _ *emulation.SetTouchEmulationEnabledParams) {
			sp.Mobile = w.mobile
		}))
		p.open(path, "#live-video")
		p.plays(t, "webrtc")
		p.do("see who watches", poll(`document.querySelector("#watching[data-count='1']") !== null`, chromedp.WithPollingTimeout(30*time.Second)))
		buf := get(p, "screenshot live-"+w.name, chromedp.CaptureScreenshot())
		if err := os.WriteFile(filepath.Join(dir, "live-"+w.name+".png"), buf, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// logoutEverywhere logs the person in from another device, over the API,
// and ends every one of their sessions from there.
func logoutEverywhere(t *testing.T, srv *httptest.Server, email, password string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"email": email, "password": password})
	res, err := srv.Client().Post(srv.URL+"/api/v1/sessions", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var s struct{ Token string }
	err = json.NewDecoder(res.Body).Decode(&s)
	res.Body.Close()
	if err != nil || res.StatusCode != http.StatusCreated {
		t.Fatalf("log in over the API: %s, %v", res.Status, err)
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodDelete, srv.URL+"/api/v1/sessions", nil)
	req.Header.Set("Authorization", "Bearer "+s.Token)
	res, err = srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNoContent {
		t.Fatalf("log out everywhere: %s", res.Status)
	}
}
