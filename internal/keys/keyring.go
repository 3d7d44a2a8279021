package keys

import (
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// masterKey is one generation of the master key. Nothing is ever sealed
// directly under it: it only derives purpose keys.
type masterKey struct {
	id  uint32
	raw []byte
}

func (m masterKey) derive(purpose string) []byte {
	k, err := hkdf.Key(sha256.New, m.raw, nil, "camvault/"+purpose+"/v1", KeySize)
	if err != nil {
		panic("hkdf: " + err.Error()) // only fails for absurd lengths
	}
	return k
}

// Keyring holds the master key generations and the keys derived from them.
// New values are sealed under the newest generation; values sealed under an
// older one still open until a rotation has rewritten them.
type Keyring struct {
	current uint32
	kek     map[uint32]sealer // wraps home data keys
	pii     map[uint32]sealer // seals personal fields not owned by a home
	blind   []byte            // keys blind indexes (from the current generation)
	masters map[uint32]masterKey
	// dataKeys holds unwrapped home data keys by wrapped bytes.
	dataKeys *dataKeyCache
}

func newKeyring(masters []masterKey) (*Keyring, error) {
	if len(masters) == 0 {
		return nil, errors.New("no master key")
	}
	k := &Keyring{kek: map[uint32]sealer{}, pii: map[uint32]sealer{}, masters: map[uint32]masterKey{}, dataKeys: newDataKeyCache()}
	for _, m := range masters {
		if len(m.raw) != KeySize {
			return nil, fmt.Errorf("master key %d: want %d bytes, have %d", m.id, KeySize, len(m.raw))
		}
		if weakKey(m.raw) {
			return nil, fmt.Errorf("master key %d is not random (a default or placeholder key); generate a new one", m.id)
		}
		if _, dup := k.masters[m.id]; dup {
			return nil, fmt.Errorf("master key id %d appears twice", m.id)
		}
		var err error
		if k.kek[m.id], err = newSealer(m.id, m.derive("kek")); err != nil {
			return nil, err
		}
		if k.pii[m.id], err = newSealer(m.id, m.derive("pii")); err != nil {
			return nil, err
		}
		k.masters[m.id] = m
		if m.id > k.current {
			k.current = m.id
		}
	}
	k.blind = k.masters[k.current].derive("blind-index")
	return k, nil
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
	k.dataKeys.put(id, dk)
	return dk, nil
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

// BlindIndex is a keyed hash of a value for equality lookup (an email) that
// reveals nothing without the master key.
func (k *Keyring) BlindIndex(purpose, value string) []byte {
	m := hmac.New(sha256.New, k.blind)
	m.Write(Encode([]byte(purpose), []byte(value)))
	return m.Sum(nil)
}

// Derive returns a key for a named purpose under the current master key, for
// subsystems that need their own (cache sealing, audit chains, watermarks).
func (k *Keyring) Derive(purpose string) []byte {
	return k.masters[k.current].derive(purpose)
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

// ParseKeys reads the key file format: one master key per line, "<id>
// <base64 of 32 bytes>"; blank lines and lines starting with # are ignored.
// A bare base64 key (as in CAMVAULT_MASTER_KEY) is generation 1.
func ParseKeys(text string) (*Keyring, error) {
	var masters []masterKey
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, b64 := uint64(1), line
		if before, after, ok := strings.Cut(line, " "); ok {
			var err error
			if id, err = strconv.ParseUint(before, 10, 32); err != nil || id == 0 {
				return nil, fmt.Errorf("key line %d: bad key id %q", n+1, before)
			}
			b64 = strings.TrimSpace(after)
		}
		raw, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, fmt.Errorf("key line %d: not base64", n+1)
		}
		masters = append(masters, masterKey{id: uint32(id), raw: raw})
	}
	return newKeyring(masters)
}

// LoadFile reads the key file at path. It refuses a file that anyone but its
// owner can read or write (invariant 10).
func LoadFile(path string) (*Keyring, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("key file %s has mode %#o: others can read it; run chmod 600 %s", path, perm, path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	k, err := ParseKeys(string(data))
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return k, nil
}

// CreateFile writes a new key file with one fresh master key, mode 0600,
// failing if the file exists. The file and its directory are synced so the
// key outlives a crash that follows its first use.
func CreateFile(path string) (*Keyring, error) {
	raw := make([]byte, KeySize)
	if _, err := rand.Read(raw); err != nil {
		return nil, fmt.Errorf("random master key: %w", err)
	}
	text := "# camvault master key: keep it secret, back it up apart from the data.\n1 " +
		base64.StdEncoding.EncodeToString(raw) + "\n"
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create key file: %w", err)
	}
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		return nil, fmt.Errorf("write key file: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("sync key file: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("close key file: %w", err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return nil, err
	}
	return ParseKeys(text)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open dir for sync: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	return nil
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

// IDs lists the master key generations in the keyring, oldest first.
func (k *Keyring) IDs() []uint32 {
	ids := make([]uint32, 0, len(k.masters))
	for id := range k.masters {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}
