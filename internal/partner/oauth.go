package partner

// The OAuth 2.0 protocol, through github.com/zitadel/oidc's op package:
// op parses and validates the authorization request (client, exact
// redirect URI, response type, PKCE method), answers errors by redirect
// as RFC 6749 says, issues the authorization code, authenticates clients
// at the token and revocation endpoints, verifies the PKCE code verifier
// and the redirect URI at the exchange, and implements RFC 7009. This file
// is its storage (the store, through the Service) and the few decisions op
// leaves to us: S256 and state required, the consent page, tokens bound to
// a link, refresh tokens that rotate, and reuse that revokes the link.
//
// op writes every token response through CreateTokenResponse, which signs
// an OpenID Connect ID token whatever the scope, and so needs signing keys
// and would hand partners a token naming the account. camvault is an OAuth
// 2.0 server, not an OpenID provider: the two grants it offers run op's
// own parsing and validation (ValidateAccessTokenRequest,
// ValidateRefreshTokenRequest), then write the RFC 6749 response with
// op's types, without an ID token.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	httphelper "github.com/zitadel/oidc/v3/pkg/http"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/camvault/camvault/internal/authz"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/store"
	"github.com/camvault/camvault/internal/token"
)

// The routes, as the API description and the metadata name them.
const (
	PathMetadata  = "/.well-known/oauth-authorization-server"
	PathAuthorize = "/oauth2/authorize"
	PathToken     = "/oauth2/token"
	PathRevoke    = "/oauth2/revoke"
	// PathConsent is the web app's consent page; op sends the person there
	// with the request's ID.
	PathConsent = "/oauth2/consent"
)

// maxForm bounds a token or revocation request's body.
const maxForm = 16 << 10

// OAuth is the authorization server.
type OAuth struct {
	s      *Service
	op     *op.Provider
	issuer op.IssuerFromRequest
}

// NewOAuth returns the authorization server of s.
func NewOAuth(s *Service) (*OAuth, error) {
	o := &OAuth{s: s}
	issuer, err := op.IssuerFromHost("")(true)
	if err != nil {
		return nil, fmt.Errorf("oauth issuer: %w", err)
	}
	o.issuer = issuer
	cfg := &op.Config{CodeMethodS256: true, AuthMethodPost: true, GrantTypeRefreshToken: true}
	o.op, err = op.NewProvider(cfg, &opStorage{s: s}, op.IssuerFromHost(""), op.WithAllowInsecure(),
		op.WithCrypto(codes{}), op.WithCustomAuthEndpoint(op.NewEndpoint(PathAuthorize)),
		op.WithCustomTokenEndpoint(op.NewEndpoint(PathToken)), op.WithCustomRevocationEndpoint(op.NewEndpoint(PathRevoke)))
	if err != nil {
		return nil, fmt.Errorf("oauth provider: %w", err)
	}
	return o, nil
}

// Handler serves the OAuth routes and passes every other request to next.
// Only these routes of op are served: no userinfo, introspection, keys,
// end-session or device flow.
func (o *OAuth) Handler(next http.Handler) http.Handler {
	mux := http.NewServeMux()
	withIssuer := op.NewIssuerInterceptor(o.issuer).HandlerFunc
	mux.HandleFunc("GET "+PathMetadata, o.metadata)
	mux.HandleFunc("GET "+PathAuthorize, withIssuer(func(w http.ResponseWriter, r *http.Request) { op.Authorize(w, r, o.op) }))
	mux.HandleFunc("POST "+PathToken, withIssuer(o.token))
	mux.HandleFunc("POST "+PathRevoke, withIssuer(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		op.Revoke(w, r, o.op)
	}))
	mux.Handle("/", next)
	return mux
}

// metadata is RFC 8414's document.
func (o *OAuth) metadata(w http.ResponseWriter, r *http.Request) {
	iss := o.issuer(r)
	methods := []oidc.AuthMethod{oidc.AuthMethodBasic, oidc.AuthMethodPost}
	httphelper.MarshalJSON(w, &oidc.DiscoveryConfiguration{
		Issuer:                                 iss,
		AuthorizationEndpoint:                  iss + PathAuthorize,
		TokenEndpoint:                          iss + PathToken,
		RevocationEndpoint:                     iss + PathRevoke,
		ScopesSupported:                        []string{ScopeCameras, ScopeLive},
		ResponseTypesSupported:                 []string{string(oidc.ResponseTypeCode)},
		ResponseModesSupported:                 []string{string(oidc.ResponseModeQuery)},
		GrantTypesSupported:                    []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken},
		TokenEndpointAuthMethodsSupported:      methods,
		RevocationEndpointAuthMethodsSupported: methods,
		CodeChallengeMethodsSupported:          []oidc.CodeChallengeMethod{oidc.CodeChallengeMethodS256},
	})
}

