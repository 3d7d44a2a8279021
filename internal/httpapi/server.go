// Package httpapi is camvault's public HTTP API (see api/openapi.json). It
// turns requests into service calls and service results into responses;
// it decides nothing about permissions and never touches storage.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"strings"

	"github.com/camvault/camvault/internal/admission"
	"github.com/camvault/camvault/internal/apperr"
	"github.com/camvault/camvault/internal/audit"
	"github.com/camvault/camvault/internal/authz"
	"github.com/camvault/camvault/internal/events"
	"github.com/camvault/camvault/internal/export"
	"github.com/camvault/camvault/internal/gateway"
	"github.com/camvault/camvault/internal/homes"
	"github.com/camvault/camvault/internal/httpmw"
	"github.com/camvault/camvault/internal/identity"
	"github.com/camvault/camvault/internal/media"
	"github.com/camvault/camvault/internal/metrics"
	"github.com/camvault/camvault/internal/token"
	"github.com/camvault/camvault/internal/websession"
)

// Server holds what the handlers call.
type Server struct {
	identity *identity.Service
	homes    *homes.Service
	events   *events.Service
	audit    *audit.Reader
	guard    *media.Guard
	gateway  *gateway.Gateway
	admit    *admission.Controller
	metrics  *metrics.Metrics
	live     Live
	partners Partners
	feed     Feed
	webhooks Webhooks
	mqtt     MQTT
	push     Push
	deletion *homes.Deletion
	exports  *export.Service
	log      *slog.Logger
	openAPI  []byte
}

// Partners authenticates a partner's access token; *partner.Service is
// one.
type Partners interface {
	Authenticate(ctx context.Context, tok string) (authz.Principal, error)
}

// Deps are the services the API serves.
type Deps struct {
	Identity *identity.Service
	Homes    *homes.Service
	Events   *events.Service
	Audit    *audit.Reader
	Guard    *media.Guard // the only writer of media bytes
	Gateway  *gateway.Gateway
	Admit    *admission.Controller
	Metrics  *metrics.Metrics
	Live     Live     // live view; the zero value answers 404
	Partners Partners // nil: partner tokens are refused everywhere
	Feed     Feed     // nil: the event stream answers 404
	Webhooks Webhooks // nil: the webhook routes answer 404
	MQTT     MQTT     // nil: the MQTT routes answer 404
	Push     Push     // notifications (Web Push)
	Log      *slog.Logger
	OpenAPI  []byte          // the API description, served at /api/v1/openapi.json
	Deletion *homes.Deletion // account deletion and handing homes over
	Exports  *export.Service // people's exports of their data
}

// New returns the API server.
func New(d Deps) *Server {
	return &Server{identity: d.Identity, homes: d.Homes, events: d.Events, audit: d.Audit, guard: d.Guard, gateway: d.Gateway, admit: d.Admit, metrics: d.Metrics, live: d.Live, partners: d.Partners, feed: d.Feed, webhooks: d.Webhooks, mqtt: d.MQTT, push: d.Push, log: d.Log, openAPI: d.OpenAPI,
		deletion: d.Deletion, exports: d.Exports}
}

// authKind is the credential a route requires.
type authKind int

const (
	public  authKind = iota // no credential
	person                  // a session token
	device                  // a device token
	viewer                  // a session token, or a partner's access token (cvi_)
	partner                 // a partner's access token
)

// Route is one registered route. The table is exported so tests can check
// every route against the OpenAPI description.
type Route struct {
	Method  string
	Pattern string
	auth    authKind
	handle  func(*Server, http.ResponseWriter, *http.Request) error
}

