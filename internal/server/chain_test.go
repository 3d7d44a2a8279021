package server_test

import (
	"database/sql"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/server"
	"github.com/camvault/camvault/internal/sim/simtest"
	"github.com/camvault/camvault/internal/websession"
)

// newLoggedEnv is newEnv with the server's log kept for the test to read.
func newLoggedEnv(t *testing.T) (*env, *simtest.LogBuffer) {
	t.Helper()
	logs := &simtest.LogBuffer{}
	e := &env{t: t, data: t.TempDir(), clock: newClock(), logTo: logs}
	e.serve(server.Config{}, e.options())
	return e, logs
}

// pageHeaders are what a browser sends for a page: it asks for HTML, with
// the session cookie when tok is set, and from this origin.
func (e *env) pageHeaders(tok string, form url.Values) (map[string]string, []byte) {
	hdr := map[string]string{"Accept": "text/html,application/xhtml+xml", "Origin": e.public.URL}
	if tok != "" {
		hdr["Cookie"] = websession.CookieName + "=" + tok
	}
	if form == nil {
		return hdr, nil
	}
	hdr["Content-Type"] = "application/x-www-form-urlencoded"
	return hdr, []byte(form.Encode())
}

// page requests a web page over the listener, as a browser does.
func (e *env) page(method, path, tok string, form url.Values) resp {
	e.t.Helper()
	hdr, body := e.pageHeaders(tok, form)
	return e.req(method, path, "", hdr, body)
}

// pageInProcess is page served by calling the public handler itself: it
// returns only once the chain has logged and counted the request, which
// over the network happens after the client already has the answer.
func (e *env) pageInProcess(method, path, tok string) resp {
	e.t.Helper()
	hdr, _ := e.pageHeaders(tok, nil)
	req := httptest.NewRequestWithContext(e.t.Context(), method, e.public.URL+path, nil)
	req.RemoteAddr = "127.0.0.1:50000" // a browser beside the server, as over the listener
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	e.app.Public().ServeHTTP(rec, req)
	return resp{status: rec.Code, header: rec.Header(), raw: rec.Body.Bytes()}
}

// loggedFailure reports whether the log holds the failure of the request
// r answered, under its request ID.
func loggedFailure(logs *simtest.LogBuffer, r resp) bool {
	rid := r.header.Get("X-Request-Id")
	for line := range strings.Lines(logs.String()) {
		if rid != "" && strings.Contains(line, `msg="request failed" request_id=`+rid) && strings.Contains(line, "store: unavailable") {
			return true
		}
	}
	return false
}

// TestWebPagesThroughTheChain: pages and static files go through the same
// chain as the API: a request ID, the base headers, the web app's own CSP,
// an access log line and the request metrics by route.
func TestWebPagesThroughTheChain(t *testing.T) {
	e, logs := newLoggedEnv(t)
	ann := e.signup("ann")
	for _, tc := range []struct {
		path, tok, route, cacheControl string
	}{
		{"/login", "", "GET /login", "no-store"},
		{"/events", ann.token, "GET /events", "no-store"},
		{"/static/app.css", "", "GET /static/", "public, max-age=3600"},
	} {
		r := e.pageInProcess("GET", tc.path, tc.tok)
		if r.status != 200 {
			t.Fatalf("GET %s: %d", tc.path, r.status)
		}
		rid := r.header.Get("X-Request-Id")
		if len(rid) != 24 {
			t.Errorf("GET %s: X-Request-Id %q", tc.path, rid)
		}
		for k, want := range map[string]string{
			"X-Content-Type-Options":       "nosniff",
			"X-Frame-Options":              "DENY",
			"Referrer-Policy":              "same-origin",
			"Cross-Origin-Opener-Policy":   "same-origin",
			"Cross-Origin-Resource-Policy": "same-origin",
			"Cache-Control":                tc.cacheControl,
		} {
			if got := r.header.Get(k); got != want {
				t.Errorf("GET %s: %s = %q, want %q", tc.path, k, got, want)
			}
		}
		if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "form-action 'self'") {
			t.Errorf("GET %s: CSP %q is not the web app's", tc.path, csp)
		}
		if !strings.Contains(logs.String(), `msg="http request" request_id=`+rid+` method=GET route="`+tc.route+`" status=200`) {
			t.Errorf("GET %s: no access log line with its request ID and route", tc.path)
		}
	}
	metrics := e.adminGet("/metrics")
	for _, route := range []string{"GET /login", "GET /events", "GET /static/"} {
		if !strings.Contains(metrics, `camvault_http_requests_total{code="200",method="GET",route="`+route+`"} 1`) {
			t.Errorf("%s is not counted in the request metrics", route)
		}
	}
	// The API keeps its own CSP behind the same chain.
	if csp := e.call("GET", "/api/v1/me", ann.token, nil).header.Get("Content-Security-Policy"); csp != "default-src 'none'; frame-ancestors 'none'" {
		t.Errorf("API CSP %q", csp)
	}
}

