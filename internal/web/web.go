// Package web is camvault's browser app: server-rendered pages for people
// to watch their cameras, scroll the Events timeline, play clips, share a
// home and review who watched what. Everything it serves is embedded, so
// it works offline on a LAN with no third-party host.
//
// It decides nothing about permissions and never touches storage: every
// page calls the same services the JSON API calls, with the principal the
// session cookie authenticates, and media is loaded from the JSON API
// (with the same cookie), whose media guard is the only writer of media
// bytes. See docs/design/web.md.
package web

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/camvault/camvault/internal/apperr"
	"github.com/camvault/camvault/internal/audit"
	"github.com/camvault/camvault/internal/authz"
	"github.com/camvault/camvault/internal/events"
	"github.com/camvault/camvault/internal/export"
	"github.com/camvault/camvault/internal/gateway"
	"github.com/camvault/camvault/internal/homes"
	"github.com/camvault/camvault/internal/httpmw"
	"github.com/camvault/camvault/internal/identity"
	"github.com/camvault/camvault/internal/websession"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// contentSecurityPolicy allows only this server's own scripts, styles and
// media: no inline script, no inline style, no other host.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; " +
	"media-src 'self' blob:; connect-src 'self'; worker-src 'self'; manifest-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// Deps are the services the pages call.
type Deps struct {
	Identity *identity.Service
	Homes    *homes.Service
	Events   *events.Service
	Audit    *audit.Reader
	Live     Live
	// Commands sends commands to cameras (motion sensitivity); nil: the
	// Cameras page offers none.
	Commands Commands
	Partners Partners // nil: no partner links (the consent page is not found)
	Webhooks Webhooks // nil: the Integrations page offers none
	MQTT     MQTT     // nil: the Integrations page offers no MQTT broker
	Push     Push     // nil: the Account page offers no notifications
	Log      *slog.Logger
	// Deletion and Exports serve the account page's "Download my data"
	// and "Delete account", and the members page's "Make owner".
	Deletion *homes.Deletion
	Exports  *export.Service
}

// Commands sends a command to a camera, wherever it is connected
// (gateway.Gateway).
type Commands interface {
	Send(ctx context.Context, p authz.Principal, deviceID string, cmd gateway.Command) (string, error)
}

// App is the web app.
type App struct {
	identity *identity.Service
	homes    *homes.Service
	events   *events.Service
	audit    *audit.Reader
	live     Live
	commands Commands
	partners Partners
	webhooks Webhooks
	mqtt     MQTT
	push     Push
	log      *slog.Logger
	pages    map[string]*template.Template
	deletion *homes.Deletion
	exports  *export.Service
}

// New returns the web app, with its templates parsed.
func New(d Deps) (*App, error) {
	a := &App{identity: d.Identity, homes: d.Homes, events: d.Events, audit: d.Audit, live: d.Live, commands: d.Commands,
		partners: d.Partners, webhooks: d.Webhooks, mqtt: d.MQTT, push: d.Push, log: d.Log, pages: map[string]*template.Template{},
		deletion: d.Deletion, exports: d.Exports}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("list templates: %w", err)
	}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" || base == "parts" {
			continue
		}
		t, err := template.New(base).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/parts.html", n)
		if err != nil {
			return nil, fmt.Errorf("parse template %s: %w", n, err)
		}
		a.pages[base] = t
	}
	return a, nil
}

// Mount serves the JSON API under /api/ (exactly as it answers alone,
// including its JSON 404 for unknown routes) and the web app everywhere
// else. An unknown path outside /api/ gets the web app's not-found page
// when a browser asks for HTML, and the API's JSON 404 otherwise, so
// programs see one error format.
func Mount(api http.Handler, app *App) http.Handler {
	webApp := app.handler(api)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api" || strings.HasPrefix(r.URL.Path, "/api/") {
			api.ServeHTTP(w, r)
			return
		}
		webApp.ServeHTTP(w, r)
	})
}

