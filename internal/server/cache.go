package server

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/camvault/camvault/internal/authz"
	"github.com/camvault/camvault/internal/breaker"
	"github.com/camvault/camvault/internal/cache"
	"github.com/camvault/camvault/internal/cache/faults"
	"github.com/camvault/camvault/internal/cache/memory"
	"github.com/camvault/camvault/internal/cache/redis"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/events"
	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/keys"
	"github.com/camvault/camvault/internal/live"
	"github.com/camvault/camvault/internal/metrics"
)

// CacheOptions tune the cache.
type CacheOptions struct {
	// MemoryBytes bounds the in-process backend; 64 MiB when zero.
	MemoryBytes int64
	// Faults are injected into the cache, for tests and `camvault storm
	// --cache-faults` only: never in production.
	Faults faults.Spec
}

// openCache opens the cache named by cfg.Cache: empty for the in-process
// backend, redis://... (or valkey://, rediss://) for Redis/Valkey. The
// returned function closes what it opened.
func openCache(ctx context.Context, cfg Config, opts CacheOptions, kr *keys.Keyring, rep cache.Reporter, log *slog.Logger) (*cache.Cache, func(), error) {
	var backend cache.Backend
	closeAll := func() {}
	spec := opts.Faults
	if cfg.Cache == "" {
		if spec.CrossReply > 0 {
			return nil, nil, fmt.Errorf("cache faults: redis-crossreply needs a Redis cache (--cache redis://...)")
		}
		n := opts.MemoryBytes
		if n == 0 {
			n = 64 << 20
		}
		m, err := memory.New(n)
		if err != nil {
			return nil, nil, fmt.Errorf("in-process cache: %w", err)
		}
		backend = m
	} else {
		switch scheme(cfg.Cache) {
		case "redis", "rediss", "valkey", "valkeys", "unix":
		default:
			return nil, nil, fmt.Errorf("--cache: unsupported scheme %q (leave it empty for the in-process cache, or give redis://HOST:PORT/DB)", scheme(cfg.Cache))
		}
		opt, err := redis.ParseURL(cfg.Cache)
		if err != nil {
			return nil, nil, fmt.Errorf("--cache: %s URL does not parse", scheme(cfg.Cache))
		}
		var proxy *faults.Proxy
		if spec.CrossReply > 0 {
			if len(opt.InitAddress) != 1 {
				return nil, nil, fmt.Errorf("cache faults: redis-crossreply needs one Redis address")
			}
			proxy, err = faults.ListenCrossReply(context.WithoutCancel(ctx), "127.0.0.1:0", opt.InitAddress[0],
				faults.ProxyOptions{Rate: spec.CrossReply, Seed: spec.Seed, Logger: log})
			if err != nil {
				return nil, nil, fmt.Errorf("cache faults: %w", err)
			}
			opt.InitAddress = []string{proxy.Addr()}
			log.Warn("cache fault injection: Redis replies cross between connections", "rate", spec.CrossReply)
		}
		r, err := redis.Open(ctx, opt, redis.Options{})
		if err != nil {
			if proxy != nil {
				proxy.Close()
			}
			return nil, nil, fmt.Errorf("--cache: %w", err)
		}
		backend = r
		closeAll = func() {
			r.Close()
			if proxy != nil {
				proxy.Close()
			}
		}
	}
	if spec.Swap > 0 || spec.Stale > 0 || spec.Corrupt > 0 || spec.Drop > 0 || spec.Delay > 0 {
		backend = faults.Wrap(backend, spec)
		log.Warn("cache fault injection is on: for tests only", "faults", spec.String())
	}
	c, err := cache.New(backend, kr, cache.Options{Reporter: rep, Logger: log})
	if err != nil {
		closeAll()
		return nil, nil, err
	}
	return c, closeAll, nil
}

// cacheAlarms turns a cache mismatch into its metric, an incident and an
// alarm for the breaker (the cache logs it).
type cacheAlarms struct {
	metrics   *metrics.Metrics
	incidents interface {
		RecordIncident(ctx context.Context, in domain.Incident) error
	}
	breaker *breaker.Breaker
	log     *slog.Logger
	now     func() time.Time
}

func (a *cacheAlarms) CacheMismatch(ctx context.Context, m cache.Mismatch) {
	a.metrics.CacheMismatch.Inc()
	in := domain.Incident{ID: id.New(), At: a.now().UTC(), Kind: domain.IncidentCacheMismatch,
		RequesterKind: m.RequesterKind, RequesterID: m.RequesterID,
		Detail: fmt.Sprintf("cache entry %s refused (%s)", m.Key, m.Reason)}
	// The package that owns the key's kind names the home and event asked for.
	for _, label := range []func(cache.Mismatch, *domain.Incident) bool{authz.LabelMismatch, events.LabelMismatch, live.LabelMismatch} {
		if label(m, &in) {
			break
		}
	}
	if err := a.incidents.RecordIncident(context.WithoutCancel(ctx), in); err != nil {
		a.log.ErrorContext(ctx, "recording a cache mismatch incident", "err", err)
	}
	a.breaker.Alarm(domain.IncidentCacheMismatch)
}

// blockedAlarm counts a blocked media response and tells the breaker.
type blockedAlarm struct {
	counter prometheus.Counter
	breaker *breaker.Breaker
}

func (b blockedAlarm) Inc() {
	b.counter.Inc()
	b.breaker.Alarm(domain.IncidentEgressBlocked)
}

// breakerMetrics reports the breaker's state and trips.
func breakerMetrics(m *metrics.Metrics) breaker.Metrics {
	return breaker.Metrics{
		Open: func(open bool) {
			if open {
				m.BreakerOpen.Set(1)
			} else {
				m.BreakerOpen.Set(0)
			}
		},
		Trips: m.BreakerTrips.Inc,
	}
}
