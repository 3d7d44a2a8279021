package server_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/server"
)

func TestAccountsAndSessions(t *testing.T) {
	e := newEnv(t)
	ann := e.signup("ann")

	me := e.must(200, "GET", "/api/v1/me", ann.token, nil)
	if me.str("id") != ann.id || me.str("email") != ann.email {
		t.Fatalf("me = %s, want id %s email %s", me.raw, ann.id, ann.email)
	}

	// Same email, other case and spaces: taken.
	r := e.call("POST", "/api/v1/accounts", "", map[string]string{"email": "  " + strings.ToUpper(ann.email), "password": "another fine password"})
	if r.status != 409 || r.errCode() != "conflict" {
		t.Fatalf("duplicate email: %d %s", r.status, r.raw)
	}

	// Unknown email and wrong password: same status, same body.
	wrong := e.call("POST", "/api/v1/sessions", "", map[string]string{"email": ann.email, "password": "not the password at all"})
	unknown := e.call("POST", "/api/v1/sessions", "", map[string]string{"email": "nobody@example.com", "password": "not the password at all"})
	if wrong.status != 401 || unknown.status != 401 || string(wrong.raw) != string(unknown.raw) {
		t.Fatalf("wrong password %d %s, unknown email %d %s: want the same 401", wrong.status, wrong.raw, unknown.status, unknown.raw)
	}

	// Logout ends this session only, at once.
	second := e.login(ann.email, ann.password)
	e.must(204, "DELETE", "/api/v1/sessions/current", ann.token, nil)
	e.must(401, "GET", "/api/v1/me", ann.token, nil)
	e.must(200, "GET", "/api/v1/me", second, nil)

	// Logout everywhere ends every session.
	third := e.login(ann.email, ann.password)
	list := e.must(200, "GET", "/api/v1/sessions", third, nil)
	if n := len(list.body["sessions"].([]any)); n != 2 {
		t.Fatalf("sessions listed: %d, want 2", n)
	}
	e.must(204, "DELETE", "/api/v1/sessions", third, nil)
	e.must(401, "GET", "/api/v1/me", second, nil)
	e.must(401, "GET", "/api/v1/me", third, nil)

	// No token, a garbage token and a device-looking token: 401.
	e.must(401, "GET", "/api/v1/me", "", nil)
	e.must(401, "GET", "/api/v1/me", "cvs_nonsense", nil)
	e.must(401, "GET", "/api/v1/me", "cvd_"+strings.Repeat("a", 52), nil)
}

func TestEndOneSession(t *testing.T) {
	e := newEnv(t)
	ann, bob := e.signup("ann"), e.signup("bob")
	other := e.login(ann.email, ann.password)
	var otherID string
	for _, s := range e.must(200, "GET", "/api/v1/sessions", ann.token, nil).body["sessions"].([]any) {
		m := s.(map[string]any)
		if m["current"] != true {
			otherID = m["id"].(string)
		}
	}
	// Bob cannot end Ann's session: not found, like a missing one.
	missing := e.call("DELETE", "/api/v1/sessions/"+strings.Repeat("a", 26), bob.token, nil)
	foreign := e.call("DELETE", "/api/v1/sessions/"+otherID, bob.token, nil)
	if foreign.status != 404 || string(foreign.raw) != string(missing.raw) {
		t.Fatalf("foreign session %d %s, missing %d %s", foreign.status, foreign.raw, missing.status, missing.raw)
	}
	e.must(200, "GET", "/api/v1/me", other, nil)
	e.must(204, "DELETE", "/api/v1/sessions/"+otherID, ann.token, nil)
	e.must(401, "GET", "/api/v1/me", other, nil)
	e.must(200, "GET", "/api/v1/me", ann.token, nil)
}

func TestSessionExpiryAndIdle(t *testing.T) {
	e := newEnv(t, func(o *server.Options) {
		o.Identity.IdleTimeout = time.Hour
		o.Identity.SessionTTL = 3 * time.Hour
	})
	ann := e.signup("ann")
	e.clock.Advance(59 * time.Minute)
	e.must(200, "GET", "/api/v1/me", ann.token, nil) // use keeps it alive
	e.clock.Advance(59 * time.Minute)
	e.must(200, "GET", "/api/v1/me", ann.token, nil)
	e.clock.Advance(61 * time.Minute)
	e.must(401, "GET", "/api/v1/me", ann.token, nil) // idle too long

	tok := e.login(ann.email, ann.password)
	for range 3 {
		e.clock.Advance(50 * time.Minute)
		e.must(200, "GET", "/api/v1/me", tok, nil)
	}
	e.clock.Advance(40 * time.Minute)
	e.must(401, "GET", "/api/v1/me", tok, nil) // past its absolute lifetime
}

