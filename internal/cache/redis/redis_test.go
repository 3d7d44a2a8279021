package redis_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/cache"
	"github.com/camvault/camvault/internal/cache/cachetest"
	"github.com/camvault/camvault/internal/cache/faults"
	"github.com/camvault/camvault/internal/cache/redis"
	"github.com/camvault/camvault/internal/keys"
	"github.com/valkey-io/valkey-go"
)

// testOption reads CAMVAULT_TEST_REDIS. Without it the test skips; with it,
// a server that cannot be reached fails the test (never a silent skip).
func testOption(t *testing.T) valkey.ClientOption {
	t.Helper()
	url := os.Getenv("CAMVAULT_TEST_REDIS")
	if url == "" {
		t.Skip("CAMVAULT_TEST_REDIS is not set; set it (e.g. redis://127.0.0.1:6379/0) to run the Redis cache tests")
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("CAMVAULT_TEST_REDIS=%q: %v", url, err)
	}
	return opt
}

func uniquePrefix(t *testing.T) string {
	t.Helper()
	b := make([]byte, 8)
	rand.Read(b)
	return "camvault-test:" + hex.EncodeToString(b) + ":"
}

// open connects with opt (perhaps through a proxy) under prefix. The
// cleanup deletes the prefix's keys over a direct connection and checks
// none are left.
func open(t *testing.T, direct, opt valkey.ClientOption, prefix string) *redis.Backend {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	b, err := redis.Open(ctx, opt, redis.Options{Prefix: prefix})
	if err != nil {
		t.Fatalf("CAMVAULT_TEST_REDIS is set but the server cannot be reached: %v", err)
	}
	t.Cleanup(func() {
		b.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		d, err := redis.Open(ctx, direct, redis.Options{Prefix: prefix})
		if err != nil {
			t.Errorf("cleanup: %v", err)
			return
		}
		defer d.Close()
		if _, err := d.Clear(ctx); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		if n, err := d.Clear(ctx); err != nil || n != 0 {
			t.Errorf("cleanup left %d keys under %q: %v", n, prefix, err)
		}
	})
	return b
}

func TestConformance(t *testing.T) {
	opt := testOption(t)
	cachetest.Run(t, func(t *testing.T) cache.Backend {
		return open(t, opt, opt, uniquePrefix(t))
	})
}

func TestOpenFailsWhenUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	// Port 1 on loopback: nothing listens there.
	if b, err := redis.OpenURL(ctx, "redis://127.0.0.1:1/0", redis.Options{}); err == nil {
		b.Close()
		t.Fatal("Open succeeds with no server")
	}
	if _, err := redis.ParseURL("http://127.0.0.1/"); err == nil {
		t.Fatal("a non-redis URL parses")
	}
}

func TestClearOnlyItsPrefix(t *testing.T) {
	opt := testOption(t)
	prefix := uniquePrefix(t)
	a := open(t, opt, opt, prefix+"a*")
	b := open(t, opt, opt, prefix+"ab")
	ctx := t.Context()
	for _, k := range []string{"1", "2", "\x00"} {
		if err := a.Set(ctx, k, []byte("v"), time.Hour); err != nil {
			t.Fatal(err)
		}
		if err := b.Set(ctx, k, []byte("v"), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := a.Clear(ctx); err != nil || n != 3 {
		t.Fatalf("cleared %d, %v; want 3", n, err)
	}
	if _, ok, _ := b.Get(ctx, "1"); !ok {
		t.Fatal("Clear with a prefix holding '*' deleted another prefix's keys")
	}
}

// TestCacheThroughCrossReplyProxy runs the isolation check on Caches whose
// Redis clients reach the server through a proxy that hands replies to the
// wrong connection, alone and together with every backend fault at rate
// 1.0. No Get may return a value for the wrong key or tenant; the refused
// entries are counted.
func TestCacheThroughCrossReplyProxy(t *testing.T) {
	direct := testOption(t)
	if len(direct.InitAddress) != 1 || direct.DialCtxFn != nil {
		t.Skipf("the proxy needs a single TCP address, not %v", direct.InitAddress)
	}
	kr, err := keys.CreateFile(filepath.Join(t.TempDir(), "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	for _, specText := range []string{
		"redis-crossreply=1.0",
		"redis-crossreply=0.3",
		"swap=1.0,stale=1.0,corrupt=1.0,drop=1.0,delay=1ms,redis-crossreply=1.0",
	} {
		t.Run(specText, func(t *testing.T) {
			spec, err := faults.ParseSpec(specText)
			if err != nil {
				t.Fatal(err)
			}
			proxy, err := faults.ListenCrossReply(t.Context(), "127.0.0.1:0", direct.InitAddress[0], faults.ProxyOptions{
				Rate: spec.CrossReply, Logger: slog.New(slog.DiscardHandler),
			})
			if err != nil {
				t.Fatal(err)
			}
			defer proxy.Close()
			via := direct
			via.InitAddress = []string{proxy.Addr()}
			prefix := uniquePrefix(t)
			backendFaults := spec.Swap+spec.Stale+spec.Corrupt+spec.Drop > 0 || spec.Delay > 0
			var reported atomic.Uint64
			var caches []*cache.Cache
			for range 4 { // four clients: four connections whose replies can cross
				var b cache.Backend = open(t, direct, via, prefix)
				if backendFaults {
					b = faults.Wrap(b, spec)
				}
				c, err := cache.New(b, kr, cache.Options{
					Logger:   slog.New(slog.DiscardHandler),
					Reporter: cache.ReporterFunc(func(context.Context, cache.Mismatch) { reported.Add(1) }),
				})
				if err != nil {
					t.Fatal(err)
				}
				caches = append(caches, c)
			}
			res := cachetest.CheckIsolation(t, cachetest.IsolationConfig{Workers: 32, Ops: 300}, caches...)
			var total cache.Stats
			for _, c := range caches {
				s := c.Stats()
				total.Hits += s.Hits
				total.Misses += s.Misses
				total.Mismatches += s.Mismatches
				total.Foreign += s.Foreign
				total.Errors += s.Errors
			}
			t.Logf("%s; replies %d, crossed %d; cache %+v", res, proxy.Replies(), proxy.Crossed(), total)
			if proxy.Crossed() == 0 {
				t.Error("the proxy crossed no replies")
			}
			if total.Mismatches == 0 {
				t.Error("no mismatch counted")
			}
			if reported.Load() != total.Mismatches {
				t.Errorf("%d mismatches counted, %d reported", total.Mismatches, reported.Load())
			}
			if !backendFaults && res.Hits == 0 {
				t.Error("no hits at all: the proxy is breaking more than replies' destinations")
			}
		})
	}
}