// TestStoreOutageAnswers503 closes the store under the running server: API
// routes and pages alike answer 503 (never 404, never a page as if nobody
// were signed in), and each failure is logged with its request ID.
func TestStoreOutageAnswers503(t *testing.T) {
	e, logs := newLoggedEnv(t)
	ann := e.signup("ann")
	home := e.home(ann, "Home")
	cam := e.pairCamera(ann, home)
	ev := e.upload(cam, "ev-1", time.Now().Add(-time.Minute), 0)

	if err := e.app.CloseStore(); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		method, path, tok string
		body              any
	}{
		{"GET", "/api/v1/me", ann.token, nil},
		{"GET", "/api/v1/homes", ann.token, nil},
		{"GET", "/api/v1/events/" + ev.id, ann.token, nil},
		{"GET", "/api/v1/events/" + ev.id + "/thumbnail", ann.token, nil},
		{"GET", "/api/v1/device", cam.token, nil},
		{"POST", "/api/v1/sessions", "", map[string]string{"email": ann.email, "password": ann.password}},
	} {
		r := e.call(tc.method, tc.path, tc.tok, tc.body)
		if r.status != 503 || r.errCode() != "unavailable" || r.header.Get("Retry-After") == "" {
			t.Errorf("%s %s with the store closed: %d %s (Retry-After %q), want 503 unavailable", tc.method, tc.path, r.status, r.raw, r.header.Get("Retry-After"))
		}
		if strings.Contains(string(r.raw), "sql") || strings.Contains(string(r.raw), "closed") {
			t.Errorf("%s %s: the answer shows the cause: %s", tc.method, tc.path, r.raw)
		}
		if !loggedFailure(logs, r) {
			t.Errorf("%s %s: the failure is not logged with request ID %q", tc.method, tc.path, r.header.Get("X-Request-Id"))
		}
	}

	for _, tc := range []struct {
		method, path, tok string
		form              url.Values
	}{
		{"GET", "/", ann.token, nil},      // was: sent to log in, as if signed out
		{"GET", "/login", ann.token, nil}, // was: the login page, 200
		{"GET", "/no/such/page", ann.token, nil},
		{"GET", "/events", ann.token, nil},
		{"GET", "/events/" + ev.id, ann.token, nil},
		{"POST", "/login", "", url.Values{"email": {ann.email}, "password": {ann.password}}},
	} {
		r := e.page(tc.method, tc.path, tc.tok, tc.form)
		if r.status != 503 || !strings.Contains(string(r.raw), "Not available just now") {
			t.Errorf("page %s %s with the store closed: %d, want 503 and the page saying so", tc.method, tc.path, r.status)
		}
		if !loggedFailure(logs, r) {
			t.Errorf("page %s %s: the failure is not logged with request ID %q", tc.method, tc.path, r.header.Get("X-Request-Id"))
		}
	}

	// What needs no store still works.
	if r := e.page("GET", "/login", "", nil); r.status != 200 {
		t.Errorf("the login page without a session: %d", r.status)
	}
	if r := e.pageInProcess("GET", "/account", ann.token); r.status != 503 {
		t.Errorf("GET /account: %d", r.status)
	}
	if m := e.adminGet("/metrics"); !strings.Contains(m, `camvault_http_requests_total{code="503",method="GET",route="GET /account"} 1`) {
		t.Error("503 pages are not counted")
	}
}

// TestStoreFailureIsNotNotFound breaks one table of the store (memberships)
// under the running server: reading an event still works, deciding who may
// see it does not. That decision's failure must answer 503; it used to be
// taken for "not yours" and answered 404, hiding the outage.
func TestStoreFailureIsNotNotFound(t *testing.T) {
	e, logs := newLoggedEnv(t)
	ann := e.signup("ann")
	home := e.home(ann, "Home")
	cam := e.pairCamera(ann, home)
	ev := e.upload(cam, "ev-1", time.Now().Add(-time.Minute), 0)

	db, err := sql.Open("sqlite", "file:"+filepath.Join(e.data, "camvault.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(t.Context(), `ALTER TABLE members RENAME TO members_unreadable`); err != nil {
		t.Fatal(err)
	}

	for _, path := range []string{"/api/v1/events/" + ev.id, "/api/v1/events/" + ev.id + "/thumbnail", "/api/v1/homes"} {
		r := e.call("GET", path, ann.token, nil)
		if r.status != 503 || r.errCode() != "unavailable" {
			t.Errorf("GET %s with memberships unreadable: %d %s, want 503", path, r.status, r.raw)
		}
		if !loggedFailure(logs, r) {
			t.Errorf("GET %s: the failure is not logged with request ID %q", path, r.header.Get("X-Request-Id"))
		}
	}
	for _, path := range []string{"/events/" + ev.id, "/events", "/cameras"} {
		r := e.page("GET", path, ann.token, nil)
		if r.status != 503 {
			t.Errorf("page %s with memberships unreadable: %d, want 503", path, r.status)
		}
		if !loggedFailure(logs, r) {
			t.Errorf("page %s: the failure is not logged with request ID %q", path, r.header.Get("X-Request-Id"))
		}
	}
}
