package httpapi

import (
	"net/http"

	"github.com/camvault/camvault/internal/identity"
	"github.com/camvault/camvault/internal/websession"
)

// Passwords: change, and reset by a mailed link (docs/design/mail.md).

func clientOf(r *http.Request) identity.Client {
	return identity.Client{Address: websession.ClientAddress(r), UserAgent: r.UserAgent()}
}

type passwordChange struct {
	Current string `json:"current"`
	New     string `json:"new"`
}

func (s *Server) changePassword(w http.ResponseWriter, r *http.Request) error {
	var in passwordChange
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	if err := s.identity.ChangePassword(r.Context(), principal(r.Context()), in.Current, in.New, clientOf(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type resetRequest struct {
	Email string `json:"email"`
}

// resetAccepted is the one answer to a reset request, whatever the email.
var resetAccepted = map[string]string{"status": "accepted", "message": "if this email has an account, a link to reset its password is on its way"}

func (s *Server) requestPasswordReset(w http.ResponseWriter, r *http.Request) error {
	var in resetRequest
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	if err := s.identity.RequestPasswordReset(r.Context(), in.Email, clientOf(r)); err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, resetAccepted)
	return nil
}

type resetPassword struct {
	New string `json:"new"`
}

func (s *Server) resetPassword(w http.ResponseWriter, r *http.Request) error {
	var in resetPassword
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	if err := s.identity.ResetPassword(r.Context(), r.PathValue("token"), in.New, clientOf(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
