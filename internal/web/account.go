package web

import (
	"net/http"
	"strconv"

	"github.com/camvault/camvault/internal/audit"
	"github.com/camvault/camvault/internal/authz"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/export"
	"github.com/camvault/camvault/internal/homes"
	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/identity"
	"github.com/camvault/camvault/internal/live"
	"github.com/camvault/camvault/internal/websession"
)

type accountPage struct {
	SecondFactor secondFactorPanel
	Sessions     []sessionRow
	Partners     []partnerRow
	Notice       string
	// PasswordError is the change password form's error.
	PasswordError string
	Data          accountData // accountdata.go
}

// MinPassword is the password rule's length, for the change form.
func (accountPage) MinPassword() int { return identity.MinPasswordLength }

type sessionRow struct {
	identity.SessionView
	Device string // the browser and system, in words
}

func (accountPage) pageTitle() (string, string) { return "Account", "account" }

func (a *App) accountPage(w http.ResponseWriter, r *http.Request, u *user) error {
	p, err := a.accountData(r, u)
	if err != nil {
		return err
	}
	a.render(w, r, http.StatusOK, "account", u, p)
	return nil
}

// accountData is what the Account page shows.
func (a *App) accountData(r *http.Request, u *user) (accountPage, error) {
	list, err := a.identity.Sessions(r.Context(), u.Principal)
	if err != nil {
		return accountPage{}, err
	}
	p := accountPage{Notice: noticeText(r.URL.Query().Get("done"))}
	for _, s := range list {
		p.Sessions = append(p.Sessions, sessionRow{SessionView: s, Device: describeAgent(s.Client.UserAgent)})
	}
	if p.Partners, err = a.partnerRows(r.Context(), u.Principal); err != nil {
		return accountPage{}, err
	}
	if p.SecondFactor, err = a.secondFactorPanel(r, u); err != nil {
		return accountPage{}, err
	}
	if p.Data, err = a.accountDataFor(r, u); err != nil {
		return accountPage{}, err
	}
	return p, nil
}

// describeAgent turns a User-Agent into a few words a person recognises.
func describeAgent(ua string) string { return identity.DescribeAgent(ua) }

func (a *App) endSession(w http.ResponseWriter, r *http.Request, u *user) error {
	sid := r.PathValue("session")
	if !id.Valid(sid) {
		a.notFound(w, r, u)
		return nil
	}
	if err := a.identity.EndSession(r.Context(), u.Principal, sid); err != nil {
		return err
	}
	if sid == u.Principal.SessionID {
		websession.Clear(w, r)
		http.Redirect(w, r, "/login?signed_out=1", http.StatusSeeOther)
		return nil
	}
	http.Redirect(w, r, "/account?done=ended", http.StatusSeeOther)
	return nil
}

func (a *App) endAllSessions(w http.ResponseWriter, r *http.Request, u *user) error {
	if err := a.identity.LogoutEverywhere(r.Context(), u.Principal); err != nil {
		return err
	}
	websession.Clear(w, r)
	http.Redirect(w, r, "/login?signed_out=1", http.StatusSeeOther)
	return nil
}

// activityPage is "Who watched": a home's audit log in plain words.
type activityPage struct {
	Homes   []homes.Home
	Home    homes.Home
	Entries []activityRow
	More    string
	NoRight bool
}

type activityRow struct {
	audit.View
	Sentence string
	Camera   string
	Blocked  bool
}

func (activityPage) pageTitle() (string, string) { return "Who watched", "activity" }

func (a *App) activityPage(w http.ResponseWriter, r *http.Request, u *user) error {
	hs, _, err := a.listHomes(r.Context(), u.Principal)
	if err != nil {
		return err
	}
	p := activityPage{}
	for _, h := range hs {
		if authz.Allows(h.Role, audit.ReadAction) {
			p.Homes = append(p.Homes, h)
		}
	}
	if len(p.Homes) == 0 {
		p.NoRight = true
		a.render(w, r, http.StatusOK, "activity", u, p)
		return nil
	}
	p.Home = p.Homes[0]
	if want := r.URL.Query().Get("home"); want != "" {
		found := false
		for _, h := range p.Homes {
			if h.ID == want {
				p.Home, found = h, true
			}
		}
		if !found {
			a.notFound(w, r, u)
			return nil
		}
	}
	var before int64
	if v := r.URL.Query().Get("before"); v != "" {
		if before, err = strconv.ParseInt(v, 10, 64); err != nil || before < 1 {
			before = 0
		}
	}
	const limit = 50
	list, err := a.audit.List(r.Context(), u.Principal, p.Home.ID, before, limit)
	if err != nil {
		return err
	}
	ds, err := a.homes.Devices(r.Context(), u.Principal, p.Home.ID)
	if err != nil {
		return err
	}
	names := map[string]string{}
	for _, d := range ds {
		names[d.ID] = d.Name
	}
	for _, e := range list {
		cam := names[e.DeviceID]
		if cam == "" {
			cam = "a removed camera"
		}
		p.Entries = append(p.Entries, activityRow{View: e, Camera: cam, Sentence: sentence(e, cam), Blocked: e.Result == audit.ResultBlocked})
	}
	if len(list) == limit {
		p.More = "/activity?home=" + p.Home.ID + "&before=" + strconv.FormatInt(list[len(list)-1].Seq, 10)
	}
	a.render(w, r, http.StatusOK, "activity", u, p)
	return nil
}

// sentence says an audit entry in plain words.
func sentence(e audit.View, camera string) string {
	who := e.Actor
	if e.ActorKind == domain.PrincipalDevice {
		who = camera
	}
	var what string
	switch e.Action {
	case audit.ViewEvent:
		what = "opened an event from " + camera
	case audit.ViewThumbnail:
		what = "looked at a picture from " + camera
	case audit.ViewClip:
		what = "watched a clip from " + camera
	case audit.DeleteEvent:
		what = "deleted an event from " + camera
	case live.AuditView:
		what = "started watching " + camera + " live"
	case live.AuditEnd:
		what = "stopped watching " + camera + " live"
	case homes.AuditInvite:
		what = "invited someone to the home"
	case homes.AuditAccept:
		what = "accepted an invitation and joined the home"
	case homes.AuditDecline:
		what = "declined an invitation to the home"
	case homes.AuditCancel:
		what = "took back an invitation to the home"
	case homes.AuditOwner:
		what = "handed the home over to another admin, who owns it now"
	case export.AuditExport:
		what = "exported the home's cameras, events, pictures and clips to download"
	case audit.ExpireEvent:
		what = "had an event from " + camera + " expire"
		who = "Retention"
	default:
		what = "did " + e.Action
	}
	s := who + " " + what
	if e.Result == audit.ResultBlocked {
		s += ", and camvault refused to send it"
	}
	return s
}
