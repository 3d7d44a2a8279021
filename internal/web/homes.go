package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strconv"

	"rsc.io/qr"

	"github.com/camvault/camvault/internal/apperr"
	"github.com/camvault/camvault/internal/authz"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/gateway"
	"github.com/camvault/camvault/internal/homes"
	"github.com/camvault/camvault/internal/id"
)

// homeCameras is one home on the Cameras page.
type homeCameras struct {
	Home    homes.Home
	Cameras []homes.Device
	Manage  bool
}

type camerasPage struct {
	Homes        []homeCameras
	Notice       string
	Invitations  invitationsPanel
	MotionLevels []struct {
		Value int
		Label string
	}
	CanCommand bool // cameras can be sent a new motion sensitivity
	// Locked are homes that require a second factor the person has not
	// set up: shown by name, with the way to set one up.
	Locked []homes.Home
}

func (camerasPage) pageTitle() (string, string) { return "Cameras", "cameras" }

func (a *App) camerasPage(w http.ResponseWriter, r *http.Request, u *user) error {
	hs, locked, err := a.listHomes(r.Context(), u.Principal)
	if err != nil {
		return err
	}
	p := camerasPage{Notice: noticeText(r.URL.Query().Get("done")), MotionLevels: motionLevels, CanCommand: a.commands != nil, Locked: locked}
	if p.Invitations, err = a.invitationsFor(r, u); err != nil {
		return err
	}
	for _, h := range hs {
		ds, err := a.homes.Devices(r.Context(), u.Principal, h.ID)
		if err != nil {
			return err
		}
		p.Homes = append(p.Homes, homeCameras{Home: h, Cameras: ds, Manage: authz.Allows(h.Role, authz.ManageDevices)})
	}
	a.render(w, r, http.StatusOK, "cameras", u, p)
	return nil
}

// noticeText is the confirmation a page shows after a form, chosen from a
// fixed list so no text from the URL is ever shown.
func noticeText(key string) string {
	return map[string]string{
		"home":              "Your home is ready. Add a camera to it.",
		"renamed":           "Camera renamed.",
		"saved":             "Camera settings saved.",
		"motion":            "Sent to the camera. Its next events follow the new sensitivity.",
		"home-saved":        "Home settings saved.",
		"deleted":           "Event deleted, with its picture and clip.",
		"unpaired":          "Camera removed. It can no longer upload or connect.",
		"invited":           "Invited. Nothing is shared until they accept, signed in to camvault with that email (they can sign up with it first); they find the invitation under Sharing.",
		"joined":            "You joined the home: its cameras and events are here for you now.",
		"declined":          "Invitation declined. Nothing was shared with you.",
		"cancelled":         "Invitation taken back. It can no longer be accepted.",
		"changed":           "Access changed. It applies from their next request.",
		"removed":           "Access removed. It ended at once.",
		"ended":             "That session has ended.",
		"unlinked":          "Partner unlinked. It lost access at once.",
		"webhook-removed":   "Webhook removed. Nothing more is sent to it.",
		"mqtt-saved":        "Broker saved. camvault connects to it now; this page shows whether it could.",
		"mqtt-removed":      "Nothing more is published to that broker.",
		"password":          "Password changed. Every other place you were logged in is logged out.",
		"totp-on":           "Your authenticator app is set up. Logging in now asks for its code.",
		"totp-off":          "Your authenticator app is no longer asked for at login.",
		"passkey-added":     "Passkey added. You can log in with it, without your password.",
		"passkey-removed":   "Passkey removed. It can no longer log you in.",
		"owner":             "Ownership handed over. You are an admin of the home now.",
		"notifications-on":  "Notifications are on in this browser. Each new event you may see is shown here, even when camvault is closed.",
		"notifications-off": "Notifications are off for that browser.",
	}[key]
}

func (a *App) createHome(w http.ResponseWriter, r *http.Request, u *user) error {
	if _, err := a.homes.Create(r.Context(), u.Principal, r.PostFormValue("name")); err != nil {
		return err
	}
	http.Redirect(w, r, "/cameras?done=home", http.StatusSeeOther)
	return nil
}

// pairingPage shows a new pairing code as text and as a QR code.
type pairingPage struct {
	Home    homes.Home
	Code    homes.PairingCode
	QR      template.HTML
	Command string
}

func (pairingPage) pageTitle() (string, string) { return "Add a camera", "cameras" }

