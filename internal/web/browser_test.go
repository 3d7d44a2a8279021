package web_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/camvault/camvault/internal/sim/browsertest"
	"github.com/camvault/camvault/internal/sim/camera"
)

// browser starts the headless Chromium the test drives.
func browser(t *testing.T) context.Context {
	t.Helper()
	return browsertest.Start(t, chromedp.WindowSize(1280, 900))
}

// person is one browser context (its own cookies) in the test's browser.
type person struct {
	t     *testing.T
	name  string
	ctx   context.Context
	base  string
	email string
}

// newPerson opens a fresh browser context: another person, or the same
// person on another device.
func newPerson(t *testing.T, browserCtx context.Context, base, name, email string) *person {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browserCtx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	p := &person{t: t, name: name, ctx: ctx, base: base, email: email}
	// The first run opens the tab, which lives as long as that run's
	// context: this one, not a step's timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("%s: open a tab: %v", name, err)
	}
	// Accept the confirmation dialogs of remove and log out everywhere, as
	// a person clicking OK would.
	opening := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for _, err := range opening {
			if err != nil {
				return
			}
			go func() {
				_ = chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
					_, err := cdp.Call(ctx, tg, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
					return err
				}))
			}()
		}
	}()
	return p
}

// do runs steps, failing the test with what was being done and where.
func (p *person) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.fail(what, err)
	}
}

func (p *person) fail(what string, err error) {
	p.t.Helper()
	dctx, dcancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer dcancel()
	state, _ := chromedp.Run(dctx, chromedp.Evaluate[string](`JSON.stringify({more: document.querySelector(".load-more")?.outerHTML, error: document.getElementById("timeline")?.dataset.error, events: document.querySelectorAll(".event").length, y: scrollY})`))
	p.t.Log(state)
	loc, _ := chromedp.Run(dctx, chromedp.Location())
	body, _ := chromedp.Run(dctx, chromedp.Evaluate[string](`document.body ? document.body.innerText.slice(0, 800) : ""`))
	p.t.Fatalf("%s: %s: %v\n at %s:\n%s", p.name, what, err, loc, body)
}

// get runs one action and returns its value.
func get[T any](p *person, what string, a chromedp.Action[T]) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		p.fail(what, err)
	}
	return v
}

func (p *person) open(path string, waitFor string) {
	p.t.Helper()
	p.do("open "+path, chromedp.Navigate(p.base+path), chromedp.WaitVisible(chromedp.CSS(waitFor)))
}

// fetch fetches path from the page, with the page's cookie, and returns
// the status and body.
func (p *person) fetch(path string, headers map[string]string) (int, string) {
	p.t.Helper()
	type result struct {
		Status int    `json:"status"`
		Body   string `json:"body"`
	}
	h := "{"
	for k, v := range headers {
		h += fmt.Sprintf("%q: %q,", k, v)
	}
	h = strings.TrimSuffix(h, ",") + "}"
	res := get(p, "fetch "+path, chromedp.Evaluate[result](fmt.Sprintf(
		`fetch(%q, {credentials: "same-origin", cache: "no-store", headers: %s}).then(async r => ({status: r.status, body: await r.text()}))`, path, h),
		chromedp.EvalAwaitPromise))
	return res.Status, res.Body
}

func (p *person) signup(password string) {
	p.t.Helper()
	p.open("/signup", "#password2")
	p.do("sign up",
		chromedp.SendKeys(chromedp.CSS("#email"), p.email),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.SendKeys(chromedp.CSS("#password2"), password),
		chromedp.Click(chromedp.CSS("#submit")),
		chromedp.WaitVisible(chromedp.CSS(".nav")),
	)
}

func (p *person) login(password string) {
	p.t.Helper()
	p.open("/login", "#email")
	p.do("log in",
		chromedp.SendKeys(chromedp.CSS("#email"), p.email),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("#submit")),
		chromedp.WaitVisible(chromedp.CSS(".nav")),
	)
}