// token is the token endpoint: the authorization code and refresh token
// grants.
func (o *OAuth) token(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	w.Header().Set("Cache-Control", "no-store")
	var resp *oidc.AccessTokenResponse
	var err error
	switch gt := r.FormValue("grant_type"); gt {
	case string(oidc.GrantTypeCode):
		resp, err = o.exchangeCode(r)
	case string(oidc.GrantTypeRefreshToken):
		resp, err = o.refresh(r)
	case "":
		err = oidc.ErrInvalidRequest().WithDescription("grant_type missing")
	default:
		err = oidc.ErrUnsupportedGrantType().WithDescription("only authorization_code and refresh_token are supported")
	}
	if err != nil {
		op.RequestError(w, r, o.serverError(r.Context(), err), nil)
		return
	}
	httphelper.MarshalJSON(w, resp)
}

// serverError logs a failure that is not a protocol answer; the partner
// sees server_error only.
func (o *OAuth) serverError(ctx context.Context, err error) error {
	var oe *oidc.Error
	if errors.As(err, &oe) && oe.ErrorType != oidc.ServerError {
		return err
	}
	o.s.log.ErrorContext(ctx, "oauth token request failed", "err", err)
	return oidc.ErrServerError().WithDescription("the request could not be completed; try again later")
}

func (o *OAuth) exchangeCode(r *http.Request) (*oidc.AccessTokenResponse, error) {
	req, err := op.ParseAccessTokenRequest(r, o.op.Decoder())
	if err != nil {
		return nil, err
	}
	if req.Code == "" {
		return nil, oidc.ErrInvalidRequest().WithDescription("code missing")
	}
	ar, _, err := op.ValidateAccessTokenRequest(r.Context(), req, o.op)
	if err != nil {
		return nil, err
	}
	a, ok := ar.(*authRequest)
	if !ok {
		return nil, oidc.ErrInvalidGrant()
	}
	return o.s.link(r.Context(), a.r)
}

func (o *OAuth) refresh(r *http.Request) (*oidc.AccessTokenResponse, error) {
	req, err := op.ParseRefreshTokenRequest(r, o.op.Decoder())
	if err != nil {
		return nil, err
	}
	rr, _, err := op.ValidateRefreshTokenRequest(r.Context(), req, o.op)
	if err != nil {
		return nil, err
	}
	rq, ok := rr.(*refreshRequest)
	if !ok {
		return nil, oidc.ErrInvalidGrant()
	}
	return o.s.rotate(r.Context(), rq, req.RefreshToken)
}

// Approve records p's consent to a request and sends the browser back to
// the partner with the authorization code (op issues it). Bad input
// changes nothing and is answered as an error for the consent page.
func (o *OAuth) Approve(w http.ResponseWriter, r *http.Request, p authz.Principal, requestID string, devices []string, live bool) error {
	req, err := o.s.approve(r.Context(), p, requestID, devices, live)
	if err != nil {
		return err
	}
	ctx := op.ContextWithIssuer(r.Context(), o.issuer(r))
	op.AuthResponse(&authRequest{r: req}, o.op, w, r.WithContext(ctx))
	return nil
}

// Deny answers a request with access_denied and forgets it.
func (o *OAuth) Deny(w http.ResponseWriter, r *http.Request, p authz.Principal, requestID string) error {
	req, _, err := o.s.pendingRequest(r.Context(), p, requestID)
	if err != nil {
		return err
	}
	if err := o.s.store.DeletePartnerRequest(r.Context(), req.ID); err != nil {
		return fmt.Errorf("forget partner request: %w", err)
	}
	e := oidc.ErrAccessDenied().WithDescription("the person did not link their cameras")
	e.State = req.State
	u, err := op.AuthResponseURL(req.RedirectURI, oidc.ResponseTypeCode, oidc.ResponseModeQuery, e, o.op.Encoder())
	if err != nil {
		return fmt.Errorf("denial redirect: %w", err)
	}
	http.Redirect(w, r, u, http.StatusFound)
	return nil
}

// Consent is Service.Consent.
func (o *OAuth) Consent(ctx context.Context, p authz.Principal, requestID string) (Consent, error) {
	return o.s.Consent(ctx, p, requestID)
}

