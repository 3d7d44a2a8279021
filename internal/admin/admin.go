// Package admin is the operator's listener: health, readiness and metrics.
// It is served on its own address, loopback by default, and nothing of it is
// reachable through the public listener (invariant 10).
package admin

import (
	"context"
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Pinger reports whether a backend answers.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Handler returns the admin handler: /healthz answers 200 while the process
// serves; /readyz answers 200 only when every backend answers; /metrics
// serves the registry in the Prometheus format.
func Handler(reg *prometheus.Registry, backends map[string]Pinger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		status, body := http.StatusOK, ""
		for _, name := range slices.Sorted(maps.Keys(backends)) {
			if err := backends[name].Ping(ctx); err != nil {
				status = http.StatusServiceUnavailable
				body += name + ": not ready\n"
			} else {
				body += name + ": ok\n"
			}
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	return mux
}