// acceptInvitation accepts the one invitation p's pages show, and lands
// on the Cameras page with the home.
func (p *person) acceptInvitation() {
	p.t.Helper()
	p.open("/sharing", ".invitation")
	p.do("accept the invitation", chromedp.Click(css(`.invitation button[id^="accept-"]`)), chromedp.WaitVisible(css(".notice")))
	if loc := get(p, "where", chromedp.Location()); !strings.Contains(loc, "/cameras?done=joined") {
		p.t.Fatalf("%s: accepting an invitation led to %s", p.name, loc)
	}
}

// count is the number of elements sel matches.
func (p *person) count(sel string) int {
	p.t.Helper()
	return get(p, "count "+sel, chromedp.Evaluate[int](fmt.Sprintf(`document.querySelectorAll(%q).length`, sel)))
}

// reloadUntil loads path until the page has an element sel: events arrive
// while the test watches.
func (p *person) reloadUntil(path, sel string) {
	p.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		p.open(path, "main")
		if p.count(sel) > 0 {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s: %s never showed %s", p.name, path, sel)
		}
		select {
		case <-p.t.Context().Done():
			return
		case <-time.After(300 * time.Millisecond):
		}
	}
}

func (p *person) text(sel string) string {
	p.t.Helper()
	return strings.TrimSpace(get(p, "read "+sel, chromedp.Text(chromedp.CSS(sel), chromedp.NodeVisible)))
}

func (p *person) attr(sel, name string) string {
	p.t.Helper()
	return get(p, "read "+sel+" "+name, chromedp.AttributeValue(chromedp.CSS(sel), name)).Value
}

func poll(expr string, opts ...chromedp.PollOption) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](expr, opts...)
}

func css(sel string) chromedp.CSS { return chromedp.CSS(sel) }

