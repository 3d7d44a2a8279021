package cachetest

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/camvault/camvault/internal/cache"
	"github.com/camvault/camvault/internal/keys"
)

// IsolationConfig sizes CheckIsolation; zero fields take the defaults.
type IsolationConfig struct {
	Tenants int // distinct tenants, in look-alike pairs ("home-1", "home-1:"); default 8
	IDs     int // keys per tenant; default 16
	Workers int // goroutines; default 16
	Ops     int // operations per goroutine; default 400
}

// IsolationResult counts what CheckIsolation saw.
type IsolationResult struct {
	Puts, PutErrors, Gets, Hits, Misses, GetErrors, Deletes int64
}

func (r IsolationResult) String() string {
	return fmt.Sprintf("puts %d (errors %d), gets %d: hits %d, misses %d, errors %d; deletes %d",
		r.Puts, r.PutErrors, r.Gets, r.Hits, r.Misses, r.GetErrors, r.Deletes)
}

// CheckIsolation drives the caches (all over one backend, or backends
// sharing one store) from many goroutines with keys of many tenants, kinds
// and look-alike parts, and fails t if any Get returns a value that was not
// Put for exactly that key and tenant, with exactly that version. Misses and
// errors are allowed (faults cause them); wrong values never are.
func CheckIsolation(t testing.TB, cfg IsolationConfig, caches ...*cache.Cache) IsolationResult {
	t.Helper()
	if len(caches) == 0 {
		t.Fatal("CheckIsolation needs a cache")
	}
	cfg = cfg.withDefaults()
	keyset := isolationKeys(cfg)
	led := &ledger{m: map[string]map[string]uint64{}}
	var version atomic.Uint64
	var res [7]atomic.Int64 // puts, putErrors, gets, hits, misses, getErrors, deletes
	var failures atomic.Int64
	fail := func(format string, args ...any) {
		if failures.Add(1) <= 10 {
			t.Errorf(format, args...)
		}
	}
	var wg sync.WaitGroup
	for w := range cfg.Workers {
		c := caches[w%len(caches)]
		rng := rand.New(rand.NewPCG(uint64(w), 0x15014710))
		wg.Go(func() {
			ctx := t.Context()
			for range cfg.Ops {
				k := keyset[rng.IntN(len(keyset))]
				switch op := rng.IntN(100); {
				case op < 40:
					v := version.Add(1)
					value := isolationValue(rng, k, v)
					led.record(k.Encoded(), value, v)
					res[0].Add(1)
					if err := c.Put(ctx, k, k.Tenant(), v, value); err != nil {
						res[1].Add(1)
					}
				case op < 95:
					res[2].Add(1)
					got, gotVersion, hit, err := c.Get(ctx, k, k.Tenant())
					switch {
					case err != nil:
						res[5].Add(1)
						if hit || got != nil {
							fail("Get %s returned a value with an error: %v", k, err)
						}
					case !hit:
						res[4].Add(1)
						if got != nil {
							fail("Get %s returned a value on a miss", k)
						}
					default:
						res[3].Add(1)
						if msg := led.check(k, got, gotVersion); msg != "" {
							fail("%s", msg)
						}
					}
				default:
					res[6].Add(1)
					_ = c.Delete(ctx, k, k.Tenant())
				}
			}
		})
	}
	wg.Wait()
	return IsolationResult{res[0].Load(), res[1].Load(), res[2].Load(), res[3].Load(), res[4].Load(), res[5].Load(), res[6].Load()}
}

func (c IsolationConfig) withDefaults() IsolationConfig {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.Tenants, 8)
	def(&c.IDs, 16)
	def(&c.Workers, 16)
	def(&c.Ops, 400)
	return c
}

// isolationKeys makes keys whose joined-string forms would collide: tenants
// "home-1" and "home-1:", parts ("dev", "ev") and ("dev:ev") and ("dev",
// "ev", ""), two kinds.
func isolationKeys(cfg IsolationConfig) []cache.Key {
	var out []cache.Key
	for i := range cfg.Tenants {
		tenant := fmt.Sprintf("home-%d", i/2)
		if i%2 == 1 {
			tenant += ":"
		}
		for id := range cfg.IDs {
			kind := []cache.EntryKind{"thumbnail", "grants"}[id%2]
			dev, ev := fmt.Sprintf("dev-%d", id/8), fmt.Sprintf("ev-%d", id/4%2)
			var parts []string
			switch id % 4 {
			case 0, 1:
				parts = []string{dev, ev}
			case 2:
				parts = []string{dev + ":" + ev}
			case 3:
				parts = []string{dev, ev, ""}
			}
			out = append(out, cache.NewKey(kind, tenant, parts...))
		}
	}
	return out
}

// isolationValue describes itself: the key it was written for, the tenant,
// the version, then random bytes.
func isolationValue(rng *rand.Rand, k cache.Key, version uint64) []byte {
	var v [8]byte
	binary.BigEndian.PutUint64(v[:], version)
	noise := make([]byte, 8+rng.IntN(256))
	for i := range noise {
		noise[i] = byte(rng.Uint32())
	}
	return keys.Encode([]byte("isolation"), []byte(k.Encoded()), []byte(k.Tenant()), v[:], noise)
}

// ledger holds every value ever Put, per encoded key, with its version.
type ledger struct {
	mu sync.Mutex
	m  map[string]map[string]uint64
}

func (l *ledger) record(key string, value []byte, version uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m[key] == nil {
		l.m[key] = map[string]uint64{}
	}
	l.m[key][string(value)] = version
}

func (l *ledger) check(k cache.Key, got []byte, gotVersion uint64) string {
	l.mu.Lock()
	want, ok := l.m[k.Encoded()][string(got)]
	l.mu.Unlock()
	if ok && want == gotVersion {
		return ""
	}
	// Say whose value it was, if anyone's.
	var other []string
	l.mu.Lock()
	for key, vals := range l.m {
		if _, found := vals[string(got)]; found {
			other = append(other, fmt.Sprintf("%q", key))
		}
	}
	l.mu.Unlock()
	switch {
	case ok:
		return fmt.Sprintf("Get %s returned a value Put for it with version %d as version %d", k, want, gotVersion)
	case len(other) > 0:
		return fmt.Sprintf("Get %s (tenant %q) returned a value Put for another key: %v", k, k.Tenant(), other)
	default:
		return fmt.Sprintf("Get %s returned %d bytes never Put for any key (altered or invented)", k, len(got))
	}
}