func (a *App) pairingCode(w http.ResponseWriter, r *http.Request, u *user) error {
	homeID := r.PathValue("home")
	if !id.Valid(homeID) {
		a.notFound(w, r, u)
		return nil
	}
	h, err := a.homes.Get(r.Context(), u.Principal, homeID)
	if err != nil {
		return err
	}
	pc, err := a.homes.CreatePairingCode(r.Context(), u.Principal, homeID)
	if err != nil {
		return err
	}
	svg, err := qrSVG(pc.Code, "QR code of the pairing code")
	if err != nil {
		return err
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	a.render(w, r, http.StatusOK, "pairing", u, pairingPage{Home: h, Code: pc, QR: svg,
		// Exactly the command line that works: the browser test runs it.
		Command: fmt.Sprintf("camvault camera --server %s://%s --pairing-code %s", scheme, r.Host, pc.Code)})
	return nil
}

// qrSVG draws text as a QR code in SVG, one path of dark modules with a
// quiet zone, so it scales sharply and needs no image request. label is
// what a screen reader says of it.
func qrSVG(text, label string) (template.HTML, error) {
	c, err := qr.Encode(text, qr.M)
	if err != nil {
		return "", fmt.Errorf("encode QR code: %w", err)
	}
	const quiet = 4
	n := c.Size + 2*quiet
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" class="qr" role="img" aria-label="%s" shape-rendering="crispEdges"><rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="`, n, n, template.HTMLEscapeString(label), n, n)
	for y := 0; y < c.Size; y++ {
		for x := 0; x < c.Size; x++ {
			if c.Black(x, y) {
				fmt.Fprintf(&b, "M%d %dh1v1h-1z", x+quiet, y+quiet)
			}
		}
	}
	b.WriteString(`"/></svg>`)
	return template.HTML(b.String()), nil // built here from numbers only
}

// cameraSettings is POST /cameras/{device}/settings: the camera's name,
// and whether it is kept warm for live view (a change is passed on to the
// camera at once).
func (a *App) cameraSettings(w http.ResponseWriter, r *http.Request, u *user) error {
	deviceID := r.PathValue("device")
	if !id.Valid(deviceID) {
		a.notFound(w, r, u)
		return nil
	}
	d, err := a.homes.Device(r.Context(), u.Principal, deviceID)
	if err != nil {
		return err
	}
	name := r.PostFormValue("name")
	upd := homes.DeviceUpdate{Name: &name}
	if warm := r.PostFormValue("keep_warm") == "on"; warm != d.KeepWarm {
		upd.KeepWarm = &warm
	}
	if _, err := a.homes.UpdateDevice(r.Context(), u.Principal, deviceID, upd); err != nil {
		return err
	}
	http.Redirect(w, r, "/cameras?done=saved", http.StatusSeeOther)
	return nil
}

// motionLevels are the sensitivities the Cameras page offers, of the
// protocol's 0 to 100 (0 turns motion events off).
var motionLevels = []struct {
	Value int
	Label string
}{{0, "Off"}, {25, "Low"}, {50, "Medium"}, {75, "High"}, {100, "Highest"}}

// cameraMotion is POST /cameras/{device}/motion: sends the camera a new
// motion sensitivity (the settings command of the device protocol). A
// camera that is not connected cannot be told: the answer says so.
func (a *App) cameraMotion(w http.ResponseWriter, r *http.Request, u *user) error {
	deviceID := r.PathValue("device")
	if !id.Valid(deviceID) {
		a.notFound(w, r, u)
		return nil
	}
	if a.commands == nil {
		return apperr.New(apperr.Unavailable, "this server cannot send commands to cameras")
	}
	level, err := strconv.Atoi(r.PostFormValue("sensitivity"))
	if err != nil || level < 0 || level > 100 {
		return apperr.New(apperr.Invalid, "motion sensitivity must be a number from 0 (off) to 100")
	}
	settings, err := json.Marshal(map[string]int{"motion_sensitivity": level})
	if err != nil {
		return fmt.Errorf("encode settings: %w", err)
	}
	if _, err := a.commands.Send(r.Context(), u.Principal, deviceID, gateway.Command{Command: "settings", Settings: settings}); err != nil {
		return err
	}
	http.Redirect(w, r, "/cameras?done=motion", http.StatusSeeOther)
	return nil
}

// homeSettings is POST /homes/{home}/settings: the home's name and how
// many days its events are kept.
func (a *App) homeSettings(w http.ResponseWriter, r *http.Request, u *user) error {
	homeID := r.PathValue("home")
	if !id.Valid(homeID) {
		a.notFound(w, r, u)
		return nil
	}
	name := r.PostFormValue("name")
	days, err := strconv.Atoi(r.PostFormValue("retention_days"))
	if err != nil {
		return apperr.New(apperr.Invalid, "keep events for a whole number of days, 1 to 3650")
	}
	require := r.PostFormValue("require_second_factor") == "on"
	if _, err := a.homes.Change(r.Context(), u.Principal, homeID,
		homes.Settings{Name: &name, RetentionDays: &days, RequireSecondFactor: &require}); err != nil {
		return err
	}
	http.Redirect(w, r, "/cameras?done=home-saved", http.StatusSeeOther)
	return nil
}

func (a *App) unpairCamera(w http.ResponseWriter, r *http.Request, u *user) error {
	deviceID := r.PathValue("device")
	if !id.Valid(deviceID) {
		a.notFound(w, r, u)
		return nil
	}
	if err := a.homes.DeleteDevice(r.Context(), u.Principal, deviceID); err != nil {
		return err
	}
	http.Redirect(w, r, "/cameras?done=unpaired", http.StatusSeeOther)
	return nil
}

// homeSharing is one home on the Sharing page.
type homeSharing struct {
	Home    homes.Home
	Members []memberRow
	Pending []pendingRow
	Cameras []homes.Device
	Manage  bool
}

// pendingRow is an invitation the home's managers wait on.
type pendingRow struct {
	homes.SentInvitation
	Cameras []string // names, when limited
}

type memberRow struct {
	homes.Member
	Self    bool
	Cameras []string // names, when limited
}

type sharingPage struct {
	Homes       []homeSharing
	Notice      string
	Invitations invitationsPanel
}

// invitationsPanel is the invitations waiting for the signed-in person,
// with Accept and Decline, on the pages they land on.
type invitationsPanel struct {
	CSRF string
	List []homes.ReceivedInvitation
}

func (a *App) invitationsFor(r *http.Request, u *user) (invitationsPanel, error) {
	list, err := a.homes.Invitations(r.Context(), u.Principal)
	return invitationsPanel{CSRF: u.CSRF, List: list}, err
}

// shareChoice is a camera a sharing form offers, ticked when chosen.
type shareChoice struct {
	ID, Name string
	Chosen   bool
}

// shareChoicesView is what a sharing form starts from: a role, and every
// camera or the chosen ones.
type shareChoicesView struct {
	Role    domain.Role
	Limited bool
	Cameras []shareChoice
}

// shareChoices is the template function that fills a sharing form's
// role and cameras (a new invitation's, or a member's as they are).
func shareChoices(role domain.Role, limited bool, chosen []string, cameras []homes.Device) shareChoicesView {
	v := shareChoicesView{Role: role, Limited: limited}
	for _, c := range cameras {
		v.Cameras = append(v.Cameras, shareChoice{ID: c.ID, Name: c.Name, Chosen: slices.Contains(chosen, c.ID)})
	}
	return v
}

// cameraNames names the cameras of a limited share, in its order; a camera
// no longer there is "a removed camera".
func cameraNames(ids []string, names map[string]string) []string {
	var out []string
	for _, d := range ids {
		if n, ok := names[d]; ok {
			out = append(out, n)
		} else {
			out = append(out, "a removed camera")
		}
	}
	return out
}

func (sharingPage) pageTitle() (string, string) { return "Sharing", "sharing" }

func (a *App) sharingPage(w http.ResponseWriter, r *http.Request, u *user) error {
	hs, _, err := a.listHomes(r.Context(), u.Principal)
	if err != nil {
		return err
	}
	p := sharingPage{Notice: noticeText(r.URL.Query().Get("done"))}
	if p.Invitations, err = a.invitationsFor(r, u); err != nil {
		return err
	}
	for _, h := range hs {
		hsh := homeSharing{Home: h, Manage: authz.Allows(h.Role, authz.ManageMembers)}
		if hsh.Cameras, err = a.homes.Devices(r.Context(), u.Principal, h.ID); err != nil {
			return err
		}
		names := map[string]string{}
		for _, d := range hsh.Cameras {
			names[d.ID] = d.Name
		}
		if hsh.Manage {
			ms, err := a.homes.Members(r.Context(), u.Principal, h.ID)
			if err != nil {
				return err
			}
			for _, m := range ms {
				hsh.Members = append(hsh.Members, memberRow{Member: m, Self: m.AccountID == u.Principal.AccountID, Cameras: cameraNames(m.Devices, names)})
			}
			pending, err := a.homes.HomeInvitations(r.Context(), u.Principal, h.ID)
			if err != nil {
				return err
			}
			for _, inv := range pending {
				hsh.Pending = append(hsh.Pending, pendingRow{SentInvitation: inv, Cameras: cameraNames(inv.Devices, names)})
			}
		}
		p.Homes = append(p.Homes, hsh)
	}
	a.render(w, r, http.StatusOK, "sharing", u, p)
	return nil
}

// sharedCameras reads a sharing form's cameras: nil for every camera, or
// the ones ticked; ok is false (and the page already answered) when "only
// these" came with none ticked.
func (a *App) sharedCameras(w http.ResponseWriter, r *http.Request, u *user) (devices []string, ok bool) {
	if r.PostFormValue("scope") != "some" {
		return nil, true
	}
	devices = r.PostForm["camera"]
	if len(devices) == 0 {
		a.render(w, r, http.StatusBadRequest, "message", u, messagePage{Title: "Choose cameras", Text: "You chose to share only some cameras: tick at least one, or share every camera.", Link: "/sharing", LinkText: "Back to Sharing"})
		return nil, false
	}
	return devices, true
}

// share is POST /homes/{home}/members: an invitation to the email, which
// answers the same whether or not anyone has an account with it.
func (a *App) share(w http.ResponseWriter, r *http.Request, u *user) error {
	homeID := r.PathValue("home")
	if !id.Valid(homeID) {
		a.notFound(w, r, u)
		return nil
	}
	devices, ok := a.sharedCameras(w, r, u)
	if !ok {
		return nil
	}
	if _, err := a.homes.Invite(r.Context(), u.Principal, homeID, r.PostFormValue("email"), domain.Role(r.PostFormValue("role")), devices); err != nil {
		return err
	}
	http.Redirect(w, r, "/sharing?done=invited", http.StatusSeeOther)
	return nil
}

// changeMember is POST /homes/{home}/members/{account}/change: a member's
// role and cameras.
func (a *App) changeMember(w http.ResponseWriter, r *http.Request, u *user) error {
	homeID, accountID := r.PathValue("home"), r.PathValue("account")
	if !id.Valid(homeID) || !id.Valid(accountID) {
		a.notFound(w, r, u)
		return nil
	}
	devices, ok := a.sharedCameras(w, r, u)
	if !ok {
		return nil
	}
	if _, err := a.homes.UpdateMember(r.Context(), u.Principal, homeID, accountID, domain.Role(r.PostFormValue("role")), devices); err != nil {
		return err
	}
	http.Redirect(w, r, "/sharing?done=changed", http.StatusSeeOther)
	return nil
}

// acceptInvitation is POST /invitations/{invitation}/accept.
func (a *App) acceptInvitation(w http.ResponseWriter, r *http.Request, u *user) error {
	invitationID := r.PathValue("invitation")
	if !id.Valid(invitationID) {
		a.notFound(w, r, u)
		return nil
	}
	if err := a.homes.AcceptInvitation(r.Context(), u.Principal, invitationID); err != nil {
		return err
	}
	http.Redirect(w, r, "/cameras?done=joined", http.StatusSeeOther)
	return nil
}

// deleteInvitation answers POST /invitations/{invitation}/decline (the
// invitee) and .../cancel (an owner or admin of the home): the same
// service call, which tells the two apart, with its own confirmation.
func (a *App) deleteInvitation(done string) func(http.ResponseWriter, *http.Request, *user) error {
	return func(w http.ResponseWriter, r *http.Request, u *user) error {
		invitationID := r.PathValue("invitation")
		if !id.Valid(invitationID) {
			a.notFound(w, r, u)
			return nil
		}
		if err := a.homes.DeleteInvitation(r.Context(), u.Principal, invitationID); err != nil {
			return err
		}
		http.Redirect(w, r, "/sharing?done="+done, http.StatusSeeOther)
		return nil
	}
}

func (a *App) unshare(w http.ResponseWriter, r *http.Request, u *user) error {
	homeID, accountID := r.PathValue("home"), r.PathValue("account")
	if !id.Valid(homeID) || !id.Valid(accountID) {
		a.notFound(w, r, u)
		return nil
	}
	if err := a.homes.RemoveMember(r.Context(), u.Principal, homeID, accountID); err != nil {
		return err
	}
	http.Redirect(w, r, "/sharing?done=removed", http.StatusSeeOther)
	return nil
}
