package web

import (
	"context"
	"net/http"
	"time"

	"github.com/camvault/camvault/internal/apperr"
	"github.com/camvault/camvault/internal/authz"
	"github.com/camvault/camvault/internal/homes"
	"github.com/camvault/camvault/internal/id"
)

// Watcher is one person watching a camera live now (live.Watcher).
type Watcher struct {
	AccountID string
	Since     time.Time
}

// Live is what the live page needs beyond the pages' services. With
// Watchers nil the page says nothing about who else watches.
type Live struct {
	// Watchers lists who watches deviceID live now, as the live service
	// lets p see it (not_found for a camera p may not see).
	Watchers func(ctx context.Context, p authz.Principal, deviceID string) ([]Watcher, error)
}

// livePage is one camera, live.
type livePage struct {
	Camera   homes.Device
	Home     string
	Watching *watching // nil when the live service says nothing of watchers
}

func (livePage) pageTitle() (string, string) { return "Live", "cameras" }

// watching is the "N watching now" panel.
type watching struct {
	People []watcherView
}

type watcherView struct {
	Name  string // the account's email; "Someone" for an account gone since
	You   bool
	Since time.Time
}

// livePage is GET /cameras/{device}/live: the camera's live video, played
// by the page's script from the API's live routes (WebRTC first, the
// WebSocket stream when WebRTC cannot connect). With part=watchers it
// answers only the watchers panel, which the script reloads.
func (a *App) livePage(w http.ResponseWriter, r *http.Request, u *user) error {
	deviceID := r.PathValue("device")
	if !id.Valid(deviceID) {
		a.notFound(w, r, u)
		return nil
	}
	d, err := a.homes.Device(r.Context(), u.Principal, deviceID)
	if err != nil {
		return err
	}
	p := livePage{Camera: d}
	if a.live.Watchers != nil {
		p.Watching, err = a.watching(r, u, deviceID)
		if err != nil {
			return err
		}
	}
	if r.URL.Query().Get("part") == "watchers" {
		return a.renderPart(w, r, "live", "watchers", p.Watching)
	}
	h, err := a.homes.Get(r.Context(), u.Principal, d.HomeID)
	if err != nil {
		return err
	}
	p.Home = h.Name
	a.render(w, r, http.StatusOK, "live", u, p)
	return nil
}

// watching reads who watches deviceID now, with names.
func (a *App) watching(r *http.Request, u *user, deviceID string) (*watching, error) {
	ws, err := a.live.Watchers(r.Context(), u.Principal, deviceID)
	if err != nil {
		return nil, err
	}
	out := &watching{People: make([]watcherView, 0, len(ws))}
	for _, x := range ws {
		v := watcherView{Name: "Someone", You: x.AccountID == u.Principal.AccountID, Since: x.Since}
		switch acc, err := a.identity.Account(r.Context(), x.AccountID); {
		case err == nil:
			v.Name = acc.Email
		case apperr.CodeOf(err) != apperr.NotFound:
			return nil, err
		}
		out.People = append(out.People, v)
	}
	return out, nil
}