// Routes is the API, in one table.
func Routes() []Route {
	return []Route{
		{"POST", "/api/v1/accounts", public, (*Server).createAccount},
		{"POST", "/api/v1/sessions", public, (*Server).login},
		{"GET", "/api/v1/sessions", person, (*Server).listSessions},
		{"DELETE", "/api/v1/sessions", person, (*Server).logoutEverywhere},
		{"DELETE", "/api/v1/sessions/current", person, (*Server).logout},
		{"DELETE", "/api/v1/sessions/{session}", person, (*Server).endSession},
		{"GET", "/api/v1/me", person, (*Server).me},
		{"POST", "/api/v1/me/password", person, (*Server).changePassword},
		{"POST", "/api/v1/password-resets", public, (*Server).requestPasswordReset},
		{"POST", "/api/v1/password-resets/{token}", public, (*Server).resetPassword},
		{"GET", "/api/v1/me/second-factors", person, (*Server).secondFactors},
		{"POST", "/api/v1/me/totp", person, (*Server).startTOTP},
		{"POST", "/api/v1/me/totp/confirm", person, (*Server).confirmTOTP},
		{"DELETE", "/api/v1/me/totp", person, (*Server).disableTOTP},
		{"POST", "/api/v1/me/passkeys/challenges", person, (*Server).beginPasskeyRegistration},
		{"POST", "/api/v1/me/passkeys", person, (*Server).finishPasskeyRegistration},
		{"GET", "/api/v1/me/passkeys", person, (*Server).listPasskeys},
		{"DELETE", "/api/v1/me/passkeys/{passkey}", person, (*Server).deletePasskey},
		{"POST", "/api/v1/sessions/passkey/challenges", public, (*Server).beginPasskeyLogin},
		{"POST", "/api/v1/sessions/passkey", public, (*Server).finishPasskeyLogin},
		{"DELETE", "/api/v1/me", person, (*Server).deleteMe},
		{"POST", "/api/v1/me/exports", person, (*Server).createExport},
		{"GET", "/api/v1/me/exports/{export}", person, (*Server).getExport},
		{"GET", "/api/v1/me/exports/{export}/download", person, (*Server).downloadExport},

		{"POST", "/api/v1/homes", person, (*Server).createHome},
		{"GET", "/api/v1/homes", person, (*Server).listHomes},
		{"GET", "/api/v1/homes/{home}", person, (*Server).getHome},
		{"PATCH", "/api/v1/homes/{home}", person, (*Server).updateHome},
		{"GET", "/api/v1/homes/{home}/audit", person, (*Server).homeAudit},
		{"POST", "/api/v1/homes/{home}/owner", person, (*Server).transferOwnership},
		{"GET", "/api/v1/homes/{home}/members", person, (*Server).listMembers},
		{"POST", "/api/v1/homes/{home}/members", person, (*Server).invite},
		{"PATCH", "/api/v1/homes/{home}/members/{account}", person, (*Server).updateMember},
		{"DELETE", "/api/v1/homes/{home}/members/{account}", person, (*Server).removeMember},
		{"GET", "/api/v1/homes/{home}/invitations", person, (*Server).homeInvitations},
		{"POST", "/api/v1/homes/{home}/webhooks", person, (*Server).createWebhook},
		{"GET", "/api/v1/homes/{home}/webhooks", person, (*Server).listWebhooks},
		{"DELETE", "/api/v1/homes/{home}/webhooks/{webhook}", person, (*Server).deleteWebhook},
		{"GET", "/api/v1/homes/{home}/webhooks/{webhook}/deliveries", person, (*Server).webhookDeliveries},
		{"PUT", "/api/v1/homes/{home}/mqtt", person, (*Server).putMQTT},
		{"GET", "/api/v1/homes/{home}/mqtt", person, (*Server).getMQTT},
		{"DELETE", "/api/v1/homes/{home}/mqtt", person, (*Server).deleteMQTT},
		{"POST", "/api/v1/homes/{home}/pairing-codes", person, (*Server).createPairingCode},
		{"GET", "/api/v1/homes/{home}/devices", person, (*Server).listDevices},

		{"GET", "/api/v1/push/vapid-public-key", public, (*Server).vapidKey},
		{"POST", "/api/v1/push/subscriptions", person, (*Server).createPushSubscription},
		{"GET", "/api/v1/push/subscriptions", person, (*Server).listPushSubscriptions},
		{"DELETE", "/api/v1/push/subscriptions/{subscription}", person, (*Server).deletePushSubscription},

		{"GET", "/api/v1/invitations", person, (*Server).listInvitations},
		{"POST", "/api/v1/invitations/{invitation}/accept", person, (*Server).acceptInvitation},
		{"DELETE", "/api/v1/invitations/{invitation}", person, (*Server).deleteInvitation},

		{"POST", "/api/v1/devices/pair", public, (*Server).pair},
		{"GET", "/api/v1/devices/{device}", viewer, (*Server).getDevice},
		{"PATCH", "/api/v1/devices/{device}", person, (*Server).updateDevice},
		{"DELETE", "/api/v1/devices/{device}", person, (*Server).deleteDevice},

		{"GET", "/api/v1/device", device, (*Server).deviceSelf},
		{"POST", "/api/v1/device/events", device, (*Server).uploadEvent},
		{"GET", "/api/v1/device/connect", device, (*Server).deviceConnect},
		{"POST", "/api/v1/devices/{device}/commands", person, (*Server).deviceCommand},
		{"POST", "/api/v1/devices/{device}/live/whep", viewer, (*Server).whepOffer},
		{"DELETE", "/api/v1/devices/{device}/live/whep/{session}", viewer, (*Server).whepDelete},
		{"GET", "/api/v1/devices/{device}/live/mse", viewer, (*Server).liveMSE},

		{"GET", "/api/v1/events", viewer, (*Server).listEvents},
		{"GET", "/api/v1/events/stream", viewer, (*Server).eventStream},
		{"GET", "/api/v1/events/{event}", viewer, (*Server).getEvent},
		{"DELETE", "/api/v1/events/{event}", person, (*Server).deleteEvent},
		{"GET", "/api/v1/events/{event}/thumbnail", viewer, (*Server).eventThumbnail},
		{"GET", "/api/v1/events/{event}/clip", viewer, (*Server).eventClip},

		{"GET", "/api/v1/partner/devices", partner, (*Server).partnerDevices},

		{"GET", "/api/v1/openapi.json", public, (*Server).serveOpenAPI},
	}
}

