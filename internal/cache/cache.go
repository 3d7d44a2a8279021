package cache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/keys"
)

// Backend stores raw bytes under binary keys. Implementations are safe for
// concurrent use, copy what they are given and what they return, and pass
// cachetest.Run.
type Backend interface {
	// Get returns the value stored under key; ok is false when there is
	// none (never stored, deleted, expired or evicted).
	Get(ctx context.Context, key string) (value []byte, ok bool, err error)
	// Set stores value under key, replacing any previous value. ttl > 0
	// makes it expire after ttl; ttl == 0 keeps it until it is deleted or
	// evicted; ttl < 0 is an error.
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// Delete removes key; deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
}

// Errors shared by backends and the Cache.
var (
	// ErrTooLarge: the value is larger than the backend or the Cache accepts.
	ErrTooLarge = errors.New("cache: value too large")
	// ErrInvalidKey: the key has no kind or no tenant.
	ErrInvalidKey = errors.New("cache: key needs a kind and a tenant")
	// ErrWrongTenant: the tenant passed to Put or Get is not the key's.
	ErrWrongTenant = errors.New("cache: tenant is not the key's tenant")
	// ErrNegativeTTL: a ttl below zero.
	ErrNegativeTTL = errors.New("cache: negative ttl")
)

// Mismatch describes an entry that did not open: what was asked for and why
// the answer was refused. It never holds the refused bytes.
type Mismatch struct {
	Key    Key
	Tenant string // the tenant the caller asked for
	Reason string // "does not open", "tenant differs", "malformed entry"
	// Who the lookup was made for (WithRequester), who would have received
	// the entry had it been used.
	RequesterKind domain.PrincipalKind
	RequesterID   string
}

// Reporter is told about every mismatch, so the server can count it
// (camvault_cache_mismatch_total), record an incident and feed the breaker.
// It is called synchronously from Get and must not block for long.
type Reporter interface {
	CacheMismatch(ctx context.Context, m Mismatch)
}

// ReporterFunc adapts a function to Reporter.
type ReporterFunc func(ctx context.Context, m Mismatch)

// CacheMismatch calls f.
func (f ReporterFunc) CacheMismatch(ctx context.Context, m Mismatch) { f(ctx, m) }

// Options configure a Cache. The zero value is usable.
type Options struct {
	// TTL of every entry; 10 minutes when zero.
	TTL time.Duration
	// MaxValue is the largest value Put accepts, in bytes; 4 MiB when zero.
	MaxValue int
	// Reporter is told about mismatches; may be nil.
	Reporter Reporter
	// Logger logs mismatches (warn) and foreign entries (debug);
	// slog.Default() when nil.
	Logger *slog.Logger
}

// Stats are the Cache's counters since it was made.
type Stats struct {
	Hits       uint64 // Get returned a value
	Misses     uint64 // nothing usable under the key (includes mismatches and foreign entries)
	Mismatches uint64 // cache_mismatch_total: an entry came back that did not open or was not the caller's
	Foreign    uint64 // an entry sealed under another cache key (an older master key) or format
	Stale      uint64 // GetCurrent found an entry of another version
	Errors     uint64 // backend errors
}

// Cache seals entries on the way in and checks them on the way out. It is
// safe for concurrent use.
type Cache struct {
	backend  Backend
	sealer   sealer
	ttl      time.Duration
	maxValue int
	reporter Reporter
	log      *slog.Logger

	hits, misses, mismatches, foreign, stale, errs atomic.Uint64
}

// New makes a Cache over backend, sealing with the keyring's "cache-entries"
// key.
func New(backend Backend, keyring *keys.Keyring, opts Options) (*Cache, error) {
	if keyring == nil {
		return nil, errors.New("cache: no keyring")
	}
	return NewWithKey(backend, keyring.Derive("cache-entries"), opts)
}

