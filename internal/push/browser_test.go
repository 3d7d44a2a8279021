package push_test

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/push"
)

// browser is a push service and the browser behind it, in one: it takes
// each push as RFC 8030 says, checks the server's VAPID token (RFC 8292)
// against the key the server publishes, and decrypts the payload with the
// browser's own key and secret (RFC 8291), as a browser would.
type browser struct {
	t      testing.TB
	srv    *httptest.Server
	key    *ecdh.PrivateKey
	auth   []byte
	vapid  string // the server's public key, base64url
	mu     sync.Mutex
	got    []push.Payload
	errs   []error
	answer []int // statuses to answer, one per push, then 201
}

func newBrowser(t testing.TB, vapid string) *browser {
	t.Helper()
	key, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b := &browser{t: t, key: key, auth: make([]byte, 16), vapid: vapid}
	if _, err := rand.Read(b.auth); err != nil {
		t.Fatal(err)
	}
	b.srv = httptest.NewServer(http.HandlerFunc(b.serve))
	t.Cleanup(b.srv.Close)
	return b
}

// subscription is what the browser's Push API hands the web app.
func (b *browser) subscription() push.Subscribe {
	var s push.Subscribe
	s.Endpoint = b.srv.URL + "/push/" + fmt.Sprint(time.Now().UnixNano())
	s.Keys.P256dh = base64.RawURLEncoding.EncodeToString(b.key.PublicKey().Bytes())
	s.Keys.Auth = base64.RawURLEncoding.EncodeToString(b.auth)
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

// open checks a push's headers and VAPID token and decrypts its payload.
func (b *browser) open(r *http.Request, body []byte) (push.Payload, error) {
	if r.Method != http.MethodPost || r.Header.Get("Content-Encoding") != "aes128gcm" || r.Header.Get("TTL") == "" {
		return push.Payload{}, fmt.Errorf("not an RFC 8030 push: %s, %q, TTL %q", r.Method, r.Header.Get("Content-Encoding"), r.Header.Get("TTL"))
	}
	if err := b.checkVAPID(r); err != nil {
		return push.Payload{}, err
	}
	plain, err := decrypt(b.key, b.auth, body)
	if err != nil {
		return push.Payload{}, err
	}
	var p push.Payload
	if err := json.Unmarshal(plain, &p); err != nil {
		return push.Payload{}, fmt.Errorf("payload %q: %w", plain, err)
	}
	return p, nil
}

// checkVAPID verifies "Authorization: vapid t=JWT, k=KEY" (RFC 8292): the
// key is the server's, the token is signed with it (ES256), is for this
// push service's origin, names a contact and has not expired.
func (b *browser) checkVAPID(r *http.Request) error {
	auth := r.Header.Get("Authorization")
	rest, ok := strings.CutPrefix(auth, "vapid ")
	if !ok {
		return fmt.Errorf("authorization %q is not vapid", auth)
	}
	var tok, k string
	for _, part := range strings.Split(rest, ",") {
		name, value, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch name {
		case "t":
			tok = value
		case "k":
			k = value
		}
	}
	if strings.TrimRight(k, "=") != strings.TrimRight(b.vapid, "=") {
		return fmt.Errorf("vapid key %q is not the server's %q", k, b.vapid)
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(k, "="))
	if err != nil {
		return err
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), raw)
	if err != nil {
		return fmt.Errorf("vapid key is not a P-256 point: %w", err)
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return errors.New("vapid token is not a JWT")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(sig) != 64 {
		return errors.New("vapid token: not an ES256 signature")
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if !ecdsa.Verify(pub, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		return errors.New("vapid token: signature does not verify with the server's key")
	}
	claims, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return err
	}
	var c struct {
		Aud string `json:"aud"`
		Exp int64  `json:"exp"`
		Sub string `json:"sub"`
	}
	if err := json.Unmarshal(claims, &c); err != nil {
		return err
	}
	if c.Aud != b.srv.URL || c.Sub == "" || time.Unix(c.Exp, 0).Before(time.Now()) || time.Unix(c.Exp, 0).After(time.Now().Add(24*time.Hour)) {
		return fmt.Errorf("vapid claims %+v for audience %s", c, b.srv.URL)
	}
	return nil
}

// decrypt opens an aes128gcm body (RFC 8188) encrypted to the browser as
// RFC 8291 says.
func decrypt(key *ecdh.PrivateKey, authSecret, body []byte) ([]byte, error) {
	if len(body) < 21 {
		return nil, errors.New("body shorter than its header")
	}
	salt, rs, idlen := body[:16], binary.BigEndian.Uint32(body[16:20]), int(body[20])
	if len(body) < 21+idlen || rs < 18 {
		return nil, errors.New("bad header")
	}
	senderRaw, ciphertext := body[21:21+idlen], body[21+idlen:]
	sender, err := ecdh.P256().NewPublicKey(senderRaw)
	if err != nil {
		return nil, fmt.Errorf("sender key: %w", err)
	}
	shared, err := key.ECDH(sender)
	if err != nil {
		return nil, err
	}
	info := append(append([]byte("WebPush: info\x00"), key.PublicKey().Bytes()...), senderRaw...)
	ikm, err := hkdf.Key(sha256.New, shared, authSecret, string(info), 32)
	if err != nil {
		return nil, err
	}
	cek, err := hkdf.Key(sha256.New, ikm, salt, "Content-Encoding: aes128gcm\x00", 16)
	if err != nil {
		return nil, err
	}
	nonce, err := hkdf.Key(sha256.New, ikm, salt, "Content-Encoding: nonce\x00", 12)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(cek)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	if len(ciphertext) > int(rs) {
		return nil, errors.New("more than one record")
	}
	plain, err := gcm.Open(nil, nonce, ciphertext, nil)
	if err != nil {
		return nil, fmt.Errorf("decrypt: %w", err)
	}
	// The last record ends with the delimiter 2, then zeros of padding.
	end := len(plain) - 1
	for end >= 0 && plain[end] == 0 {
		end--
	}
	if end < 0 || plain[end] != 2 {
		return nil, errors.New("no last-record delimiter")
	}
	return plain[:end], nil
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
