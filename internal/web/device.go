package web

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"time"

	"github.com/camvault/camvault/internal/websession"
)

// The device cookie: a random value the browser keeps for a long time, so
// a login from it is known to come from a device the account used before
// (docs/design/mail.md, "New devices"). It says nothing by itself and
// authenticates nothing; the store keeps only a keyed hash of it per
// account.
const (
	deviceCookieName       = "camvault_device"
	secureDeviceCookieName = "__Host-camvault_device"
	deviceCookieAge        = 400 * 24 * time.Hour // the longest browsers keep a cookie
)

func deviceCookie(r *http.Request) string {
	if websession.Secure(r) {
		return secureDeviceCookieName
	}
	return deviceCookieName
}

// device returns the browser's device cookie, setting a new one if it has
// none (or one not of ours).
func device(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(deviceCookie(r)); err == nil {
		if b, err := base64.RawURLEncoding.DecodeString(c.Value); err == nil && len(b) == 32 {
			return c.Value
		}
	}
	var b [32]byte
	_, _ = rand.Read(b[:])
	v := base64.RawURLEncoding.EncodeToString(b[:])
	http.SetCookie(w, &http.Cookie{
		Name: deviceCookie(r), Value: v, Path: "/", MaxAge: int(deviceCookieAge / time.Second),
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: websession.Secure(r),
	})
	return v
}