// contentSecurityPolicy is the API's own: its answers are JSON, and
// nothing may load in them or frame them. Media answers narrow it further.
const contentSecurityPolicy = httpmw.DefaultCSP

// Handler returns the API's HTTP handler. It goes behind the public
// listener's one middleware chain (httpmw), which gives every request its
// ID, headers, access log, metrics and panic recovery.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range Routes() {
		mux.Handle(rt.Method+" "+rt.Pattern, s.wrap(rt))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, apperr.New(apperr.NotFound, "no such route"))
	})
	return httpmw.CSP(contentSecurityPolicy, mux)
}

// wrap authenticates a route's requests as the route requires, then runs
// its handler and writes any error it returns.
func (s *Server) wrap(rt Route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := rt.auth
		if auth == viewer {
			auth = person
			if strings.HasPrefix(bearer(r), string(token.Integration)) {
				auth = partner
			}
		}
		switch auth {
		case partner:
			p, err := s.authenticatePartner(r)
			if err != nil {
				s.authFailed(w, r, "partner", err)
				return
			}
			r = r.WithContext(withPrincipal(r.Context(), p))
		case person:
			tok, fromCookie := personToken(r)
			p, err := s.identity.Authenticate(r.Context(), tok)
			if err != nil {
				s.authFailed(w, r, "session", err)
				return
			}
			if fromCookie && !websession.Safe(r.Method) &&
				(!websession.SameOrigin(r) || !websession.ValidCSRF(tok, r.Header.Get(websession.HeaderName))) {
				s.writeError(w, r, apperr.New(apperr.Forbidden, "a request authenticated by the session cookie needs the page's %s header and a same-origin Origin", websession.HeaderName))
				return
			}
			r = r.WithContext(withPrincipal(r.Context(), p))
		case device:
			p, err := s.homes.AuthenticateDevice(r.Context(), bearer(r))
			if err != nil {
				s.authFailed(w, r, "device", err)
				return
			}
			r = r.WithContext(withPrincipal(r.Context(), p))
		}
		if err := rt.handle(s, w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// authenticatePartner authenticates a partner's access token from the
// Authorization header (never a cookie).
func (s *Server) authenticatePartner(r *http.Request) (authz.Principal, error) {
	if s.partners == nil {
		return authz.Principal{}, apperr.New(apperr.Unauthorized, "a valid partner access token is required")
	}
	return s.partners.Authenticate(r.Context(), bearer(r))
}

func (s *Server) authFailed(w http.ResponseWriter, r *http.Request, kind string, err error) {
	if apperr.CodeOf(err) == apperr.Unauthorized {
		s.metrics.AuthFailures.WithLabelValues(kind).Inc()
		w.Header().Set("WWW-Authenticate", `Bearer realm="camvault"`)
	}
	s.writeError(w, r, err)
}

// personToken returns a person's session token: the Authorization header
// when there is one, else the web app's session cookie, which then needs the
// CSRF checks on a state-changing request.
func personToken(r *http.Request) (tok string, fromCookie bool) {
	if r.Header.Get("Authorization") != "" {
		return bearer(r), false
	}
	if c := websession.Token(r); c != "" {
		return c, true
	}
	return "", false
}

// bearer returns the token of an "Authorization: Bearer" header, or "".
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}
