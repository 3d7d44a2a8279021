package web

import (
	"io"
	"net/http"
	"strconv"

	"github.com/camvault/camvault/internal/apperr"
	"github.com/camvault/camvault/internal/export"
	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/websession"
)

// accountData is the Account page's "Download my data" and "Delete
// account" sections.
type accountData struct {
	// Export is the export started from this page, when the address names
	// one (a person's own; anyone else's is not shown).
	Export *export.Status
	// DeleteProblem says why the last deletion was refused: "password",
	// or "shared" with SharedHome the home to hand over first.
	DeleteProblem string
	SharedHome    string
}

// accountDataFor reads the sections' state from the page's address.
func (a *App) accountDataFor(r *http.Request, u *user) (accountData, error) {
	var d accountData
	q := r.URL.Query()
	if x := q.Get("export"); x != "" && id.Valid(x) && a.exports != nil {
		st, err := a.exports.Get(r.Context(), u.Principal, x)
		switch {
		case err == nil:
			d.Export = &st
		case apperr.CodeOf(err) != apperr.NotFound:
			return d, err
		}
	}
	switch q.Get("delete") {
	case "password":
		d.DeleteProblem = "password"
	case "shared":
		if h := q.Get("home"); id.Valid(h) {
			d.DeleteProblem, d.SharedHome = "shared", h
		}
	}
	return d, nil
}

// startExport starts an export of every home the person owns, and comes
// back to the Account page, which shows how it goes.
func (a *App) startExport(w http.ResponseWriter, r *http.Request, u *user) error {
	st, err := a.exports.Create(r.Context(), u.Principal, "")
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/account?export="+st.ID+"#data", http.StatusSeeOther)
	return nil
}

// downloadExport streams the person's ready export with their session.
func (a *App) downloadExport(w http.ResponseWriter, r *http.Request, u *user) error {
	x := r.PathValue("export")
	if !id.Valid(x) {
		a.notFound(w, r, u)
		return nil
	}
	d, err := a.exports.Open(r.Context(), u.Principal, x)
	if err != nil {
		return err
	}
	defer d.Close()
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", `attachment; filename="camvault-export-`+x+`.zip"`)
	w.Header().Set("Content-Length", strconv.FormatInt(d.Size, 10))
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = io.Copy(w, d) // the status is sent; a failed write has no one to tell
	return nil
}

// deleteAccount deletes the person's account once they typed their
// password. A wrong password, or a home they own with other members,
// comes back to the Account page saying what to do.
func (a *App) deleteAccount(w http.ResponseWriter, r *http.Request, u *user) error {
	err := a.deletion.DeleteAccount(r.Context(), u.Principal, r.PostFormValue("password"), r.PostFormValue("otp"))
	switch {
	case err == nil:
	case apperr.CodeOf(err) == apperr.Unauthorized:
		http.Redirect(w, r, "/account?delete=password#delete", http.StatusSeeOther)
		return nil
	case apperr.CodeOf(err) == apperr.OwnsSharedHome:
		home := ""
		if hs, lerr := a.homes.List(r.Context(), u.Principal); lerr == nil {
			for _, h := range hs {
				if h.Role == "owner" {
					if ms, merr := a.homes.Members(r.Context(), u.Principal, h.ID); merr == nil && len(ms) > 1 {
						home = h.ID
						break
					}
				}
			}
		}
		http.Redirect(w, r, "/account?delete=shared&home="+home+"#delete", http.StatusSeeOther)
		return nil
	default:
		return err
	}
	websession.Clear(w, r)
	a.render(w, r, http.StatusOK, "message", nil, messagePage{Title: "Your account is deleted",
		Text: "Your account, the homes you owned with their cameras, events, pictures and clips are gone, and their keys destroyed. " +
			"Nothing of them can be opened any more. You may sign up again with the same email.",
		Link: "/signup", LinkText: "Sign up"})
	return nil
}

// makeOwner hands a home to one of its admins (the owner only).
func (a *App) makeOwner(w http.ResponseWriter, r *http.Request, u *user) error {
	home, account := r.PathValue("home"), r.PostFormValue("account")
	if !id.Valid(home) {
		a.notFound(w, r, u)
		return nil
	}
	if err := a.deletion.TransferOwnership(r.Context(), u.Principal, home, account); err != nil {
		return err
	}
	http.Redirect(w, r, "/sharing?done=owner#share-"+home, http.StatusSeeOther)
	return nil
}