// Links is Service.Links.
func (o *OAuth) Links(ctx context.Context, p authz.Principal) ([]Link, error) {
	return o.s.Links(ctx, p)
}

// Unlink is Service.Unlink.
func (o *OAuth) Unlink(ctx context.Context, p authz.Principal, linkID string) error {
	return o.s.Unlink(ctx, p, linkID)
}

// linkScopes are the scopes a link's tokens carry.
func linkScopes(live bool) []string {
	if live {
		return []string{ScopeCameras, ScopeLive}
	}
	return []string{ScopeCameras}
}

// newTokens makes an access and a refresh token for a link.
func (s *Service) newTokens(linkID string) (access, refresh string, rows []domain.PartnerToken, exp time.Time) {
	now := s.now()
	access, ah := token.New(token.Integration)
	refresh, rh := token.New(token.IntegrationRefresh)
	exp = now.Add(s.cfg.AccessTTL)
	rows = []domain.PartnerToken{
		{Hash: ah, LinkID: linkID, Kind: domain.PartnerAccess, CreatedAt: now, ExpiresAt: exp},
		{Hash: rh, LinkID: linkID, Kind: domain.PartnerRefresh, CreatedAt: now, ExpiresAt: now.Add(s.cfg.RefreshTTL)},
	}
	return access, refresh, rows, exp
}

func (s *Service) tokenResponse(access, refresh string, exp time.Time, live bool) *oidc.AccessTokenResponse {
	return &oidc.AccessTokenResponse{AccessToken: access, RefreshToken: refresh, TokenType: oidc.BearerToken,
		ExpiresIn: uint64(exp.Sub(s.now()).Round(time.Second) / time.Second), Scope: linkScopes(live)}
}

// link exchanges an approved request for the link and its first tokens.
// The request is consumed in the same transaction: a code works once.
func (s *Service) link(ctx context.Context, r domain.PartnerRequest) (*oidc.AccessTokenResponse, error) {
	l := domain.PartnerLink{ID: id.New(), PartnerID: r.PartnerID, AccountID: r.AccountID, Devices: r.Devices, Live: r.Live, CreatedAt: s.now()}
	access, refresh, rows, exp := s.newTokens(l.ID)
	err := s.store.LinkPartner(ctx, r.ID, l, rows)
	if errors.Is(err, store.ErrNotFound) {
		return nil, oidc.ErrInvalidGrant().WithDescription("the code was already used, or a chosen camera is gone")
	}
	if err != nil {
		return nil, fmt.Errorf("link partner: %w", err)
	}
	return s.tokenResponse(access, refresh, exp, l.Live), nil
}

// rotate exchanges a refresh token for new tokens. A refresh token that
// was already used means two parties hold it: the whole link is revoked.
func (s *Service) rotate(ctx context.Context, rq *refreshRequest, refreshToken string) (*oidc.AccessTokenResponse, error) {
	access, refresh, rows, exp := s.newTokens(rq.link.ID)
	err := s.store.RotatePartnerToken(ctx, token.Hash(refreshToken), s.now(), rows)
	switch {
	case errors.Is(err, store.ErrConflict):
		return nil, s.reused(ctx, rq.link)
	case errors.Is(err, store.ErrNotFound):
		return nil, oidc.ErrInvalidGrant()
	case err != nil:
		return nil, fmt.Errorf("rotate refresh token: %w", err)
	}
	return s.tokenResponse(access, refresh, exp, rq.link.Live), nil
}

// reused revokes a link whose refresh token was used twice.
func (s *Service) reused(ctx context.Context, l domain.PartnerLink) error {
	s.log.WarnContext(ctx, "a rotated refresh token was used again; the partner link is revoked", "partner", l.PartnerID, "link", l.ID)
	if err := s.store.DeletePartnerLink(ctx, l.AccountID, l.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("revoke partner link after refresh token reuse: %w", err)
	}
	return oidc.ErrInvalidGrant().WithDescription("the refresh token was already used; the link is revoked")
}

// codes is op's Crypto: op makes an authorization code by "encrypting"
// the request's ID; here a code is a fresh random token whose hash the
// request keeps (SaveAuthCode). Nothing is ever decrypted: codes and
// tokens are looked up by hash, never read back from their text.
type codes struct{}

func (codes) Encrypt(requestID string) (string, error) {
	if !id.Valid(requestID) {
		return "", errors.New("oauth: only authorization codes are made here")
	}
	code, _ := token.New(token.AuthorizationCode)
	return code, nil
}

