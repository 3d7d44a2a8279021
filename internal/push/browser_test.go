package push_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/push"
	"github.com/camvault/camvault/internal/sim/pushclient"
)

// browser is a push service and the browser behind it, in one: it takes
// each push as RFC 8030 says, checks the server's VAPID token (RFC 8292)
// against the key the server publishes, and decrypts the payload with the
// browser's own key and secret (RFC 8291), as a browser would
// (internal/sim/pushclient).
type browser struct {
	t      testing.TB
	srv    *httptest.Server
	keys   *pushclient.Browser
	vapid  string // the server's public key, base64url
	mu     sync.Mutex
	got    []push.Payload
	errs   []error
	answer []int // statuses to answer, one per push, then 201
}

func newBrowser(t testing.TB, vapid string) *browser {
	t.Helper()
	keys, err := pushclient.New()
	if err != nil {
		t.Fatal(err)
	}
	b := &browser{t: t, keys: keys, vapid: vapid}
	b.srv = httptest.NewServer(http.HandlerFunc(b.serve))
	t.Cleanup(b.srv.Close)
	return b
}

// subscription is what the browser's Push API hands the web app.
func (b *browser) subscription() push.Subscribe {
	var s push.Subscribe
	s.Endpoint = b.srv.URL + "/push/" + fmt.Sprint(time.Now().UnixNano())
	s.Keys.P256dh, s.Keys.Auth = b.keys.Keys()
	return s
}

func (b *browser) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 8<<10))
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.answer) > 0 {
		status := b.answer[0]
		b.answer = b.answer[1:]
		w.WriteHeader(status)
		return
	}
	p, err := b.open(r, body)
	if err != nil {
		b.errs = append(b.errs, err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	b.got = append(b.got, p)
	w.WriteHeader(http.StatusCreated)
}

// open checks a push's headers and VAPID token and decrypts its payload,
// as a push service and the browser behind it would.
func (b *browser) open(r *http.Request, body []byte) (push.Payload, error) {
	if r.Method != http.MethodPost || r.Header.Get("Content-Encoding") != "aes128gcm" || r.Header.Get("TTL") == "" {
		return push.Payload{}, fmt.Errorf("not an RFC 8030 push: %s, %q, TTL %q", r.Method, r.Header.Get("Content-Encoding"), r.Header.Get("TTL"))
	}
	if err := pushclient.CheckVAPID(r.Header.Get("Authorization"), b.vapid, b.srv.URL, time.Now()); err != nil {
		return push.Payload{}, err
	}
	plain, err := b.keys.Open(body)
	if err != nil {
		return push.Payload{}, err
	}
	var p push.Payload
	if err := json.Unmarshal(plain, &p); err != nil {
		return push.Payload{}, fmt.Errorf("payload %q: %w", plain, err)
	}
	return p, nil
}

// payloads waits until the browser received n pushes and returns them.
func (b *browser) payloads(n int) []push.Payload {
	b.t.Helper()
	for deadline := time.Now().Add(15 * time.Second); ; {
		b.mu.Lock()
		got, errs := append([]push.Payload(nil), b.got...), append([]error(nil), b.errs...)
		b.mu.Unlock()
		if len(errs) > 0 {
			b.t.Fatalf("a push the browser could not open: %v", errs)
		}
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("the browser received %d pushes, want %d", len(got), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// count is how many pushes the browser received so far.
func (b *browser) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.got)
}