// TestBrowser walks through the app as two people would, in a real
// Chromium against a real server and a real simulated camera: sign up, pair
// a camera, watch its events arrive, enlarge one, play its clip and seek,
// invite a second person, who accepts, take the share back, and log out
// everywhere.
func TestBrowser(t *testing.T) {
	bctx := browser(t)
	srv := startServer(t)
	const passA, passB = "correct horse battery staple", "another long pass phrase"

	alice := newPerson(t, bctx, srv.URL, "alice", "alice@example.com")
	alice.signup(passA)
	alice.do("create home", chromedp.WaitVisible(css("#create-home")), chromedp.Click(css("#create-home")),
		chromedp.WaitVisible(css(`button[id^="add-camera-"]`)))

	// Add a camera: the pairing code is shown as text and as a QR code.
	alice.do("add camera", chromedp.Click(css(`button[id^="add-camera-"]`)), chromedp.WaitVisible(css("#pairing-code")),
		chromedp.WaitVisible(css("svg.qr")))
	code := alice.text("#pairing-code")
	paired, err := camera.Pair(t.Context(), srv.Client(), srv.URL, code, "CV-SIM", "1.0")
	if err != nil {
		t.Fatalf("pair with the code the page showed (%q): %v", code, err)
	}
	acks, cam := startCamera(t, srv.URL, paired)

	// The camera appears online; rename it.
	alice.reloadUntil("/cameras", ".status.online")
	alice.do("rename camera",
		chromedp.Click(css(".manage summary")),
		chromedp.WaitVisible(css(`input[name="name"]`)),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('input[name="name"]').value = ""`),
		chromedp.SendKeys(css(`input[name="name"]`), "Front door"),
		chromedp.Submit(css(`input[name="name"]`)),
		chromedp.WaitVisible(css(".notice")),
	)
	if got := alice.text(".camera-title"); got != "Front door" {
		t.Fatalf("camera name after rename: %q", got)
	}

	// Settings: keep the camera warm for live view, and send it a new
	// motion sensitivity, which the camera takes.
	alice.open("/cameras", ".camera")
	alice.do("keep warm",
		chromedp.Click(css(".camera .manage summary")),
		chromedp.Click(css(`input[name="keep_warm"]`)),
		chromedp.Submit(css(`input[name="keep_warm"]`)),
		chromedp.WaitVisible(css(".notice")))
	if status, body := alice.fetch("/api/v1/devices/"+paired.DeviceID, nil); status != 200 || !strings.Contains(body, `"keep_warm":true`) {
		t.Fatalf("after keeping the camera warm the API says %d %s", status, body)
	}
	alice.open("/cameras", ".camera")
	alice.do("motion sensitivity",
		chromedp.Click(css(".camera .manage summary")),
		chromedp.SetValue(css(`select[name="sensitivity"]`), "25"),
		chromedp.Submit(css(`select[name="sensitivity"]`)),
		chromedp.WaitVisible(css(".notice")))
	for deadline := time.Now().Add(10 * time.Second); ; {
		if _, s := cam.Settings(); s == 25 {
			break
		}
		if time.Now().After(deadline) {
			_, s := cam.Settings()
			t.Fatalf("the camera's motion sensitivity is %d after the page sent 25", s)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Home settings: keep events for 7 days.
	alice.open("/cameras", ".camera")
	alice.do("retention",
		chromedp.Click(css(".home-settings summary")),
		chromedp.SetValue(css(`input[name="retention_days"]`), "7"),
		chromedp.Submit(css(`input[name="retention_days"]`)),
		chromedp.WaitVisible(css(".notice")))
	if status, body := alice.fetch("/api/v1/homes", nil); status != 200 || !strings.Contains(body, `"retention_days":7`) {
		t.Fatalf("after setting retention the API says %d %s", status, body)
	}

	// Its events appear, newest first, and more load on scrolling (once
	// there is more than a page of them).
	alice.reloadUntil("/events", ".event")
	for deadline := time.Now().Add(30 * time.Second); acks() <= pageSize+6; {
		if time.Now().After(deadline) {
			t.Fatalf("the camera uploaded %d events in 30 s", acks())
		}
		select {
		case <-t.Context().Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
	alice.open("/events", ".load-more")
	alice.do("first page settles", poll(`!document.querySelector(".load-more").textContent.includes("Loading")`))
	first := alice.count(".event")
	alice.do("scroll to load more", chromedp.Evaluate[chromedp.Void](`document.querySelector(".load-more").scrollIntoView()`),
		poll(fmt.Sprintf(`document.querySelectorAll(".event").length > %d`, first), chromedp.WithPollingTimeout(20*time.Second)))
	times := get(alice, "read times", chromedp.Evaluate[[]string](`[...document.querySelectorAll(".event time")].map(t => t.getAttribute("datetime"))`))
	for i := 1; i < len(times); i++ {
		if times[i] > times[i-1] {
			t.Fatalf("timeline not newest first at %d: %s after %s", i, times[i], times[i-1])
		}
	}
	if names := alice.text(".event .camera-name"); names != "Front door" {
		t.Fatalf("event card names the camera %q", names)
	}
	alice.do("thumbnails load", poll(`[...document.querySelectorAll(".event img")].slice(0, 4).every(i => i.complete && i.naturalWidth > 0)`))

	// Filters: by kind and camera from the selects (applied on change), and
	// a day to jump to.
	alice.do("filter by kind", chromedp.Evaluate[chromedp.Void](`(s => { s.value = "sound"; s.dispatchEvent(new Event("change")); })(document.getElementById("filter-kind"))`),
		chromedp.WaitVisible(css("#no-events")))
	alice.do("filter by another kind", chromedp.Evaluate[chromedp.Void](`(s => { s.value = "motion"; s.dispatchEvent(new Event("change")); })(document.getElementById("filter-kind"))`),
		chromedp.WaitVisible(css(".event")))
	alice.do("filter by camera", chromedp.Evaluate[chromedp.Void](`(s => { s.value = s.options[1].value; s.dispatchEvent(new Event("change")); })(document.getElementById("filter-camera"))`),
		chromedp.WaitReady(css(`#filter-camera option[selected]`)), chromedp.WaitVisible(css(".event")))
	today := time.Now().UTC()
	alice.open("/events?date="+today.AddDate(0, 0, -1).Format(time.DateOnly), "#no-events")
	alice.open("/events?date="+today.Format(time.DateOnly), ".event")

	// Tap to enlarge, then open the event and play its clip.
	alice.do("enlarge",
		chromedp.Click(css(".event a.thumb")),
		chromedp.WaitVisible(css("#enlarge-image")),
		poll(`document.getElementById("enlarge-image").naturalWidth > 0 && document.getElementById("enlarge").open`),
	)
	eventPath := alice.attr("#enlarge-open", "href")
	alice.do("close enlarged with Escape", chromedp.KeyEvent(kb.Escape), chromedp.WaitNotVisible(css("#enlarge-image")))
	alice.do("focus back on the thumbnail", poll(`document.activeElement && document.activeElement.matches(".event a.thumb")`, chromedp.WithPollingTimeout(5*time.Second)))
	alice.open(eventPath, "#event-image")
	// The simulated camera's clips are H.264: the page plays them in its
	// video element (the frame-by-frame player is for clips of JPEG frames).
	video := `document.getElementById("clip-video")`
	alice.do("clip loads", poll(`(v => !v.hidden && v.readyState >= 1 && v.videoWidth > 0)(`+video+`)`, chromedp.WithPollingTimeout(20*time.Second)))
	alice.do("play",
		chromedp.Evaluate[chromedp.Void](`(v => { v.muted = true; return v.play(); })(`+video+`)`, chromedp.EvalAwaitPromise),
		poll(`(v => v.currentTime > 0.5 && v.getVideoPlaybackQuality().totalVideoFrames > 0)(`+video+`)`, chromedp.WithPollingTimeout(20*time.Second)),
	)
	// The clip is served in ranges, with the cookie.
	eventID := strings.TrimPrefix(eventPath, "/events/")
	if status, _ := alice.fetch("/api/v1/events/"+eventID+"/clip", map[string]string{"Range": "bytes=0-99"}); status != 206 {
		t.Fatalf("ranged clip request: status %d, want 206", status)
	}

	// Share with Bob, who then sees the events.
	bob := newPerson(t, bctx, srv.URL, "bob", "bob@example.com")
	bob.signup(passB)
	bob.open("/events", "main")
	if n := bob.count(".event"); n != 0 {
		t.Fatalf("bob sees %d events before any share", n)
	}
	alice.open("/sharing", `input[name="email"]`)
	alice.do("invite", chromedp.SendKeys(css(`input[name="email"]`), bob.email), chromedp.Click(css(`button[id$="-submit"]`)),
		chromedp.WaitVisible(css(".notice")), chromedp.WaitVisible(css(`tr[data-invited="bob@example.com"]`)))
	bob.open("/events", "main")
	if n := bob.count(".event"); n != 0 {
		t.Fatalf("bob sees %d events before accepting the invitation", n)
	}
	bob.acceptInvitation()
	bob.reloadUntil("/events", ".event")
	bob.open(eventPath, "#event-image")

	// Take the share back: on the next load the events are gone, and the
	// event's URL answers exactly as a missing one.
	alice.open("/sharing", `tr[data-member="bob@example.com"] form[action$="/remove"] button`)
	alice.do("unshare", chromedp.Click(css(`tr[data-member="bob@example.com"] form[action$="/remove"] button`)), chromedp.WaitVisible(css(".notice")))
	if n := alice.count(`tr[data-member="bob@example.com"]`); n != 0 {
		t.Fatal("bob still listed after removal")
	}
	bob.open("/events", "main")
	if n := bob.count(".event"); n != 0 {
		t.Fatalf("bob sees %d events after the share was taken back", n)
	}
	bob.open(eventPath, "#message-title")
	if got := bob.text("#message-title"); got != "Not found" {
		t.Fatalf("bob opening alice's event sees %q", got)
	}
	theirs, theirsBody := bob.fetch(eventPath, nil)
	missing, missingBody := bob.fetch("/events/aaaaaaaaaaaaaaaaaaaaaaaaaa", nil)
	if theirs != 404 || missing != 404 || theirsBody != missingBody {
		t.Fatalf("alice's event: %d, a missing one: %d, same page: %v", theirs, missing, theirsBody == missingBody)
	}
	if status, _ := bob.fetch("/api/v1/events/"+eventID+"/thumbnail", nil); status != 404 {
		t.Fatalf("bob fetching alice's thumbnail: %d, want 404", status)
	}

	// Activity: the timeline's pictures are one line with a count, changes
	// say who did what from which device, and a filter keeps one person's.
	alice.open("/activity", ".activity")
	log := get(alice, "read the activity", chromedp.Evaluate[string](`document.querySelector(".activity").innerText`))
	if !regexp.MustCompile(`alice@example.com looked at [0-9]+ pictures from Front door`).MatchString(log) {
		t.Errorf("the activity does not group the timeline's pictures:\n%s", log)
	}
	for _, want := range []string{"alice@example.com renamed a camera, now Front door", "alice@example.com removed bob@example.com from the home",
		"alice@example.com changed the home's settings\n(retention 7 days)", "A new camera was paired as Front door\n(model CV-SIM)",
		"from Chrome on Linux"} {
		if !strings.Contains(log, want) {
			t.Errorf("the activity page does not say %q:\n%s", want, log)
		}
	}
	bobID := get(alice, "bob's id", chromedp.Evaluate[string](`[...document.querySelectorAll("#activity-person option")].find(o => o.text == "bob@example.com")?.value ?? ""`))
	homeID := alice.attr(`form[aria-label="Filter the activity"] input[name="home"]`, "value")
	if bobID == "" || homeID == "" {
		t.Fatalf("the person filter does not offer bob (%q) or names no home (%q)", bobID, homeID)
	}
	// What the filter form sends when bob is chosen.
	alice.open("/activity?home="+homeID+"&person="+bobID+"&camera=&action=", ".activity")
	if got := get(alice, "the chosen person", chromedp.Evaluate[string](`document.getElementById("activity-person").value`)); got != bobID {
		t.Errorf("the filtered page shows person %q chosen, want bob's %q", got, bobID)
	}
	lines := get(alice, "read bob's", chromedp.Evaluate[[]string](`[...document.querySelectorAll(".activity li .sentence")].map(s => s.textContent)`))
	if len(lines) == 0 {
		t.Error("filtered by bob, nothing")
	}
	for _, line := range lines {
		if !strings.HasPrefix(line, "bob@example.com") {
			t.Errorf("filtered by bob, a line of someone else: %q", line)
		}
	}

	// Every control on every page has a name a screen reader can say.
	for _, page := range []struct{ path, wait string }{
		{"/events", ".event"}, {eventPath, "#clip-video:not([hidden])"}, {"/cameras", ".camera"},
		{"/sharing", ".members"}, {"/activity", ".activity"}, {"/account", ".sessions"},
	} {
		alice.open(page.path, page.wait)
		if bad := get(alice, "find unlabelled controls", chromedp.Evaluate[[]string](unlabelled)); len(bad) > 0 {
			t.Errorf("%s: controls without a label: %q", page.path, bad)
		}
	}
	visitor := newPerson(t, bctx, srv.URL, "visitor", "")
	for _, path := range []string{"/login", "/signup"} {
		visitor.open(path, "#email")
		if bad := get(visitor, "find unlabelled controls", chromedp.Evaluate[[]string](unlabelled)); len(bad) > 0 {
			t.Errorf("%s: controls without a label: %q", path, bad)
		}
	}

	phoneLayout(t, alice, visitor, eventPath)

	// Alice on a second device; "log out everywhere" on the first ends it.
	phone := newPerson(t, bctx, srv.URL, "alice's phone", alice.email)
	phone.login(passA)
	phone.open("/events", ".event")
	alice.open("/account", "#logout-everywhere")
	if n := alice.count(".session"); n != 2 {
		t.Fatalf("alice's account lists %d sessions, want 2", n)
	}
	alice.do("log out everywhere", chromedp.Click(css("#logout-everywhere")), chromedp.WaitVisible(css("#email")))
	phone.open("/events", "#email")
	if loc := get(phone, "where", chromedp.Location()); !strings.Contains(loc, "/login") {
		t.Fatalf("after log out everywhere the other device is at %s", loc)
	}
	if status, _ := phone.fetch("/api/v1/me", nil); status != 401 {
		t.Fatalf("the other device's cookie on the API after log out everywhere: %d", status)
	}

	// Share again, this time with only the one camera chosen.
	alice.login(passA)
	alice.open("/sharing", `input[name="email"]`)
	alice.do("invite to one camera", chromedp.SendKeys(css(`input[name="email"]`), bob.email),
		chromedp.Click(css(`.share-form input[name="scope"][value="some"]`)), chromedp.Click(css(`.share-form input[name="camera"]`)),
		chromedp.Click(css(`button[id$="-submit"]`)), chromedp.WaitVisible(css(`tr[data-invited="bob@example.com"]`)))
	bob.acceptInvitation()
	alice.open("/sharing", `tr[data-member="bob@example.com"]`)
	if sees := alice.text(`tr[data-member="bob@example.com"] td:nth-child(3)`); sees != "Front door" {
		t.Fatalf("bob, limited to one camera, is listed as seeing %q", sees)
	}
	bob.reloadUntil("/events", ".event")

	if dir := os.Getenv("CAMVAULT_SCREENSHOTS"); dir != "" {
		screenshots(t, alice, visitor, dir, eventPath)
	}

	// Delete an event (after confirming): back on the timeline, it is gone.
	alice.open(eventPath, "#delete-event")
	alice.do("delete event", chromedp.Click(css("#delete-event")), chromedp.WaitVisible(css(".notice")))
	if status, _ := alice.fetch("/api/v1/events/"+eventID, nil); status != 404 {
		t.Fatalf("the deleted event: %d, want 404", status)
	}
	bob.open(eventPath, "#message-title")
	if n := bob.count("#delete-event"); n != 0 {
		t.Fatal("a viewer is offered to delete an event")
	}

	// Remove the camera (after confirming): its token stops working at once.
	alice.open("/cameras", ".manage summary")
	alice.do("remove camera", chromedp.Click(css(".manage summary")), chromedp.Click(css(`form[action$="/unpair"] button`)),
		chromedp.WaitVisible(css(".notice")))
	if n := alice.count(".camera"); n != 0 {
		t.Fatalf("%d cameras listed after removing the only one", n)
	}
	req, err := http.NewRequestWithContext(t.Context(), "GET", srv.URL+"/api/v1/device", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+paired.Token)
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the removed camera's token: %d, want 401", res.StatusCode)
	}
}

