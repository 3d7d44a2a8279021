// Package partnerlink plays both sides of linking a partner, through the
// real routes: the partner's OAuth 2.0 client (golang.org/x/oauth2, with
// PKCE and state) and the person's browser, whose logged-in session posts
// the consent form with its CSRF token. Tests and simulated smart
// displays use it to link as a real display would.
package partnerlink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/oauth2"

	"github.com/camvault/camvault/internal/websession"
)

// Partner is a registered partner as its own servers know it.
type Partner struct {
	Server       string // camvault's base URL, e.g. https://camvault.example
	ClientID     string
	ClientSecret string
	RedirectURI  string
}

// Config is the partner's OAuth 2.0 client configuration for scopes.
func (p Partner) Config(scopes ...string) *oauth2.Config {
	return &oauth2.Config{
		ClientID: p.ClientID, ClientSecret: p.ClientSecret, RedirectURL: p.RedirectURI, Scopes: scopes,
		Endpoint: oauth2.Endpoint{AuthURL: p.Server + "/oauth2/authorize", TokenURL: p.Server + "/oauth2/token",
			AuthStyle: oauth2.AuthStyleInHeader},
	}
}

// Consent is what the person answers on the consent page.
type Consent struct {
	SessionToken string   // the person's session (cvs_), as the browser's cookie
	Devices      []string // cameras to allow
	Live         bool
	Deny         bool // answer "Deny" instead
}

// ErrDenied is returned when the partner is sent back with access_denied.
var ErrDenied = errors.New("partnerlink: the person denied the link")

// Link runs the whole flow: the authorization request (PKCE S256, a fresh
// state), the consent page answered by the person's session, the
// redirect's state checked, and the code exchanged. client carries the
// requests (nil: http.DefaultClient); it must not follow redirects itself.
func Link(ctx context.Context, client *http.Client, p Partner, c Consent, scopes ...string) (*oauth2.Token, error) {
	cfg := p.Config(scopes...)
	code, verifier, err := Authorize(ctx, client, cfg, p.Server, c)
	if err != nil {
		return nil, err
	}
	if client != nil {
		ctx = context.WithValue(ctx, oauth2.HTTPClient, client)
	}
	tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		return nil, fmt.Errorf("partnerlink: exchange the code: %w", err)
	}
	return tok, nil
}

// Authorize runs the flow up to the code: it returns the code and the PKCE
// verifier to exchange it with.
func Authorize(ctx context.Context, client *http.Client, cfg *oauth2.Config, server string, c Consent) (code, verifier string, err error) {
	if client == nil {
		client = http.DefaultClient
	}
	noRedirect := *client
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	state := oauth2.GenerateVerifier() // 256 random bits, URL-safe
	verifier = oauth2.GenerateVerifier()
	cookie := &http.Cookie{Name: websession.CookieName, Value: c.SessionToken}

	// The partner sends the browser to /oauth2/authorize; camvault sends
	// it on to the consent page.
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier)), nil)
	if err != nil {
		return "", "", err
	}
	req.AddCookie(cookie)
	consentURL, err := redirected(&noRedirect, req)
	if err != nil {
		return "", "", fmt.Errorf("partnerlink: authorization request: %w", err)
	}
	requestID := consentURL.Query().Get("request")
	if consentURL.Path != "/oauth2/consent" || requestID == "" {
		return "", "", fmt.Errorf("partnerlink: authorization request sent the browser to %s, not the consent page", consentURL.Redacted())
	}

	// The person answers the consent form, as the page's form posts it.
	form := url.Values{"csrf": {websession.CSRFToken(c.SessionToken)}, "request": {requestID}, "decision": {"allow"}}
	if c.Deny {
		form.Set("decision", "deny")
	}
	form["camera"] = c.Devices
	if c.Live {
		form.Set("live", "1")
	}
	req, err = http.NewRequestWithContext(ctx, http.MethodPost, server+"/oauth2/consent", strings.NewReader(form.Encode()))
	if err != nil {
		return "", "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", server)
	req.AddCookie(cookie)
	back, err := redirected(&noRedirect, req)
	if err != nil {
		return "", "", fmt.Errorf("partnerlink: consent: %w", err)
	}
	q := back.Query()
	if q.Get("state") != state {
		return "", "", fmt.Errorf("partnerlink: the redirect's state does not match the request's")
	}
	if q.Get("error") == "access_denied" {
		return "", "", ErrDenied
	}
	if e := q.Get("error"); e != "" {
		return "", "", fmt.Errorf("partnerlink: authorization error %s: %s", e, q.Get("error_description"))
	}
	if q.Get("code") == "" {
		return "", "", errors.New("partnerlink: the redirect carries no code")
	}
	return q.Get("code"), verifier, nil
}

// redirected sends req and returns where the answer redirects to.
func redirected(client *http.Client, req *http.Request) (*url.URL, error) {
	res, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 4<<10))
	if res.StatusCode != http.StatusFound && res.StatusCode != http.StatusSeeOther {
		return nil, fmt.Errorf("status %d, want a redirect: %s", res.StatusCode, strings.TrimSpace(string(body)))
	}
	loc, err := res.Location()
	if err != nil {
		return nil, fmt.Errorf("redirect without a location: %w", err)
	}
	return loc, nil
}
