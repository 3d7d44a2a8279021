// Package keys holds camvault's key hierarchy and its one AEAD helper.
//
// A master key (from the key file or the environment) derives, by HKDF,
// a key-encryption key that wraps each home's data key, a key that seals
// personal fields, and a key for blind indexes. Each home's data key seals
// that home's media and names. Every seal binds its context through
// associated data built by AD, a length-prefixed encoding, so a sealed value
// moved to any other context does not open (DESIGN.md invariant 1).
package keys

import "encoding/binary"

// Encode is an unambiguous encoding of a list of byte strings: the count,
// then each part as a 4-byte big-endian length followed by its bytes. No two
// different lists encode alike, whatever bytes the parts contain.
func Encode(parts ...[]byte) []byte {
	n := 4
	for _, p := range parts {
		n += 4 + len(p)
	}
	out := make([]byte, 0, n)
	out = binary.BigEndian.AppendUint32(out, uint32(len(parts)))
	for _, p := range parts {
		out = binary.BigEndian.AppendUint32(out, uint32(len(p)))
		out = append(out, p...)
	}
	return out
}

// AD builds associated data for a seal: a purpose naming what is sealed,
// then the identifiers that place it, all length-prefixed.
func AD(purpose string, parts ...string) []byte {
	all := make([][]byte, 0, len(parts)+2)
	all = append(all, []byte("camvault/ad/v1"), []byte(purpose))
	for _, p := range parts {
		all = append(all, []byte(p))
	}
	return Encode(all...)
}
