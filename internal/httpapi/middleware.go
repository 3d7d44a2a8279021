package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/camvault/camvault/internal/apperr"
	"github.com/camvault/camvault/internal/authz"
)

type ctxKey int

const (
	ctxRequestID ctxKey = iota
	ctxPrincipal
)

func requestID(ctx context.Context) string {
	v, _ := ctx.Value(ctxRequestID).(string)
	return v
}

func principal(ctx context.Context) authz.Principal {
	p, _ := ctx.Value(ctxPrincipal).(authz.Principal)
	return p
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

// observe wraps the whole public handler: it gives each request an ID,
// sets the security headers, recovers panics, and records an access log line
// and metrics. The log names the route pattern, never the path or query,
// and no header, so no token, email or ID an attacker typed lands in it.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		var b [12]byte
		_, _ = rand.Read(b[:])
		rid := hex.EncodeToString(b[:])
		ctx := context.WithValue(r.Context(), ctxRequestID, rid)
		r = r.WithContext(ctx)

		h := w.Header()
		h.Set("X-Request-Id", rid)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Cache-Control", "no-store")
		if r.TLS != nil {
			h.Set("Strict-Transport-Security", "max-age=63072000")
		}

		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.ErrorContext(ctx, "panic serving request", "request_id", rid, "panic", fmt.Sprint(v))
				if rec.status == 0 {
					s.writeError(rec, r, apperr.New(apperr.Internal, "internal error"))
				}
			}
			route := r.Pattern
			if route == "" {
				route = "unmatched"
			}
			elapsed := time.Since(start)
			s.metrics.Requests.WithLabelValues(route, r.Method, strconv.Itoa(rec.status)).Inc()
			s.metrics.RequestDuration.WithLabelValues(route, r.Method).Observe(elapsed.Seconds())
			s.log.LogAttrs(ctx, accessLevel(rec.status), "http request",
				slog.String("request_id", rid), slog.String("method", r.Method), slog.String("route", route),
				slog.Int("status", rec.status), slog.Int64("bytes", rec.bytes), slog.Duration("duration", elapsed))
		}()
		next.ServeHTTP(rec, r)
	})
}

// accessLevel logs server errors louder than the rest.
func accessLevel(status int) slog.Level {
	if status >= http.StatusInternalServerError {
		return slog.LevelWarn
	}
	return slog.LevelInfo
}

func withPrincipal(ctx context.Context, p authz.Principal) context.Context {
	return context.WithValue(ctx, ctxPrincipal, p)
}
