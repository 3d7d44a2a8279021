package web_test

import (
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/camvault/camvault/internal/sim/camera"
)

// TestBrowserLiveFeed: with the page open and never reloaded, a camera's
// card turns online when it connects, and its new events appear at the top
// of the timeline with their pictures.
func TestBrowserLiveFeed(t *testing.T) {
	bctx := browser(t)
	srv := startServer(t)

	dana := newPerson(t, bctx, srv.URL, "dana", "dana@example.com")
	dana.signup("a pass phrase for the feed test")
	dana.do("create home", chromedp.WaitVisible(css("#create-home")), chromedp.Click(css("#create-home")),
		chromedp.WaitVisible(css(`button[id^="add-camera-"]`)))
	dana.do("add camera", chromedp.Click(css(`button[id^="add-camera-"]`)), chromedp.WaitVisible(css("#pairing-code")))
	paired, err := camera.Pair(t.Context(), srv.Client(), srv.URL, dana.text("#pairing-code"), "CV-SIM", "1.0")
	if err != nil {
		t.Fatal(err)
	}

	// The card, open before the camera connects.
	dana.open("/cameras", `li.camera[data-camera="`+paired.DeviceID+`"] .status.offline`)
	dana.do("wait for the stream", poll(`document.getElementById("live-feed").dataset.state === "open"`,
		chromedp.WithPollingTimeout(20*time.Second)))
	acks, _ := startCamera(t, srv.URL, paired)
	dana.do("see the camera come online without reloading", poll(
		`document.querySelector('li.camera[data-camera="`+paired.DeviceID+`"] .status.online')?.textContent === "Online"`,
		chromedp.WithPollingTimeout(20*time.Second)))

	// The timeline, open before the next events.
	dana.open("/events", "main")
	dana.do("wait for the stream", poll(`document.getElementById("live-feed").dataset.state === "open"`,
		chromedp.WithPollingTimeout(20*time.Second)))
	before := dana.count("#timeline .event")
	seen := acks()
	dana.do("see new events arrive without reloading", poll(
		fmt.Sprintf(`document.querySelectorAll("#timeline .event").length >= %d`, before+3),
		chromedp.WithPollingTimeout(20*time.Second)))
	if acks() <= seen {
		t.Fatalf("the timeline grew while the camera had no new event acknowledged")
	}
	dana.do("see the newest picture", poll(`(() => { const img = document.querySelector("#timeline .event img");
		return img && img.complete && img.naturalWidth > 0; })()`, chromedp.WithPollingTimeout(20*time.Second)))
	// Named as the filters name it (the camera is "CV-SIM" until renamed).
	if got := dana.text("#timeline .event .camera-name"); got != "CV-SIM" {
		t.Errorf("the newest entry names camera %q, want CV-SIM", got)
	}
	// Shown as the server shows them: one day heading above them, times
	// to the second, the clip's length on its badge.
	if got := get(dana, "headings", chromedp.Evaluate[[]string](`[...document.querySelectorAll("#timeline > li.day h2")].map(h => h.textContent)`)); len(got) != 1 {
		t.Errorf("day headings %q, want one", got)
	}
	newest := get(dana, "the newest entry", chromedp.Evaluate[[]string](`[document.querySelector("#timeline .event time").textContent,
		document.querySelector("#timeline .event .badge-clip").textContent]`))
	if !regexp.MustCompile(`\d:\d\d:\d\d`).MatchString(newest[0]) || !regexp.MustCompile(`^▶ \d+:\d\d$`).MatchString(newest[1]) {
		t.Errorf("the newest entry shows time %q and badge %q, want seconds and the clip's length", newest[0], newest[1])
	}
	// No entry twice, however the page and the stream overlapped.
	if dup := get(dana, "duplicates", chromedp.Evaluate[int](`(() => { const ids = [...document.querySelectorAll("#timeline a.thumb")].map(a => a.dataset.id);
		return ids.length - new Set(ids).size; })()`)); dup != 0 {
		t.Errorf("%d events shown twice", dup)
	}
}
