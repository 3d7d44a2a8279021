package cache

import (
	"slices"
	"testing"
)

// FuzzKeyInjective: two key tuples encode alike exactly when they are the
// same tuple (kind, tenant, parts), whatever bytes the parts hold, and the
// encoding decodes back to the tuple.
func FuzzKeyInjective(f *testing.F) {
	f.Add("thumbnail", "home-1", "dev:ev", "", uint8(1), "thumbnail", "home-1:dev", "ev", "", uint8(1))
	f.Add("thumbnail", "home-1", "dev", "ev", uint8(2), "thumbnail", "home-1", "dev:ev", "", uint8(1))
	f.Add("k", "t", "a", "", uint8(2), "k", "t", "a", "", uint8(1))
	f.Add("k", "t", "\x00\x00\x00\x01b", "", uint8(1), "k", "t", "", "b", uint8(2))
	f.Fuzz(func(t *testing.T, kind1, tenant1, a1, b1 string, n1 uint8, kind2, tenant2, a2, b2 string, n2 uint8) {
		p1 := []string{a1, b1}[:n1%3]
		p2 := []string{a2, b2}[:n2%3]
		k1, k2 := NewKey(EntryKind(kind1), tenant1, p1...), NewKey(EntryKind(kind2), tenant2, p2...)
		same := kind1 == kind2 && tenant1 == tenant2 && slices.Equal(p1, p2)
		if (k1.Encoded() == k2.Encoded()) != same {
			t.Fatalf("tuples (%q %q %q) and (%q %q %q): same=%v, encodings equal=%v",
				kind1, tenant1, p1, kind2, tenant2, p2, same, k1.Encoded() == k2.Encoded())
		}
		if k1.Equal(k2) != same || (k1.String() == k2.String()) != same {
			t.Fatalf("Equal or String disagrees with the tuples (%q %q %q), (%q %q %q)", kind1, tenant1, p1, kind2, tenant2, p2)
		}
		parts, ok := decode([]byte(k1.Encoded()), 3+len(p1))
		if !ok || string(parts[0]) != keyDomain || string(parts[1]) != kind1 || string(parts[2]) != tenant1 {
			t.Fatalf("encoding of (%q %q %q) does not decode back", kind1, tenant1, p1)
		}
		for i, p := range p1 {
			if string(parts[3+i]) != p {
				t.Fatalf("part %d decodes as %q, want %q", i, parts[3+i], p)
			}
		}
	})
}

func TestKeyAccessors(t *testing.T) {
	parts := []string{"dev", "ev"}
	k := NewKey("thumbnail", "home-1", parts...)
	parts[0] = "changed"
	if k.Kind() != "thumbnail" || k.Tenant() != "home-1" || !slices.Equal(k.Parts(), []string{"dev", "ev"}) || !k.Valid() {
		t.Fatalf("key %s", k)
	}
	k.Parts()[0] = "changed"
	if k.Parts()[0] != "dev" {
		t.Fatal("Parts exposes the key's own slice")
	}
	for _, bad := range []Key{{}, NewKey("", "home"), NewKey("kind", "")} {
		if bad.Valid() {
			t.Errorf("%s is valid", bad)
		}
	}
}
