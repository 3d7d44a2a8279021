package httpmw_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/camvault/camvault/internal/apperr"
	"github.com/camvault/camvault/internal/httpmw"
	"github.com/camvault/camvault/internal/metrics"
	"github.com/camvault/camvault/internal/sim/simtest"
	"github.com/camvault/camvault/internal/store"
)

// requests is the request counter's value for a route, method and status,
// and how many duration series there are, read from the registry as the
// admin listener serves it.
func requests(t *testing.T, m *metrics.Metrics, route, method, code string) (count float64, durations int) {
	t.Helper()
	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		for _, mt := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range mt.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			switch f.GetName() {
			case "camvault_http_requests_total":
				if labels["route"] == route && labels["method"] == method && labels["code"] == code {
					count = mt.GetCounter().GetValue()
				}
			case "camvault_http_request_duration_seconds":
				durations++
			}
		}
	}
	return count, durations
}

func newChain() (*httpmw.Chain, *metrics.Metrics, *simtest.LogBuffer) {
	logs := &simtest.LogBuffer{}
	m := metrics.New()
	return httpmw.New(slog.New(slog.NewTextHandler(logs, nil)), m), m, logs
}

// surface is a small mux behind its own CSP, as the API and the web app are.
func surface(csp string, routes map[string]http.HandlerFunc) http.Handler {
	mux := http.NewServeMux()
	for p, h := range routes {
		mux.HandleFunc(p, h)
	}
	return httpmw.CSP(csp, mux)
}

func TestChainHeadersLogAndMetrics(t *testing.T) {
	c, m, logs := newChain()
	h := c.Handler(surface("script-src 'self'", map[string]http.HandlerFunc{
		"GET /things/{id}": func(w http.ResponseWriter, r *http.Request) {
			if httpmw.RequestID(r.Context()) == "" {
				t.Error("no request ID in the handler's context")
			}
			w.Write([]byte("ok"))
		},
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/things/secret-id?token=abc", nil))

	rid := rec.Header().Get("X-Request-Id")
	if len(rid) != 24 {
		t.Fatalf("X-Request-Id %q", rid)
	}
	for k, want := range map[string]string{
		"Content-Security-Policy":      "script-src 'self'", // the surface's, not the default
		"X-Content-Type-Options":       "nosniff",
		"X-Frame-Options":              "DENY",
		"Referrer-Policy":              "same-origin",
		"Cross-Origin-Opener-Policy":   "same-origin",
		"Cross-Origin-Resource-Policy": "same-origin",
		"Cache-Control":                "no-store",
	} {
		if got := rec.Header().Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if rec.Header().Get("Strict-Transport-Security") != "" {
		t.Error("HSTS over plain HTTP")
	}
	if n, d := requests(t, m, "GET /things/{id}", "GET", "200"); n != 1 || d != 1 {
		t.Errorf("requests counted by route: %v, with %d duration series; want 1 and 1", n, d)
	}
	log := logs.String()
	if !strings.Contains(log, "request_id="+rid) || !strings.Contains(log, `route="GET /things/{id}"`) || !strings.Contains(log, "status=200") {
		t.Errorf("access log line missing or incomplete: %s", log)
	}
	if strings.Contains(log, "secret-id") || strings.Contains(log, "abc") {
		t.Errorf("the access log holds the path or query: %s", log)
	}

	// Each request gets its own ID.
	rec2 := httptest.NewRecorder()
	h.ServeHTTP(rec2, httptest.NewRequest("GET", "/things/x", nil))
	if rec2.Header().Get("X-Request-Id") == rid {
		t.Error("two requests share a request ID")
	}
}

func TestChainUnclaimedGetsDefaultCSP(t *testing.T) {
	c, m, _ := newChain()
	h := c.Handler(http.NotFoundHandler())
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "https://camvault.example/x", nil)
	h.ServeHTTP(rec, req)
	if got := rec.Header().Get("Content-Security-Policy"); got != httpmw.DefaultCSP {
		t.Errorf("CSP %q, want the default", got)
	}
	if rec.Header().Get("Strict-Transport-Security") == "" {
		t.Error("no HSTS over TLS")
	}
	if n, _ := requests(t, m, "unmatched", "GET", "404"); n != 1 {
		t.Errorf("unmatched request counted %v times, want 1", n)
	}
}

// TestChainRecoversPanics: a panicking handler's request is answered 500
// (a page for a browser, the API's JSON error otherwise), logged with its
// request ID, and counted; the server goes on serving.
func TestChainRecoversPanics(t *testing.T) {
	c, m, logs := newChain()
	h := c.Handler(surface("default-src 'self'", map[string]http.HandlerFunc{
		"GET /boom": func(http.ResponseWriter, *http.Request) { panic("boom at the handler") },
		"GET /late": func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusAccepted)
			panic("after the status")
		},
	}))
	for _, tc := range []struct {
		accept, contentType, body string
	}{
		{"text/html,application/xhtml+xml", "text/html; charset=utf-8", "Something went wrong"},
		{"application/json", "application/json", `"code":"internal"`},
	} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/boom", nil)
		req.Header.Set("Accept", tc.accept)
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusInternalServerError || rec.Header().Get("Content-Type") != tc.contentType || !strings.Contains(rec.Body.String(), tc.body) {
			t.Errorf("panic answered %d %q %s", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
		}
		if strings.Contains(rec.Body.String(), "boom at the handler") {
			t.Error("the panic's value reached the client")
		}
		rid := rec.Header().Get("X-Request-Id")
		if !strings.Contains(logs.String(), `msg="panic serving request" request_id=`+rid) {
			t.Errorf("panic not logged with request ID %s: %s", rid, logs)
		}
	}
	if n, _ := requests(t, m, "GET /boom", "GET", "500"); n != 2 {
		t.Errorf("panics counted %v times, want 2", n)
	}

	// A panic after the status was sent keeps that status: nothing more
	// can be said.
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/late", nil))
	if rec.Code != http.StatusAccepted {
		t.Errorf("late panic: %d", rec.Code)
	}

	// http.ErrAbortHandler still cuts the connection, as net/http means.
	abort := c.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) }))
	func() {
		defer func() {
			if v := recover(); v != http.ErrAbortHandler {
				t.Errorf("ErrAbortHandler recovered as %v", v)
			}
		}()
		abort.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	}()
}

