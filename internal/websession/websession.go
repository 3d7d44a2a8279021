// Package websession is how a browser carries a person's session: the
// cookie that holds the session token and the CSRF checks that make a
// cookie safe to accept on a state-changing request. Both the web app and
// the JSON API use it, so the two agree on every rule.
package websession

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"time"

	"github.com/camvault/camvault/internal/peer"
)

// The session cookie's names. Wherever the cookie is Secure it carries the
// __Host- prefix, so a browser keeps it only for this host, only over
// HTTPS and only with Path "/" and no Domain: a sibling subdomain cannot
// plant or override it. Plain HTTP on loopback (a browser beside the
// server) cannot have the prefix, so there it is CookieName.
const (
	CookieName       = "camvault_session"
	SecureCookieName = "__Host-camvault_session"
)

// cookieName is the session cookie's name for r.
func cookieName(r *http.Request) string {
	if Secure(r) {
		return SecureCookieName
	}
	return CookieName
}

// HeaderName carries the CSRF token on the page's fetch calls; FormField
// carries it in forms.
const (
	HeaderName = "X-CSRF-Token"
	FormField  = "csrf"
)

// Token returns the session token the request's cookie carries, or "".
func Token(r *http.Request) string {
	c, err := r.Cookie(cookieName(r))
	if err != nil {
		return ""
	}
	return c.Value
}

// Set sets the session cookie: HttpOnly, SameSite=Lax, and Secure unless
// the request came over loopback without TLS.
func Set(w http.ResponseWriter, r *http.Request, token string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{
		Name: cookieName(r), Value: token, Path: "/", Expires: expires,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: Secure(r),
	})
}

// Clear removes the session cookie.
func Clear(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{
		Name: cookieName(r), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: Secure(r),
	})
}

// Secure reports whether cookies for r must be marked Secure: always,
// except for plain HTTP from a loopback peer with no trusted proxy in
// between (a browser on the same machine, where there is no network to
// protect the cookie from). Behind a trusted proxy (--trusted-proxy) the
// deployment is HTTPS to its clients, so always.
func Secure(r *http.Request) bool {
	in := peer.Of(r)
	return in.Proxied || in.HTTPS || !in.Loopback
}

// csrfLabel separates CSRF tokens from any other use of the session token
// as an HMAC key.
const csrfLabel = "camvault csrf token v1"

// CSRFToken is the session's CSRF token: an HMAC of a fixed label keyed by
// the session token. It is per session, needs no storage, and reveals
// nothing about the session token; a page from another origin can neither
// read it nor compute it.
func CSRFToken(sessionToken string) string {
	m := hmac.New(sha256.New, []byte(sessionToken))
	m.Write([]byte(csrfLabel))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// ValidCSRF reports whether given is the CSRF token of sessionToken.
func ValidCSRF(sessionToken, given string) bool {
	if sessionToken == "" || given == "" {
		return false
	}
	return hmac.Equal([]byte(CSRFToken(sessionToken)), []byte(given))
}

// SameOrigin reports whether a state-changing request came from a page of
// this server. Browsers send Origin on every POST, PUT, PATCH and DELETE;
// when it is absent the Referer is checked instead, and a request with
// neither passes this check (it still needs its CSRF token, or, for the
// forms that have no session yet, SameSite keeps the cookie away).
func SameOrigin(r *http.Request) bool {
	src := r.Header.Get("Origin")
	if src == "" {
		src = r.Header.Get("Referer")
		if src == "" {
			return r.Header.Get("Sec-Fetch-Site") != "cross-site"
		}
	}
	if src == "null" {
		return false
	}
	u, err := url.Parse(src)
	if err != nil {
		return false
	}
	if u.Host != r.Host {
		return false
	}
	scheme := "http"
	if peer.Of(r).HTTPS {
		scheme = "https"
	}
	if u.Scheme == scheme {
		return true
	}
	// A TLS-terminating proxy on the same machine forwards an https page's
	// requests over plain HTTP from loopback.
	return u.Scheme == "https" && !Secure(r)
}

// Safe reports whether a method changes nothing, so needs no CSRF check.
func Safe(method string) bool {
	return method == http.MethodGet || method == http.MethodHead || method == http.MethodOptions
}

// ClientAddress is the address a request came from: the TCP peer, or,
// behind a trusted proxy, the client it forwarded for (peer.Of); never a
// header any other client could write.
func ClientAddress(r *http.Request) string { return peer.Of(r).Addr }
