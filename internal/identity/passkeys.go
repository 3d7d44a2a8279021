package identity

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/camvault/camvault/internal/apperr"
	"github.com/camvault/camvault/internal/authz"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/store"
	"github.com/camvault/camvault/internal/throttle"
)

// Passkeys (WebAuthn, docs/design/second-factors.md). A passkey is
// registered by a logged-in person and then logs them in alone: the
// authenticator holds the private key and verifies the person (a PIN or a
// fingerprint), so a passkey login is both factors. Ceremonies keep their
// challenge in the store, so any node can finish what another began, and
// each challenge is taken once.
const (
	challengeTTL        = 5 * time.Minute
	maxPasskeys         = 10
	purposeRegister     = "register"
	purposeLogin        = "login"
	passkeyBeginsPerMin = 30 // ceremonies begun per minute: logins per client address, registrations per account
)

var (
	errPasskeysOff    = apperr.New(apperr.NotFound, "passkeys are not configured on this server (see --public-url)")
	errPasskeyLogin   = apperr.New(apperr.Unauthorized, "the passkey was not accepted; try again")
	errChallengeGone  = apperr.New(apperr.Invalid, "the passkey ceremony is unknown, used or expired; begin again")
	errPasskeyInvalid = apperr.New(apperr.Invalid, "the passkey's answer was not accepted; begin again")
)

// relyingParty returns the WebAuthn relying party of cfg.PublicURL: the
// URL's host is its ID and its origin the one origin accepted. A public
// URL on an IP address (mail's links may point there) has none: browsers
// refuse an IP address as a relying party, so passkeys are off (nil).
func relyingParty(publicURL string) (*webauthn.WebAuthn, error) {
	u, err := url.Parse(publicURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Hostname() == "" {
		return nil, fmt.Errorf("public URL %q must be http(s)://host[:port]", publicURL)
	}
	if net.ParseIP(u.Hostname()) != nil {
		return nil, nil
	}
	uv := protocol.VerificationRequired
	return webauthn.New(&webauthn.Config{
		RPID:          u.Hostname(),
		RPDisplayName: "camvault",
		RPOrigins:     []string{u.Scheme + "://" + u.Host},
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey:      protocol.ResidentKeyRequirementRequired,
			UserVerification: uv,
		},
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Enforce: true, Timeout: challengeTTL, TimeoutUVD: challengeTTL},
			Registration: webauthn.TimeoutConfig{Enforce: true, Timeout: challengeTTL, TimeoutUVD: challengeTTL},
		},
	})
}

// passkeyUser is an account as the WebAuthn library sees it: its ID is
// the user handle an authenticator returns at a passwordless login.
type passkeyUser struct {
	id, name string
	creds    []webauthn.Credential
}

func (u passkeyUser) WebAuthnID() []byte                         { return []byte(u.id) }
func (u passkeyUser) WebAuthnName() string                       { return u.name }
func (u passkeyUser) WebAuthnDisplayName() string                { return u.name }
func (u passkeyUser) WebAuthnCredentials() []webauthn.Credential { return u.creds }

// Ceremony is a WebAuthn ceremony begun: its challenge's ID, to give back
// at the finish, and the options for navigator.credentials.create or get.
type Ceremony struct {
	Challenge string `json:"challenge"`
	Options   any    `json:"options"`
}

