package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strconv"

	"rsc.io/qr"

	"github.com/camvault/camvault/internal/apperr"
	"github.com/camvault/camvault/internal/authz"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/gateway"
	"github.com/camvault/camvault/internal/homes"
	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/identity"
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
	MotionLevels []struct {
		Value int
		Label string
	}
	CanCommand bool // cameras can be sent a new motion sensitivity
}

func (camerasPage) pageTitle() (string, string) { return "Cameras", "cameras" }

func (a *App) camerasPage(w http.ResponseWriter, r *http.Request, u *user) error {
	hs, err := a.homes.List(r.Context(), u.Principal)
	if err != nil {
		return err
	}
	p := camerasPage{Notice: noticeText(r.URL.Query().Get("done")), MotionLevels: motionLevels, CanCommand: a.commands != nil}
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
		"home":       "Your home is ready. Add a camera to it.",
		"renamed":    "Camera renamed.",
		"saved":      "Camera settings saved.",
		"motion":     "Sent to the camera. Its next events follow the new sensitivity.",
		"home-saved": "Home settings saved.",
		"deleted":    "Event deleted, with its picture and clip.",
		"unpaired":   "Camera removed. It can no longer upload or connect.",
		"shared":     "Shared. They see it the next time they load a page.",
		"removed":    "Access removed. It ended at once.",
		"ended":      "That session has ended.",
		"unlinked":   "Partner unlinked. It lost access at once.",
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
	svg, err := qrSVG(pc.Code)
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
// quiet zone, so it scales sharply and needs no image request.
func qrSVG(text string) (template.HTML, error) {
	c, err := qr.Encode(text, qr.M)
	if err != nil {
		return "", fmt.Errorf("encode QR code: %w", err)
	}
	const quiet = 4
	n := c.Size + 2*quiet
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" class="qr" role="img" aria-label="QR code of the pairing code" shape-rendering="crispEdges"><rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="`, n, n, n, n)
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
	if _, err := a.homes.Update(r.Context(), u.Principal, homeID, &name, &days); err != nil {
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
	Cameras []homes.Device
	Manage  bool
}

type memberRow struct {
	homes.Member
	Self    bool
	Cameras []string // names, when limited
}

type sharingPage struct {
	Homes  []homeSharing
	Notice string
}

func (sharingPage) pageTitle() (string, string) { return "Sharing", "sharing" }

func (a *App) sharingPage(w http.ResponseWriter, r *http.Request, u *user) error {
	hs, err := a.homes.List(r.Context(), u.Principal)
	if err != nil {
		return err
	}
	p := sharingPage{Notice: noticeText(r.URL.Query().Get("done"))}
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
				row := memberRow{Member: m, Self: m.AccountID == u.Principal.AccountID}
				for _, d := range m.Devices {
					if n, ok := names[d]; ok {
						row.Cameras = append(row.Cameras, n)
					} else {
						row.Cameras = append(row.Cameras, "a removed camera")
					}
				}
				hsh.Members = append(hsh.Members, row)
			}
		}
		p.Homes = append(p.Homes, hsh)
	}
	a.render(w, r, http.StatusOK, "sharing", u, p)
	return nil
}

func (a *App) share(w http.ResponseWriter, r *http.Request, u *user) error {
	homeID := r.PathValue("home")
	if !id.Valid(homeID) {
		a.notFound(w, r, u)
		return nil
	}
	var devices []string
	if r.PostFormValue("scope") == "some" {
		devices = r.PostForm["camera"]
		if len(devices) == 0 {
			a.render(w, r, http.StatusBadRequest, "message", u, messagePage{Title: "Choose cameras", Text: "You chose to share only some cameras: tick at least one, or share every camera.", Link: "/sharing", LinkText: "Back to Sharing"})
			return nil
		}
	}
	if _, err := a.homes.AddMember(r.Context(), u.Principal, homeID, r.PostFormValue("email"), domain.Role(r.PostFormValue("role")), devices); err != nil {
		if e, ok := apperr.As(err); ok && errors.Is(err, identity.ErrNoAccount) {
			// Not the one not-found page: the person may share this home,
			// and the API tells them the same.
			a.render(w, r, http.StatusNotFound, "message", u, messagePage{Title: "No such account", Text: e.Message, Link: "/sharing", LinkText: "Back to Sharing"})
			return nil
		}
		return err
	}
	http.Redirect(w, r, "/sharing?done=shared", http.StatusSeeOther)
	return nil
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
