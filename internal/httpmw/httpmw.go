// Package httpmw is the one middleware chain of the public listener. The
// JSON API and the web app both sit behind it, so every response, a page
// as much as an API answer, gets a request ID, the base security headers,
// panic recovery, an access log line and the request metrics in the same
// way; each surface adds only its own Content-Security-Policy (CSP).
//
// Failure is the one place that decides how an error a handler returns is
// answered and what of it is logged; both surfaces render its result in
// their own format (JSON, or a page).
package httpmw

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/camvault/camvault/internal/audit"
	"github.com/camvault/camvault/internal/metrics"
	"github.com/camvault/camvault/internal/peer"
)

// DefaultCSP is the policy of a response no surface claimed (a panic before
// routing): nothing may load in it and nothing may frame it.
const DefaultCSP = "default-src 'none'; frame-ancestors 'none'"

type ctxKey int

const ctxRequestID ctxKey = iota

// RequestID returns the ID the chain gave the request, or "" outside it.
func RequestID(ctx context.Context) string {
	v, _ := ctx.Value(ctxRequestID).(string)
	return v
}

// Chain is the middleware every public request goes through.
type Chain struct {
	log     *slog.Logger
	metrics *metrics.Metrics
}

// New returns the chain, logging to log and counting in m.
func New(log *slog.Logger, m *metrics.Metrics) *Chain {
	return &Chain{log: log, metrics: m}
}

// Handler wraps next, the whole public handler: it gives each request an
// ID, sets the base headers, recovers panics, and records an access log
// line and metrics. The log names the route pattern, never the path or
// query, and no header, so no token, email or ID an attacker typed lands in
// it.
func (c *Chain) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rid := newRequestID()
		ctx := context.WithValue(r.Context(), ctxRequestID, rid)
		// What the household's activity log says the request came from.
		ctx = audit.WithUserAgent(ctx, r.UserAgent())
		// The muxes below set Pattern on this very request, which is how
		// the log and metrics learn the route.
		r = r.WithContext(ctx)
		baseHeaders(w.Header(), rid, peer.Of(r).HTTPS)

		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v) // the handler asked for the connection to be cut
				}
				c.log.ErrorContext(ctx, "panic serving request", "request_id", rid, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				if rec.status == 0 {
					internalError(rec, r)
				}
			}
			route := r.Pattern
			if route == "" {
				route = "unmatched"
			}
			elapsed := time.Since(start)
			method := methodLabel(r.Method)
			c.metrics.Requests.WithLabelValues(route, method, strconv.Itoa(rec.status)).Inc()
			c.metrics.RequestDuration.WithLabelValues(route, method).Observe(elapsed.Seconds())
			c.log.LogAttrs(ctx, accessLevel(rec.status), "http request",
				slog.String("request_id", rid), slog.String("method", method), slog.String("route", route),
				slog.Int("status", rec.status), slog.Int64("bytes", rec.bytes), slog.Duration("duration", elapsed))
		}()
		next.ServeHTTP(rec, r)
	})
}

// CSP returns next with policy as the Content-Security-Policy of its
// responses: the one header a surface sets for itself.
func CSP(policy string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", policy)
		next.ServeHTTP(w, r)
	})
}

// baseHeaders are those of every response, API or page. Referrer-Policy is
// same-origin rather than no-referrer because the web app's forms need
// their Origin: under no-referrer a browser sends "Origin: null" on a POST,
// which the CSRF check refuses. Nothing may store a response unless its
// handler says otherwise (static files, media).
func baseHeaders(h http.Header, rid string, tls bool) {
	h.Set("X-Request-Id", rid)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Content-Security-Policy", DefaultCSP)
	h.Set("Cache-Control", "no-store")
	if tls {
		h.Set("Strict-Transport-Security", "max-age=63072000")
	}
}

// methodLabel is the request's method as metrics and the log name it: one
// of the standard methods, or "other", so a client cannot grow either
// with methods of its own (each new label value is a new time series).
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "other"
}

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand panics rather than return an error)
	return hex.EncodeToString(b[:])
}

// internalJSON is the API's error body for a panic, the same as any other
// internal error's.
const internalJSON = `{"error":{"code":"internal","message":"internal error"}}` + "\n"

// internalHTML is the page a browser gets for a panic. The surface that
// panicked cannot be trusted to render its own, so it is plain and asks
// for nothing the strictest CSP would block.
const internalHTML = `<!doctype html><html lang="en"><meta charset="utf-8"><title>Something went wrong</title>` +
	`<h1>Something went wrong</h1><p>camvault could not do that just now. Please try again.</p><p><a href="/events">Back to Events</a></p></html>` + "\n"

// internalError answers a request whose handler panicked before it sent
// anything: a page for a browser, the API's JSON error for anything else,
// as the web app answers unknown paths.
func internalError(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Del("Content-Length")
	h.Set("Cache-Control", "no-store")
	if strings.Contains(r.Header.Get("Accept"), "text/html") {
		h.Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(internalHTML))
		return
	}
	h.Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusInternalServerError)
	_, _ = w.Write([]byte(internalJSON)) // the status is sent; a failed write has no one to tell
}

// accessLevel logs server errors louder than the rest.
func accessLevel(status int) slog.Level {
	if status >= http.StatusInternalServerError {
		return slog.LevelWarn
	}
	return slog.LevelInfo
}

// statusRecorder remembers the status a handler sent, for the access log
// and metrics.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