// NewWithKey makes a Cache that seals with the given 32-byte key. Every
// node sharing a backend must use the same key; New derives it from the
// keyring, which is what servers do.
func NewWithKey(backend Backend, key []byte, opts Options) (*Cache, error) {
	if backend == nil {
		return nil, errors.New("cache: no backend")
	}
	s, err := newSealer(key)
	if err != nil {
		return nil, err
	}
	c := &Cache{backend: backend, sealer: s, ttl: opts.TTL, maxValue: opts.MaxValue, reporter: opts.Reporter, log: opts.Logger}
	if c.ttl == 0 {
		c.ttl = 10 * time.Minute
	}
	if c.ttl < 0 {
		return nil, ErrNegativeTTL
	}
	if c.maxValue <= 0 {
		c.maxValue = 4 << 20
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	return c, nil
}

func checkKey(key Key, tenant string) error {
	if !key.Valid() {
		return ErrInvalidKey
	}
	if key.Tenant() != tenant {
		return fmt.Errorf("%w: key %s, tenant %q", ErrWrongTenant, key, tenant)
	}
	return nil
}

// Put stores value for key, sealed together with the key, the tenant and
// version (the version of the grants or record the value was computed
// from). tenant must be the key's tenant.
func (c *Cache) Put(ctx context.Context, key Key, tenant string, version uint64, value []byte) error {
	if err := checkKey(key, tenant); err != nil {
		return err
	}
	if len(value) > c.maxValue {
		return fmt.Errorf("%w: %d bytes for %s, at most %d", ErrTooLarge, len(value), key, c.maxValue)
	}
	sealed := c.sealer.seal(key, tenant, version, value)
	if err := c.backend.Set(ctx, key.Encoded(), sealed, c.ttl); err != nil {
		c.errs.Add(1)
		return fmt.Errorf("cache put %s: %w", key, err)
	}
	return nil
}

// Get returns the value stored for key and tenant with its version. hit is
// false when there is no entry or the entry does not prove it is this key's
// and this tenant's (a mismatch, counted and reported, never returned). The
// caller must compare version with the store's current one (see the package
// documentation) or use GetCurrent.
func (c *Cache) Get(ctx context.Context, key Key, tenant string) (value []byte, version uint64, hit bool, err error) {
	if err := checkKey(key, tenant); err != nil {
		return nil, 0, false, err
	}
	raw, ok, err := c.backend.Get(ctx, key.Encoded())
	if err != nil {
		c.errs.Add(1)
		return nil, 0, false, fmt.Errorf("cache get %s: %w", key, err)
	}
	if !ok {
		c.misses.Add(1)
		return nil, 0, false, nil
	}
	e, res := c.sealer.open(key, raw)
	switch {
	case res == openForeign:
		c.misses.Add(1)
		c.foreign.Add(1)
		c.log.DebugContext(ctx, "cache entry sealed under another cache key or format; a miss", "kind", key.Kind(), "tenant", key.Tenant())
		return nil, 0, false, nil
	case res != openOK:
		c.mismatch(ctx, key, tenant, res.String())
		return nil, 0, false, nil
	case e.tenant != tenant:
		// Unreachable while the key's encoding holds the tenant and the
		// AEAD holds; checked anyway, as the last step before returning.
		c.mismatch(ctx, key, tenant, "tenant differs")
		return nil, 0, false, nil
	}
	c.hits.Add(1)
	return e.value, e.version, true, nil
}

// GetCurrent is Get for a caller that knows the current version from the
// store: an entry of any other version is a miss (counted in Stats.Stale).
func (c *Cache) GetCurrent(ctx context.Context, key Key, tenant string, current uint64) (value []byte, hit bool, err error) {
	v, version, hit, err := c.Get(ctx, key, tenant)
	if err != nil || !hit {
		return nil, false, err
	}
	if version != current {
		c.stale.Add(1)
		return nil, false, nil
	}
	return v, true, nil
}

// Delete removes the entry for key (an invalidation). Callers must not rely
// on it for correctness: versions are what make a revocation take effect.
func (c *Cache) Delete(ctx context.Context, key Key, tenant string) error {
	if err := checkKey(key, tenant); err != nil {
		return err
	}
	if err := c.backend.Delete(ctx, key.Encoded()); err != nil {
		c.errs.Add(1)
		return fmt.Errorf("cache delete %s: %w", key, err)
	}
	return nil
}

func (c *Cache) mismatch(ctx context.Context, key Key, tenant, reason string) {
	c.misses.Add(1)
	c.mismatches.Add(1)
	c.log.WarnContext(ctx, "cache entry refused: it does not prove it belongs to this key and tenant",
		"kind", key.Kind(), "tenant", tenant, "key", key.String(), "reason", reason)
	if c.reporter != nil {
		kind, id := Requester(ctx)
		c.reporter.CacheMismatch(ctx, Mismatch{Key: key, Tenant: tenant, Reason: reason, RequesterKind: kind, RequesterID: id})
	}
}

// Stats returns the counters.
func (c *Cache) Stats() Stats {
	return Stats{
		Hits:       c.hits.Load(),
		Misses:     c.misses.Load(),
		Mismatches: c.mismatches.Load(),
		Foreign:    c.foreign.Load(),
		Stale:      c.stale.Load(),
		Errors:     c.errs.Load(),
	}
}
