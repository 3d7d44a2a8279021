package media

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/audit"
	"github.com/camvault/camvault/internal/authz"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/keys"
	"github.com/camvault/camvault/internal/store/sqlite"
)

type counter struct{ n int }

func (c *counter) Inc() { c.n++ }

// TestWholeAnswersAsSealed: a thumbnail held opened in memory is answered
// exactly as the same thumbnail read from its sealed blob, for a plain
// GET and for every request that asks for part of it or for a condition,
// and each answer is on the audit record.
func TestWholeAnswersAsSealed(t *testing.T) {
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "camvault.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	master := make([]byte, 32)
	_, _ = rand.Read(master)
	kr, err := keys.ParseKeys(base64.StdEncoding.EncodeToString(master))
	if err != nil {
		t.Fatal(err)
	}
	log := audit.New(st, kr, nil)
	blocked := &counter{}
	g := NewGuard(log, st, blocked, slog.New(slog.DiscardHandler), nil)

	dk, _ := keys.NewDataKey()
	home, dev, event := id.New(), id.New(), id.New()
	l := Label{Home: home, Device: dev, Event: event, Kind: KindThumbnail}
	pt := bytes.Repeat([]byte("thumbnail "), 3000)
	sealed := sealBytes(t, dk, l, pt)
	open := func() *Blob {
		b, err := Open(bytes.NewReader(sealed), int64(len(sealed)), keyOf(dk))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	whole, err := open().Whole()
	if err != nil {
		t.Fatal(err)
	}
	grant := authz.Grant{Membership: domain.Membership{Home: domain.Home{ID: home},
		Member: domain.Member{HomeID: home, Role: domain.RoleOwner}}}
	p := authz.Principal{Kind: domain.PrincipalPerson, AccountID: id.New()}
	modified := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	etag := `"` + event + `-thumbnail"`
	serve := func(b *Blob, method string, hdr map[string]string) *httptest.ResponseRecorder {
		t.Helper()
		r := httptest.NewRequestWithContext(ctx, method, "/thumbnail", nil)
		for k, v := range hdr {
			r.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		if err := g.Serve(w, r, p, grant, event, KindThumbnail, Response{Blob: b, ContentType: "image/jpeg", ETag: etag, Modified: modified}); err != nil {
			t.Fatal(err)
		}
		return w
	}
	views := 0
	for _, tc := range []struct {
		method string
		hdr    map[string]string
	}{
		{"GET", nil},
		{"HEAD", nil},
		{"GET", map[string]string{"Range": "bytes=10-99"}},
		{"GET", map[string]string{"Range": "bytes=0-0,5-9"}},
		{"GET", map[string]string{"If-None-Match": etag}},
		{"GET", map[string]string{"If-None-Match": `"other"`}},
		{"GET", map[string]string{"If-Modified-Since": modified.Format(http.TimeFormat)}},
		{"GET", map[string]string{"If-Range": etag, "Range": "bytes=1-2"}},
	} {
		a, b := serve(whole, tc.method, tc.hdr), serve(open(), tc.method, tc.hdr)
		views += 2
		unboundary(a)
		unboundary(b)
		if a.Code != b.Code || !bytes.Equal(a.Body.Bytes(), b.Body.Bytes()) {
			t.Errorf("%s %v: opened in memory %d (%d bytes), sealed %d (%d bytes)", tc.method, tc.hdr, a.Code, a.Body.Len(), b.Code, b.Body.Len())
		}
		for _, k := range []string{"Content-Type", "Content-Length", "Content-Range", "Last-Modified", "Accept-Ranges", "ETag", "Cache-Control"} {
			if a.Header().Get(k) != b.Header().Get(k) {
				t.Errorf("%s %v: %s %q opened in memory, %q sealed", tc.method, tc.hdr, k, a.Header().Get(k), b.Header().Get(k))
			}
		}
	}
	if got := serve(whole, "GET", nil); !bytes.Equal(got.Body.Bytes(), pt) {
		t.Fatal("a thumbnail opened in memory answers other bytes")
	}
	views++
	entries, err := log.List(ctx, home, 0, 1000)
	if err != nil || len(entries) != views {
		t.Fatalf("%d audit entries (%v), want one per answer: %d", len(entries), err, views)
	}
	if blocked.n != 0 {
		t.Fatalf("%d answers blocked", blocked.n)
	}
}

// unboundary replaces a multipart answer's random boundary by a fixed one,
// so two answers compare.
func unboundary(w *httptest.ResponseRecorder) {
	ct := w.Header().Get("Content-Type")
	_, b, ok := strings.Cut(ct, "boundary=")
	if !ok {
		return
	}
	w.Header().Set("Content-Type", strings.ReplaceAll(ct, b, "B"))
	body := bytes.ReplaceAll(w.Body.Bytes(), []byte(b), []byte("B"))
	w.Body.Reset()
	w.Body.Write(body)
}
