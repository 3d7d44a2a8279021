package web

import (
	"context"
	"net/http"
	"strings"

	"github.com/camvault/camvault/internal/apperr"
	"github.com/camvault/camvault/internal/authz"
	"github.com/camvault/camvault/internal/partner"
)

// Partners is what the consent page and the Account page need of the
// partner service; *partner.OAuth is one. Approve and Deny answer the
// browser themselves (the redirect back to the partner).
type Partners interface {
	Consent(ctx context.Context, p authz.Principal, requestID string) (partner.Consent, error)
	Approve(w http.ResponseWriter, r *http.Request, p authz.Principal, requestID string, devices []string, live bool) error
	Deny(w http.ResponseWriter, r *http.Request, p authz.Principal, requestID string) error
	Links(ctx context.Context, p authz.Principal) ([]partner.Link, error)
	Unlink(ctx context.Context, p authz.Principal, linkID string) error
}

// consentPage asks a person which cameras a partner may see.
type consentPage struct {
	Consent partner.Consent
	Homes   []homeCameras
	Error   string
}

func (consentPage) pageTitle() (string, string) { return "Link a partner", "account" }

// consent is GET /oauth2/consent?request=ID, where the authorization
// request sends the person (through the login page when signed out).
func (a *App) consent(w http.ResponseWriter, r *http.Request, u *user) error {
	return a.renderConsent(w, r, u, http.StatusOK, r.URL.Query().Get("request"), "")
}

func (a *App) renderConsent(w http.ResponseWriter, r *http.Request, u *user, status int, requestID, problem string) error {
	if a.partners == nil {
		a.notFound(w, r, u)
		return nil
	}
	c, err := a.partners.Consent(r.Context(), u.Principal, requestID)
	if err != nil {
		return err
	}
	p := consentPage{Consent: c, Error: problem}
	hs, _, err := a.listHomes(r.Context(), u.Principal)
	if err != nil {
		return err
	}
	for _, h := range hs {
		ds, err := a.homes.Devices(r.Context(), u.Principal, h.ID)
		if err != nil {
			return err
		}
		p.Homes = append(p.Homes, homeCameras{Home: h, Cameras: ds})
	}
	// The answer to the form is a redirect to the partner, which the
	// policy's form-action must allow; nothing else changes.
	if c.RedirectOrigin != "" {
		w.Header().Set("Content-Security-Policy", strings.Replace(contentSecurityPolicy, "form-action 'self'", "form-action 'self' "+c.RedirectOrigin, 1))
	}
	a.render(w, r, status, "consent", u, p)
	return nil
}

// consentSubmit is POST /oauth2/consent: allow (with the chosen cameras
// and live) or deny. A bad choice shows the page again and changes nothing.
func (a *App) consentSubmit(w http.ResponseWriter, r *http.Request, u *user) error {
	if a.partners == nil {
		a.notFound(w, r, u)
		return nil
	}
	requestID := r.PostFormValue("request")
	if r.PostFormValue("decision") != "allow" {
		return a.partners.Deny(w, r, u.Principal, requestID)
	}
	err := a.partners.Approve(w, r, u.Principal, requestID, r.PostForm["camera"], r.PostFormValue("live") == "1")
	if e, ok := invalid(err); ok {
		return a.renderConsent(w, r, u, http.StatusBadRequest, requestID, e)
	}
	return err
}

// unlinkPartner is POST /account/partners/{link}/unlink.
func (a *App) unlinkPartner(w http.ResponseWriter, r *http.Request, u *user) error {
	if a.partners == nil {
		a.notFound(w, r, u)
		return nil
	}
	if err := a.partners.Unlink(r.Context(), u.Principal, r.PathValue("link")); err != nil {
		return err
	}
	http.Redirect(w, r, "/account?done=unlinked", http.StatusSeeOther)
	return nil
}

// partnerRow is a link as the Account page lists it.
type partnerRow struct {
	partner.Link
	Cameras []string // names
}

// partnerRows names the cameras of p's links; a camera p no longer sees
// is not listed (the partner does not see it either).
func (a *App) partnerRows(ctx context.Context, p authz.Principal) ([]partnerRow, error) {
	if a.partners == nil {
		return nil, nil
	}
	links, err := a.partners.Links(ctx, p)
	if err != nil || len(links) == 0 {
		return nil, err
	}
	names := map[string]string{}
	hs, _, err := a.listHomes(ctx, p)
	if err != nil {
		return nil, err
	}
	for _, h := range hs {
		ds, err := a.homes.Devices(ctx, p, h.ID)
		if err != nil {
			return nil, err
		}
		for _, d := range ds {
			names[d.ID] = d.Name
		}
	}
	out := make([]partnerRow, 0, len(links))
	for _, l := range links {
		row := partnerRow{Link: l}
		for _, d := range l.Devices {
			if n, ok := names[d]; ok {
				row.Cameras = append(row.Cameras, n)
			}
		}
		out = append(out, row)
	}
	return out, nil
}

// invalid returns the message of an invalid-input error, to show on the
// form that sent it.
func invalid(err error) (string, bool) {
	if e, ok := apperr.As(err); ok && e.Code == apperr.Invalid {
		return e.Message, true
	}
	return "", false
}