// handler returns the web app's handler; notHTML answers unknown paths for
// clients that do not ask for HTML.
func (a *App) handler(notHTML http.Handler) http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	files := http.FileServerFS(static)
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600") // the same for everyone; no personal data
		files.ServeHTTP(w, r)
	})))
	mux.HandleFunc("GET /sw.js", serviceWorker)
	mux.HandleFunc("GET /manifest.webmanifest", manifest)
	mux.HandleFunc("POST /account/notifications/{subscription}/off", a.person(a.notificationsOff))
	mux.HandleFunc("GET /{$}", a.home)
	mux.HandleFunc("GET /login", a.loginPage)
	mux.HandleFunc("POST /login", a.anonymous(a.loginSubmit))
	mux.HandleFunc("GET /signup", a.signupPage)
	mux.HandleFunc("POST /signup", a.anonymous(a.signupSubmit))
	mux.HandleFunc("POST /logout", a.person(a.logout))
	mux.HandleFunc("GET /forgot-password", a.forgotPage)
	mux.HandleFunc("POST /forgot-password", a.anonymous(a.forgotSubmit))
	mux.HandleFunc("GET /reset-password/{token}", a.resetPage)
	mux.HandleFunc("POST /reset-password/{token}", a.anonymous(a.resetSubmit))
	mux.HandleFunc("POST /account/password", a.person(a.changePassword))

	mux.HandleFunc("GET /events", a.person(a.timeline))
	mux.HandleFunc("GET /events/{event}", a.person(a.eventPage))
	mux.HandleFunc("GET /cameras", a.person(a.camerasPage))
	mux.HandleFunc("GET /cameras/{device}/live", a.person(a.livePage))
	mux.HandleFunc("POST /homes", a.person(a.createHome))
	mux.HandleFunc("POST /homes/{home}/pairing-codes", a.person(a.pairingCode))
	mux.HandleFunc("POST /cameras/{device}/settings", a.person(a.cameraSettings))
	mux.HandleFunc("POST /cameras/{device}/motion", a.person(a.cameraMotion))
	mux.HandleFunc("POST /homes/{home}/settings", a.person(a.homeSettings))
	mux.HandleFunc("POST /events/{event}/delete", a.person(a.deleteEvent))
	mux.HandleFunc("POST /cameras/{device}/unpair", a.person(a.unpairCamera))
	mux.HandleFunc("GET /sharing", a.person(a.sharingPage))
	mux.HandleFunc("POST /homes/{home}/members", a.person(a.share))
	mux.HandleFunc("POST /homes/{home}/members/{account}/remove", a.person(a.unshare))
	mux.HandleFunc("POST /homes/{home}/members/{account}/change", a.person(a.changeMember))
	mux.HandleFunc("POST /invitations/{invitation}/accept", a.person(a.acceptInvitation))
	mux.HandleFunc("POST /invitations/{invitation}/decline", a.person(a.deleteInvitation("declined")))
	mux.HandleFunc("POST /invitations/{invitation}/cancel", a.person(a.deleteInvitation("cancelled")))
	mux.HandleFunc("GET /account", a.person(a.accountPage))
	mux.HandleFunc("POST /account/sessions/{session}/end", a.person(a.endSession))
	mux.HandleFunc("POST /account/sessions/end-all", a.person(a.endAllSessions))
	mux.HandleFunc("POST /account/totp", a.person(a.startTOTP))
	mux.HandleFunc("POST /account/totp/confirm", a.person(a.confirmTOTP))
	mux.HandleFunc("POST /account/totp/off", a.person(a.disableTOTP))
	mux.HandleFunc("POST /account/passkeys/{passkey}/remove", a.person(a.removePasskey))
	mux.HandleFunc("POST /login/passkey", a.anonymous(a.loginPasskey))
	mux.HandleFunc("POST /account/exports", a.person(a.startExport))
	mux.HandleFunc("GET /account/exports/{export}/download", a.person(a.downloadExport))
	mux.HandleFunc("POST /account/delete", a.person(a.deleteAccount))
	mux.HandleFunc("POST /homes/{home}/owner", a.person(a.makeOwner))
	mux.HandleFunc("GET /activity", a.person(a.activityPage))
	mux.HandleFunc("GET /integrations", a.person(a.integrationsPage))
	mux.HandleFunc("POST /homes/{home}/webhooks", a.person(a.addWebhook))
	mux.HandleFunc("POST /homes/{home}/webhooks/{webhook}/remove", a.person(a.removeWebhook))
	mux.HandleFunc("POST /homes/{home}/mqtt", a.person(a.setMQTT))
	mux.HandleFunc("POST /homes/{home}/mqtt/remove", a.person(a.removeMQTT))
	mux.HandleFunc("GET /oauth2/consent", a.person(a.consent))
	mux.HandleFunc("POST /oauth2/consent", a.person(a.consentSubmit))
	mux.HandleFunc("POST /account/partners/{link}/unlink", a.person(a.unlinkPartner))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.Header.Get("Accept"), "text/html") {
			notHTML.ServeHTTP(w, r)
			return
		}
		u, err := a.authenticate(r)
		if err != nil {
			a.fail(w, r, nil, err)
			return
		}
		a.notFound(w, r, u)
	})
	// The rest of the headers (request ID, nosniff, framing, no-store ...)
	// come from the listener's one chain, as for the API.
	return httpmw.CSP(contentSecurityPolicy, mux)
}

