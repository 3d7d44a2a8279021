package httpapi

import (
	"io"
	"net/http"
	"strconv"

	"github.com/camvault/camvault/internal/apperr"
)

// deleteMe deletes the caller's account, confirmed with their password
// (and second factor).
func (s *Server) deleteMe(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Password string `json:"password"`
		OTP      string `json:"otp"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	if in.Password == "" {
		return apperr.New(apperr.Invalid, "password is required to delete the account")
	}
	if err := s.deletion.DeleteAccount(r.Context(), principal(r.Context()), in.Password, in.OTP); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// transferOwnership makes an admin of the home its owner.
func (s *Server) transferOwnership(w http.ResponseWriter, r *http.Request) error {
	homeID, err := pathID(r, "home", "home")
	if err != nil {
		return err
	}
	var in struct {
		Account string `json:"account"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	if in.Account == "" {
		return apperr.New(apperr.Invalid, "account is required: the admin who becomes the owner")
	}
	if err := s.deletion.TransferOwnership(r.Context(), principal(r.Context()), homeID, in.Account); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// createExport starts an export of the caller's data. The body is
// optional: {"home": id} exports one home they own or administer.
func (s *Server) createExport(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Home string `json:"home"`
	}
	if r.ContentLength != 0 {
		if err := decodeJSON(w, r, &in); err != nil {
			return err
		}
	}
	st, err := s.exports.Create(r.Context(), principal(r.Context()), in.Home)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/me/exports/"+st.ID)
	writeJSON(w, http.StatusAccepted, map[string]string{"id": st.ID})
	return nil
}

// getExport says where the caller's export stands.
func (s *Server) getExport(w http.ResponseWriter, r *http.Request) error {
	exportID, err := pathID(r, "export", "export")
	if err != nil {
		return err
	}
	st, err := s.exports.Get(r.Context(), principal(r.Context()), exportID)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, st)
	return nil
}

// downloadExport streams the caller's ready export, a zip.
func (s *Server) downloadExport(w http.ResponseWriter, r *http.Request) error {
	exportID, err := pathID(r, "export", "export")
	if err != nil {
		return err
	}
	d, err := s.exports.Open(r.Context(), principal(r.Context()), exportID)
	if err != nil {
		return err
	}
	defer d.Close()
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", `attachment; filename="camvault-export-`+exportID+`.zip"`)
	w.Header().Set("Content-Length", strconv.FormatInt(d.Size, 10))
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = io.Copy(w, d) // the status is sent; a failed write has no one to tell
	return nil
}
