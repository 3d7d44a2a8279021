package web_test

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/serviceworker"
	"github.com/chromedp/chromedp"

	"github.com/camvault/camvault/internal/server"
	"github.com/camvault/camvault/internal/sim/camera"
)

// TestBrowserNotifications: the app is installable (a manifest and a
// service worker from the root); on the Account page a person turns
// notifications on, which registers the worker and asks for permission
// (offline, Chromium's push service cannot be reached, and the page says
// so); a push delivered to the worker as the push service would is shown
// with the camera's name and the picture the worker fetched with the
// person's login; and a browser's notifications are listed and turned off.
func TestBrowserNotifications(t *testing.T) {
	bctx := browser(t)
	opts := server.DefaultOptions()
	opts.Push.AllowPrivateTargets = true // the test's push endpoint is on loopback
	srv := startServerWith(t, opts)
	const pass = "notifications pass phrase"

	ann := newPerson(t, bctx, srv.URL, "ann", "ann@example.com")
	ann.signup(pass)
	ann.do("create home", chromedp.WaitVisible(css("#create-home")), chromedp.Click(css("#create-home")),
		chromedp.WaitVisible(css(`button[id^="add-camera-"]`)))
	ann.do("add camera", chromedp.Click(css(`button[id^="add-camera-"]`)), chromedp.WaitVisible(css("#pairing-code")))
	paired, err := camera.Pair(t.Context(), srv.Client(), srv.URL, ann.text("#pairing-code"), "CV-SIM", "1.0")
	if err != nil {
		t.Fatal(err)
	}
	startCamera(t, srv.URL, paired)
	ann.reloadUntil("/events", ".event")
	eventPath := ann.attr(".event a.thumb", "href")
	if !strings.HasPrefix(eventPath, "/events/") {
		eventPath = ann.attr(`.event a[href^="/events/"]`, "href")
	}
	eventID := strings.TrimPrefix(eventPath, "/events/")

	if status, body := ann.fetch("/manifest.webmanifest", nil); status != 200 || !strings.Contains(body, `"start_url": "/events"`) {
		t.Fatalf("manifest: %d %s", status, body)
	}
	if status, body := ann.fetch("/sw.js", nil); status != 200 || !strings.Contains(body, "showNotification") {
		t.Fatalf("service worker: %d", status)
	}

	// Registrations of service workers, as DevTools sees them.
	var (
		mu      sync.Mutex
		regID   serviceworker.RegistrationID
		regSeen = make(chan struct{})
		once    sync.Once
	)
	go func() {
		for ev, err := range chromedp.Events(ann.ctx, serviceworker.WorkerRegistrationUpdated) {
			if err != nil {
				return
			}
			for _, r := range ev.Registrations {
				if !r.IsDeleted && strings.HasPrefix(r.ScopeURL, srv.URL) {
					mu.Lock()
					regID = r.RegistrationID
					mu.Unlock()
					once.Do(func() { close(regSeen) })
				}
			}
		}
	}()
	ann.open("/account", "#push-on")
	ann.do("watch service workers and allow notifications", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := cdp.Call(ctx, tg, serviceworker.Enable, cdp.Empty{}); err != nil {
			return err
		}
		_, err := chromedp.CallBrowser(ctx, cdpbrowser.SetPermission, cdpbrowser.SetPermissionParams{
			Permission: &cdpbrowser.PermissionDescriptor{Name: "notifications"}, Setting: cdpbrowser.PermissionSettingGranted,
			Origin: srv.URL, BrowserContextID: chromedp.FromContext(ann.ctx).BrowserContextID})
		return err
	}))
	ann.do("turn on", chromedp.Click(css("#push-on")),
		poll(`!document.getElementById("push-error")?.hidden || !!document.querySelector(".notice")`, chromedp.WithPollingTimeout(20*time.Second)))
	if msg := ann.text("#push-error"); msg != "" && !strings.HasPrefix(msg, "Notifications could not be turned on: this browser's push service could not be reached") {
		t.Fatalf("turning notifications on says %q", msg)
	}
	if active := get(ann, "the worker", chromedp.Evaluate[bool](`navigator.serviceWorker.getRegistration("/").then(r => !!r && !!(r.active || r.waiting || r.installing))`, chromedp.EvalAwaitPromise)); !active {
		t.Fatal("no service worker is registered for the app")
	}
	select {
	case <-regSeen:
	case <-time.After(20 * time.Second):
		t.Fatal("DevTools saw no registration of the service worker")
	}
	ann.do("worker ready", poll(`navigator.serviceWorker.ready.then(r => !!r.active)`, chromedp.WithPollingTimeout(20*time.Second)))

	// A push, as the push service hands it to the worker once decrypted.
	payload, _ := json.Marshal(map[string]string{"event_id": eventID, "camera": "Front door", "kind": "motion",
		"at": time.Now().UTC().Format(time.RFC3339), "url": eventPath, "thumbnail_url": "/api/v1/events/" + eventID + "/thumbnail"})
	mu.Lock()
	id := regID
	mu.Unlock()
	ann.do("deliver a push", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, serviceworker.DeliverPushMessage, serviceworker.DeliverPushMessageParams{
			Origin: srv.URL, RegistrationID: id, Data: string(payload)})
		return err
	}))
	type shown struct {
		Title string `json:"title"`
		Body  string `json:"body"`
		Image string `json:"image"`
		Tag   string `json:"tag"`
	}
	var got []shown
	for deadline := time.Now().Add(20 * time.Second); len(got) == 0; {
		got = get(ann, "notifications shown", chromedp.Evaluate[[]shown](
			`navigator.serviceWorker.ready.then(r => r.getNotifications()).then(ns => ns.map(n => ({title: n.title, body: n.body, image: n.image, tag: n.tag})))`,
			chromedp.EvalAwaitPromise))
		if time.Now().After(deadline) {
			t.Fatal("the worker showed no notification for the push")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n := got[0]; n.Title != "Front door: Motion" || n.Tag != eventID || !strings.HasPrefix(n.Image, "data:image/jpeg;base64,") || !strings.HasPrefix(n.Body, "at ") {
		t.Fatalf("the notification: title %q, body %q, tag %q, image %.40q", n.Title, n.Body, n.Tag, n.Image)
	}

	// A subscription made through the API (as a browser whose push service
	// answers would) is listed, and turned off from the page.
	endpoint := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusCreated) }))
	t.Cleanup(endpoint.Close)
	key, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	secret := make([]byte, 16)
	_, _ = rand.Read(secret)
	csrf := ann.attr("#push-on", "data-csrf")
	body := fmt.Sprintf(`{"endpoint": %q, "keys": {"p256dh": %q, "auth": %q}, "kinds": ["person"], "quiet": {"from": "22:00", "to": "07:00", "tz": "Europe/Berlin"}}`,
		endpoint.URL+"/push/1", base64.RawURLEncoding.EncodeToString(key.PublicKey().Bytes()), base64.RawURLEncoding.EncodeToString(secret))
	status := get(ann, "subscribe", chromedp.Evaluate[int](fmt.Sprintf(`fetch("/api/v1/push/subscriptions", {method: "POST", credentials: "same-origin",
		headers: {"Content-Type": "application/json", "X-CSRF-Token": %q}, body: %q}).then(r => r.status)`, csrf, body), chromedp.EvalAwaitPromise))
	if status != 201 {
		t.Fatalf("subscribe through the API: %d", status)
	}
	ann.open("/account", "#push-subscriptions")
	if line := ann.text("#push-subscriptions li"); !strings.Contains(line, "This browser") || !strings.Contains(line, "person") || !strings.Contains(line, "quiet 22:00 to 07:00 (Europe/Berlin)") {
		t.Fatalf("the subscription reads %q", line)
	}
	ann.do("turn off", chromedp.Click(css(`#push-subscriptions form button`)), chromedp.WaitVisible(css(".notice")))
	if n := ann.count("#push-subscriptions li"); n != 0 {
		t.Fatalf("%d subscriptions left after turning off", n)
	}
}
