package cache_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/cache"
	"github.com/camvault/camvault/internal/cache/cachetest"
	"github.com/camvault/camvault/internal/cache/memory"
	"github.com/camvault/camvault/internal/keys"
)

func testKeyring(t testing.TB) *keys.Keyring {
	t.Helper()
	k, err := keys.CreateFile(filepath.Join(t.TempDir(), "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func testBackend(t testing.TB) *memory.Backend {
	t.Helper()
	b, err := memory.New(16 << 20)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// reports collects mismatches as the server's reporter would.
type reports struct {
	mu   sync.Mutex
	list []cache.Mismatch
}

func (r *reports) CacheMismatch(_ context.Context, m cache.Mismatch) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.list = append(r.list, m)
}

func (r *reports) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.list)
}

func newCache(t testing.TB, b cache.Backend, kr *keys.Keyring) (*cache.Cache, *reports) {
	t.Helper()
	r := &reports{}
	c, err := cache.New(b, kr, cache.Options{Reporter: r, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return c, r
}

func TestPutGet(t *testing.T) {
	c, _ := newCache(t, testBackend(t), testKeyring(t))
	ctx := t.Context()
	k := cache.NewKey("thumbnail", "home-1", "dev-1", "ev-1")
	if _, _, hit, err := c.Get(ctx, k, "home-1"); hit || err != nil {
		t.Fatalf("empty cache: hit %v, err %v", hit, err)
	}
	if err := c.Put(ctx, k, "home-1", 7, []byte("jpeg bytes")); err != nil {
		t.Fatal(err)
	}
	v, version, hit, err := c.Get(ctx, k, "home-1")
	if err != nil || !hit || version != 7 || string(v) != "jpeg bytes" {
		t.Fatalf("get: %q v%d hit %v err %v", v, version, hit, err)
	}
	if err := c.Put(ctx, k, "home-1", 8, nil); err != nil {
		t.Fatal(err)
	}
	if v, version, hit, _ := c.Get(ctx, k, "home-1"); !hit || version != 8 || len(v) != 0 {
		t.Fatalf("empty value: %q v%d hit %v", v, version, hit)
	}
	if err := c.Delete(ctx, k, "home-1"); err != nil {
		t.Fatal(err)
	}
	if _, _, hit, _ := c.Get(ctx, k, "home-1"); hit {
		t.Fatal("hit after delete")
	}
	if s := c.Stats(); s.Hits != 2 || s.Misses != 2 || s.Mismatches != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestGetCurrentRefusesOtherVersions(t *testing.T) {
	c, _ := newCache(t, testBackend(t), testKeyring(t))
	ctx := t.Context()
	k := cache.NewKey("grants", "home-1", "user-1")
	if err := c.Put(ctx, k, "home-1", 3, []byte("viewer")); err != nil {
		t.Fatal(err)
	}
	if v, hit, err := c.GetCurrent(ctx, k, "home-1", 3); !hit || err != nil || string(v) != "viewer" {
		t.Fatalf("current version: %q %v %v", v, hit, err)
	}
	// The grants changed in the store (a revocation): the entry is stale.
	if v, hit, err := c.GetCurrent(ctx, k, "home-1", 4); hit || err != nil || v != nil {
		t.Fatalf("stale version returned: %q %v %v", v, hit, err)
	}
	if s := c.Stats(); s.Stale != 1 || s.Mismatches != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestRefusesWrongTenantAndInvalidKeys(t *testing.T) {
	c, _ := newCache(t, testBackend(t), testKeyring(t))
	ctx := t.Context()
	k := cache.NewKey("thumbnail", "home-1", "dev-1")
	if err := c.Put(ctx, k, "home-2", 1, []byte("x")); !errors.Is(err, cache.ErrWrongTenant) {
		t.Fatalf("put for another tenant: %v", err)
	}
	if err := c.Put(ctx, k, "home-1", 1, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if v, _, hit, err := c.Get(ctx, k, "home-2"); !errors.Is(err, cache.ErrWrongTenant) || hit || v != nil {
		t.Fatalf("get for another tenant: %q %v %v", v, hit, err)
	}
	if err := c.Put(ctx, cache.NewKey("", "home-1"), "home-1", 1, nil); !errors.Is(err, cache.ErrInvalidKey) {
		t.Fatalf("key without kind: %v", err)
	}
	if _, _, _, err := c.Get(ctx, cache.Key{}, ""); !errors.Is(err, cache.ErrInvalidKey) {
		t.Fatalf("zero key: %v", err)
	}
}

func TestRefusesLargeValues(t *testing.T) {
	c, err := cache.New(testBackend(t), testKeyring(t), cache.Options{MaxValue: 10})
	if err != nil {
		t.Fatal(err)
	}
	k := cache.NewKey("thumbnail", "home-1", "dev-1")
	if err := c.Put(t.Context(), k, "home-1", 1, make([]byte, 11)); !errors.Is(err, cache.ErrTooLarge) {
		t.Fatalf("11 bytes over a 10 byte limit: %v", err)
	}
}

// TestMovedEntryDoesNotOpen is invariant 4 directly: an entry copied under
// another key (what a client library mixing replies does), of the same or
// another tenant, is a miss, is reported, and is never returned.
func TestMovedEntryDoesNotOpen(t *testing.T) {
	b := testBackend(t)
	c, rep := newCache(t, b, testKeyring(t))
	ctx := t.Context()
	src := cache.NewKey("thumbnail", "home-1", "dev-1", "ev-1")
	if err := c.Put(ctx, src, "home-1", 1, []byte("home-1's baby monitor")); err != nil {
		t.Fatal(err)
	}
	raw, _, _ := b.Get(ctx, src.Encoded())
	targets := []cache.Key{
		cache.NewKey("thumbnail", "home-2", "dev-1", "ev-1"),     // another tenant, same ids
		cache.NewKey("thumbnail", "home-1", "dev-1", "ev-2"),     // same tenant, another event
		cache.NewKey("clip", "home-1", "dev-1", "ev-1"),          // another kind
		cache.NewKey("thumbnail", "home-1", "dev-1:ev-1"),        // joined-string look-alike
		cache.NewKey("thumbnail", "home-1:dev-1", "ev-1"),        // joined-string look-alike
		cache.NewKey("thumbnail", "home-1", "dev-1", "ev-1", ""), // one more (empty) part
	}
	for _, k := range targets {
		if err := b.Set(ctx, k.Encoded(), raw, time.Hour); err != nil {
			t.Fatal(err)
		}
		if v, _, hit, err := c.Get(ctx, k, k.Tenant()); hit || v != nil || err != nil {
			t.Fatalf("entry of %s opened as %s: %q %v %v", src, k, v, hit, err)
		}
	}
	if s := c.Stats(); s.Mismatches != uint64(len(targets)) || rep.count() != len(targets) {
		t.Fatalf("mismatches %d, reported %d, want %d", s.Mismatches, rep.count(), len(targets))
	}
	for _, m := range rep.list {
		if m.Reason != "does not open" {
			t.Errorf("reason %q", m.Reason)
		}
	}
	if v, _, hit, _ := c.Get(ctx, src, "home-1"); !hit || string(v) != "home-1's baby monitor" {
		t.Fatal("the original entry no longer opens")
	}
}

// TestAlteredEntryDoesNotOpen flips every bit of a sealed entry in turn.
func TestAlteredEntryDoesNotOpen(t *testing.T) {
	b := testBackend(t)
	c, rep := newCache(t, b, testKeyring(t))
	ctx := t.Context()
	k := cache.NewKey("thumbnail", "home-1", "dev-1", "ev-1")
	if err := c.Put(ctx, k, "home-1", 1, []byte("secret")); err != nil {
		t.Fatal(err)
	}
	raw, _, _ := b.Get(ctx, k.Encoded())
	for i := range len(raw) * 8 {
		bad := bytes.Clone(raw)
		bad[i/8] ^= 1 << (i % 8)
		if err := b.Set(ctx, k.Encoded(), bad, time.Hour); err != nil {
			t.Fatal(err)
		}
		if v, _, hit, err := c.Get(ctx, k, "home-1"); hit || v != nil || err != nil {
			t.Fatalf("opens with bit %d flipped", i)
		}
	}
	for _, bad := range [][]byte{nil, {}, []byte("plain text, not an entry"), raw[:len(raw)-1], append(bytes.Clone(raw), 0)} {
		if err := b.Set(ctx, k.Encoded(), bad, time.Hour); err != nil {
			t.Fatal(err)
		}
		if v, _, hit, err := c.Get(ctx, k, "home-1"); hit || v != nil || err != nil {
			t.Fatalf("opens %d bytes of garbage", len(bad))
		}
	}
	// Flips inside the 4-byte key id read as "sealed under another key"
	// (a plain miss, as after a master key rotation); every other one is a
	// mismatch.
	s := c.Stats()
	total := uint64(len(raw)*8 + 5)
	if s.Mismatches+s.Foreign != total || s.Foreign != 32 || uint64(rep.count()) != s.Mismatches {
		t.Fatalf("stats %+v, reported %d, want %d refusals", s, rep.count(), total)
	}
}

// TestOtherCacheKeyIsAPlainMiss: after a master key rotation, entries sealed
// under the old cache key are misses, not alarms.
func TestOtherCacheKeyIsAPlainMiss(t *testing.T) {
	b := testBackend(t)
	old, _ := newCache(t, b, testKeyring(t))
	c, rep := newCache(t, b, testKeyring(t))
	ctx := t.Context()
	k := cache.NewKey("grants", "home-1", "user-1")
	if err := old.Put(ctx, k, "home-1", 1, []byte("owner")); err != nil {
		t.Fatal(err)
	}
	if v, _, hit, err := c.Get(ctx, k, "home-1"); hit || v != nil || err != nil {
		t.Fatalf("opens under another cache key: %q %v %v", v, hit, err)
	}
	if s := c.Stats(); s.Foreign != 1 || s.Mismatches != 0 || rep.count() != 0 {
		t.Fatalf("stats %+v", s)
	}
}

type failing struct{ cache.Backend }

var errDown = errors.New("backend down")

func (failing) Get(context.Context, string) ([]byte, bool, error) { return []byte("x"), true, errDown }
func (failing) Set(context.Context, string, []byte, time.Duration) error {
	return errDown
}

func TestBackendErrorsAreReturned(t *testing.T) {
	c, _ := newCache(t, failing{}, testKeyring(t))
	k := cache.NewKey("grants", "home-1", "user-1")
	if err := c.Put(t.Context(), k, "home-1", 1, nil); !errors.Is(err, errDown) {
		t.Fatalf("put: %v", err)
	}
	if v, _, hit, err := c.Get(t.Context(), k, "home-1"); !errors.Is(err, errDown) || hit || v != nil {
		t.Fatalf("get: %q %v %v", v, hit, err)
	}
	if s := c.Stats(); s.Errors != 2 {
		t.Fatalf("stats %+v", s)
	}
}

// TestIsolationWithoutFaults: the isolation check on a healthy backend
// sees hits, no mismatches and no wrong values.
func TestIsolationWithoutFaults(t *testing.T) {
	c, rep := newCache(t, testBackend(t), testKeyring(t))
	res := cachetest.CheckIsolation(t, cachetest.IsolationConfig{}, c)
	t.Log(res)
	if res.Hits == 0 || res.GetErrors != 0 || res.PutErrors != 0 {
		t.Fatalf("healthy backend: %s", res)
	}
	if s := c.Stats(); s.Mismatches != 0 || rep.count() != 0 {
		t.Fatalf("mismatches on a healthy backend: %+v", s)
	}
}
