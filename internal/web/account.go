package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/camvault/camvault/internal/audit"
	"github.com/camvault/camvault/internal/authz"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/export"
	"github.com/camvault/camvault/internal/homes"
	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/identity"
	"github.com/camvault/camvault/internal/live"
	"github.com/camvault/camvault/internal/mqttpub"
	"github.com/camvault/camvault/internal/partner"
	"github.com/camvault/camvault/internal/webhook"
	"github.com/camvault/camvault/internal/websession"
)

type accountPage struct {
	SecondFactor secondFactorPanel
	Sessions     []sessionRow
	Partners     []partnerRow
	Notice       string
	// PasswordError is the change password form's error.
	PasswordError string
	Data          accountData        // accountdata.go
	Notifications notificationsPanel // notifications.go
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
	if p.Notifications, err = a.notificationsFor(r, u); err != nil {
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

// activityPage is "Activity": a home's audit log in plain words, repeated
// views grouped, filtered by person, camera and kind of action.
type activityPage struct {
	Homes   []homes.Home
	Home    homes.Home
	Entries []activityRow
	More    string
	NoRight bool
	// The filters and their choices.
	People              []homes.Member
	Cameras             []homes.Device
	Actions             []activityAction
	Person, Camera      string
	Action              string
	Filtered, Ungrouped bool
}

type activityRow struct {
	audit.View
	Sentence string
	Camera   string
	Blocked  bool
}

// activityAction is a choice of the action filter: an action, or a family
// of them (ending in ".").
type activityAction struct{ Value, Label string }

var activityActions = []activityAction{
	{audit.ViewThumbnail, "Pictures looked at"}, {audit.ViewClip, "Clips watched"}, {audit.ViewEvent, "Events opened"},
	{"live.", "Live viewing"}, {"device.", "Cameras paired, renamed, removed"}, {"member.", "Members changed or removed"},
	{"invitation.", "Invitations"}, {"partner.", "Partners linked"}, {"account.", "Logins from new devices"},
	{"home.", "Home settings, exports, handovers"}, {"webhook.", "Webhooks"}, {"mqtt.", "MQTT"}, {"event.delete", "Events deleted"},
}

func (activityPage) pageTitle() (string, string) { return "Activity", "activity" }

func (a *App) activityPage(w http.ResponseWriter, r *http.Request, u *user) error {
	hs, _, err := a.listHomes(r.Context(), u.Principal)
	if err != nil {
		return err
	}
	p := activityPage{Actions: activityActions}
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
	q := r.URL.Query()
	p.Home = p.Homes[0]
	if want := q.Get("home"); want != "" {
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
	if v := q.Get("before"); v != "" {
		if before, err = strconv.ParseInt(v, 10, 64); err != nil || before < 1 {
			before = 0
		}
	}
	p.Person, p.Camera, p.Action, p.Ungrouped = q.Get("person"), q.Get("camera"), q.Get("action"), q.Get("each") == "1"
	p.Filtered = p.Person != "" || p.Camera != "" || p.Action != "" || p.Ungrouped
	const limit = 50
	list, next, err := a.audit.List(r.Context(), u.Principal, p.Home.ID, audit.Query{Before: before, Limit: limit,
		Actor: p.Person, Device: p.Camera, Action: p.Action, Group: !p.Ungrouped})
	if err != nil {
		return err
	}
	if p.Cameras, err = a.homes.Devices(r.Context(), u.Principal, p.Home.ID); err != nil {
		return err
	}
	if p.People, err = a.homes.Members(r.Context(), u.Principal, p.Home.ID); err != nil {
		return err
	}
	// Those who are no longer members can be chosen too, once they show.
	known := map[string]bool{}
	for _, m := range p.People {
		known[m.AccountID] = true
	}
	for _, e := range list {
		for id, name := range map[string]string{e.ActorID: e.Actor, e.SubjectID: e.Subject} {
			if id != "" && !known[id] && (id != e.ActorID || e.ActorKind == domain.PrincipalPerson) {
				known[id] = true
				p.People = append(p.People, homes.Member{AccountID: id, Email: name})
			}
		}
	}
	names := map[string]string{}
	for _, d := range p.Cameras {
		names[d.ID] = d.Name
	}
	for _, e := range list {
		cam := names[e.DeviceID]
		switch {
		case cam != "":
		case e.DeviceID == "":
			cam = "several cameras"
		default:
			cam = "a removed camera"
		}
		p.Entries = append(p.Entries, activityRow{View: e, Camera: cam, Sentence: sentence(e, cam), Blocked: e.Result == audit.ResultBlocked})
	}
	if next != 0 {
		more := url.Values{"home": {p.Home.ID}, "before": {strconv.FormatInt(next, 10)}}
		for k, v := range map[string]string{"person": p.Person, "camera": p.Camera, "action": p.Action} {
			if v != "" {
				more.Set(k, v)
			}
		}
		if p.Ungrouped {
			more.Set("each", "1")
		}
		p.More = "/activity?" + more.Encode()
	}
	a.render(w, r, http.StatusOK, "activity", u, p)
	return nil
}

// some is "a" (or "an") noun, or n of them.
func some(n int, noun string) string {
	switch {
	case n > 1:
		return plural(n, noun)
	case strings.ContainsRune("aeiou", rune(noun[0])):
		return "an " + noun
	}
	return "a " + noun
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
		what = "opened " + some(e.Count, "event") + " from " + camera
	case audit.ViewThumbnail:
		what = "looked at " + some(e.Count, "picture") + " from " + camera
	case audit.ViewClip:
		what = "watched " + some(e.Count, "clip") + " from " + camera
	case audit.DeleteEvent:
		what = "deleted an event from " + camera
	case live.AuditView:
		what = "started watching " + camera + " live"
		if e.Count > 1 {
			what += fmt.Sprintf(" (%d times)", e.Count)
		}
	case live.AuditEnd:
		what = "stopped watching " + camera + " live"
		if e.Count > 1 {
			what += fmt.Sprintf(" (%d times)", e.Count)
		}
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
	case homes.AuditMemberUpdate:
		what = "changed what " + e.Subject + " may see"
	case homes.AuditMemberRemove:
		what = "removed " + e.Subject + " from the home"
	case homes.AuditMemberLeave:
		what = "left the home"
	case homes.AuditPairingCode:
		what = "made a code to pair a camera"
	case homes.AuditPair:
		who, what = "A new camera", "was paired as "+camera
	case homes.AuditRename:
		what = "renamed a camera, now " + camera
	case homes.AuditDeviceUpdate:
		what = "changed the settings of " + camera
	case homes.AuditUnpair:
		what = "removed " + camera + " from the home"
	case homes.AuditSettings:
		what = "changed the home's settings"
	case partner.AuditLink:
		what = "linked a partner to some of the home's cameras"
	case partner.AuditUnlink:
		what = "unlinked a partner"
	case audit.LoginNewDevice:
		what = "logged in from a new device"
	case webhook.AuditCreate:
		what = "added a webhook"
	case webhook.AuditDelete:
		what = "removed a webhook"
	case mqttpub.AuditSet:
		what = "set the home's MQTT broker"
	case mqttpub.AuditRemove:
		what = "removed the home's MQTT broker"
	default:
		what = "did " + e.Action
	}
	s := who + " " + what
	if e.Result == audit.ResultBlocked {
		s += ", and camvault refused to send it"
	}
	return s
}
