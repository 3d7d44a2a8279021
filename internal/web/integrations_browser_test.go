package web_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/camvault/camvault/internal/server"
	"github.com/camvault/camvault/internal/sim/camera"
)

// TestBrowserWebhooks: an owner adds a webhook on the Integrations page,
// sees its secret once, and, once the camera's events were delivered,
// sees them among the webhook's recent deliveries; then removes it.
func TestBrowserWebhooks(t *testing.T) {
	var got atomic.Int64
	rc := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if r.Header.Get("webhook-signature") != "" {
			got.Add(1)
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.Close)
	opts := server.DefaultOptions()
	opts.Webhooks.AllowPrivateTargets = true
	opts.Webhooks.Transport = rc.Client().Transport.(*http.Transport)
	opts.Webhooks.Poll = 50 * time.Millisecond
	bctx := browser(t)
	srv := startServerWith(t, opts)

	erin := newPerson(t, bctx, srv.URL, "erin", "erin@example.com")
	erin.signup("a pass phrase for the webhook test")
	erin.do("create home", chromedp.WaitVisible(css("#create-home")), chromedp.Click(css("#create-home")),
		chromedp.WaitVisible(css(`button[id^="add-camera-"]`)))
	erin.do("add camera", chromedp.Click(css(`button[id^="add-camera-"]`)), chromedp.WaitVisible(css("#pairing-code")))
	paired, err := camera.Pair(t.Context(), srv.Client(), srv.URL, erin.text("#pairing-code"), "CV-SIM", "1.0")
	if err != nil {
		t.Fatal(err)
	}

	erin.open("/integrations", `input[name="url"]`)
	erin.do("add a webhook",
		chromedp.SendKeys(css(`input[name="url"]`), rc.URL+"/camvault"),
		chromedp.Submit(css(`input[name="url"]`)),
		chromedp.WaitVisible(css("#webhook-secret")))
	if s := erin.text("#webhook-secret"); !strings.HasPrefix(s, "whsec_") {
		t.Fatalf("secret shown: %q", s)
	}
	startCamera(t, srv.URL, paired)
	for deadline := time.Now().Add(30 * time.Second); got.Load() < 2; {
		if time.Now().After(deadline) {
			t.Fatalf("the receiver got %d signed deliveries", got.Load())
		}
		time.Sleep(50 * time.Millisecond)
	}
	erin.open("/integrations", ".webhook")
	if erin.count("#webhook-secret") != 0 {
		t.Fatal("the secret is shown again")
	}
	if u := erin.text(".webhook-url"); u != rc.URL+"/camvault" {
		t.Fatalf("webhook address %q", u)
	}
	erin.do("open deliveries", chromedp.Click(css(".webhook details summary")))
	if n := erin.count(".deliveries tbody tr"); n == 0 || !strings.Contains(erin.text(".deliveries tbody"), "delivered") {
		t.Fatalf("%d deliveries listed: %q", n, erin.text(".deliveries tbody"))
	}
	erin.do("remove it", chromedp.Click(css(`.webhook button.danger`)), chromedp.WaitVisible(css(".notice")))
	if erin.count(".webhook") != 0 {
		t.Fatal("the webhook is still listed")
	}
}
