package cache

import (
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"github.com/camvault/camvault/internal/keys"
	"golang.org/x/crypto/chacha20poly1305"
)

// A sealed entry is
//
//	format (1 byte) | key id (4 bytes) | nonce (24 bytes) | ciphertext and tag
//
// sealed with associated data = format | key id | key.Encoded(), over the
// plaintext keys.Encode(entryDomain, tenant, version as 8 bytes, value).
// The key id (a hash of the sealing key) tells an entry sealed under an
// older master key, a plain miss, from one that does not open, an alarm.
const (
	entryFormat = 1
	entryHeader = 1 + 4
	entryDomain = "camvault/cache-entry/v1"
	// EntryOverhead is how many bytes sealing adds around a value, besides
	// the tenant's length.
	EntryOverhead = entryHeader + chacha20poly1305.NonceSizeX + chacha20poly1305.Overhead + 4 + 4*4 + len(entryDomain) + 8
)

type sealer struct {
	id   [4]byte
	aead cipher.AEAD
}

func newSealer(key []byte) (sealer, error) {
	a, err := chacha20poly1305.NewX(key)
	if err != nil {
		return sealer{}, fmt.Errorf("cache: sealing key: %w", err)
	}
	var s sealer
	sum := sha256.Sum256(append([]byte("camvault/cache-key-id/v1\x00"), key...))
	copy(s.id[:], sum[:4])
	s.aead = a
	return s, nil
}

func (s sealer) ad(header []byte, key Key) []byte {
	ad := make([]byte, 0, len(header)+len(key.Encoded()))
	return append(append(ad, header...), key.Encoded()...)
}

func (s sealer) seal(key Key, tenant string, version uint64, value []byte) []byte {
	var v [8]byte
	binary.BigEndian.PutUint64(v[:], version)
	pt := keys.Encode([]byte(entryDomain), []byte(tenant), v[:], value)
	out := make([]byte, entryHeader+chacha20poly1305.NonceSizeX, entryHeader+chacha20poly1305.NonceSizeX+len(pt)+chacha20poly1305.Overhead)
	out[0] = entryFormat
	copy(out[1:entryHeader], s.id[:])
	nonce := out[entryHeader:]
	if _, err := rand.Read(nonce); err != nil {
		panic("crypto/rand failed: " + err.Error()) // never happens on supported platforms
	}
	return s.aead.Seal(out, nonce, pt, s.ad(out[:entryHeader], key))
}

type openResult int

const (
	openOK openResult = iota
	openForeign
	openFailed
	openMalformed
)

func (r openResult) String() string {
	switch r {
	case openOK:
		return "ok"
	case openForeign:
		return "sealed under another cache key"
	case openFailed:
		return "does not open"
	default:
		return "malformed entry"
	}
}

type entry struct {
	tenant  string
	version uint64
	value   []byte
}

func (s sealer) open(key Key, sealed []byte) (entry, openResult) {
	if len(sealed) < entryHeader+chacha20poly1305.NonceSizeX+chacha20poly1305.Overhead || sealed[0] != entryFormat {
		return entry{}, openMalformed
	}
	if [4]byte(sealed[1:entryHeader]) != s.id {
		return entry{}, openForeign
	}
	nonce := sealed[entryHeader : entryHeader+chacha20poly1305.NonceSizeX]
	ct := sealed[entryHeader+chacha20poly1305.NonceSizeX:]
	// Opened in place: backends hand over a copy the caller owns.
	pt, err := s.aead.Open(ct[:0], nonce, ct, s.ad(sealed[:entryHeader], key))
	if err != nil {
		return entry{}, openFailed
	}
	parts, ok := decode(pt, 4)
	if !ok || string(parts[0]) != entryDomain || len(parts[2]) != 8 {
		return entry{}, openMalformed
	}
	return entry{tenant: string(parts[1]), version: binary.BigEndian.Uint64(parts[2]), value: parts[3]}, openOK
}

// decode reverses keys.Encode for exactly n parts, returning subslices of b.
func decode(b []byte, n int) ([][]byte, bool) {
	parts, ok := keys.Decode(b)
	return parts, ok && len(parts) == n
}