// pageFit measures the page: its scrollable width against the window's,
// the header's height, and the first few elements that reach past the
// right edge (to say what overflows).
const pageFit = `(() => {
  const w = innerWidth;
  const over = [...document.querySelectorAll("body *")].filter(el => el.getBoundingClientRect().right > w + 1)
    .slice(0, 5).map(el => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (el.className && typeof el.className === "string" ? "." + el.className.trim().split(/\s+/).join(".") : "") + " " + Math.round(el.getBoundingClientRect().right) + "px");
  return {width: w, scrollWidth: document.documentElement.scrollWidth, header: document.querySelector("header.top").getBoundingClientRect().height, over};
})()`

type fit struct {
	Width       float64  `json:"width"`
	ScrollWidth float64  `json:"scrollWidth"`
	Header      float64  `json:"header"`
	Over        []string `json:"over"`
}

// phoneLayout opens every page on a phone's screen (390 x 844): nothing
// may be wider than the screen, the header is one compact row, and its
// menu opens and leads to the other pages.
func phoneLayout(t *testing.T, p, visitor *person, eventPath string) {
	t.Helper()
	const maxHeader = 64 // px: one row
	phone := chromedp.EmulateViewport(390, 844, func(sp *emulation.SetDeviceMetricsOverrideParams, _ *emulation.SetTouchEmulationEnabledParams) {
		sp.Mobile = true
	})
	desktop := chromedp.EmulateViewport(1280, 900)
	p.do("phone viewport", phone)
	visitor.do("phone viewport", phone)
	defer p.do("desktop viewport", desktop)
	defer visitor.do("desktop viewport", desktop)
	check := func(who *person, page string) {
		t.Helper()
		f := get(who, "measure "+page, chromedp.Evaluate[fit](pageFit))
		if f.ScrollWidth > f.Width {
			t.Errorf("%s on a phone: the page is %.0f px wide on a %.0f px screen; too wide: %q", page, f.ScrollWidth, f.Width, f.Over)
		}
		if f.Header > maxHeader {
			t.Errorf("%s on a phone: the header is %.0f px high, want one row (at most %d px)", page, f.Header, maxHeader)
		}
	}
	for _, pg := range []struct{ path, wait string }{
		{"/events", ".event"}, {eventPath, "#event-image"}, {"/cameras", ".camera"}, {"/sharing", ".members"},
		{"/activity", ".activity"}, {"/account", ".sessions"},
	} {
		p.open(pg.path, pg.wait)
		check(p, pg.path)
	}
	p.open("/cameras", `a[id^="live-"]`)
	live := p.attr(`a[id^="live-"]`, "href")
	p.open(live, "video")
	check(p, "the live page")
	p.open("/cameras", `button[id^="add-camera-"]`)
	p.do("pairing code", chromedp.Click(css(`button[id^="add-camera-"]`)), chromedp.WaitVisible(css("svg.qr")))
	check(p, "the pairing page")
	for _, path := range []string{"/login", "/signup"} {
		visitor.open(path, "#email")
		check(visitor, path)
	}

	// The links are behind the menu button; it opens them, and they work.
	p.open("/events", ".event")
	// checkVisibility, unlike offsets, sees that a closed menu's content
	// is not rendered.
	p.do("menu closed", poll(`!document.querySelector(".nav").checkVisibility() && !document.getElementById("logout").checkVisibility()`))
	p.do("open the menu", chromedp.Click(css(".menu-toggle")),
		poll(`document.querySelector('.nav a[href="/cameras"]').checkVisibility() && document.getElementById("logout").checkVisibility()`))
	check(p, "/events with the menu open")
	p.do("go to Cameras", chromedp.Click(css(`.nav a[href="/cameras"]`)), chromedp.WaitVisible(css(".camera")))
}

