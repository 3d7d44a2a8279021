package cache

import (
	"context"
	"log/slog"
	"testing"
	"time"
)

type mapBackend map[string][]byte

func (m mapBackend) Get(_ context.Context, k string) ([]byte, bool, error) {
	v, ok := m[k]
	return append([]byte(nil), v...), ok, nil
}

func (m mapBackend) Set(_ context.Context, k string, v []byte, _ time.Duration) error {
	m[k] = v
	return nil
}

func (m mapBackend) Delete(_ context.Context, k string) error {
	delete(m, k)
	return nil
}

// TestSealedTenantIsChecked reaches the last check in Get, which the key
// encoding makes unreachable through Put: an entry that opens for the key
// but names another tenant inside is a mismatch.
func TestSealedTenantIsChecked(t *testing.T) {
	b := mapBackend{}
	var got []Mismatch
	c, err := NewWithKey(b, make([]byte, 32), Options{
		Logger:   slog.New(slog.DiscardHandler),
		Reporter: ReporterFunc(func(_ context.Context, m Mismatch) { got = append(got, m) }),
	})
	if err != nil {
		t.Fatal(err)
	}
	k := NewKey("thumbnail", "home-1", "dev-1")
	b[k.Encoded()] = c.sealer.seal(k, "home-2", 1, []byte("home-2's image"))
	if v, _, hit, err := c.Get(t.Context(), k, "home-1"); hit || v != nil || err != nil {
		t.Fatalf("opened: %q %v %v", v, hit, err)
	}
	if len(got) != 1 || got[0].Reason != "tenant differs" || !got[0].Key.Equal(k) || got[0].Tenant != "home-1" {
		t.Fatalf("reported %+v", got)
	}
}

func TestEntryOverhead(t *testing.T) {
	s, err := newSealer(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	k := NewKey("k", "tenant")
	if n := len(s.seal(k, "tenant", 1, make([]byte, 100))); n != 100+len("tenant")+EntryOverhead {
		t.Fatalf("sealed size %d, EntryOverhead says %d", n, 100+len("tenant")+EntryOverhead)
	}
}

func TestDecodeRejects(t *testing.T) {
	for _, b := range [][]byte{nil, {0, 0, 0, 1}, {0, 0, 0, 1, 0, 0, 0, 2, 'a'}, {0, 0, 0, 1, 0, 0, 0, 1, 'a', 'b'}, {0, 0, 0, 2, 0, 0, 0, 0}} {
		if _, ok := decode(b, 1); ok {
			t.Errorf("decodes %x", b)
		}
	}
	if p, ok := decode([]byte{0, 0, 0, 1, 0, 0, 0, 1, 'a'}, 1); !ok || string(p[0]) != "a" {
		t.Error("does not decode a valid encoding")
	}
}
