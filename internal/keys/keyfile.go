package keys

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// auditOnlyWord marks a key file line that holds a retired generation's
// audit key alone: "<id> audit-only <base64 of 32 bytes>".
const auditOnlyWord = "audit-only"

// keyLine is one line of a key file: a comment or blank line (id 0), a
// master key, or a retired generation's audit key.
type keyLine struct {
	text      string // the line as written
	id        uint32
	raw       []byte
	auditOnly bool
}

// parseLines reads the key file format: one generation per line, "<id>
// <base64 of 32 bytes>", or "<id> audit-only <base64>" for a retired one;
// blank lines and lines starting with # are kept as they are. A bare
// base64 key (as in CAMVAULT_MASTER_KEY) is generation 1.
func parseLines(text string) ([]keyLine, error) {
	var out []keyLine
	for n, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		l := keyLine{text: line}
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			out = append(out, l)
			continue
		}
		fields := strings.Fields(trimmed)
		id, b64 := uint64(1), fields[0]
		switch {
		case len(fields) == 1:
		case len(fields) == 2 || (len(fields) == 3 && fields[1] == auditOnlyWord):
			var err error
			if id, err = strconv.ParseUint(fields[0], 10, 32); err != nil || id == 0 {
				return nil, fmt.Errorf("key line %d: bad key id %q", n+1, fields[0])
			}
			b64 = fields[len(fields)-1]
			l.auditOnly = len(fields) == 3
		default:
			return nil, fmt.Errorf("key line %d: want \"ID BASE64\" or \"ID %s BASE64\"", n+1, auditOnlyWord)
		}
		raw, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, fmt.Errorf("key line %d: not base64", n+1)
		}
		l.id, l.raw = uint32(id), raw
		out = append(out, l)
	}
	return out, nil
}

func keyringOf(lines []keyLine) (*Keyring, error) {
	var masters []masterKey
	var audit []auditOnlyKey
	for _, l := range lines {
		switch {
		case l.id == 0:
		case l.auditOnly:
			audit = append(audit, auditOnlyKey{id: l.id, key: l.raw})
		default:
			masters = append(masters, masterKey{id: l.id, raw: l.raw})
		}
	}
	return newKeyring(masters, audit)
}

// ParseKeys reads the key file format (see parseLines).
func ParseKeys(text string) (*Keyring, error) {
	lines, err := parseLines(text)
	if err != nil {
		return nil, err
	}
	return keyringOf(lines)
}

// LoadFile reads the key file at path. It refuses a file that anyone but its
// owner can read or write (invariant 10).
func LoadFile(path string) (*Keyring, error) {
	_, k, err := loadFile(path)
	return k, err
}

// loadFile reads the key file at path: its lines, and their keyring.
func loadFile(path string) ([]keyLine, *Keyring, error) {
	lines, err := readLines(path)
	if err != nil {
		return nil, nil, err
	}
	k, err := keyringOf(lines)
	if err != nil {
		return nil, nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return lines, k, nil
}

func readLines(path string) ([]keyLine, error) {
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
	lines, err := parseLines(string(data))
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return lines, nil
}

func newMasterLine(id uint32) (keyLine, error) {
	raw := make([]byte, KeySize)
	if _, err := rand.Read(raw); err != nil {
		return keyLine{}, fmt.Errorf("random master key: %w", err)
	}
	return keyLine{text: strconv.FormatUint(uint64(id), 10) + " " + base64.StdEncoding.EncodeToString(raw), id: id, raw: raw}, nil
}

func textOf(lines []keyLine) string {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l.text)
		b.WriteByte('\n')
	}
	return b.String()
}

// CreateFile writes a new key file with one fresh master key, mode 0600,
// failing if the file exists. The file and its directory are synced so the
// key outlives a crash that follows its first use.
func CreateFile(path string) (*Keyring, error) {
	first, err := newMasterLine(1)
	if err != nil {
		return nil, err
	}
	text := textOf([]keyLine{{text: "# camvault master key: keep it secret, back it up apart from the data."}, first})
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create key file: %w", err)
	}
	if err := writeSynced(f, text); err != nil {
		return nil, err
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return nil, err
	}
	return ParseKeys(text)
}

// AddGeneration appends a new master key, generation gen, to the key file
// at path and returns the keyring it now holds. gen must be newer than
// every generation in the file. The file is replaced whole (a new file
// written and synced beside it, then renamed over it, then the directory
// synced): a crash leaves either the old file or the new one.
func AddGeneration(path string, gen uint32) (*Keyring, error) {
	lines, err := readLines(path)
	if err != nil {
		return nil, err
	}
	for _, l := range lines {
		if l.id >= gen {
			return nil, fmt.Errorf("key file %s already has generation %d; a new one must be newer", path, l.id)
		}
	}
	l, err := newMasterLine(gen)
	if err != nil {
		return nil, err
	}
	return replaceFile(path, append(lines, l))
}

// RetireGeneration takes generation gen's master key out of the key file
// at path. With keepAudit its line becomes "<gen> audit-only <its audit
// key>", which verifies the audit entries made under it and opens,
// unwraps and indexes nothing; without, the line goes. The current
// generation cannot be retired. Retiring again changes nothing.
func RetireGeneration(path string, gen uint32, keepAudit bool) (*Keyring, error) {
	lines, k, err := loadFile(path)
	if err != nil {
		return nil, err
	}
	if gen == k.current {
		return nil, fmt.Errorf("generation %d is the current one: add a newer one first (camvault admin keys rotate)", gen)
	}
	out := lines[:0:0]
	for _, l := range lines {
		if l.id == gen {
			if !keepAudit {
				continue
			}
			if !l.auditOnly {
				key := k.audit[gen]
				l = keyLine{text: fmt.Sprintf("%d %s %s", gen, auditOnlyWord, base64.StdEncoding.EncodeToString(key)), id: gen, raw: key, auditOnly: true}
			}
		}
		out = append(out, l)
	}
	if textOf(out) == textOf(lines) {
		return k, nil
	}
	return replaceFile(path, out)
}

// replaceFile writes lines as the key file at path, atomically, and
// returns their keyring.
func replaceFile(path string, lines []keyLine) (*Keyring, error) {
	k, err := keyringOf(lines)
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, filepath.Base(path)+".*.new") // mode 0600
	if err != nil {
		return nil, fmt.Errorf("write key file: %w", err)
	}
	tmp := f.Name()
	if err := writeSynced(f, textOf(lines)); err != nil {
		os.Remove(tmp)
		return nil, err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("replace key file: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return nil, err
	}
	return k, nil
}

// writeSynced writes text to f, syncs and closes it.
func writeSynced(f *os.File, text string) error {
	_, err := f.WriteString(text)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write key file: %w", err)
	}
	return nil
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
