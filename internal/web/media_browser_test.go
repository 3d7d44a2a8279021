package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/camvault/camvault/internal/sim/camera"
)

// mediaFixture reads one of internal/media's clip and picture fixtures
// (internal/media/testdata/clips/make.sh).
func mediaFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "media", "testdata", "clips", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// uploadEvent sends an event as a camera does, with its device token, and
// returns the event's ID.
func uploadEvent(t *testing.T, client *http.Client, base string, cam camera.Credentials, eventID, kind string, started time.Time, thumb, clip []byte) string {
	t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	meta, _ := json.Marshal(map[string]string{"event_id": eventID, "kind": kind, "started_at": started.UTC().Format(time.RFC3339)})
	for _, p := range []struct {
		name, file, typ string
		data            []byte
	}{{"meta", "", "application/json", meta}, {"thumbnail", "t.jpg", "image/jpeg", thumb}, {"clip", "c.mp4", "video/mp4", clip}} {
		h := textproto.MIMEHeader{}
		disp := fmt.Sprintf(`form-data; name=%q`, p.name)
		if p.file != "" {
			disp += fmt.Sprintf(`; filename=%q`, p.file)
		}
		h.Set("Content-Disposition", disp)
		h.Set("Content-Type", p.typ)
		pw, err := w.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		pw.Write(p.data)
	}
	w.Close()
	req, _ := http.NewRequestWithContext(t.Context(), "POST", base+"/api/v1/device/events", &body)
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+cam.Token)
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct {
		ID string `json:"id"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil || res.StatusCode != 201 {
		t.Fatalf("upload %s: %d, %v", eventID, res.StatusCode, err)
	}
	return out.ID
}

// TestBrowserMedia shows what cameras really send: 4K and 8K pictures,
// H.264 and H.265 clips, progressive and fragmented, over three days.
// Every picture displays at its full size; the H.264 clips play; an
// H.265 clip plays too if this Chromium can, else its page says it
// cannot and offers the download; each page shows its clip's real codec,
// duration and size, and links to the events before and after it; the
// timeline heads each day and shows times to the second.
func TestBrowserMedia(t *testing.T) {
	bctx := browser(t)
	srv := startServer(t)
	alice := newPerson(t, bctx, srv.URL, "alice", "alice@example.com")
	// The days are the browser's: make them UTC, as the test's are.
	alice.do("time zone", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "UTC"})
		return err
	}))
	alice.signup("correct horse battery staple")
	alice.do("create home", chromedp.WaitVisible(css("#create-home")), chromedp.Click(css("#create-home")),
		chromedp.WaitVisible(css(`button[id^="add-camera-"]`)))
	alice.do("add camera", chromedp.Click(css(`button[id^="add-camera-"]`)), chromedp.WaitVisible(css("#pairing-code")))
	cam, err := camera.Pair(t.Context(), srv.Client(), srv.URL, alice.text("#pairing-code"), "CV-4K", "2.0")
	if err != nil {
		t.Fatal(err)
	}

	now := time.Now().UTC()
	midnight := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	if now.Sub(midnight) < 2*time.Minute {
		time.Sleep(2*time.Minute - now.Sub(midnight)) // two events must be today
		now = time.Now().UTC()
	}
	// Oldest first; the times have seconds, which the pages must show.
	type ev struct {
		id, kind, thumb, clip string
		started               time.Time
		width                 int    // of the picture
		info                  string // the clip line
		codec                 string
	}
	evs := []*ev{
		{kind: "vehicle", thumb: "8k.jpg", clip: "h264-3s-frag.mp4", started: midnight.Add(-48*time.Hour + 9*time.Hour + 7*time.Second),
			width: 7680, info: "H.264 · 0:03 · 640×360", codec: "h264"},
		{kind: "person", thumb: "4k.jpg", clip: "h265-frag.mp4", started: midnight.Add(-24*time.Hour + 18*time.Hour + 41*time.Second),
			width: 3840, info: "H.265 · 0:02 · 320×180", codec: "h265"},
		{kind: "package", thumb: "8k.jpg", clip: "h264.mp4", started: now.Add(-90 * time.Second).Truncate(time.Second),
			width: 7680, info: "H.264 · 0:02 · 320×180", codec: "h264"},
		{kind: "doorbell", thumb: "4k.jpg", clip: "h265.mp4", started: now.Add(-30 * time.Second).Truncate(time.Second),
			width: 3840, info: "H.265 · 0:02 · 320×180", codec: "h265"},
	}
	for i, e := range evs {
		e.id = uploadEvent(t, srv.Client(), srv.URL, cam, fmt.Sprintf("media-%d", i), e.kind, e.started,
			mediaFixture(t, e.thumb), mediaFixture(t, e.clip))
	}

	// The timeline: newest first, a heading per day, times to the second,
	// every picture shown at its size.
	alice.open("/events", ".event")
	alice.do("pictures load", poll(`[...document.querySelectorAll(".event img")].every(i => i.complete && i.naturalWidth > 0)`,
		chromedp.WithPollingTimeout(20*time.Second)))
	widths := get(alice, "picture widths", chromedp.Evaluate[[]int](`[...document.querySelectorAll(".event img")].map(i => i.naturalWidth)`))
	var wantWidths []int
	for i := len(evs) - 1; i >= 0; i-- {
		wantWidths = append(wantWidths, evs[i].width)
	}
	if !slices.Equal(widths, wantWidths) {
		t.Errorf("the timeline's pictures are %v wide, want %v", widths, wantWidths)
	}
	headings := get(alice, "day headings", chromedp.Evaluate[[]string](`[...document.querySelectorAll("#timeline > li.day h2")].map(h => h.textContent)`))
	wantDays := []string{"Today", "Yesterday", evs[0].started.Format("Monday")}
	if len(headings) != 3 || headings[0] != wantDays[0] || headings[1] != wantDays[1] ||
		!strings.HasPrefix(headings[2], wantDays[2]) || !strings.Contains(headings[2], evs[0].started.Format("January")) {
		t.Errorf("day headings %q, want %q then the date", headings, wantDays)
	}
	order := get(alice, "what follows each heading", chromedp.Evaluate[[]string](
		`[...document.querySelectorAll("#timeline > li")].map(li => li.classList.contains("day") ? "day" : "event")`))
	if want := []string{"day", "event", "event", "day", "event", "day", "event"}; !slices.Equal(order, want) {
		t.Errorf("the timeline is %v, want %v", order, want)
	}
	badges := get(alice, "clip badges", chromedp.Evaluate[[]string](`[...document.querySelectorAll(".event .badge-clip")].map(b => b.textContent)`))
	if want := []string{"▶ 0:02", "▶ 0:02", "▶ 0:02", "▶ 0:03"}; !slices.Equal(badges, want) {
		t.Errorf("the timeline's clip badges say %q, want %q", badges, want)
	}
	clocks := get(alice, "times", chromedp.Evaluate[[]string](`[...document.querySelectorAll(".event time")].map(t => t.textContent)`))
	for i, c := range clocks {
		e := evs[len(evs)-1-i]
		if !strings.Contains(c, e.started.Format(":04:05")) {
			t.Errorf("event %d shows time %q, want its seconds (%s)", i, c, e.started.Format("15:04:05"))
		}
	}

	// Each event's page, newest to oldest by its "Older event" link.
	h265Playable := get(alice, "can Chromium play H.265", chromedp.Evaluate[bool](
		`document.createElement("video").canPlayType('video/mp4; codecs="hvc1.1.6.L93.B0"') !== "" || (window.MediaSource && MediaSource.isTypeSupported('video/mp4; codecs="hvc1.1.6.L93.B0"'))`))
	t.Logf("this Chromium can play H.265: %v", h265Playable)
	alice.open("/events/"+evs[len(evs)-1].id, "#event-image")
	if alice.count("#newest-event") != 1 || alice.count("#newer-event") != 0 {
		t.Error("the newest event's page links to a newer one")
	}
	video := `document.getElementById("clip-video")`
	for i := len(evs) - 1; i >= 0; i-- {
		e := evs[i]
		if loc := get(alice, "where", chromedp.Location()); !strings.HasSuffix(loc, "/events/"+e.id) {
			t.Fatalf("at %s, want event %d's page", loc, i)
		}
		alice.do("picture shows", poll(fmt.Sprintf(`(i => i.complete && i.naturalWidth === %d)(document.getElementById("event-image"))`, e.width),
			chromedp.WithPollingTimeout(20*time.Second)))
		if got := alice.text("#clip-info"); got != e.info {
			t.Errorf("event %d: clip line %q, want %q", i, got, e.info)
		}
		if got := alice.attr("#download-clip", "href"); got != "/api/v1/events/"+e.id+"/clip" {
			t.Errorf("event %d: clip download %q", i, got)
		}
		if got := alice.attr("#download-picture", "href"); got != "/api/v1/events/"+e.id+"/thumbnail" {
			t.Errorf("event %d: picture download %q", i, got)
		}
		if alice.count("#delete-event") != 1 {
			t.Errorf("event %d: the owner has no delete", i)
		}
		if !regexp.MustCompile(`\d:\d\d:\d\d`).MatchString(alice.text(".event-detail .sub time")) {
			t.Errorf("event %d: its time %q has no seconds", i, alice.text(".event-detail .sub time"))
		}
		if e.codec == "h265" && !h265Playable {
			alice.do("cannot play H.265", poll(`document.getElementById("player-status").textContent.includes("This browser cannot play H.265 video")`,
				chromedp.WithPollingTimeout(10*time.Second)))
			if alice.count("#clip-video:not([hidden])") != 0 || alice.count("#download-clip") != 1 {
				t.Errorf("event %d: an H.265 clip this browser cannot play shows a player, or no download", i)
			}
		} else {
			alice.do("clip plays",
				chromedp.Evaluate[chromedp.Void](`(v => { v.muted = true; return v.play(); })(`+video+`)`, chromedp.EvalAwaitPromise),
				poll(`(v => v.readyState >= 2 && v.videoWidth > 0 && v.currentTime > 0)(`+video+`)`, chromedp.WithPollingTimeout(20*time.Second)))
			if d := get(alice, "the player's duration", chromedp.Evaluate[float64](video+`.duration`)); d < 1.5 || d > 3.5 {
				t.Errorf("event %d: the player says the clip lasts %.2f s", i, d)
			}
		}
		if i > 0 {
			if got := alice.attr("#older-event", "href"); got != "/events/"+evs[i-1].id {
				t.Fatalf("event %d: older event link %q, want event %d", i, got, i-1)
			}
			alice.do("older event", chromedp.Click(css("#older-event")), chromedp.WaitVisible(css("#event-image")))
			if got := alice.attr("#newer-event", "href"); got != "/events/"+e.id {
				t.Fatalf("event %d: newer event link %q, want event %d", i-1, got, i)
			}
		}
	}
	if alice.count("#oldest-event") != 1 || alice.count("#older-event") != 0 {
		t.Error("the oldest event's page links to an older one")
	}
}