func TestLoginThrottling(t *testing.T) {
	e := newEnv(t, func(o *server.Options) {
		o.Identity.AccountFailures = 3
		o.Identity.AddressFailures = 6
		o.Identity.ThrottleWindow = 10 * time.Minute
	})
	ann := e.signup("ann")
	bad := map[string]string{"email": ann.email, "password": "definitely wrong password"}
	for range 3 {
		e.must(401, "POST", "/api/v1/sessions", "", bad)
	}
	// The account is throttled, even for the right password.
	r := e.must(429, "POST", "/api/v1/sessions", "", map[string]string{"email": ann.email, "password": ann.password})
	ra, err := strconv.Atoi(r.header.Get("Retry-After"))
	if err != nil || ra < 1 || ra > 600 {
		t.Fatalf("Retry-After %q, want 1..600 seconds", r.header.Get("Retry-After"))
	}
	// After the window, the right password works and resets the count.
	e.clock.Advance(10*time.Minute + time.Second)
	e.login(ann.email, ann.password)

	// Per address: failures over many accounts from one client (the
	// address's earlier window ended with the clock's advance).
	for i := range 6 {
		e.must(401, "POST", "/api/v1/sessions", "", map[string]string{"email": "x" + strconv.Itoa(i) + "@example.com", "password": "wrong password here"})
	}
	e.must(429, "POST", "/api/v1/sessions", "", map[string]string{"email": "fresh@example.com", "password": "wrong password here"})

	metrics := e.adminGet("/metrics")
	if !strings.Contains(metrics, "camvault_login_throttled_total 2") {
		t.Errorf("metrics do not count the two throttled logins")
	}
	if !strings.Contains(metrics, `camvault_auth_failures_total{kind="login"} 9`) {
		t.Errorf("metrics do not count the nine failed logins")
	}
}

// TestLockoutIsPerAddress reproduces the lockout through HTTP, with the
// client addresses a trusted proxy forwards: wrong passwords from one
// address make that address wait (429) for the account, while the right
// password from another address logs in at once. Before, the account was
// locked for everyone.
func TestLockoutIsPerAddress(t *testing.T) {
	e := &env{t: t, data: t.TempDir(), clock: newClock()}
	opts := e.options()
	opts.Identity.AccountFailures = 3
	e.serve(server.Config{TrustedProxies: "127.0.0.1"}, opts)
	ann := e.signup("ann")
	from := func(addr string) http.Header { return http.Header{"X-Forwarded-For": {addr}} }
	bad := map[string]string{"email": ann.email, "password": "definitely the wrong one"}
	good := map[string]string{"email": ann.email, "password": ann.password}

	for range 3 {
		if r := e.callWith(from("203.0.113.66"), "POST", "/api/v1/sessions", "", bad); r.status != 401 {
			t.Fatalf("a wrong password: %d %s", r.status, r.raw)
		}
	}
	if r := e.callWith(from("203.0.113.66"), "POST", "/api/v1/sessions", "", good); r.status != 429 || r.header.Get("Retry-After") == "" {
		t.Fatalf("the right password from the guessing address: %d, Retry-After %q; want 429", r.status, r.header.Get("Retry-After"))
	}
	if r := e.callWith(from("198.51.100.20"), "POST", "/api/v1/sessions", "", good); r.status != 201 {
		t.Fatalf("the right password from another address: %d %s; the guesses locked ann out", r.status, r.raw)
	}
}

func (e *env) adminGet(path string) string {
	e.t.Helper()
	res, err := e.admin.Client().Get(e.admin.URL + path)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := res.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	if res.StatusCode != 200 {
		e.t.Fatalf("admin %s: %d", path, res.StatusCode)
	}
	return b.String()
}

func TestAdminListenerOnly(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
		e.adminGet(p)
		if r := e.call("GET", p, "", nil); r.status != 404 {
			t.Errorf("public listener answers %s with %d, want 404", p, r.status)
		}
	}
	e.signup("ann")
	if m := e.adminGet("/metrics"); !strings.Contains(m, `camvault_http_requests_total{code="201",method="POST",route="POST /api/v1/accounts"} 1`) {
		t.Errorf("request metrics by route missing")
	}
}

func TestSecurityHeadersAndRequestID(t *testing.T) {
	e := newEnv(t)
	r := e.call("GET", "/api/v1/me", "", nil)
	for k, want := range map[string]string{
		"X-Content-Type-Options": "nosniff",
		"X-Frame-Options":        "DENY",
		"Cache-Control":          "no-store",
		"Referrer-Policy":        "same-origin", // the web app's forms need their Origin (httpmw)
	} {
		if got := r.header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if len(r.header.Get("X-Request-Id")) < 16 {
		t.Errorf("no request id")
	}
	if r.header.Get("WWW-Authenticate") == "" {
		t.Errorf("401 without WWW-Authenticate")
	}
	r = e.call("GET", "/no/such/route", "", nil)
	if r.status != http.StatusNotFound || r.errCode() != "not_found" {
		t.Errorf("unknown route: %d %s", r.status, r.raw)
	}
}
