// Package partner links third-party services (smart displays, voice
// assistants) to people's accounts with OAuth 2.0: the operator registers a
// partner, a person consents to some of their cameras, and the partner's
// tokens are bound to that link (partner, account, chosen cameras). The
// protocol itself is github.com/zitadel/oidc's op package (oauth.go); this
// file holds what camvault decides: registration, consent, tokens and the
// kill switch. See docs/design/partners.md.
package partner

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/camvault/camvault/internal/apperr"
	"github.com/camvault/camvault/internal/audit"
	"github.com/camvault/camvault/internal/authz"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/store"
	"github.com/camvault/camvault/internal/token"
)

// Scopes a partner may ask for.
const (
	ScopeCameras = "cameras" // see the chosen cameras, their events and media
	ScopeLive    = "live"    // also watch them live, if the person lets it
)

// Store is what the service keeps in the store.
type Store interface {
	store.Partners
	DeviceByID(ctx context.Context, id string) (domain.Device, error)
}

// Decider checks that a person may see the cameras they consent to;
// *authz.Decider is one.
type Decider interface {
	Device(ctx context.Context, p authz.Principal, deviceID string, action authz.Action) (domain.Device, authz.Grant, error)
}

// Config tunes lifetimes.
type Config struct {
	AccessTTL  time.Duration // an access token's life
	RefreshTTL time.Duration // a refresh token's life; each use gives a new one
	RequestTTL time.Duration // from /oauth2/authorize to the code's exchange
	Now        func() time.Time
}

// DefaultConfig is the production configuration.
func DefaultConfig() Config {
	return Config{AccessTTL: 15 * time.Minute, RefreshTTL: 90 * 24 * time.Hour, RequestTTL: 10 * time.Minute, Now: time.Now}
}

// Service is the partner service.
type Service struct {
	store Store
	authz Decider
	cfg   Config
	log   *slog.Logger
	audit Recorder // nil: links are not recorded (the operator's tasks)
}

// Recorder appends to a home's audit log; *audit.Log is one.
type Recorder interface {
	Record(ctx context.Context, homeID string, e audit.Entry) error
}

// WithAudit records each link and unlink on the audit log of every home
// whose cameras it gave.
func (s *Service) WithAudit(r Recorder) *Service {
	s.audit = r
	return s
}

// What people do with partners, on their homes' audit chains.
const (
	AuditLink   = "partner.link"   // a person gave a partner some of the home's cameras
	AuditUnlink = "partner.unlink" // a person ended a partner's link
)

// recordLink records a link's step on the chain of every home of its
// cameras that still exists, with the person as actor and the partner's
// name and what it was given as detail.
func (s *Service) recordLink(ctx context.Context, p authz.Principal, action, partnerName string, devices []string, live bool) error {
	if s.audit == nil {
		return nil
	}
	perHome := map[string]int{}
	var homes []string
	for _, d := range devices {
		dev, err := s.store.DeviceByID(ctx, d)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("read a linked camera: %w", err)
		}
		if perHome[dev.HomeID] == 0 {
			homes = append(homes, dev.HomeID)
		}
		perHome[dev.HomeID]++
	}
	for _, h := range homes {
		detail := fmt.Sprintf("%s; %d camera", partnerName, perHome[h])
		if perHome[h] > 1 {
			detail += "s"
		}
		if live {
			detail += "; live"
		}
		if err := s.audit.Record(ctx, h, audit.Entry{ActorKind: domain.PrincipalPerson, ActorID: p.AccountID, Action: action,
			Detail: detail, Result: audit.ResultOK}); err != nil {
			return fmt.Errorf("audit %s: %w", action, err)
		}
	}
	return nil
}

