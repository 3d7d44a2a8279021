package deviceclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
)

// apiError is the body of camvault's error answers.
type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// Describe turns an unexpected answer into an error that says what the
// server said.
func Describe(what string, res *http.Response) error {
	raw, _ := io.ReadAll(io.LimitReader(res.Body, 4<<10))
	var e apiError
	if json.Unmarshal(raw, &e) == nil && e.Error.Message != "" {
		return fmt.Errorf("%s: %s: %s (%s)", what, res.Status, e.Error.Message, e.Error.Code)
	}
	return fmt.Errorf("%s: %s", what, res.Status)
}

// Outcome is how an upload attempt (POST /api/v1/device/events) ended.
type Outcome int

// The outcomes.
const (
	Stored    Outcome = iota // 201
	Duplicate                // 200: stored before, under the same event ID
	Retry                    // unreachable, 5xx, 503, 429, 408: keep it and try later
	Rejected                 // another 4xx: this event will never be taken
	Unpaired                 // 401: the credential is gone
)

// Classify maps an upload answer's status to its outcome.
func Classify(status int) Outcome {
	switch {
	case status == http.StatusCreated:
		return Stored
	case status == http.StatusOK:
		return Duplicate
	case status == http.StatusUnauthorized:
		return Unpaired
	case status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500:
		return Retry
	}
	return Rejected
}

// Paired is what a device gets at pairing: its ID and the token that
// authenticates it (shown once), and the base URL of the server.
type Paired struct {
	DeviceID string `json:"device_id"`
	Token    string `json:"device_token"`
	Server   string `json:"-"`
}

// Pair pairs a device with the pairing code a person made in the app
// (single use, valid ten minutes): POST /api/v1/devices/pair.
func Pair(ctx context.Context, client *http.Client, baseURL, code, model, firmware string) (Paired, error) {
	body, err := json.Marshal(map[string]string{"code": code, "model": model, "firmware": firmware})
	if err != nil {
		return Paired{}, fmt.Errorf("pair: %w", err)
	}
	base := strings.TrimRight(baseURL, "/")
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/devices/pair", bytes.NewReader(body))
	if err != nil {
		return Paired{}, fmt.Errorf("pair: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := client.Do(req)
	if err != nil {
		return Paired{}, fmt.Errorf("pair: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		return Paired{}, Describe("pair", res)
	}
	var p Paired
	if err := json.NewDecoder(io.LimitReader(res.Body, 64<<10)).Decode(&p); err != nil {
		return Paired{}, fmt.Errorf("pair: read answer: %w", err)
	}
	if p.DeviceID == "" || !strings.HasPrefix(p.Token, "cvd_") {
		return Paired{}, fmt.Errorf("pair: the server's answer has no device ID or device token")
	}
	p.Server = base
	return p, nil
}

// EventForm is the multipart body of an upload (POST
// /api/v1/device/events) and its Content-Type: the meta part, the
// thumbnail, and the clip unless it is nil.
func EventForm(meta, thumb, clip []byte) ([]byte, string, error) {
	var buf bytes.Buffer
	buf.Grow(len(meta) + len(thumb) + len(clip) + 1024)
	mw := multipart.NewWriter(&buf)
	parts := []struct {
		name, file, ctype string
		data              []byte
	}{
		{"meta", "", "application/json", meta},
		{"thumbnail", "thumbnail.jpg", "image/jpeg", thumb},
		{"clip", "clip.mp4", "video/mp4", clip},
	}
	for _, p := range parts {
		if p.data == nil {
			continue
		}
		h := textproto.MIMEHeader{}
		disp := `form-data; name="` + p.name + `"`
		if p.file != "" {
			disp += `; filename="` + p.file + `"`
		}
		h.Set("Content-Disposition", disp)
		h.Set("Content-Type", p.ctype)
		w, err := mw.CreatePart(h)
		if err != nil {
			return nil, "", fmt.Errorf("build upload: %w", err)
		}
		if _, err := w.Write(p.data); err != nil {
			return nil, "", fmt.Errorf("build upload: %w", err)
		}
	}
	if err := mw.Close(); err != nil {
		return nil, "", fmt.Errorf("build upload: %w", err)
	}
	return buf.Bytes(), mw.FormDataContentType(), nil
}