// TestFailure: a store outage is Unavailable (503) and logged; codes are
// kept; anything else is Internal and logged; nothing is answered to a
// client that left.
func TestFailure(t *testing.T) {
	outage := fmt.Errorf("look up session: %w", fmt.Errorf("%w: sql: database is closed", store.ErrUnavailable))
	for _, tc := range []struct {
		name   string
		err    error
		code   apperr.Code
		logged bool
	}{
		{"store outage", outage, apperr.Unavailable, true},
		{"store outage under Internal", apperr.Wrap(outage, apperr.Internal, "internal error"), apperr.Unavailable, true},
		{"not found", apperr.NotFoundf("event"), apperr.NotFound, false},
		{"not found wrapping a store error", fmt.Errorf("read: %w", apperr.Wrap(store.ErrNotFound, apperr.NotFound, "event not found")), apperr.NotFound, false},
		{"a code set on purpose", apperr.Wrap(outage, apperr.Invalid, "bad"), apperr.Invalid, false},
		{"shedding load", apperr.New(apperr.Unavailable, "busy"), apperr.Unavailable, false},
		{"anything else", errors.New("template: no such field"), apperr.Internal, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs := &simtest.LogBuffer{}
			log := slog.New(slog.NewTextHandler(logs, nil))
			var rid string
			c := httpmw.New(log, metrics.New()).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				rid = httpmw.RequestID(r.Context())
				e, ok := httpmw.Failure(r, log, tc.err)
				if !ok || e.Code != tc.code {
					t.Errorf("Failure: %v %v, want code %s", e, ok, tc.code)
				}
				if ok && strings.Contains(e.Message, "sql") {
					t.Errorf("message shows the cause: %q", e.Message)
				}
			}))
			c.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
			logged := strings.Contains(logs.String(), `msg="request failed" request_id=`+rid)
			if logged != tc.logged {
				t.Errorf("logged %v, want %v: %s", logged, tc.logged, logs)
			}
		})
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := httptest.NewRequest("GET", "/", nil).WithContext(ctx)
	if _, ok := httpmw.Failure(r, slog.New(slog.DiscardHandler), fmt.Errorf("list events: %w", context.Canceled)); ok {
		t.Error("a client that went away is answered")
	}
}

// TestMethodsCannotGrowMetricsOrLogs: a client sending methods of its own
// (16 KB each, a different one every request) adds one "other" series,
// not one per method, and the log names "other", not what it sent.
func TestMethodsCannotGrowMetricsOrLogs(t *testing.T) {
	c, m, logs := newChain()
	h := c.Handler(http.NotFoundHandler())
	for i := range 50 {
		r := httptest.NewRequest("GET", "/x", nil)
		r.Method = strings.Repeat("X", 16<<10) + strconv.Itoa(i)
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	if n, durations := requests(t, m, "unmatched", "other", "404"); n != 50 || durations != 1 {
		t.Errorf("50 requests with methods of their own: %v counted as other, %d duration series; want 50 and 1", n, durations)
	}
	if strings.Contains(logs.String(), "XXXXXXXX") || len(logs.String()) > 50*1024 {
		t.Errorf("the log holds what the client sent as its method (%d bytes of log)", len(logs.String()))
	}
}
