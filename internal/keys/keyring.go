package keys

import (
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
)

// masterKey is one generation of the master key. Nothing is ever sealed
// directly under it: it only derives purpose keys.
type masterKey struct {
	id  uint32
	raw []byte
}

func (m masterKey) derive(purpose string) []byte { return derive(m.raw, purpose) }

func derive(secret []byte, purpose string) []byte {
	k, err := hkdf.Key(sha256.New, secret, nil, "camvault/"+purpose+"/v1", KeySize)
	if err != nil {
		panic("hkdf: " + err.Error()) // only fails for absurd lengths
	}
	return k
}

// auditPurpose names the key of the audit chains, derived from each
// generation; a retired generation keeps it alone (an audit-only line).
const auditPurpose = "audit-chain"

// Keyring holds the master key generations and the keys derived from them.
// New values are sealed, indexed and chained under the newest generation;
// values made under an older one still open, match and verify until a
// rotation has rewritten them. A retired generation may stay as its audit
// key alone, which verifies the audit entries it made and nothing else.
type Keyring struct {
	current uint32
	kek     map[uint32]sealer // wraps home data keys
	pii     map[uint32]sealer // seals personal fields not owned by a home
	blind   map[uint32][]byte // keys blind indexes
	audit   map[uint32][]byte // keys audit chains: every generation, audit-only ones too
	masters map[uint32]masterKey
	// dataKeys holds unwrapped home data keys by wrapped bytes.
	dataKeys *dataKeyCache
}

// auditOnlyKey is a retired generation's audit key, as its key file line
// holds it.
type auditOnlyKey struct {
	id  uint32
	key []byte
}

func newKeyring(masters []masterKey, auditOnly []auditOnlyKey) (*Keyring, error) {
	if len(masters) == 0 {
		return nil, errors.New("no master key (a key file needs at least one generation that is not audit-only)")
	}
	k := &Keyring{kek: map[uint32]sealer{}, pii: map[uint32]sealer{}, blind: map[uint32][]byte{},
		audit: map[uint32][]byte{}, masters: map[uint32]masterKey{}, dataKeys: newDataKeyCache()}
	for _, m := range masters {
		if err := checkRandom(fmt.Sprintf("master key %d", m.id), m.raw); err != nil {
			return nil, err
		}
		if _, dup := k.audit[m.id]; dup {
			return nil, fmt.Errorf("master key id %d appears twice", m.id)
		}
		var err error
		if k.kek[m.id], err = newSealer(m.id, m.derive("kek")); err != nil {
			return nil, err
		}
		if k.pii[m.id], err = newSealer(m.id, m.derive("pii")); err != nil {
			return nil, err
		}
		k.blind[m.id] = m.derive("blind-index")
		k.audit[m.id] = m.derive(auditPurpose)
		k.masters[m.id] = m
		k.current = max(k.current, m.id)
	}
	for _, a := range auditOnly {
		if err := checkRandom(fmt.Sprintf("audit-only key %d", a.id), a.key); err != nil {
			return nil, err
		}
		if _, dup := k.audit[a.id]; dup {
			return nil, fmt.Errorf("master key id %d appears twice", a.id)
		}
		if a.id > k.current {
			return nil, fmt.Errorf("generation %d is audit-only but newer than every master key: the newest generation must be a whole key", a.id)
		}
		k.audit[a.id] = a.key
	}
	return k, nil
}

func checkRandom(what string, raw []byte) error {
	if len(raw) != KeySize {
		return fmt.Errorf("%s: want %d bytes, have %d", what, KeySize, len(raw))
	}
	if weakKey(raw) {
		return fmt.Errorf("%s is not random (a default or placeholder key); generate a new one", what)
	}
	return nil
}

// weakKey rejects keys that are obviously not random: all one byte value, or
// a short repeating pattern (placeholders such as "changeme" repeated).
func weakKey(raw []byte) bool {
	for period := 1; period <= 8; period++ {
		if bytes.Equal(raw[period:], raw[:len(raw)-period]) {
			return true
		}
	}
	return false
}

// Current is the generation new values are sealed, indexed and chained
// under: the newest master key.
func (k *Keyring) Current() uint32 { return k.current }

// WrapDataKey seals a home's data key under the current key-encryption key,
// bound to the home.
func (k *Keyring) WrapDataKey(dk DataKey, homeID string) []byte {
	return k.kek[k.current].seal(dk.raw, AD("home-data-key", homeID))
}

// UnwrapDataKey opens a wrapped data key of the given home. Keys opened
// before are served from memory, found by these exact wrapped bytes and
// home; only a successful unwrap is remembered.
func (k *Keyring) UnwrapDataKey(wrapped []byte, homeID string) (DataKey, error) {
	id := dataKeyID(wrapped, homeID)
	if dk, ok := k.dataKeys.get(id); ok {
		return dk, nil
	}
	s, err := pick(k.kek, wrapped)
	if err != nil {
		return DataKey{}, err
	}
	raw, err := s.open(wrapped, AD("home-data-key", homeID))
	if err != nil {
		return DataKey{}, err
	}
	dk, err := dataKeyFrom(raw)
	if err != nil {
		return DataKey{}, err
	}
	k.dataKeys.put(id, homeID, dk)
	return dk, nil
}

