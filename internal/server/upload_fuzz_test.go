package server_test

import (
	"bytes"
	"io"
	"net/http"
	"testing"

	"github.com/camvault/camvault/internal/server"
)

// FuzzUploadBody sends arbitrary multipart bodies to the real upload route
// with a valid device token. Whatever arrives, the answer is a success or a
// clear client error (400 or 413 with a JSON error), never a server error.
func FuzzUploadBody(f *testing.F) {
	f.Add([]byte("--fuzzboundary\r\nContent-Disposition: form-data; name=\"meta\"\r\n\r\n" +
		`{"event_id":"e1","started_at":"2026-11-23T10:00:00Z","kind":"motion"}` +
		"\r\n--fuzzboundary\r\nContent-Disposition: form-data; name=\"thumbnail\"\r\n\r\n\xff\xd8\xff\xe0\r\n--fuzzboundary--\r\n"))
	f.Add([]byte("--fuzzboundary\r\nContent-Disposition: form-data; name=\"meta\"\r\n\r\n" +
		`{"event_id":"e2","started_at":"2026-11-23T10:00:00Z","kind":"sound"}` +
		"\r\n--fuzzboundary\r\nContent-Disposition: form-data; name=\"clip\"\r\n\r\n\x00\x00\x00\x10ftypisom\x00\x00\x00\x00\r\n--fuzzboundary--\r\n"))
	f.Add([]byte("--fuzzboundary\r\nContent-Disposition: form-data; name=\"clip\"\r\n\r\nxx\r\n--fuzzboundary--\r\n"))
	f.Add([]byte("--fuzzboundary--"))
	// Parsing is under test here, not admission control: lift its limits.
	e := newEnv(f, func(o *server.Options) {
		o.Admission.UploadsPerSecond, o.Admission.UploadBurst, o.Admission.UploadsInFlight = 1e9, 1e6, 1e4
	})
	ann := e.signup("ann")
	cam := e.pairCamera(ann, e.home(ann, "Home"))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := http.NewRequestWithContext(t.Context(), "POST", e.public.URL+"/api/v1/device/events", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "multipart/form-data; boundary=fuzzboundary")
		req.Header.Set("Authorization", "Bearer "+cam.token)
		res, err := e.public.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		answer, _ := io.ReadAll(res.Body)
		res.Body.Close()
		switch res.StatusCode {
		case 200, 201:
		case 400, 413:
			if !bytes.Contains(answer, []byte(`"message"`)) {
				t.Fatalf("%d without an error message: %s", res.StatusCode, answer)
			}
		default:
			t.Fatalf("upload answered %d: %s", res.StatusCode, answer)
		}
	})
}
