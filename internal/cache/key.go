package cache

import (
	"fmt"
	"strings"

	"github.com/camvault/camvault/internal/keys"
)

// keyDomain separates cache keys from every other use of keys.Encode.
const keyDomain = "camvault/cache-key/v1"

// EntryKind names what kind of value a cache entry holds. Each package
// that caches declares its own ("grant", "thumbnail").
type EntryKind string

// Key names one cached value: what kind of value it is, which tenant (home)
// it belongs to, and the identifiers that pick it out within the tenant.
// Its encoding is keys.Encode of those parts, so two different keys never
// share an encoding, whatever bytes their parts contain (unlike joined
// strings, where ("a:b", "c") and ("a", "b:c") collide).
//
// Only values whose owner is known before the lookup belong in the cache.
// Lookups that decide ownership on their own (token to account or device) go
// to the store: a cache answering "whose is this?" is exactly what failed at
// Wyze. A camera's home is cached only inside a person's grant, filed under
// the person and used only while its home's grant version is unchanged.
type Key struct {
	kind    EntryKind
	tenant  string
	parts   []string
	encoded string
}

// NewKey builds a key. kind names the value ("thumbnail", "grants"); tenant
// is the home (or account) the value belongs to; parts identify the value
// within it (device ID, event ID, ...). Kind and tenant must not be empty:
// Put and Get refuse such a key.
func NewKey(kind EntryKind, tenant string, parts ...string) Key {
	all := make([][]byte, 0, len(parts)+3)
	all = append(all, []byte(keyDomain), []byte(kind), []byte(tenant))
	for _, p := range parts {
		all = append(all, []byte(p))
	}
	return Key{
		kind:    kind,
		tenant:  tenant,
		parts:   append([]string(nil), parts...),
		encoded: string(keys.Encode(all...)),
	}
}

// Kind is the kind of value the key names.
func (k Key) Kind() EntryKind { return k.kind }

// Tenant is the home or account the value belongs to.
func (k Key) Tenant() string { return k.tenant }

// Parts returns a copy of the identifying parts.
func (k Key) Parts() []string { return append([]string(nil), k.parts...) }

// Encoded is the unambiguous binary encoding of the key: the name under
// which a backend stores the entry, and the associated data it is sealed
// with.
func (k Key) Encoded() string { return k.encoded }

// Valid reports whether the key has a kind and a tenant.
func (k Key) Valid() bool { return k.kind != "" && k.tenant != "" && k.encoded != "" }

// Equal reports whether two keys name the same value.
func (k Key) Equal(o Key) bool { return k.encoded == o.encoded }

// String renders the key for logs, quoting each part so that the rendering
// stays unambiguous too.
func (k Key) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%q/%q", k.kind, k.tenant)
	for _, p := range k.parts {
		fmt.Fprintf(&b, "/%q", p)
	}
	return b.String()
}
