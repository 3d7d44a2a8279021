// Package pushclient is a browser's side of Web Push, for tests and the
// storm: the key pair and secret a browser subscribes with, opening a
// push's payload as RFC 8291 says (aes128gcm, RFC 8188, one record), and
// checking the server's VAPID token (RFC 8292). It composes the standard
// library's ECDH, HKDF, AES-GCM and ECDSA as those RFCs specify; the
// server side sends with github.com/SherClockHolmes/webpush-go.
package pushclient

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
	"math/big"
	"strings"
	"time"
)

// Browser is one subscribed browser's keys.
type Browser struct {
	key  *ecdh.PrivateKey
	auth []byte
}

// New makes a browser's P-256 key pair and 16-byte authentication secret.
func New() (*Browser, error) {
	key, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("browser key: %w", err)
	}
	b := &Browser{key: key, auth: make([]byte, 16)}
	if _, err := rand.Read(b.auth); err != nil {
		return nil, fmt.Errorf("browser secret: %w", err)
	}
	return b, nil
}

// Keys are the subscription's keys as the Push API gives them: the public
// key (p256dh) and the secret (auth), base64url.
func (b *Browser) Keys() (p256dh, auth string) {
	return base64.RawURLEncoding.EncodeToString(b.key.PublicKey().Bytes()), base64.RawURLEncoding.EncodeToString(b.auth)
}

// maxBody bounds a push's body: one record of at most 4 KiB and its header.
const maxBody = 4096 + 86

// Open decrypts a push's body, encrypted to this browser.
func (b *Browser) Open(body []byte) ([]byte, error) {
	if len(body) < 21 || len(body) > maxBody {
		return nil, errors.New("push body: not one aes128gcm record")
	}
	salt, rs, idlen := body[:16], binary.BigEndian.Uint32(body[16:20]), int(body[20])
	if len(body) < 21+idlen || rs < 18 {
		return nil, errors.New("push body: bad header")
	}
	senderRaw, ciphertext := body[21:21+idlen], body[21+idlen:]
	if len(ciphertext) > int(rs) {
		return nil, errors.New("push body: more than one record")
	}
	sender, err := ecdh.P256().NewPublicKey(senderRaw)
	if err != nil {
		return nil, fmt.Errorf("push body: sender key: %w", err)
	}
	shared, err := b.key.ECDH(sender)
	if err != nil {
		return nil, err
	}
	info := append(append([]byte("WebPush: info\x00"), b.key.PublicKey().Bytes()...), senderRaw...)
	ikm, err := hkdf.Key(sha256.New, shared, b.auth, string(info), 32)
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
	plain, err := gcm.Open(nil, nonce, ciphertext, nil)
	if err != nil {
		return nil, fmt.Errorf("push body: %w", err)
	}
	// The last record ends with the delimiter 2, then zeros of padding.
	end := len(plain) - 1
	for end >= 0 && plain[end] == 0 {
		end--
	}
	if end < 0 || plain[end] != 2 {
		return nil, errors.New("push body: no last-record delimiter")
	}
	return plain[:end], nil
}

// CheckVAPID verifies a push's "Authorization: vapid t=JWT, k=KEY" (RFC
// 8292): the key is publicKey (the server's, base64url), the token is
// signed with it (ES256), is for audience (the push service's origin),
// names a contact and is valid at now for at most a day.
func CheckVAPID(authorization, publicKey, audience string, now time.Time) error {
	rest, ok := strings.CutPrefix(authorization, "vapid ")
	if !ok {
		return fmt.Errorf("authorization %.20q is not vapid", authorization)
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
	if strings.TrimRight(k, "=") != strings.TrimRight(publicKey, "=") {
		return errors.New("vapid key is not the server's")
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
		return errors.New("vapid token: the signature does not verify with the server's key")
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
	exp := time.Unix(c.Exp, 0)
	if c.Aud != audience || c.Sub == "" || exp.Before(now) || exp.After(now.Add(24*time.Hour)) {
		return fmt.Errorf("vapid claims %+v for audience %s", c, audience)
	}
	return nil
}
