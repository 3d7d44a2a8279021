package camera

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/camvault/camvault/internal/deviceclient"
)

// Credentials are what a camera gets at pairing: its device ID and the
// token that authenticates it. The token is shown once; keep it.
type Credentials struct {
	DeviceID string    `json:"device_id"`
	Token    string    `json:"device_token"`
	Server   string    `json:"server,omitempty"`   // the base URL it was paired with
	PairedAt time.Time `json:"paired_at,omitzero"` // when
	// WatermarkKey (hex) is the key the camera marks its frames with, kept
	// here so a camera run again marks them as before; Pair leaves it
	// empty for the caller to fill.
	WatermarkKey string `json:"watermark_key,omitempty"`
}

const devicePrefix = "cvd_"

func (c Credentials) check() error {
	if !validID(c.DeviceID) {
		return fmt.Errorf("device ID %q is not an ID", c.DeviceID)
	}
	if !strings.HasPrefix(c.Token, devicePrefix) || len(c.Token) <= len(devicePrefix) {
		return errors.New("device token lacks the cvd_ prefix")
	}
	return nil
}

// Pair pairs a camera with the pairing code a person made in the app
// (single use, valid ten minutes): POST /api/v1/devices/pair.
func Pair(ctx context.Context, client *http.Client, baseURL, code, model, firmware string) (Credentials, error) {
	p, err := deviceclient.Pair(ctx, client, baseURL, code, model, firmware)
	if err != nil {
		return Credentials{}, err
	}
	c := Credentials{DeviceID: p.DeviceID, Token: p.Token, Server: p.Server, PairedAt: time.Now().UTC()}
	if err := c.check(); err != nil {
		return Credentials{}, fmt.Errorf("pair: %w", err)
	}
	return c, nil
}

// SaveCredentials writes c to path, readable and writable by its owner
// only (0600), replacing the file atomically.
func SaveCredentials(path string, c Credentials) error {
	if err := c.check(); err != nil {
		return fmt.Errorf("save credentials: %w", err)
	}
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("save credentials: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("save credentials: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op once renamed
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("save credentials: %w", err)
	}
	if _, err := f.Write(append(data, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("save credentials: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("save credentials: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("save credentials: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("save credentials: %w", err)
	}
	return nil
}

// LoadCredentials reads credentials SaveCredentials wrote. It refuses a
// file that others may read: it holds a secret.
func LoadCredentials(path string) (Credentials, error) {
	f, err := os.Open(path)
	if err != nil {
		return Credentials{}, fmt.Errorf("load credentials: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Credentials{}, fmt.Errorf("load credentials: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return Credentials{}, fmt.Errorf("load credentials: %s is readable by others (mode %v); chmod 600 it", path, st.Mode().Perm())
	}
	var c Credentials
	if err := json.NewDecoder(io.LimitReader(f, 64<<10)).Decode(&c); err != nil {
		return Credentials{}, fmt.Errorf("load credentials from %s: %w", path, err)
	}
	if err := c.check(); err != nil {
		return Credentials{}, fmt.Errorf("load credentials from %s: %w", path, err)
	}
	return c, nil
}