// RewrapDataKey returns a home's wrapped data key wrapped under the
// current generation, and whether it had to change: a key already under
// it is returned as it is.
func (k *Keyring) RewrapDataKey(wrapped []byte, homeID string) ([]byte, bool, error) {
	if gen, ok := SealedGeneration(wrapped); ok && gen == k.current {
		return wrapped, false, nil
	}
	dk, err := k.UnwrapDataKey(wrapped, homeID)
	if err != nil {
		return nil, false, err
	}
	return k.WrapDataKey(dk, homeID), true, nil
}

// SealPII seals a personal field that belongs to no home (an account's
// email, a session's client description).
func (k *Keyring) SealPII(plaintext, ad []byte) []byte {
	return k.pii[k.current].seal(plaintext, ad)
}

// OpenPII opens a value sealed by SealPII.
func (k *Keyring) OpenPII(sealed, ad []byte) ([]byte, error) {
	s, err := pick(k.pii, sealed)
	if err != nil {
		return nil, err
	}
	return s.open(sealed, ad)
}

// ResealPII returns a value sealed by SealPII sealed again under the
// current generation, and whether it had to change.
func (k *Keyring) ResealPII(sealed, ad []byte) ([]byte, bool, error) {
	if gen, ok := SealedGeneration(sealed); ok && gen == k.current {
		return sealed, false, nil
	}
	pt, err := k.OpenPII(sealed, ad)
	if err != nil {
		return nil, false, err
	}
	return k.SealPII(pt, ad), true, nil
}

// SealedGeneration is the master key generation a value sealed by
// WrapDataKey or SealPII names in its header.
func SealedGeneration(sealed []byte) (uint32, bool) { return sealedKeyID(sealed) }

// BlindIndex is a keyed hash of a value for equality lookup (an email) that
// reveals nothing without the master key. It is keyed by the current
// generation: what is stored is indexed under it.
func (k *Keyring) BlindIndex(purpose, value string) []byte {
	return blindIndex(k.blind[k.current], purpose, value)
}

// BlindIndexes is the value's blind index under every generation, the
// current one first: a lookup asks for any of them, so values indexed
// before a rotation (or before its rewrite reached them) are still found.
func (k *Keyring) BlindIndexes(purpose, value string) [][]byte {
	out := make([][]byte, 0, len(k.blind))
	for _, gen := range k.newestFirst() {
		out = append(out, blindIndex(k.blind[gen], purpose, value))
	}
	return out
}

func blindIndex(key []byte, purpose, value string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(Encode([]byte(purpose), []byte(value)))
	return m.Sum(nil)
}

// Derive returns a key for a named purpose under the current master key, for
// subsystems that need their own (cache sealing, watermarks).
func (k *Keyring) Derive(purpose string) []byte {
	return k.masters[k.current].derive(purpose)
}

// AuditKey is the current generation and its audit chain key: new entries
// and heads are made with it.
func (k *Keyring) AuditKey() (uint32, []byte) { return k.current, k.audit[k.current] }

// AuditKeyOf is the audit chain key of a generation, whole or audit-only.
func (k *Keyring) AuditKeyOf(gen uint32) ([]byte, bool) {
	key, ok := k.audit[gen]
	return key, ok
}

// AuditGenerations lists every generation with an audit key, newest first.
func (k *Keyring) AuditGenerations() []uint32 {
	gens := make([]uint32, 0, len(k.audit))
	for gen := range k.audit {
		gens = append(gens, gen)
	}
	slices.Sort(gens)
	slices.Reverse(gens)
	return gens
}

func pick(m map[uint32]sealer, sealed []byte) (sealer, error) {
	id, ok := sealedKeyID(sealed)
	if !ok {
		return sealer{}, ErrOpen
	}
	s, ok := m[id]
	if !ok {
		return sealer{}, fmt.Errorf("%w: master key %d is not in the keyring", ErrOpen, id)
	}
	return s, nil
}

// Checks returns, for each master key generation, a value that identifies
// that generation's key: a key derived from it for this purpose alone. The
// store keeps it so a node holding another key refuses to start; it tells
// nothing of the master key or of any key used to seal data (HKDF outputs
// for different purposes are independent).
func (k *Keyring) Checks() map[uint32][]byte {
	out := make(map[uint32][]byte, len(k.masters))
	for id, m := range k.masters {
		out[id] = m.derive("key-check")
	}
	return out
}

// AuditCheck identifies a generation's audit key as Checks identifies a
// master key: derived from the audit key alone, so an audit-only line can
// be checked against the value recorded when its generation was retired.
func (k *Keyring) AuditCheck(gen uint32) ([]byte, bool) {
	key, ok := k.audit[gen]
	if !ok {
		return nil, false
	}
	return derive(key, "audit-key-check"), true
}

// IDs lists the master key generations in the keyring (not the audit-only
// ones), oldest first.
func (k *Keyring) IDs() []uint32 {
	ids := make([]uint32, 0, len(k.masters))
	for id := range k.masters {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// AuditOnly lists the retired generations kept as their audit key alone,
// oldest first.
func (k *Keyring) AuditOnly() []uint32 {
	var ids []uint32
	for id := range k.audit {
		if _, whole := k.masters[id]; !whole {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

func (k *Keyring) newestFirst() []uint32 {
	ids := k.IDs()
	slices.Reverse(ids)
	return ids
}
