package web

import (
	"context"
	"net/http"

	"github.com/camvault/camvault/internal/authz"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/homes"
	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/push"
)

// Push lists and ends a person's notification subscriptions;
// *push.Service is one. Subscribing is done by the page's script through
// the API, since only the browser has the subscription.
type Push interface {
	List(ctx context.Context, p authz.Principal) ([]push.Subscription, error)
	Delete(ctx context.Context, p authz.Principal, subID string) error
}

// notificationsPanel is the Account page's Notifications section.
type notificationsPanel struct {
	Enabled       bool
	Subscriptions []push.Subscription
	Kinds         []domain.EventKind
	Cameras       []homes.Device
	// CameraNames names the cameras of each subscription's filter.
	CameraNames map[string]string
}

func (a *App) notificationsFor(r *http.Request, u *user) (notificationsPanel, error) {
	if a.push == nil {
		return notificationsPanel{}, nil
	}
	p := notificationsPanel{Enabled: true, Kinds: domain.EventKinds(), CameraNames: map[string]string{}}
	var err error
	if p.Subscriptions, err = a.push.List(r.Context(), u.Principal); err != nil {
		return notificationsPanel{}, err
	}
	hs, _, err := a.listHomes(r.Context(), u.Principal)
	if err != nil {
		return notificationsPanel{}, err
	}
	for _, h := range hs {
		ds, err := a.homes.Devices(r.Context(), u.Principal, h.ID)
		if err != nil {
			return notificationsPanel{}, err
		}
		for _, d := range ds {
			p.Cameras = append(p.Cameras, d)
			p.CameraNames[d.ID] = d.Name
		}
	}
	return p, nil
}

// notificationsOff ends one of the person's subscriptions.
func (a *App) notificationsOff(w http.ResponseWriter, r *http.Request, u *user) error {
	sub := r.PathValue("subscription")
	if a.push == nil || !id.Valid(sub) {
		a.notFound(w, r, u)
		return nil
	}
	if err := a.push.Delete(r.Context(), u.Principal, sub); err != nil {
		return err
	}
	http.Redirect(w, r, "/account?done=notifications-off#notifications", http.StatusSeeOther)
	return nil
}

// serviceWorker serves the service worker from the root, so that it may
// show notifications for every page of the app.
func serviceWorker(w http.ResponseWriter, r *http.Request) {
	raw, err := staticFS.ReadFile("static/sw.js")
	if err != nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache") // a new release's worker is taken at once
	_, _ = w.Write(raw)
}

// manifest serves the web app manifest, which makes the app installable.
func manifest(w http.ResponseWriter, r *http.Request) {
	raw, err := staticFS.ReadFile("static/manifest.webmanifest")
	if err != nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/manifest+json")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(raw)
}
