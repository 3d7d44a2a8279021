package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"github.com/camvault/camvault/internal/server"
	"github.com/camvault/camvault/internal/sim/partnerlink"
)

// TestBrowserPartnerConsent walks the consent page in Chromium: a partner
// sends the person's browser to /oauth2/authorize, the person logs in,
// sees the partner named, chooses one of two cameras and live, and is sent
// back to the partner with a code (and its state), which the partner
// exchanges with golang.org/x/oauth2 for a token that reaches that one
// camera. The Account page lists the partner; Unlink stops it at once.
func TestBrowserPartnerConsent(t *testing.T) {
	bctx := browser(t)
	data := t.TempDir()
	srv := startServerIn(t, data)
	api := apiClient{t: t, base: srv.URL}

	email, password := "dana@example.com", "a pass phrase for partners"
	api.call("POST", "/api/v1/accounts", "", map[string]string{"email": email, "password": password}, 201)
	tok := api.call("POST", "/api/v1/sessions", "", map[string]string{"email": email, "password": password}, 201)["token"].(string)
	home := api.call("POST", "/api/v1/homes", tok, map[string]string{"name": "Dana's flat"}, 201)["id"].(string)
	var cams []string
	for _, name := range []string{"Hallway", "Bedroom"} {
		code := api.call("POST", "/api/v1/homes/"+home+"/pairing-codes", tok, nil, 201)["code"].(string)
		dev := api.call("POST", "/api/v1/devices/pair", "", map[string]string{"code": code, "model": "CV-1", "firmware": "1"}, 201)["device_id"].(string)
		api.call("PATCH", "/api/v1/devices/"+dev, tok, map[string]string{"name": name}, 200)
		cams = append(cams, dev)
	}

	// The partner: its redirect URI records where the browser lands.
	var mu sync.Mutex
	var landed *http.Request
	callback := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/callback" {
			http.NotFound(w, r)
			return
		}
		mu.Lock()
		landed = r
		mu.Unlock()
		_, _ = io.WriteString(w, "<!doctype html><title>Linked</title><p id=linked>Linked</p>")
	}))
	t.Cleanup(callback.Close)
	partner := registerPartner(t, data, srv.URL, "Living Room Display", callback.URL+"/callback")
	cfg := partner.Config("cameras", "live")
	state, verifier := oauth2.GenerateVerifier(), oauth2.GenerateVerifier()
	authURL := cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier))

	dana := newPerson(t, bctx, srv.URL, "dana", email)
	dana.do("go to the partner's link", chromedp.Navigate(authURL), chromedp.WaitVisible(css("#email")))
	dana.do("log in on the way", chromedp.SendKeys(css("#email"), email), chromedp.SendKeys(css("#password"), password),
		chromedp.Click(css("#submit")), chromedp.WaitVisible(css("#consent-form")))
	if h := dana.text("#consent-title"); h != "Link Living Room Display" {
		t.Fatalf("the consent page's title is %q; want it to name the partner", h)
	}
	if n := dana.count(`#consent-form input[name="camera"]`); n != 2 {
		t.Fatalf("the consent page offers %d cameras, want 2", n)
	}
	// Allowing nothing changes nothing and says why.
	dana.do("allow without a camera", chromedp.Click(css("#consent-allow")), chromedp.WaitVisible(css(".error")))
	dana.do("choose the hallway and live",
		chromedp.Click(css(`input[name="camera"][value="`+cams[0]+`"]`)), chromedp.Click(css("#consent-live")),
		chromedp.Click(css("#consent-allow")), chromedp.WaitVisible(css("#linked")))

	mu.Lock()
	got := landed
	mu.Unlock()
	if got == nil || got.URL.Query().Get("state") != state || got.URL.Query().Get("code") == "" {
		t.Fatalf("the partner was sent %v; want its state and a code", got)
	}
	ctx := context.WithValue(t.Context(), oauth2.HTTPClient, srv.Client())
	token, err := cfg.Exchange(ctx, got.URL.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange the code: %v", err)
	}
	devs := api.call("GET", "/api/v1/partner/devices", token.AccessToken, nil, 200)["devices"].([]any)
	if len(devs) != 1 || devs[0].(map[string]any)["id"] != cams[0] {
		t.Fatalf("the partner sees %v; want only the hallway camera", devs)
	}

	dana.open("/account", "#partners")
	if row := dana.text(`#partners li`); !strings.Contains(row, "Living Room Display") || !strings.Contains(row, "Hallway") ||
		strings.Contains(row, "Bedroom") || !strings.Contains(row, "may watch live") {
		t.Fatalf("the Account page lists %q; want the partner, the hallway camera and live", row)
	}
	dana.do("unlink", chromedp.Click(css(`#partners button`)), chromedp.WaitVisible(css(".notice")))
	if dana.count("#partners") != 0 {
		t.Fatal("the partner is still listed after unlinking")
	}
	api.call("GET", "/api/v1/partner/devices", token.AccessToken, nil, 401)
}

// startServerIn is startServer on a data directory the test keeps, for
// the operator's tasks.
func startServerIn(t *testing.T, data string) *httptest.Server {
	t.Helper()
	cfg := server.Config{DataDir: data, Addr: "127.0.0.1:0", AdminAddr: "127.0.0.1:1"}
	app, err := server.Open(t.Context(), cfg, server.DefaultOptions(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("open server: %v", err)
	}
	ctx, stop := context.WithCancel(context.Background())
	wait := app.Background(ctx)
	srv := httptest.NewServer(app.Public())
	t.Cleanup(func() {
		srv.Close()
		stop()
		wait()
		app.Close()
	})
	return srv
}

// registerPartner registers a partner as `camvault admin partners add`.
func registerPartner(t *testing.T, data, base, name, redirect string) partnerlink.Partner {
	t.Helper()
	o, err := server.OpenOffline(t.Context(), server.Config{DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	var out bytes.Buffer
	if err := o.PartnerAdd(t.Context(), &out, name, redirect); err != nil {
		t.Fatal(err)
	}
	p := partnerlink.Partner{Server: base, RedirectURI: redirect}
	for _, line := range strings.Split(out.String(), "\n") {
		if v, ok := strings.CutPrefix(line, "client_id:"); ok {
			p.ClientID = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(line, "client_secret:"); ok {
			p.ClientSecret = strings.TrimSpace(v)
		}
	}
	return p
}

// apiClient calls the JSON API from the test, beside the browser.
type apiClient struct {
	t    *testing.T
	base string
}

func (c apiClient) call(method, path, tok string, body any, want int) map[string]any {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequestWithContext(c.t.Context(), method, c.base+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		c.t.Fatalf("%s %s: %d %s, want %d", method, path, res.StatusCode, raw, want)
	}
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return out
}
