package bridge

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/camvault/camvault/internal/keys"
)

// State is a bridge's state directory: the cameras it connects, each
// with the credential the server gave it at pairing and the camera's own
// user name and password, and the events waiting to be uploaded. The
// directory is the bridge user's alone (0700). The device tokens and the
// cameras' passwords are sealed (AES-256-GCM) under a key kept in a file
// of its own, which may live apart from the directory (--key): a copy of
// the directory alone, in a backup say, holds no usable secret. Nothing
// sealed here is ever sent to the server but the device token.
type State struct {
	dir     string
	keyPath string
	aead    cipher.AEAD

	mu sync.Mutex // serializes writes of cameras.json
}

// CameraConfig is one bridged camera.
type CameraConfig struct {
	Name     string `json:"name"`
	Server   string `json:"server"`    // the camvault server's base URL
	DeviceID string `json:"device_id"` // from pairing
	// DeviceToken is the sealed device token.
	DeviceToken string `json:"device_token"`
	// StreamURL is the camera's main RTSP stream, without user or password.
	StreamURL string `json:"stream_url"`
	// LiveURL is an H.264 stream for live view, when the main one is
	// H.265 (a camera's sub-stream); empty: the main one.
	LiveURL string `json:"live_url,omitempty"`
	// SnapshotURL is the camera's still picture (HTTP), for thumbnails and
	// motion detection, sealed: many cameras take their password in its
	// query (Reolink's cgi-bin/api.cgi?cmd=Snap&user=...&password=...).
	SnapshotURL string `json:"snapshot_url"`
	// ONVIF is the camera's ONVIF device service, when it was paired
	// through ONVIF; its motion events are used when it offers them.
	ONVIF    string `json:"onvif,omitempty"`
	Username string `json:"username,omitempty"`
	// Password is the camera's sealed password.
	Password string       `json:"password,omitempty"`
	Motion   MotionConfig `json:"motion"`
	PairedAt time.Time    `json:"paired_at"`
}

// MotionConfig is how a camera's motion is found.
type MotionConfig struct {
	// Sensitivity is 1 (large changes only) to 100; 0 turns motion events
	// off. The server's settings command changes it.
	Sensitivity int   `json:"sensitivity"`
	Zones       Zones `json:"zones,omitzero"`
	// Source is "auto" (the camera's ONVIF motion events when it has
	// them, else snapshots), "onvif" or "snapshot".
	Source string `json:"source,omitempty"`
}

const (
	stateVersion = 1
	camerasFile  = "cameras.json"
	keySize      = 32
)

type stateFile struct {
	Version int            `json:"version"`
	Cameras []CameraConfig `json:"cameras"`
}

// OpenState opens (or, with create, makes) a state directory and its
// key. keyPath "" means "key" in the directory.
func OpenState(dir, keyPath string, create bool) (*State, error) {
	if dir == "" {
		return nil, errors.New("no state directory given (--state)")
	}
	if keyPath == "" {
		keyPath = filepath.Join(dir, "key")
	}
	info, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist) && create:
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("make the state directory: %w", err)
		}
	case err != nil:
		return nil, fmt.Errorf("state directory: %w", err)
	case !info.IsDir():
		return nil, fmt.Errorf("state directory %s is not a directory", dir)
	case info.Mode().Perm()&0o077 != 0:
		// Others could read the queued pictures: close it.
		if err := os.Chmod(dir, 0o700); err != nil {
			return nil, fmt.Errorf("state directory %s is open to others and cannot be closed: %w", dir, err)
		}
	}
	key, err := loadKey(keyPath, create)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("state key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("state key: %w", err)
	}
	return &State{dir: dir, keyPath: keyPath, aead: aead}, nil
}

func loadKey(path string, create bool) ([]byte, error) {
	key, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && create {
		key = make([]byte, keySize)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("make the state key: %w", err)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("make the state key: %w", err)
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, fmt.Errorf("make the state key: %w", err)
		}
		_, err = f.Write(key)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, fmt.Errorf("make the state key: %w", err)
		}
		return key, nil
	}
	if err != nil {
		return nil, fmt.Errorf("state key %s: %w", path, err)
	}
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("state key %s: %w", path, err)
	}
	if info.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("state key %s can be read by others (mode %v): chmod 600 it", path, info.Mode().Perm())
	}
	if len(key) != keySize {
		return nil, fmt.Errorf("state key %s has %d bytes, want %d", path, len(key), keySize)
	}
	return key, nil
}

// Dir is the state directory.
func (s *State) Dir() string { return s.dir }

// seal encrypts a secret of a camera, bound to the camera and the field
// it is stored in, so a sealed value copied to another camera or field
// does not open.
func (s *State) seal(deviceID, field, plain string) (string, error) {
	if plain == "" {
		return "", nil
	}
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("seal %s: %w", field, err)
	}
	out := s.aead.Seal(nonce, nonce, []byte(plain), sealAD(deviceID, field))
	return base64.RawStdEncoding.EncodeToString(out), nil
}

