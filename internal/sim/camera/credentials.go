package camera

import (
	"bytes"
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

// apiError is the body of camvault's error answers.
type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// describe turns an unexpected answer into an error.
func describe(what string, res *http.Response) error {
	raw, _ := io.ReadAll(io.LimitReader(res.Body, 4<<10))
	var e apiError
	if json.Unmarshal(raw, &e) == nil && e.Error.Message != "" {
		return fmt.Errorf("%s: %s: %s (%s)", what, res.Status, e.Error.Message, e.Error.Code)
	}
	return fmt.Errorf("%s: %s", what, res.Status)
}

// Pair pairs a camera with the pairing code a person made in the app
// (single use, valid ten minutes): POST /api/v1/devices/pair.
func Pair(ctx context.Context, client *http.Client, baseURL, code, model, firmware string) (Credentials, error) {
	body, err := json.Marshal(map[string]string{"code": code, "model": model, "firmware": firmware})
	if err != nil {
		return Credentials{}, fmt.Errorf("pair: %w", err)
	}
	base := strings.TrimRight(baseURL, "/")
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/devices/pair", bytes.NewReader(body))
	if err != nil {
		return Credentials{}, fmt.Errorf("pair: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := client.Do(req)
	if err != nil {
		return Credentials{}, fmt.Errorf("pair: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		return Credentials{}, describe("pair", res)
	}
	var c Credentials
	if err := json.NewDecoder(io.LimitReader(res.Body, 64<<10)).Decode(&c); err != nil {
		return Credentials{}, fmt.Errorf("pair: read answer: %w", err)
	}
	if err := c.check(); err != nil {
		return Credentials{}, fmt.Errorf("pair: %w", err)
	}
	c.Server, c.PairedAt = base, time.Now().UTC()
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