// user is the signed-in person a page is rendered for.
type user struct {
	Principal authz.Principal
	Email     string
	CSRF      string
}

// authenticate returns the person the session cookie belongs to, or nil
// when there is no valid session. A session that cannot be looked up (the
// store failed) is an error, never "signed out": a page answering as if
// there were nobody would hide the outage.
func (a *App) authenticate(r *http.Request) (*user, error) {
	tok := websession.Token(r)
	if tok == "" {
		return nil, nil
	}
	p, err := a.identity.Authenticate(r.Context(), tok)
	if apperr.CodeOf(err) == apperr.Unauthorized {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	acc, err := a.identity.Account(r.Context(), p.AccountID)
	if err != nil {
		return nil, err
	}
	return &user{Principal: p, Email: acc.Email, CSRF: websession.CSRFToken(tok)}, nil
}

// person wraps a page that needs a signed-in person. Without a valid
// session a GET goes to the login page and anything else is refused. A
// state-changing request must come from this origin and carry the
// session's CSRF token.
func (a *App) person(h func(http.ResponseWriter, *http.Request, *user) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, err := a.authenticate(r)
		if err != nil {
			a.fail(w, r, nil, err)
			return
		}
		if u == nil {
			if websession.Token(r) != "" {
				websession.Clear(w, r)
			}
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/login?next="+safeNext(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			a.render(w, r, http.StatusUnauthorized, "message", nil, messagePage{Title: "Signed out", Text: "Your session has ended. Please log in again.", Link: "/login", LinkText: "Log in"})
			return
		}
		if !websession.Safe(r.Method) {
			r.Body = http.MaxBytesReader(w, r.Body, maxForm)
			if !websession.SameOrigin(r) || !websession.ValidCSRF(websession.Token(r), r.PostFormValue(websession.FormField)) {
				a.render(w, r, http.StatusForbidden, "message", u, messagePage{Title: "Request refused", Text: "This form expired or did not come from camvault. Go back, reload the page and try again.", Link: "/events", LinkText: "Back to Events"})
				return
			}
		}
		if err := h(w, r, u); err != nil {
			a.fail(w, r, u, err)
		}
	}
}

// anonymous wraps the forms used before there is a session (log in, sign
// up): they have no session to bind a CSRF token to, so they must come
// from this origin, and SameSite keeps the resulting cookie first-party.
func (a *App) anonymous(h func(http.ResponseWriter, *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		if !websession.SameOrigin(r) {
			a.render(w, r, http.StatusForbidden, "message", nil, messagePage{Title: "Request refused", Text: "This form did not come from camvault.", Link: "/login", LinkText: "Log in"})
			return
		}
		if err := h(w, r); err != nil {
			a.fail(w, r, nil, err)
		}
	}
}

const maxForm = 64 << 10

// fail renders an error a handler returned, with the status and logging
// httpmw.Failure decides, as the API does. Not found is one page, the same
// for a missing object and someone else's.
func (a *App) fail(w http.ResponseWriter, r *http.Request, u *user, err error) {
	e, ok := httpmw.Failure(r, a.log, err)
	if !ok {
		return // the browser went away; nobody to answer
	}
	switch e.Code {
	case apperr.NotFound:
		a.notFound(w, r, u)
	case apperr.SecondFactorRequired:
		a.render(w, r, http.StatusForbidden, "message", u, messagePage{Title: "A second factor is needed", Text: e.Message, Link: "/account#second-factor", LinkText: "Set up a second factor"})
	case apperr.Internal:
		a.render(w, r, http.StatusInternalServerError, "message", u, messagePage{Title: "Something went wrong", Text: "camvault could not do that just now. Please try again.", Link: "/events", LinkText: "Back to Events"})
	case apperr.Unavailable:
		again := backTo(r)
		if r.Method == http.MethodGet {
			again = safeNext(r.URL.RequestURI())
		}
		a.render(w, r, http.StatusServiceUnavailable, "message", u, messagePage{Title: "Not available just now", Text: "camvault cannot answer just now. Please try again in a moment.", Link: again, LinkText: "Try again"})
	default:
		a.render(w, r, apperr.HTTPStatus(e.Code), "message", u, messagePage{Title: "That did not work", Text: e.Message, Link: backTo(r), LinkText: "Go back"})
	}
}