// Open decrypts a camera's sealed field.
func (s *State) open(deviceID, field, sealed string) (string, error) {
	if sealed == "" {
		return "", nil
	}
	raw, err := base64.RawStdEncoding.DecodeString(sealed)
	if err != nil || len(raw) < s.aead.NonceSize() {
		return "", fmt.Errorf("camera %s: %s is damaged", deviceID, field)
	}
	n := s.aead.NonceSize()
	plain, err := s.aead.Open(nil, raw[:n], raw[n:], sealAD(deviceID, field))
	if err != nil {
		return "", fmt.Errorf("camera %s: %s does not open with the key %s (another bridge's state, or another key?)", deviceID, field, s.keyPath)
	}
	return string(plain), nil
}

func sealAD(deviceID, field string) []byte {
	return keys.Encode([]byte("camvault-bridge-v1"), []byte(deviceID), []byte(field))
}

// Cameras returns the cameras of the state.
func (s *State) Cameras() ([]CameraConfig, error) {
	b, err := os.ReadFile(filepath.Join(s.dir, camerasFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read cameras: %w", err)
	}
	var f stateFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("read cameras: %w", err)
	}
	if f.Version != stateVersion {
		return nil, fmt.Errorf("read cameras: state version %d, this bridge reads %d", f.Version, stateVersion)
	}
	return f.Cameras, nil
}

// Secrets are a camera's secrets, open.
type Secrets struct {
	DeviceToken string
	Password    string
	SnapshotURL string
}

// Secrets opens a camera's sealed fields.
func (s *State) Secrets(c CameraConfig) (Secrets, error) {
	tok, err := s.open(c.DeviceID, "device_token", c.DeviceToken)
	if err != nil {
		return Secrets{}, err
	}
	pass, err := s.open(c.DeviceID, "password", c.Password)
	if err != nil {
		return Secrets{}, err
	}
	snap, err := s.open(c.DeviceID, "snapshot_url", c.SnapshotURL)
	if err != nil {
		return Secrets{}, err
	}
	return Secrets{DeviceToken: tok, Password: pass, SnapshotURL: snap}, nil
}

// addCamera stores a camera with its secrets sealed. Names are unique.
func (s *State) addCamera(c *CameraConfig, sec Secrets) error {
	var err error
	if c.DeviceToken, err = s.seal(c.DeviceID, "device_token", sec.DeviceToken); err != nil {
		return err
	}
	if c.Password, err = s.seal(c.DeviceID, "password", sec.Password); err != nil {
		return err
	}
	if c.SnapshotURL, err = s.seal(c.DeviceID, "snapshot_url", sec.SnapshotURL); err != nil {
		return err
	}
	return s.update(func(cams []CameraConfig) ([]CameraConfig, error) {
		for _, o := range cams {
			if strings.EqualFold(o.Name, c.Name) {
				return nil, fmt.Errorf("a camera named %q is already bridged here", c.Name)
			}
		}
		return append(cams, *c), nil
	})
}

// RemoveCamera forgets a camera by name (the server keeps it until it is
// removed in the app).
func (s *State) RemoveCamera(name string) error {
	return s.update(func(cams []CameraConfig) ([]CameraConfig, error) {
		i := slices.IndexFunc(cams, func(c CameraConfig) bool { return strings.EqualFold(c.Name, name) })
		if i < 0 {
			return nil, fmt.Errorf("no camera named %q", name)
		}
		return slices.Delete(cams, i, i+1), nil
	})
}

// setSensitivity records a camera's motion sensitivity (the server's
// settings command), so a restart keeps it.
func (s *State) setSensitivity(deviceID string, v int) error {
	return s.update(func(cams []CameraConfig) ([]CameraConfig, error) {
		for i := range cams {
			if cams[i].DeviceID == deviceID {
				cams[i].Motion.Sensitivity = v
			}
		}
		return cams, nil
	})
}

func (s *State) update(fn func([]CameraConfig) ([]CameraConfig, error)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cams, err := s.Cameras()
	if err != nil {
		return err
	}
	if cams, err = fn(cams); err != nil {
		return err
	}
	b, err := json.MarshalIndent(stateFile{Version: stateVersion, Cameras: cams}, "", "  ")
	if err != nil {
		return fmt.Errorf("write cameras: %w", err)
	}
	path := filepath.Join(s.dir, camerasFile)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("write cameras: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write cameras: %w", err)
	}
	syncDir(s.dir)
	return nil
}

// queueDir is where a camera's events wait.
func (s *State) queueDir(deviceID string) string {
	return filepath.Join(s.dir, "queue", deviceID)
}

// splitUserinfo takes the user name and password out of a camera URL:
// they are sealed apart, and the URL is stored and logged without them.
func splitUserinfo(raw string) (clean, user, pass string, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", "", fmt.Errorf("camera address %q: %w", redactURL(raw), err)
	}
	if u.User != nil {
		user = u.User.Username()
		pass, _ = u.User.Password()
		u.User = nil
	}
	return u.String(), user, pass, nil
}

// withUserinfo puts a user name and password into a URL, for connecting.
func withUserinfo(raw, user, pass string) (string, error) {
	if user == "" {
		return raw, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("camera address: %w", err)
	}
	u.User = url.UserPassword(user, pass)
	return u.String(), nil
}

// redactURL is a URL fit for a log: any password replaced.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(an address that does not parse)"
	}
	return u.Redacted()
}
