package web_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

var (
	totpSecret  = regexp.MustCompile(`id="totp-secret"[^>]*>([A-Z2-7]+)<`)
	homeIDField = regexp.MustCompile(`action="/homes/([a-z2-7]{26})/settings"`)
	inviteID    = regexp.MustCompile(`action="/invitations/([a-z2-7]{26})/accept"`)
)

// post sends a form with the page's CSRF token from this origin, and
// fails the test unless the answer is want.
func (c *client) post(path, csrf string, form url.Values, want int) (*http.Response, string) {
	c.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf", csrf)
	res, page := c.do("POST", path, c.base, form, nil)
	if res.StatusCode != want {
		c.t.Fatalf("POST %s: %d, want %d\n%s", path, res.StatusCode, want, page)
	}
	return res, page
}

func (c *client) page(path string) string {
	c.t.Helper()
	res, page := c.do("GET", path, "", nil, nil)
	if res.StatusCode != http.StatusOK {
		c.t.Fatalf("GET %s: %d", path, res.StatusCode)
	}
	if inline.MatchString(page) {
		c.t.Fatalf("%s carries inline script or style: %s", path, inline.FindString(page))
	}
	return page
}

// TestSecondFactorPages: the owner sets up an authenticator app on the
// Account page and requires a second factor in the home's settings; the
// login page asks for the code after the password; a member without a
// second factor sees the home named, with the way in, and nothing of it.
func TestSecondFactorPages(t *testing.T) {
	srv := startServer(t)
	owner, viewer := newClient(t, srv.URL), newClient(t, srv.URL)
	ownerCSRF := owner.signup("owner@example.com")
	viewerCSRF := viewer.signup("viewer@example.com")
	owner.post("/homes", ownerCSRF, url.Values{"name": {"Lake house"}}, http.StatusSeeOther)
	m := homeIDField.FindStringSubmatch(owner.page("/cameras"))
	if m == nil {
		t.Fatal("no home settings form on the Cameras page")
	}
	home := m[1]
	owner.post("/homes/"+home+"/members", ownerCSRF, url.Values{"email": {"viewer@example.com"}, "role": {"viewer"}}, http.StatusSeeOther)
	inv := inviteID.FindStringSubmatch(viewer.page("/sharing"))
	if inv == nil {
		t.Fatal("the viewer has no invitation to accept")
	}
	viewer.post("/invitations/"+inv[1]+"/accept", viewerCSRF, nil, http.StatusSeeOther)

	settings := url.Values{"name": {"Lake house"}, "retention_days": {"30"}, "require_second_factor": {"on"}}
	_, refused := owner.post("/homes/"+home+"/settings", ownerCSRF, settings, http.StatusConflict)
	if !strings.Contains(refused, "second factor on your own account") {
		t.Fatalf("requiring without a second factor of one's own says: %s", refused)
	}

	// The authenticator app, set up on the Account page.
	if !strings.Contains(owner.page("/account"), `id="setup-totp"`) {
		t.Fatal("the Account page offers no authenticator app")
	}
	_, setup := owner.post("/account/totp", ownerCSRF, nil, http.StatusOK)
	s := totpSecret.FindStringSubmatch(setup)
	if s == nil || strings.Count(setup, "<li><code>") != 10 || !strings.Contains(setup, `<svg`) {
		t.Fatalf("the set-up page lacks its key, QR code or ten recovery codes:\n%s", setup)
	}
	if inline.MatchString(setup) {
		t.Fatalf("the set-up page carries inline script or style: %s", inline.FindString(setup))
	}
	now := time.Now()
	res, _ := owner.post("/account/totp/confirm", ownerCSRF, url.Values{"otp": {totpCode(t, s[1], now)}}, http.StatusSeeOther)
	if loc := res.Header.Get("Location"); loc != "/account?done=totp-on" {
		t.Fatalf("confirming led to %s", loc)
	}
	owner.post("/homes/"+home+"/settings", ownerCSRF, settings, http.StatusSeeOther)

	// The viewer: the home by name, the way in, nothing else of it.
	for _, path := range []string{"/cameras", "/events"} {
		page := viewer.page(path)
		if !strings.Contains(page, `data-locked-home="`+home+`"`) || !strings.Contains(page, `href="/account#second-factor"`) {
			t.Fatalf("the viewer's %s does not say the home needs a second factor", path)
		}
	}
	viewer.page("/sharing")
	viewer.page("/activity")
	res, page := viewer.do("GET", "/events?home="+home, "", nil, nil)
	if res.StatusCode != http.StatusForbidden || !strings.Contains(page, "/account#second-factor") {
		t.Fatalf("the viewer's timeline of the home: %d", res.StatusCode)
	}

	// Logging in: the code after the password, on the login page.
	login := newClient(t, srv.URL)
	res, page = login.do("POST", "/login", srv.URL, url.Values{"email": {"owner@example.com"}, "password": {"correct horse battery staple"}, "next": {"/events"}}, nil)
	if res.StatusCode != http.StatusUnauthorized || !strings.Contains(page, `id="otp-form"`) || strings.Contains(page, `id="form-error"`) {
		t.Fatalf("the password step: %d\n%s", res.StatusCode, page)
	}
	step := url.Values{"email": {"owner@example.com"}, "password": {"correct horse battery staple"}, "next": {"/events"}}
	step.Set("otp", "000000")
	res, page = login.do("POST", "/login", srv.URL, step, nil)
	if res.StatusCode != http.StatusUnauthorized || !strings.Contains(page, `id="otp-form"`) || !strings.Contains(page, `id="form-error"`) {
		t.Fatalf("a wrong code: %d\n%s", res.StatusCode, page)
	}
	step.Set("otp", totpCode(t, s[1], now.Add(30*time.Second)))
	if res, _ = login.do("POST", "/login", srv.URL, step, nil); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/events" {
		t.Fatalf("the right code: %d to %s", res.StatusCode, res.Header.Get("Location"))
	}
	// A wrong password never reaches the code step.
	res, page = login.do("POST", "/login", srv.URL, url.Values{"email": {"owner@example.com"}, "password": {"wrong horse battery staple"}}, nil)
	if res.StatusCode != http.StatusUnauthorized || strings.Contains(page, `id="otp-form"`) {
		t.Fatalf("a wrong password: %d", res.StatusCode)
	}

	// Passkeys are off without a public URL (this server's port was not
	// known in advance): the page says so, and login offers the button
	// only to fail clearly.
	if !strings.Contains(owner.page("/account"), "--public-url") {
		t.Fatal("the Account page does not say why passkeys are off")
	}
	res, page = owner.do("POST", "/login/passkey", srv.URL, nil, nil)
	var answer struct {
		Error struct{ Code string } `json:"error"`
	}
	if res.StatusCode != http.StatusBadRequest || json.Unmarshal([]byte(page), &answer) != nil || answer.Error.Code != "invalid_request" {
		t.Fatalf("an empty passkey answer: %d %s", res.StatusCode, page)
	}
}