// New returns the service. authz may be nil for the operator's tasks,
// which decide nothing for a person.
func New(s Store, d Decider, cfg Config, log *slog.Logger) *Service {
	def := DefaultConfig()
	if cfg.AccessTTL <= 0 {
		cfg.AccessTTL = def.AccessTTL
	}
	if cfg.RefreshTTL <= 0 {
		cfg.RefreshTTL = def.RefreshTTL
	}
	if cfg.RequestTTL <= 0 {
		cfg.RequestTTL = def.RequestTTL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if log == nil {
		log = slog.Default()
	}
	return &Service{store: s, authz: d, cfg: cfg, log: log}
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

// Registered is a partner just registered: its secret is shown only here.
type Registered struct {
	ClientID     string
	ClientSecret string
}

const maxName = 100

// Add registers a partner with its one redirect URI. Bad input changes
// nothing.
func (s *Service) Add(ctx context.Context, name, redirectURI string) (Registered, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > maxName || strings.IndexFunc(name, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		return Registered{}, apperr.New(apperr.Invalid, "the name must be 1 to %d printable characters", maxName)
	}
	if err := checkRedirectURI(redirectURI); err != nil {
		return Registered{}, err
	}
	secret, hash := token.New(token.PartnerSecret)
	p := domain.Partner{ID: id.New(), Name: name, RedirectURI: redirectURI, SecretHash: hash, CreatedAt: s.now()}
	if err := s.store.CreatePartner(ctx, p); err != nil {
		return Registered{}, fmt.Errorf("create partner: %w", err)
	}
	return Registered{ClientID: p.ID, ClientSecret: secret}, nil
}

// checkRedirectURI accepts an absolute https URL without a fragment, or
// http on a loopback host (a partner developing on its own machine).
func checkRedirectURI(raw string) error {
	bad := apperr.New(apperr.Invalid, "the redirect URI must be an absolute https URL without a fragment (http only on a loopback host)")
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Fragment != "" || u.User != nil || len(raw) > 2048 {
		return bad
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		h := u.Hostname()
		if ip := net.ParseIP(h); h == "localhost" || (ip != nil && ip.IsLoopback()) {
			return nil
		}
	}
	return bad
}

// List lists every partner, oldest first.
func (s *Service) List(ctx context.Context) ([]domain.Partner, error) {
	list, err := s.store.ListPartners(ctx)
	if err != nil {
		return nil, fmt.Errorf("list partners: %w", err)
	}
	return list, nil
}

// SetDisabled disables (the kill switch) or enables a partner. Disabling
// stops every link of the partner at the next request on every node;
// enabling restores them, without anybody linking again.
func (s *Service) SetDisabled(ctx context.Context, clientID string, disabled bool) error {
	if !id.Valid(clientID) {
		return apperr.NotFoundf("partner")
	}
	err := s.store.SetPartnerDisabled(ctx, clientID, disabled)
	if errors.Is(err, store.ErrNotFound) {
		return apperr.NotFoundf("partner")
	}
	if err != nil {
		return fmt.Errorf("set partner state: %w", err)
	}
	return nil
}

// Link is a link as its person sees it.
type Link struct {
	ID          string    `json:"id"`
	PartnerID   string    `json:"partner_id"`
	PartnerName string    `json:"partner_name"`
	Devices     []string  `json:"devices"`
	Live        bool      `json:"live"`
	Disabled    bool      `json:"disabled"` // the operator stopped the partner for now
	CreatedAt   time.Time `json:"created_at"`
}

// Links lists p's links with partners, oldest first.
func (s *Service) Links(ctx context.Context, p authz.Principal) ([]Link, error) {
	if !p.IsPerson() {
		return nil, apperr.NotFoundf("account")
	}
	list, err := s.store.ListPartnerLinks(ctx, p.AccountID)
	if err != nil {
		return nil, fmt.Errorf("list partner links: %w", err)
	}
	out := make([]Link, 0, len(list))
	for _, l := range list {
		out = append(out, Link{ID: l.ID, PartnerID: l.PartnerID, PartnerName: l.PartnerName, Devices: l.Devices, Live: l.Live,
			Disabled: l.PartnerDisabled, CreatedAt: l.CreatedAt})
	}
	return out, nil
}

// Unlink ends one of p's links: its tokens stop at the next request and
// its live sessions within a second, on every node. Another account's link
// is not found.
func (s *Service) Unlink(ctx context.Context, p authz.Principal, linkID string) error {
	if !p.IsPerson() || !id.Valid(linkID) {
		return apperr.NotFoundf("link")
	}
	link, err := s.store.PartnerLink(ctx, linkID)
	if errors.Is(err, store.ErrNotFound) || err == nil && link.AccountID != p.AccountID {
		return apperr.NotFoundf("link")
	}
	if err != nil {
		return fmt.Errorf("read partner link: %w", err)
	}
	err = s.store.DeletePartnerLink(ctx, p.AccountID, linkID)
	if errors.Is(err, store.ErrNotFound) {
		return apperr.NotFoundf("link")
	}
	if err != nil {
		return fmt.Errorf("unlink partner: %w", err)
	}
	return s.recordLink(ctx, p, AuditUnlink, link.PartnerName, link.Devices, link.Live)
}

var errBadToken = apperr.New(apperr.Unauthorized, "a valid partner access token is required")

// Authenticate turns a partner's access token into the principal it
// stands for: the partner, acting for the person through one link. An
// unknown, expired or refresh token, a link that is gone and a disabled
// partner are all refused alike.
func (s *Service) Authenticate(ctx context.Context, tok string) (authz.Principal, error) {
	if !token.Parse(tok, token.Integration) {
		return authz.Principal{}, errBadToken
	}
	t, err := s.store.PartnerTokenByHash(ctx, token.Hash(tok))
	if errors.Is(err, store.ErrNotFound) {
		return authz.Principal{}, errBadToken
	}
	if err != nil {
		return authz.Principal{}, fmt.Errorf("look up partner token: %w", err)
	}
	if t.Kind != domain.PartnerAccess || !s.now().Before(t.ExpiresAt) {
		return authz.Principal{}, errBadToken
	}
	l, err := s.store.PartnerLink(ctx, t.LinkID)
	if errors.Is(err, store.ErrNotFound) {
		return authz.Principal{}, errBadToken
	}
	if err != nil {
		return authz.Principal{}, fmt.Errorf("read partner link: %w", err)
	}
	if l.PartnerDisabled {
		return authz.Principal{}, errBadToken
	}
	return authz.Principal{Kind: domain.PrincipalIntegration, AccountID: l.AccountID, PartnerID: l.PartnerID, LinkID: l.ID}, nil
}

// Consent is what the consent page shows of a request.
type Consent struct {
	RequestID     string
	PartnerName   string
	LiveRequested bool
	RedirectHost  string // where the person goes back to
	// RedirectOrigin is the scheme and host of the partner's redirect URI:
	// the consent form's answer is a redirect there, which the page's
	// Content-Security-Policy must allow (form-action).
	RedirectOrigin string
}

// pendingRequest reads a request p may answer: not expired, of an enabled
// partner, not approved by another account. Anything else is not found.
func (s *Service) pendingRequest(ctx context.Context, p authz.Principal, requestID string) (domain.PartnerRequest, domain.Partner, error) {
	if !p.IsPerson() || !id.Valid(requestID) {
		return domain.PartnerRequest{}, domain.Partner{}, apperr.NotFoundf("request")
	}
	r, err := s.store.PartnerRequestByID(ctx, requestID)
	if errors.Is(err, store.ErrNotFound) {
		return domain.PartnerRequest{}, domain.Partner{}, apperr.NotFoundf("request")
	}
	if err != nil {
		return domain.PartnerRequest{}, domain.Partner{}, fmt.Errorf("read partner request: %w", err)
	}
	if !s.now().Before(r.ExpiresAt) || (r.AccountID != "" && r.AccountID != p.AccountID) {
		return domain.PartnerRequest{}, domain.Partner{}, apperr.NotFoundf("request")
	}
	pt, err := s.store.PartnerByID(ctx, r.PartnerID)
	if errors.Is(err, store.ErrNotFound) {
		return domain.PartnerRequest{}, domain.Partner{}, apperr.NotFoundf("request")
	}
	if err != nil {
		return domain.PartnerRequest{}, domain.Partner{}, fmt.Errorf("read partner: %w", err)
	}
	if pt.Disabled {
		return domain.PartnerRequest{}, domain.Partner{}, apperr.NotFoundf("request")
	}
	return r, pt, nil
}

// originPattern is what an origin put in a header may look like.
var originPattern = regexp.MustCompile(`^https?://[A-Za-z0-9.\-]+(:[0-9]{1,5})?$|^https?://\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$`)

// Consent returns what p is asked to consent to.
func (s *Service) Consent(ctx context.Context, p authz.Principal, requestID string) (Consent, error) {
	r, pt, err := s.pendingRequest(ctx, p, requestID)
	if err != nil {
		return Consent{}, err
	}
	c := Consent{RequestID: r.ID, PartnerName: pt.Name, LiveRequested: slices.Contains(r.Scopes, ScopeLive)}
	if u, err := url.Parse(r.RedirectURI); err == nil && originPattern.MatchString(u.Scheme+"://"+u.Host) {
		c.RedirectHost, c.RedirectOrigin = u.Host, u.Scheme+"://"+u.Host
	}
	return c, nil
}

// approve records p's consent on a request: the cameras (each one p may
// see now) and whether the partner may watch live (only if it asked).
// Bad input changes nothing.
func (s *Service) approve(ctx context.Context, p authz.Principal, requestID string, devices []string, live bool) (domain.PartnerRequest, error) {
	r, pt, err := s.pendingRequest(ctx, p, requestID)
	if err != nil {
		return domain.PartnerRequest{}, err
	}
	chosen := make([]string, 0, len(devices))
	for _, d := range devices {
		if !slices.Contains(chosen, d) {
			chosen = append(chosen, d)
		}
	}
	if len(chosen) == 0 {
		return domain.PartnerRequest{}, apperr.New(apperr.Invalid, "choose at least one camera")
	}
	const maxDevices = 256
	if len(chosen) > maxDevices {
		return domain.PartnerRequest{}, apperr.New(apperr.Invalid, "choose at most %d cameras", maxDevices)
	}
	for _, d := range chosen {
		if !id.Valid(d) {
			return domain.PartnerRequest{}, apperr.New(apperr.Invalid, "choose among your cameras")
		}
		if _, _, err := s.authz.Device(ctx, p, d, authz.ViewHome); err != nil {
			if apperr.CodeOf(err) == apperr.NotFound {
				return domain.PartnerRequest{}, apperr.New(apperr.Invalid, "choose among your cameras")
			}
			return domain.PartnerRequest{}, err
		}
	}
	if live && !slices.Contains(r.Scopes, ScopeLive) {
		return domain.PartnerRequest{}, apperr.New(apperr.Invalid, "this partner did not ask to watch live")
	}
	r.AccountID, r.Devices, r.Live, r.CodeHash = p.AccountID, chosen, live, nil
	if err := s.store.PutPartnerRequest(ctx, r); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return domain.PartnerRequest{}, apperr.New(apperr.Invalid, "choose among your cameras")
		}
		return domain.PartnerRequest{}, fmt.Errorf("approve partner request: %w", err)
	}
	if err := s.recordLink(ctx, p, AuditLink, pt.Name, chosen, live); err != nil {
		return domain.PartnerRequest{}, err
	}
	return r, nil
}

// checkSecret reports whether secret is the partner's client secret, in
// constant time.
func checkSecret(p domain.Partner, secret string) bool {
	return token.Parse(secret, token.PartnerSecret) && subtle.ConstantTimeCompare(token.Hash(secret), p.SecretHash) == 1
}

// SweepExpired removes expired authorization requests and tokens.
func (s *Service) SweepExpired(ctx context.Context) (int, error) {
	n, err := s.store.DeleteExpiredPartnerData(ctx, s.now())
	if err != nil {
		return 0, fmt.Errorf("sweep partner data: %w", err)
	}
	return n, nil
}