func (a *App) notFound(w http.ResponseWriter, r *http.Request, u *user) {
	a.render(w, r, http.StatusNotFound, "message", u, messagePage{Title: "Not found", Text: "There is nothing here, or it is not yours to see.", Link: "/events", LinkText: "Back to Events"})
}

// messagePage is the data of the one-message page (errors, not found).
type messagePage struct {
	Title, Text, Link, LinkText string
}

// view is what every page template gets.
type view struct {
	Title string
	Nav   string
	User  *user
	Data  any
}

// titled lets page data name the page.
type titled interface{ pageTitle() (title, nav string) }

func (m messagePage) pageTitle() (string, string) { return m.Title, "" }

// render executes a page into a buffer first, so a template error never
// sends half a page.
func (a *App) render(w http.ResponseWriter, r *http.Request, status int, name string, u *user, data any) {
	t, ok := a.pages[name]
	if !ok {
		a.log.ErrorContext(r.Context(), "no such page template", "request_id", httpmw.RequestID(r.Context()), "page", name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	v := view{User: u, Data: data}
	if tt, ok := data.(titled); ok {
		v.Title, v.Nav = tt.pageTitle()
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		a.log.ErrorContext(r.Context(), "render page", "request_id", httpmw.RequestID(r.Context()), "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// renderPart executes one named template (a fragment the page's script
// appends, such as the next page of events).
func (a *App) renderPart(w http.ResponseWriter, r *http.Request, page, part string, data any) error {
	var buf bytes.Buffer
	if err := a.pages[page].ExecuteTemplate(&buf, part, data); err != nil {
		return fmt.Errorf("render %s/%s: %w", page, part, err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, err := w.Write(buf.Bytes())
	return err
}

// safeNext keeps a post-login redirect on this site: a path of this
// origin, decided after parsing, never a URL to another host. It refuses
// anything with a scheme, a host, a backslash (browsers read one as a
// slash) or a control character (browsers drop tabs and newlines, so
// "/\t/evil.example" would become "//evil.example"), and anything whose
// cleaned path differs in its first segments from what a browser would
// resolve ("/x/../\evil.example").
func safeNext(next string) string {
	const home = "/events"
	if next == "" || len(next) > 2048 || !strings.HasPrefix(next, "/") {
		return home
	}
	for _, c := range next {
		if c < 0x20 || c == 0x7f || c == '\\' {
			return home
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || !strings.HasPrefix(u.Path, "/") {
		return home
	}
	// Resolve dot segments as the browser will, and check the result is
	// still a path of this origin.
	clean := path.Clean(u.Path)
	if strings.HasPrefix(clean, "//") {
		return home
	}
	u.Path, u.RawPath = clean, ""
	return u.RequestURI()
}

var funcs = template.FuncMap{
	"when":         func(t time.Time) string { return t.UTC().Format("2 Jan 2006, 15:04 UTC") },
	"iso":          func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"clock":        func(t time.Time) string { return t.UTC().Format("15:04:05 UTC") },
	"codecName":    codecName,
	"clipType":     clipType,
	"duration":     duration,
	"ago":          ago,
	"shareChoices": shareChoices,
	"deref": func(t *time.Time) time.Time {
		if t == nil {
			return time.Time{}
		}
		return *t
	},
}

// codecName is a clip codec as people know it.
func codecName(codec string) string {
	switch codec {
	case "h264":
		return "H.264"
	case "h265":
		return "H.265"
	}
	return codec
}

// clipType is the media type of an MP4 clip of the codec, which a video
// element's source names so that a browser that cannot play the codec
// does not fetch the clip at all. The codec strings are those of common
// camera streams: H.264 constrained baseline, H.265 Main.
func clipType(codec string) string {
	switch codec {
	case "h264":
		return `video/mp4; codecs="avc1.42E01E"`
	case "h265":
		return `video/mp4; codecs="hvc1.1.6.L93.B0"`
	}
	return "video/mp4"
}

// duration is a clip's length as a player shows it: 0:08, 12:34,
// 1:02:03, to the nearest second.
func duration(ms int64) string {
	s := (ms + 500) / 1000
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

// ago says how long ago t was, in words.
func ago(t time.Time) string {
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute") + " ago"
	case d < 24*time.Hour:
		return plural(int(d/time.Hour), "hour") + " ago"
	}
	return plural(int(d/(24*time.Hour)), "day") + " ago"
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// backTo is the page a failed form came from, when it was one of ours.
func backTo(r *http.Request) string {
	if ref, err := url.Parse(r.Referer()); err == nil && ref.Host == r.Host && strings.HasPrefix(ref.Path, "/") {
		return safeNext(ref.RequestURI())
	}
	return "/events"
}