func (codes) Decrypt(string) (string, error) {
	return "", errors.New("oauth: tokens are opaque")
}

// authRequest is a stored request as op sees it.
type authRequest struct{ r domain.PartnerRequest }

func (a *authRequest) GetID() string          { return a.r.ID }
func (a *authRequest) GetACR() string         { return "" }
func (a *authRequest) GetAMR() []string       { return nil }
func (a *authRequest) GetAudience() []string  { return []string{a.r.PartnerID} }
func (a *authRequest) GetAuthTime() time.Time { return a.r.CreatedAt }
func (a *authRequest) GetClientID() string    { return a.r.PartnerID }
func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge {
	return &oidc.CodeChallenge{Challenge: a.r.CodeChallenge, Method: oidc.CodeChallengeMethod(a.r.CodeChallengeMethod)}
}
func (a *authRequest) GetNonce() string                   { return "" }
func (a *authRequest) GetRedirectURI() string             { return a.r.RedirectURI }
func (a *authRequest) GetResponseType() oidc.ResponseType { return oidc.ResponseTypeCode }
func (a *authRequest) GetResponseMode() oidc.ResponseMode { return oidc.ResponseModeQuery }
func (a *authRequest) GetScopes() []string                { return a.r.Scopes }
func (a *authRequest) GetState() string                   { return a.r.State }

// GetSubject is never the account: a partner is not told who the person
// is.
func (a *authRequest) GetSubject() string { return "" }
func (a *authRequest) Done() bool         { return a.r.AccountID != "" && len(a.r.Devices) > 0 }

// refreshRequest is a refresh token's link as op sees it.
type refreshRequest struct {
	link   domain.PartnerLink
	scopes []string
}

func (q *refreshRequest) GetAMR() []string             { return nil }
func (q *refreshRequest) GetAudience() []string        { return []string{q.link.PartnerID} }
func (q *refreshRequest) GetAuthTime() time.Time       { return q.link.CreatedAt }
func (q *refreshRequest) GetClientID() string          { return q.link.PartnerID }
func (q *refreshRequest) GetScopes() []string          { return q.scopes }
func (q *refreshRequest) GetSubject() string           { return "" }
func (q *refreshRequest) SetCurrentScopes(sc []string) { q.scopes = sc }

// client is a partner as op sees it: a confidential web client with one
// redirect URI, the code grant and refresh tokens.
type client struct{ p domain.Partner }

func (c *client) GetID() string                       { return c.p.ID }
func (c *client) RedirectURIs() []string              { return []string{c.p.RedirectURI} }
func (c *client) PostLogoutRedirectURIs() []string    { return nil }
func (c *client) ApplicationType() op.ApplicationType { return op.ApplicationTypeWeb }
func (c *client) AuthMethod() oidc.AuthMethod         { return oidc.AuthMethodBasic }
func (c *client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c *client) GrantTypes() []oidc.GrantType {
	return []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken}
}
func (c *client) LoginURL(requestID string) string    { return PathConsent + "?request=" + requestID }
func (c *client) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeBearer }
func (c *client) IDTokenLifetime() time.Duration      { return 0 }
func (c *client) DevMode() bool                       { return false }
func (c *client) IsScopeAllowed(scope string) bool {
	return scope == ScopeCameras || scope == ScopeLive
}
func (c *client) IDTokenUserinfoClaimsAssertion() bool { return false }
func (c *client) ClockSkew() time.Duration             { return 0 }
func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

// opStorage is op's storage: the store, through the Service.
type opStorage struct{ s *Service }

var errNotServed = errors.New("oauth: not served by camvault")

// partner reads an enabled partner; an unknown or disabled one is
// invalid_client wherever op asks.
func (st *opStorage) partner(ctx context.Context, clientID string) (domain.Partner, error) {
	if !id.Valid(clientID) {
		return domain.Partner{}, oidc.ErrInvalidClient().WithDescription("unknown client")
	}
	p, err := st.s.store.PartnerByID(ctx, clientID)
	if errors.Is(err, store.ErrNotFound) {
		return domain.Partner{}, oidc.ErrInvalidClient().WithDescription("unknown client")
	}
	if err != nil {
		return domain.Partner{}, oidc.ErrServerError().WithParent(err)
	}
	if p.Disabled {
		return domain.Partner{}, oidc.ErrInvalidClient().WithDescription("this client is disabled")
	}
	return p, nil
}

