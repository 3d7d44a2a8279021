package web_test

import (
	"net/http"
	"net/url"
	"testing"
)

// TestLoginRedirectStaysOnSite: the login form's next parameter leads only
// to a path of this site. Each hostile value once slipped past a prefix
// check (a browser reads a backslash as a slash and drops tabs, so they
// reach evil.example); each now lands on the timeline, and a plain path,
// with its query, is kept.
func TestLoginRedirectStaysOnSite(t *testing.T) {
	srv := startServer(t)
	c := newClient(t, srv.URL)
	c.signup("redirect@example.com")
	for next, want := range map[string]string{
		"/cameras":                       "/cameras",
		"/events?camera=abc&kind=motion": "/events?camera=abc&kind=motion",
		"/events/../cameras":             "/cameras",
		"/x/../\\evil.example":           "/events",
		"/\t/evil.example":               "/events",
		"/\n/evil.example":               "/events",
		"//evil.example":                 "/events",
		"/\\evil.example":                "/events",
		"/.//evil.example":               "/evil.example", // a path of this site, slashes collapsed
		"/x/..//evil.example":            "/evil.example",
		"https://evil.example/":          "/events",
		"javascript:alert(1)":            "/events",
		"evil.example":                   "/events",
		"":                               "/events",
		"/%2F%2Fevil.example":            "/evil.example",
	} {
		res, _ := c.do("POST", "/login", srv.URL, url.Values{"email": {"redirect@example.com"},
			"password": {"correct horse battery staple"}, "next": {next}}, nil)
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("log in with next %q: %d", next, res.StatusCode)
		}
		if got := res.Header.Get("Location"); got != want {
			t.Errorf("next %q: redirected to %q, want %q", next, got, want)
		}
	}
}
