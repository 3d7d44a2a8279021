package web_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/camvault/camvault/internal/websession"
)

// client is a cookie-keeping HTTP client that does not follow redirects,
// so each answer can be checked as sent.
type client struct {
	t    *testing.T
	base string
	http *http.Client
}

func newClient(t *testing.T, base string) *client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &client{t: t, base: base, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

// do sends a request; origin "" sends no Origin header.
func (c *client) do(method, path, origin string, form url.Values, header map[string]string) (*http.Response, string) {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	req.Header.Set("Accept", "text/html")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// inline finds what the CSP forbids: a script element with a body, an
// event-handler attribute, a style element or attribute, a javascript: URL.
var inline = regexp.MustCompile(`(?i)<script[^>]*>[^<]|\son[a-z]+=|<style|\sstyle=|javascript:`)

// signup creates an account through the signup form and returns the
// page's CSRF token.
func (c *client) signup(email string) string {
	c.t.Helper()
	res, _ := c.do("POST", "/signup", c.base, url.Values{"email": {email}, "password": {"correct horse battery staple"}, "password2": {"correct horse battery staple"}}, nil)
	if res.StatusCode != http.StatusSeeOther {
		c.t.Fatalf("signup: %d", res.StatusCode)
	}
	_, page := c.do("GET", "/account", "", nil, nil)
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		c.t.Fatal("no CSRF token on the account page")
	}
	return m[1]
}

// TestPageSecurity checks the rules every page keeps: the cookie's
// attributes, CSRF and Origin checks on each state-changing request (the
// pages' forms and the JSON API with the cookie), the headers, and the
// one not-found answer.
func TestPageSecurity(t *testing.T) {
	srv := startServer(t)
	c := newClient(t, srv.URL)

	// Logged out, a page sends to the login page.
	res, _ := c.do("GET", "/events", "", nil, nil)
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/login") {
		t.Fatalf("logged-out /events: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}

	// Signing up from another origin is refused and creates nothing.
	res, _ = c.do("POST", "/signup", "http://evil.example", url.Values{"email": {"a@example.com"}, "password": {"correct horse battery staple"}, "password2": {"correct horse battery staple"}}, nil)
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin signup: %d", res.StatusCode)
	}
	res, _ = c.do("POST", "/signup", c.base, url.Values{"email": {"a@example.com"}, "password": {"correct horse battery staple"}, "password2": {"correct horse battery staple"}}, nil)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("signup: %d", res.StatusCode)
	}
	var cookie *http.Cookie
	for _, ck := range res.Cookies() {
		if ck.Name == websession.CookieName {
			cookie = ck
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode || cookie.Secure {
		t.Fatalf("session cookie over loopback: %+v; want HttpOnly, SameSite=Lax, not Secure", cookie)
	}

	// Pages: strict CSP, never stored.
	res, page := c.do("GET", "/account", "", nil, nil)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("/account: %d", res.StatusCode)
	}
	csp := res.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "default-src 'none'") {
		t.Fatalf("CSP %q", csp)
	}
	if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
		t.Fatalf("authenticated page Cache-Control %q", cc)
	}
	for _, path := range []string{"/events", "/cameras", "/sharing", "/activity", "/account", "/login", "/nothing"} {
		_, body := c.do("GET", path, "", nil, nil)
		if inline.MatchString(body) {
			t.Fatalf("%s carries inline script or style: %s", path, inline.FindString(body))
		}
	}
	token := csrfField.FindStringSubmatch(page)[1]

	// Log out without the token, with a wrong one, or from another origin:
	// refused, and the session still works.
	for _, bad := range []struct {
		origin string
		form   url.Values
	}{
		{c.base, url.Values{}},
		{c.base, url.Values{"csrf": {"x" + token}}},
		{"http://evil.example", url.Values{"csrf": {token}}},
	} {
		res, _ = c.do("POST", "/logout", bad.origin, bad.form, nil)
		if res.StatusCode != http.StatusForbidden {
			t.Fatalf("logout from %s with %v: %d, want 403", bad.origin, bad.form, res.StatusCode)
		}
	}
	if res, _ = c.do("GET", "/account", "", nil, nil); res.StatusCode != http.StatusOK {
		t.Fatalf("a refused logout ended the session: %d", res.StatusCode)
	}

	// The JSON API takes the cookie: reads as is, changes only with the
	// CSRF header from this origin.
	res, _ = c.do("GET", "/api/v1/me", "", nil, nil)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("API with the cookie: %d", res.StatusCode)
	}
	res, _ = c.do("POST", "/api/v1/homes", c.base, nil, map[string]string{"Content-Type": "application/json"})
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("API POST with the cookie and no CSRF header: %d", res.StatusCode)
	}
	res, _ = c.do("POST", "/api/v1/homes", "http://evil.example", nil, map[string]string{websession.HeaderName: token})
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("API POST with the cookie from another origin: %d", res.StatusCode)
	}
	homes, _ := c.do("GET", "/api/v1/homes", "", nil, nil)
	if homes.StatusCode != http.StatusOK {
		t.Fatalf("list homes: %d", homes.StatusCode)
	}

	// Unknown paths: the API keeps its JSON 404; a browser gets the page.
	res, body := c.do("GET", "/api/v1/nothing", "", nil, nil)
	if res.StatusCode != http.StatusNotFound || !strings.Contains(body, `"not_found"`) {
		t.Fatalf("unknown API route: %d %s", res.StatusCode, body)
	}
	res, body = c.do("GET", "/nothing/here", "", nil, nil)
	if res.StatusCode != http.StatusNotFound || !strings.Contains(body, "Not found") {
		t.Fatalf("unknown page: %d", res.StatusCode)
	}
	_, missingEvent := c.do("GET", "/events/aaaaaaaaaaaaaaaaaaaaaaaaaa", "", nil, nil)
	_, badEvent := c.do("GET", "/events/not-an-id", "", nil, nil)
	if missingEvent != badEvent {
		t.Fatal("a malformed event ID and a missing one answer differently")
	}

	// With the token from this origin, logout works and the cookie dies.
	res, _ = c.do("POST", "/logout", c.base, url.Values{"csrf": {token}}, nil)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %d", res.StatusCode)
	}
	res, _ = c.do("GET", "/api/v1/me", "", nil, nil)
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("API after logout: %d", res.StatusCode)
	}
}

// TestLoginErrors: a wrong password is said plainly, and repeated failures
// are throttled with the wait spelled out.
func TestLoginErrors(t *testing.T) {
	srv := startServer(t)
	c := newClient(t, srv.URL)
	c.signup("b@example.com")
	c2 := newClient(t, srv.URL)
	res, page := c2.do("POST", "/login", c2.base, url.Values{"email": {"b@example.com"}, "password": {"wrong password here"}}, nil)
	if res.StatusCode != http.StatusUnauthorized || !strings.Contains(page, "email or password is incorrect") {
		t.Fatalf("wrong password: %d", res.StatusCode)
	}
	for i := 0; i < 50; i++ {
		res, page = c2.do("POST", "/login", c2.base, url.Values{"email": {"b@example.com"}, "password": {"wrong password here"}}, nil)
		if res.StatusCode == http.StatusTooManyRequests {
			if !strings.Contains(page, "Too many failed attempts. Please wait") || res.Header.Get("Retry-After") == "" {
				t.Fatalf("throttled login page does not say how long to wait")
			}
			return
		}
	}
	t.Fatal("50 wrong passwords in a row were never throttled")
}