func (st *opStorage) GetClientByClientID(ctx context.Context, clientID string) (op.Client, error) {
	p, err := st.partner(ctx, clientID)
	if err != nil {
		return nil, err
	}
	return &client{p: p}, nil
}

func (st *opStorage) AuthorizeClientIDSecret(ctx context.Context, clientID, secret string) error {
	p, err := st.partner(ctx, clientID)
	if err != nil {
		return err
	}
	if !checkSecret(p, secret) {
		return errors.New("wrong client secret")
	}
	return nil
}

// CreateAuthRequest stores a validated request. op has checked the client,
// the exact redirect URI and the response type; camvault also requires
// state, PKCE with S256 and the cameras scope, and issues no ID tokens.
func (st *opStorage) CreateAuthRequest(ctx context.Context, ar *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	switch {
	case ar.State == "":
		return nil, oidc.ErrInvalidRequest().WithDescription("state is required")
	case ar.CodeChallenge == "" || ar.CodeChallengeMethod != oidc.CodeChallengeMethodS256:
		return nil, oidc.ErrInvalidRequest().WithDescription("PKCE is required: code_challenge with code_challenge_method S256")
	case slices.Contains(ar.Scopes, oidc.ScopeOpenID):
		return nil, oidc.ErrInvalidScope().WithDescription("camvault is an OAuth 2.0 server and issues no ID tokens; ask for the cameras scope")
	case !slices.Contains(ar.Scopes, ScopeCameras):
		return nil, oidc.ErrInvalidScope().WithDescription("the cameras scope is required")
	case len(ar.State) > 1024 || len(ar.CodeChallenge) > 128:
		return nil, oidc.ErrInvalidRequest().WithDescription("state or code_challenge is too long")
	case ar.ResponseMode != "" && ar.ResponseMode != oidc.ResponseModeQuery:
		return nil, oidc.ErrInvalidRequest().WithDescription("only response_mode query is supported")
	}
	now := st.s.now()
	var scopes []string
	for _, sc := range ar.Scopes {
		if (sc == ScopeCameras || sc == ScopeLive) && !slices.Contains(scopes, sc) {
			scopes = append(scopes, sc)
		}
	}
	r := domain.PartnerRequest{ID: id.New(), PartnerID: ar.ClientID, RedirectURI: ar.RedirectURI, State: ar.State, Scopes: scopes,
		CodeChallenge: ar.CodeChallenge, CodeChallengeMethod: string(ar.CodeChallengeMethod), CreatedAt: now, ExpiresAt: now.Add(st.s.cfg.RequestTTL)}
	if err := st.s.store.PutPartnerRequest(ctx, r); err != nil {
		return nil, fmt.Errorf("store partner request: %w", err)
	}
	return &authRequest{r: r}, nil
}

func (st *opStorage) live(ctx context.Context, r domain.PartnerRequest, err error) (op.AuthRequest, error) {
	if err != nil {
		return nil, err
	}
	if !st.s.now().Before(r.ExpiresAt) {
		return nil, errors.New("the authorization request expired")
	}
	return &authRequest{r: r}, nil
}

func (st *opStorage) AuthRequestByID(ctx context.Context, requestID string) (op.AuthRequest, error) {
	if !id.Valid(requestID) {
		return nil, errors.New("unknown authorization request")
	}
	r, err := st.s.store.PartnerRequestByID(ctx, requestID)
	return st.live(ctx, r, err)
}

func (st *opStorage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	if !token.Parse(code, token.AuthorizationCode) {
		return nil, errors.New("unknown code")
	}
	r, err := st.s.store.PartnerRequestByCodeHash(ctx, token.Hash(code))
	if err == nil && r.AccountID == "" {
		err = errors.New("the request was not approved")
	}
	return st.live(ctx, r, err)
}

// SaveAuthCode keeps the hash of the code op issues for an approved
// request.
func (st *opStorage) SaveAuthCode(ctx context.Context, requestID, code string) error {
	r, err := st.s.store.PartnerRequestByID(ctx, requestID)
	if err != nil {
		return fmt.Errorf("read partner request: %w", err)
	}
	if r.AccountID == "" {
		return oidc.ErrInteractionRequired().WithDescription("the person has not consented")
	}
	r.CodeHash = token.Hash(code)
	if err := st.s.store.PutPartnerRequest(ctx, r); err != nil {
		return fmt.Errorf("store authorization code: %w", err)
	}
	return nil
}

