package websession_test

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/peer"
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
	if c.Name != websession.SecureCookieName || c.Value != "cvs_x" || !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Domain != "" {
		t.Fatalf("cookie %+v: want __Host-, HttpOnly, Secure, SameSite=Lax, Path=/, no Domain", c)
	}
	// The cookie is read back under the name it was set with.
	r2 := httptest.NewRequest("GET", "/", nil)
	r2.RemoteAddr = r.RemoteAddr
	r2.AddCookie(c)
	r2.AddCookie(&http.Cookie{Name: websession.CookieName, Value: "cvs_planted"})
	if got := websession.Token(r2); got != "cvs_x" {
		t.Fatalf("token read back: %q, want the __Host- cookie's", got)
	}
}

// TestBehindTrustedProxy: behind a TLS proxy the operator trusts, the
// proxy's X-Forwarded-For and X-Forwarded-Proto decide the client address
// and HTTPS, so cookies are Secure (with __Host-) and the throttle counts
// the real client; the same headers from anyone else change nothing.
func TestBehindTrustedProxy(t *testing.T) {
	proxies, err := peer.ParseProxies("127.0.0.1, 10.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		what, remote, xff, proto string
		wantAddr                 string
		wantSecure               bool
	}{
		{"a browser beside the server", "127.0.0.1:5000", "", "", "127.0.0.1", false},
		{"through the local TLS proxy", "127.0.0.1:5000", "198.51.100.7", "https", "198.51.100.7", true},
		{"through two trusted proxies", "10.1.2.3:5000", "198.51.100.7, 10.9.9.9", "https", "198.51.100.7", true},
		{"a client's own X-Forwarded-For left of the real one", "127.0.0.1:5000", "1.2.3.4, 198.51.100.7", "https", "198.51.100.7", true},
		{"a trusted proxy saying plain http", "127.0.0.1:5000", "198.51.100.7", "http", "198.51.100.7", true},
		{"an untrusted peer writing the headers", "203.0.113.9:5000", "127.0.0.1", "https", "203.0.113.9", true},
		{"an untrusted loopback-looking claim", "192.168.1.5:5000", "127.0.0.1", "http", "192.168.1.5", true},
		{"garbage in X-Forwarded-For", "127.0.0.1:5000", "not-an-ip", "https", "127.0.0.1", true},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.remote
		if c.xff != "" {
			r.Header.Set("X-Forwarded-For", c.xff)
		}
		if c.proto != "" {
			r.Header.Set("X-Forwarded-Proto", c.proto)
		}
		var addr string
		var secure bool
		proxies.Trusted(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			addr, secure = websession.ClientAddress(r), websession.Secure(r)
		})).ServeHTTP(httptest.NewRecorder(), r)
		if addr != c.wantAddr || secure != c.wantSecure {
			t.Errorf("%s: client %s, Secure %v; want %s, %v", c.what, addr, secure, c.wantAddr, c.wantSecure)
		}
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