// unlabelled lists the page's controls that have no accessible name: no
// label, no aria-label, and (for buttons and links) no text or image alt.
const unlabelled = `[...document.querySelectorAll("input:not([type=hidden]), select, textarea, button, a[href]")].filter(el => {
  const aria = (el.getAttribute("aria-label") || "").trim();
  const label = el.labels ? [...el.labels].map(l => l.textContent).join("").trim() : "";
  const text = ["BUTTON", "A"].includes(el.tagName) ? el.textContent.trim() : "";
  const alt = el.tagName === "A" ? [...el.querySelectorAll("img[alt]")].map(i => i.alt).join("").trim() : "";
  return !(aria || label || text || alt);
}).map(el => el.outerHTML.slice(0, 160))`

// screenshots saves the main pages at phone and desktop widths, for the
// README: CAMVAULT_SCREENSHOTS=$PWD/docs/screenshots go test -run TestBrowser ./internal/web/
func screenshots(t *testing.T, p, visitor *person, dir, eventPath string) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	save := func(p *person, name string) {
		buf := get(p, "screenshot "+name, chromedp.CaptureScreenshot())
		if err := os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pages := []struct{ name, path, wait string }{
		{"events", "/events", ".event img"},
		{"event", eventPath, "#event-image"},
		{"cameras", "/cameras", ".camera"},
		{"sharing", "/sharing", ".members"},
		{"activity", "/activity", ".activity"},
		{"account", "/account", ".sessions"},
	}
	for _, w := range []struct {
		name          string
		width, height int64
		mobile        bool
	}{{"phone", 390, 844, true}, {"desktop", 1280, 860, false}} {
		viewport := chromedp.EmulateViewport(w.width, w.height, func(sp *emulation.SetDeviceMetricsOverrideParams, _ *emulation.SetTouchEmulationEnabledParams) {
			sp.Mobile = w.mobile
		})
		p.do("viewport", viewport)
		visitor.do("viewport", viewport)
		visitor.open("/login", "#email")
		save(visitor, "login-"+w.name)
		for _, pg := range pages {
			p.open(pg.path, pg.wait)
			p.do("images", poll(`[...document.images].filter(i => i.getAttribute("src") && i.getBoundingClientRect().top < innerHeight).every(i => i.complete && i.naturalWidth > 0)`))
			if pg.name == "event" {
				p.do("player", poll(`document.getElementById("clip-video").readyState >= 2`))
			}
			save(p, pg.name+"-"+w.name)
		}
		p.open("/cameras", `button[id^="add-camera-"]`)
		p.do("pairing code", chromedp.Click(css(`button[id^="add-camera-"]`)), chromedp.WaitVisible(css("svg.qr")))
		save(p, "pairing-"+w.name)
		p.open("/events", ".event a.thumb")
		p.do("enlarge", chromedp.Click(css(".event a.thumb")), poll(`document.getElementById("enlarge-image").naturalWidth > 0`))
		save(p, "enlarge-"+w.name)
	}
}
