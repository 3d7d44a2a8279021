// Package metrics holds camvault's Prometheus collectors. They live on one
// registry made per server (no package-level state), served only by the
// admin listener.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics is the set of collectors the server updates.
type Metrics struct {
	Registry        *prometheus.Registry
	Requests        *prometheus.CounterVec   // by route, method, status code
	RequestDuration *prometheus.HistogramVec // by route, method
	AuthFailures    *prometheus.CounterVec   // by credential kind
	ThrottledLogins prometheus.Counter
	EgressBlocked   prometheus.Counter
	Shed            *prometheus.CounterVec // device work refused with 503, by kind
	CacheMismatch   prometheus.Counter
	BreakerOpen     prometheus.Gauge
	BreakerTrips    prometheus.Counter
}

// New makes the collectors and registers them, with the Go runtime and
// process collectors, on a fresh registry.
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "camvault_http_requests_total",
			Help: "HTTP requests on the public listener, by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		RequestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "camvault_http_request_duration_seconds",
			Help:    "Time to answer HTTP requests on the public listener, by route pattern and method.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method"}),
		AuthFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "camvault_auth_failures_total",
			Help: "Requests refused for a missing, wrong or expired credential, by the kind the route needs (session, device, login).",
		}, []string{"kind"}),
		ThrottledLogins: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "camvault_login_throttled_total",
			Help: "Login and pairing attempts refused with 429 because of too many failures.",
		}),
		EgressBlocked: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "camvault_egress_blocked_total",
			Help: "Media responses the last-step check refused to send because their label did not match the requester's grant (each is an incident).",
		}),
		Shed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "camvault_shed_total",
			Help: "Device connections and uploads refused with 503 by admission control, by kind.",
		}, []string{"kind"}),
		CacheMismatch: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "camvault_cache_mismatch_total",
			Help: "Cache entries refused because they did not prove they belong to the key and tenant asked for (each is an incident).",
		}),
		BreakerOpen: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "camvault_cache_breaker_open",
			Help: "1 while the cache breaker is open and the cache is out of the media and authorization paths.",
		}),
		BreakerTrips: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "camvault_cache_breaker_trips_total",
			Help: "Times this node opened the cache breaker.",
		}),
	}
	m.Registry.MustRegister(m.Requests, m.RequestDuration, m.AuthFailures, m.ThrottledLogins, m.EgressBlocked, m.Shed,
		m.CacheMismatch, m.BreakerOpen, m.BreakerTrips,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// LeaseHeld registers a gauge of whether this node holds its lease to
// answer from memory (docs/design/leases.md).
func (m *Metrics) LeaseHeld(held func() bool) {
	m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "camvault_lease_held",
		Help: "Whether this node holds its lease to answer grants, sessions and events from memory (1) or reads them from the store (0).",
	}, func() float64 {
		if held() {
			return 1
		}
		return 0
	}))
}

// ConnectedDevices registers a gauge of the devices connected to this node.
func (m *Metrics) ConnectedDevices(count func() int) {
	m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "camvault_devices_connected",
		Help: "Cameras with a live connection to this node.",
	}, func() float64 { return float64(count()) }))
}

// LiveFramesDropped counts, through count, the live frames a camera sent
// that were dropped because too many of its frames waited for the relay.
func (m *Metrics) LiveFramesDropped(count func() uint64) {
	m.Registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "camvault_live_frames_dropped_total",
		Help: "Live frames from cameras dropped because too many of the camera's frames waited for the relay.",
	}, func() float64 { return float64(count()) }))
}
