package websession_test

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/websession"
)

func TestSecure(t *testing.T) {
	for _, c := range []struct {
		remote string
		tls    bool
		want   bool
	}{
		{"127.0.0.1:5000", false, false},
		{"[::1]:5000", false, false},
		{"127.0.0.1:5000", true, true},
		{"192.168.1.20:5000", false, true},
		{"10.0.0.1:5000", true, true},
		{"garbage", false, true},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.remote
		if c.tls {
			r.TLS = &tls.ConnectionState{}
		}
		if got := websession.Secure(r); got != c.want {
			t.Errorf("Secure(%s, tls=%v) = %v, want %v", c.remote, c.tls, got, c.want)
		}
	}
}

func TestSetCookieAttributes(t *testing.T) {
	r := httptest.NewRequest("POST", "/login", nil)
	r.RemoteAddr = "203.0.113.9:50000"
	w := httptest.NewRecorder()
	websession.Set(w, r, "cvs_x", time.Now().Add(time.Hour))
	cs := w.Result().Cookies()
	if len(cs) != 1 {
		t.Fatalf("%d cookies set", len(cs))
	}
	c := cs[0]
	if c.Name != websession.CookieName || c.Value != "cvs_x" || !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteLaxMode || c.Path != "/" {
		t.Fatalf("cookie %+v: want HttpOnly, Secure, SameSite=Lax, Path=/", c)
	}
}

func TestCSRFToken(t *testing.T) {
	a, b := websession.CSRFToken("cvs_one"), websession.CSRFToken("cvs_two")
	if a == b || a == "" {
		t.Fatalf("tokens of two sessions: %q and %q", a, b)
	}
	if !websession.ValidCSRF("cvs_one", a) {
		t.Fatal("a session's own token is refused")
	}
	for _, bad := range []string{"", b, a[:len(a)-1], a + "x"} {
		if websession.ValidCSRF("cvs_one", bad) {
			t.Fatalf("token %q accepted", bad)
		}
	}
	if websession.ValidCSRF("", websession.CSRFToken("")) {
		t.Fatal("a token without a session is accepted")
	}
}

func TestSameOrigin(t *testing.T) {
	for _, c := range []struct {
		origin, referer, fetchSite string
		want                       bool
	}{
		{"http://cam.example:8080", "", "", true},
		{"http://evil.example", "", "", false},
		{"https://cam.example:8080", "", "", false}, // another scheme is another origin, except behind a local proxy
		{"http://cam.example:8080.evil.example", "", "", false},
		{"null", "", "", false},
		{"", "http://cam.example:8080/events", "", true},
		{"", "http://evil.example/x", "", false},
		{"", "", "cross-site", false},
		{"", "", "", true},
	} {
		r := httptest.NewRequest("POST", "http://cam.example:8080/logout", nil)
		if c.origin != "" {
			r.Header.Set("Origin", c.origin)
		}
		if c.referer != "" {
			r.Header.Set("Referer", c.referer)
		}
		if c.fetchSite != "" {
			r.Header.Set("Sec-Fetch-Site", c.fetchSite)
		}
		if got := websession.SameOrigin(r); got != c.want {
			t.Errorf("origin %q referer %q site %q: %v, want %v", c.origin, c.referer, c.fetchSite, got, c.want)
		}
	}
}

// TestSameOriginBehindLocalProxy: a TLS-terminating proxy on the same
// machine forwards an https page's request over plain HTTP from loopback.
func TestSameOriginBehindLocalProxy(t *testing.T) {
	r := httptest.NewRequest("POST", "http://cam.example/logout", nil)
	r.Header.Set("Origin", "https://cam.example")
	r.RemoteAddr = "127.0.0.1:40000"
	if !websession.SameOrigin(r) {
		t.Fatal("an https page's request through a local proxy is refused")
	}
	r.RemoteAddr = "198.51.100.7:40000"
	if websession.SameOrigin(r) {
		t.Fatal("an https Origin on plain HTTP from the network is accepted")
	}
}