// PasskeyView is a passkey as its owner sees it.
type PasskeyView struct {
	ID         string     `json:"id"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
}

// PasskeysEnabled reports whether the server has a relying party (a
// public URL) to register passkeys with.
func (s *Service) PasskeysEnabled() bool { return s.webauthn != nil }

// BeginPasskeyRegistration starts registering a passkey of p's account.
func (s *Service) BeginPasskeyRegistration(ctx context.Context, p authz.Principal) (Ceremony, error) {
	if !p.IsPerson() {
		return Ceremony{}, errNoSession
	}
	if s.webauthn == nil {
		return Ceremony{}, errPasskeysOff
	}
	user, err := s.passkeyUser(ctx, p.AccountID)
	if err != nil {
		return Ceremony{}, err
	}
	if len(user.creds) >= maxPasskeys {
		return Ceremony{}, apperr.New(apperr.Conflict, "an account has at most %d passkeys; remove one first", maxPasskeys)
	}
	if err := s.beginLimiter().Attempt(ctx, s.keys.BlindIndex("passkey-begin-account", p.AccountID), s.now()); err != nil {
		return Ceremony{}, err
	}
	creation, session, err := s.webauthn.BeginRegistration(user,
		webauthn.WithExclusions(webauthn.Credentials(user.creds).CredentialDescriptors()))
	if err != nil {
		return Ceremony{}, fmt.Errorf("begin passkey registration: %w", err)
	}
	return s.keepChallenge(ctx, p.AccountID, purposeRegister, session, creation)
}

// FinishPasskeyRegistration checks an authenticator's answer to the
// ceremony challengeID began and keeps the new passkey.
func (s *Service) FinishPasskeyRegistration(ctx context.Context, p authz.Principal, challengeID string, credential []byte) (PasskeyView, error) {
	if !p.IsPerson() {
		return PasskeyView{}, errNoSession
	}
	if s.webauthn == nil {
		return PasskeyView{}, errPasskeysOff
	}
	session, err := s.takeChallenge(ctx, challengeID, p.AccountID, purposeRegister)
	if err != nil {
		return PasskeyView{}, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(credential)
	if err != nil {
		return PasskeyView{}, apperr.Wrap(err, apperr.Invalid, errPasskeyInvalid.Message)
	}
	user, err := s.passkeyUser(ctx, p.AccountID)
	if err != nil {
		return PasskeyView{}, err
	}
	cred, err := s.webauthn.CreateCredential(user, session, parsed)
	if err != nil {
		return PasskeyView{}, apperr.Wrap(err, apperr.Invalid, errPasskeyInvalid.Message)
	}
	raw, err := json.Marshal(cred)
	if err != nil {
		return PasskeyView{}, fmt.Errorf("encode passkey: %w", err)
	}
	pk := domain.Passkey{ID: id.New(), AccountID: p.AccountID, CredentialID: cred.ID, Credential: raw,
		SignCount: cred.Authenticator.SignCount, CreatedAt: s.now()}
	if err := s.store.CreatePasskey(ctx, pk); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return PasskeyView{}, apperr.New(apperr.Conflict, "this passkey is registered already")
		}
		return PasskeyView{}, fmt.Errorf("create passkey: %w", err)
	}
	return PasskeyView{ID: pk.ID, CreatedAt: pk.CreatedAt}, nil
}

// ListPasskeys lists p's passkeys, oldest first.
func (s *Service) ListPasskeys(ctx context.Context, p authz.Principal) ([]PasskeyView, error) {
	if !p.IsPerson() {
		return nil, errNoSession
	}
	list, err := s.store.Passkeys(ctx, p.AccountID)
	if err != nil {
		return nil, fmt.Errorf("list passkeys: %w", err)
	}
	out := make([]PasskeyView, 0, len(list))
	for _, pk := range list {
		v := PasskeyView{ID: pk.ID, CreatedAt: pk.CreatedAt}
		if !pk.LastUsedAt.IsZero() {
			used := pk.LastUsedAt
			v.LastUsedAt = &used
		}
		out = append(out, v)
	}
	return out, nil
}

// DeletePasskey removes one of p's passkeys; another account's is not
// found.
func (s *Service) DeletePasskey(ctx context.Context, p authz.Principal, passkeyID string) error {
	if !p.IsPerson() {
		return errNoSession
	}
	err := s.store.DeletePasskey(ctx, p.AccountID, passkeyID)
	if errors.Is(err, store.ErrNotFound) {
		return apperr.NotFoundf("passkey")
	}
	if err != nil {
		return fmt.Errorf("delete passkey: %w", err)
	}
	return nil
}

// BeginPasskeyLogin starts a passwordless login: anyone may, so it is
// bounded per client address, and what it keeps expires in minutes.
func (s *Service) BeginPasskeyLogin(ctx context.Context, client Client) (Ceremony, error) {
	if s.webauthn == nil {
		return Ceremony{}, errPasskeysOff
	}
	if err := s.beginLimiter().Attempt(ctx, s.keys.BlindIndex("passkey-begin-address", throttleAddress(client.Address)), s.now()); err != nil {
		return Ceremony{}, err
	}
	assertion, session, err := s.webauthn.BeginDiscoverableLogin()
	if err != nil {
		return Ceremony{}, fmt.Errorf("begin passkey login: %w", err)
	}
	return s.keepChallenge(ctx, "", purposeLogin, session, assertion)
}

// FinishPasskeyLogin checks an authenticator's answer to the login
// challengeID began and opens a session of the passkey's account. The
// passkey is found by its credential ID, and the user handle the
// authenticator signed must name the account that registered it; its
// signature counter must have moved forward, in one store statement, so
// an answer is used once and a cloned authenticator is refused.
func (s *Service) FinishPasskeyLogin(ctx context.Context, challengeID string, credential []byte, client Client) (Login, error) {
	if s.webauthn == nil {
		return Login{}, errPasskeysOff
	}
	session, err := s.takeChallenge(ctx, challengeID, "", purposeLogin)
	if err != nil {
		return Login{}, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(credential)
	if err != nil {
		return Login{}, apperr.Wrap(err, apperr.Invalid, errPasskeyInvalid.Message)
	}
	var found domain.Passkey
	_, cred, err := s.webauthn.ValidatePasskeyLogin(func(rawID, userHandle []byte) (webauthn.User, error) {
		pk, err := s.store.PasskeyByCredentialID(ctx, rawID)
		if err != nil {
			return nil, fmt.Errorf("passkey by credential id: %w", err)
		}
		if !bytes.Equal(userHandle, []byte(pk.AccountID)) {
			return nil, errors.New("the user handle names another account than the passkey's")
		}
		var c webauthn.Credential
		if err := json.Unmarshal(pk.Credential, &c); err != nil {
			return nil, fmt.Errorf("decode passkey %s: %w", pk.ID, err)
		}
		found = pk
		return passkeyUser{id: pk.AccountID, creds: []webauthn.Credential{c}}, nil
	}, session, parsed)
	if err != nil {
		if errors.Is(err, store.ErrUnavailable) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return Login{}, fmt.Errorf("passkey login: %w", err)
		}
		return Login{}, apperr.Wrap(err, apperr.Unauthorized, errPasskeyLogin.Message)
	}
	if cred.Authenticator.CloneWarning || !cred.Flags.UserVerified {
		return Login{}, errPasskeyLogin
	}
	raw, err := json.Marshal(cred)
	if err != nil {
		return Login{}, fmt.Errorf("encode passkey: %w", err)
	}
	now := s.now()
	if err := s.store.UsePasskey(ctx, found.ID, cred.Authenticator.SignCount, raw, now); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return Login{}, errPasskeyLogin // removed, or its counter moved meanwhile
		}
		return Login{}, fmt.Errorf("use passkey: %w", err)
	}
	return s.openSession(ctx, found.AccountID, client, now)
}

// beginLimiter bounds the passkey ceremonies begun, each of which keeps
// a challenge in the store for a few minutes.
func (s *Service) beginLimiter() throttle.Limiter {
	return throttle.Limiter{Store: s.store, Limit: passkeyBeginsPerMin, Window: time.Minute,
		Message: "too many passkey ceremonies begun; try again in a minute"}
}

func (s *Service) passkeyUser(ctx context.Context, accountID string) (passkeyUser, error) {
	acct, err := s.Account(ctx, accountID)
	if err != nil {
		return passkeyUser{}, err
	}
	list, err := s.store.Passkeys(ctx, accountID)
	if err != nil {
		return passkeyUser{}, fmt.Errorf("list passkeys: %w", err)
	}
	u := passkeyUser{id: accountID, name: acct.Email}
	for _, pk := range list {
		var c webauthn.Credential
		if err := json.Unmarshal(pk.Credential, &c); err != nil {
			return passkeyUser{}, fmt.Errorf("decode passkey %s: %w", pk.ID, err)
		}
		u.creds = append(u.creds, c)
	}
	return u, nil
}

// keepChallenge stores a ceremony's session data and returns the
// ceremony to hand to the browser.
func (s *Service) keepChallenge(ctx context.Context, accountID, purpose string, session *webauthn.SessionData, options any) (Ceremony, error) {
	data, err := json.Marshal(session)
	if err != nil {
		return Ceremony{}, fmt.Errorf("encode passkey challenge: %w", err)
	}
	c := domain.WebAuthnChallenge{ID: id.New(), AccountID: accountID, Purpose: purpose, Data: data, ExpiresAt: s.now().Add(challengeTTL)}
	if err := s.store.PutChallenge(ctx, c); err != nil {
		return Ceremony{}, fmt.Errorf("keep passkey challenge: %w", err)
	}
	return Ceremony{Challenge: c.ID, Options: options}, nil
}

// takeChallenge takes a ceremony's session data from the store, once.
func (s *Service) takeChallenge(ctx context.Context, challengeID, accountID, purpose string) (webauthn.SessionData, error) {
	if !id.Valid(challengeID) {
		return webauthn.SessionData{}, errChallengeGone
	}
	c, err := s.store.TakeChallenge(ctx, challengeID, accountID, purpose, s.now())
	if errors.Is(err, store.ErrNotFound) {
		return webauthn.SessionData{}, errChallengeGone
	}
	if err != nil {
		return webauthn.SessionData{}, fmt.Errorf("take passkey challenge: %w", err)
	}
	var session webauthn.SessionData
	if err := json.Unmarshal(c.Data, &session); err != nil {
		return webauthn.SessionData{}, fmt.Errorf("decode passkey challenge: %w", err)
	}
	return session, nil
}
