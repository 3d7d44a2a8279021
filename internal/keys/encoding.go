// Package keys holds camvault's key hierarchy and its one AEAD helper.
//
// A master key (from the key file or the environment) derives, by HKDF,
// a key-encryption key that wraps each home's data key, a key that seals
// personal fields, and a key for blind indexes. Each home's data key seals
// that home's media and names. Every seal binds its context through
// associated data built by AD, a length-prefixed encoding, so a sealed value
// moved to any other context does not open (invariant 1).
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

// Decode reverses Encode. It fails on a truncated input or a leftover byte,
// so exactly the outputs of Encode decode. The parts are subslices of b.
func Decode(b []byte) ([][]byte, bool) {
	if len(b) < 4 {
		return nil, false
	}
	n := binary.BigEndian.Uint32(b)
	b = b[4:]
	if uint64(n) > uint64(len(b))/4 {
		return nil, false // each part takes at least its 4-byte length
	}
	parts := make([][]byte, n)
	for i := range parts {
		if len(b) < 4 {
			return nil, false
		}
		l := binary.BigEndian.Uint32(b)
		b = b[4:]
		if uint64(len(b)) < uint64(l) {
			return nil, false
		}
		parts[i], b = b[:l:l], b[l:]
	}
	return parts, len(b) == 0
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
