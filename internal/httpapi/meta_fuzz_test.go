package httpapi

import (
	"bytes"
	"mime/multipart"
	"testing"

	"github.com/camvault/camvault/internal/apperr"
)

// FuzzReadMeta feeds arbitrary bytes as the meta part: it never panics,
// and every refusal is a 400 or 413 with a message.
func FuzzReadMeta(f *testing.F) {
	f.Add([]byte(`{"event_id":"evt-1","started_at":"2026-11-23T10:00:00Z","kind":"motion"}`))
	f.Add([]byte(`{"event_id":"x","device_id":"someone else's"}`))
	f.Add([]byte(`{"started_at":"not a time"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, meta []byte) {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		pw, _ := mw.CreateFormField("meta")
		pw.Write(meta)
		mw.Close()
		part, err := multipart.NewReader(&body, mw.Boundary()).NextPart()
		if err != nil {
			return
		}
		_, err = readMeta(part)
		if err == nil {
			return
		}
		e, ok := apperr.As(err)
		if !ok || (e.Code != apperr.Invalid && e.Code != apperr.TooLarge) || e.Message == "" {
			t.Fatalf("meta %q: %v is not a clear 400 or 413", meta, err)
		}
	})
}