// DeleteAuthRequest: the exchange consumes the request itself
// (LinkPartner), so op's delete after it has nothing left to do.
func (st *opStorage) DeleteAuthRequest(ctx context.Context, requestID string) error {
	return st.s.store.DeletePartnerRequest(ctx, requestID)
}

// TokenRequestByRefreshToken finds a refresh token's link. A token that
// was already rotated is a reuse: its link is revoked.
func (st *opStorage) TokenRequestByRefreshToken(ctx context.Context, refreshToken string) (op.RefreshTokenRequest, error) {
	if !token.Parse(refreshToken, token.IntegrationRefresh) {
		return nil, errors.New("unknown refresh token")
	}
	t, err := st.s.store.PartnerTokenByHash(ctx, token.Hash(refreshToken))
	if err != nil {
		return nil, fmt.Errorf("look up refresh token: %w", err)
	}
	l, err := st.s.store.PartnerLink(ctx, t.LinkID)
	if err != nil {
		return nil, fmt.Errorf("read partner link: %w", err)
	}
	if t.Kind != domain.PartnerRefresh || !st.s.now().Before(t.ExpiresAt) {
		return nil, errors.New("unknown refresh token")
	}
	if !t.UsedAt.IsZero() {
		return nil, st.s.reused(ctx, l)
	}
	if l.PartnerDisabled {
		return nil, errors.New("this client is disabled")
	}
	return &refreshRequest{link: l, scopes: linkScopes(l.Live)}, nil
}

// CreateAccessToken and CreateAccessAndRefreshTokens are op's way of
// issuing tokens, which camvault does itself (link, rotate).
func (st *opStorage) CreateAccessToken(context.Context, op.TokenRequest) (string, time.Time, error) {
	return "", time.Time{}, errNotServed
}

func (st *opStorage) CreateAccessAndRefreshTokens(context.Context, op.TokenRequest, string) (string, string, time.Time, error) {
	return "", "", time.Time{}, errNotServed
}

func (st *opStorage) TerminateSession(context.Context, string, string) error { return errNotServed }

// RevokeToken is RFC 7009: an access token stops at once; a refresh token
// revokes its whole link. An unknown token is not an error; another
// partner's token is refused.
func (st *opStorage) RevokeToken(ctx context.Context, tok, _ string, clientID string) *oidc.Error {
	var kind token.Kind
	switch {
	case token.Parse(tok, token.Integration):
		kind = token.Integration
	case token.Parse(tok, token.IntegrationRefresh):
		kind = token.IntegrationRefresh
	default:
		return nil
	}
	t, err := st.s.store.PartnerTokenByHash(ctx, token.Hash(tok))
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return oidc.ErrServerError().WithParent(err)
	}
	l, err := st.s.store.PartnerLink(ctx, t.LinkID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return oidc.ErrServerError().WithParent(err)
	}
	if l.PartnerID != clientID {
		return oidc.ErrUnauthorizedClient().WithDescription("the token was not issued to this client")
	}
	if kind == token.Integration {
		err = st.s.store.DeletePartnerToken(ctx, t.Hash)
	} else {
		err = st.s.store.DeletePartnerLink(ctx, l.AccountID, l.ID)
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return oidc.ErrServerError().WithParent(err)
	}
	return nil
}

// GetRefreshTokenInfo: revocation then hands RevokeToken the token itself.
func (st *opStorage) GetRefreshTokenInfo(context.Context, string, string) (string, string, error) {
	return "", "", op.ErrInvalidRefreshToken
}

// No signing keys: camvault issues no JWTs.
func (st *opStorage) SigningKey(context.Context) (op.SigningKey, error) { return nil, errNotServed }
func (st *opStorage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return nil, nil
}
func (st *opStorage) KeySet(context.Context) ([]op.Key, error) { return nil, nil }

func (st *opStorage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return errNotServed
}
func (st *opStorage) SetUserinfoFromToken(context.Context, *oidc.UserInfo, string, string, string) error {
	return errNotServed
}
func (st *opStorage) SetIntrospectionFromToken(context.Context, *oidc.IntrospectionResponse, string, string, string) error {
	return errNotServed
}
func (st *opStorage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}
func (st *opStorage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errNotServed
}
func (st *opStorage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errNotServed
}
func (st *opStorage) Health(context.Context) error { return nil }

// IsPartnerToken reports whether an Authorization header's token is a
// partner's access token (by its prefix alone, before any lookup).
func IsPartnerToken(tok string) bool { return strings.HasPrefix(tok, string(token.Integration)) }
