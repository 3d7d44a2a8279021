package keys

import (
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/crypto/chacha20poly1305"
)

// KeySize is the size of every symmetric key in camvault.
const KeySize = chacha20poly1305.KeySize

const (
	sealVersion = 1
	headerSize  = 1 + 4 // version, key id
)

// Overhead is how many bytes Seal adds to a plaintext.
const Overhead = headerSize + chacha20poly1305.NonceSizeX + chacha20poly1305.Overhead

// ErrOpen is returned when a sealed value does not open: wrong key, wrong
// associated data, or altered bytes. Callers cannot tell which, by design.
var ErrOpen = errors.New("sealed value does not open in this context")

// sealer is one XChaCha20-Poly1305 key with an identifier. The identifier is
// written in the clear in front of each sealed value so that, after a
// rotation, the right key can be chosen to open it.
type sealer struct {
	id   uint32
	aead cipher.AEAD
}

func newSealer(id uint32, key []byte) (sealer, error) {
	a, err := chacha20poly1305.NewX(key)
	if err != nil {
		return sealer{}, fmt.Errorf("new aead: %w", err)
	}
	return sealer{id: id, aead: a}, nil
}

// seal returns version || key id || nonce || ciphertext. The header is
// authenticated along with ad.
func (s sealer) seal(plaintext, ad []byte) []byte {
	out := make([]byte, headerSize+chacha20poly1305.NonceSizeX, Overhead+len(plaintext))
	out[0] = sealVersion
	binary.BigEndian.PutUint32(out[1:headerSize], s.id)
	nonce := out[headerSize:]
	if _, err := rand.Read(nonce); err != nil {
		panic("crypto/rand failed: " + err.Error()) // never happens on supported platforms
	}
	return s.aead.Seal(out, nonce, plaintext, fullAD(out[:headerSize], ad))
}

func (s sealer) open(sealed, ad []byte) ([]byte, error) {
	if len(sealed) < Overhead || sealed[0] != sealVersion {
		return nil, ErrOpen
	}
	nonce := sealed[headerSize : headerSize+chacha20poly1305.NonceSizeX]
	pt, err := s.aead.Open(nil, nonce, sealed[headerSize+chacha20poly1305.NonceSizeX:], fullAD(sealed[:headerSize], ad))
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}

func fullAD(header, ad []byte) []byte {
	out := make([]byte, 0, len(header)+len(ad))
	return append(append(out, header...), ad...)
}

// sealedKeyID reads the key identifier in front of a sealed value.
func sealedKeyID(sealed []byte) (uint32, bool) {
	if len(sealed) < headerSize || sealed[0] != sealVersion {
		return 0, false
	}
	return binary.BigEndian.Uint32(sealed[1:headerSize]), true
}

// DataKey is one home's data key. It seals everything that belongs to the
// home: media, camera nicknames, the home's name.
type DataKey struct {
	raw    []byte
	sealer sealer
}

// NewDataKey makes a fresh random data key.
func NewDataKey() (DataKey, error) {
	raw := make([]byte, KeySize)
	if _, err := rand.Read(raw); err != nil {
		return DataKey{}, fmt.Errorf("random data key: %w", err)
	}
	return dataKeyFrom(raw)
}

func dataKeyFrom(raw []byte) (DataKey, error) {
	s, err := newSealer(1, raw)
	if err != nil {
		return DataKey{}, err
	}
	return DataKey{raw: raw, sealer: s}, nil
}

// Seal seals plaintext bound to ad (build ad with AD).
func (k DataKey) Seal(plaintext, ad []byte) []byte { return k.sealer.seal(plaintext, ad) }

// Open opens a value sealed by Seal with the same ad, or returns ErrOpen.
func (k DataKey) Open(sealed, ad []byte) ([]byte, error) { return k.sealer.open(sealed, ad) }

// AEAD exposes the raw AEAD for callers that frame their own segments (the
// chunked clip format), which must still put AD-built context in every
// segment's associated data.
func (k DataKey) AEAD() cipher.AEAD { return k.sealer.aead }
