package httpapi

import (
	"net/http"
	"time"

	"github.com/camvault/camvault/internal/apperr"
	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/identity"
	"github.com/camvault/camvault/internal/websession"
)

type credentials struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

func (s *Server) createAccount(w http.ResponseWriter, r *http.Request) error {
	var in credentials
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	accountID, err := s.identity.SignUp(r.Context(), in.Email, in.Password, identity.Client{Address: websession.ClientAddress(r), UserAgent: r.UserAgent()})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]string{"id": accountID})
	return nil
}

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	OTP      string `json:"otp,omitempty"`
}

type loginResponse struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) error {
	var in loginRequest
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	l, err := s.identity.LoginOTP(r.Context(), in.Email, in.Password, in.OTP, identity.Client{Address: websession.ClientAddress(r), UserAgent: r.UserAgent()})
	switch apperr.CodeOf(err) {
	case apperr.Throttled:
		s.metrics.ThrottledLogins.Inc()
	case apperr.Unauthorized:
		s.metrics.AuthFailures.WithLabelValues("login").Inc()
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, loginResponse{Token: l.Token, ExpiresAt: l.ExpiresAt})
	return nil
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) error {
	if err := s.identity.Logout(r.Context(), principal(r.Context())); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) logoutEverywhere(w http.ResponseWriter, r *http.Request) error {
	if err := s.identity.LogoutEverywhere(r.Context(), principal(r.Context())); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) listSessions(w http.ResponseWriter, r *http.Request) error {
	list, err := s.identity.Sessions(r.Context(), principal(r.Context()))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"sessions": list})
	return nil
}

func (s *Server) endSession(w http.ResponseWriter, r *http.Request) error {
	sid := r.PathValue("session")
	if !id.Valid(sid) {
		return apperr.NotFoundf("session")
	}
	if err := s.identity.EndSession(r.Context(), principal(r.Context()), sid); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) me(w http.ResponseWriter, r *http.Request) error {
	a, err := s.identity.Account(r.Context(), principal(r.Context()).AccountID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a)
	return nil
}

func (s *Server) serveOpenAPI(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300") // the API description is the same for everyone
	_, err := w.Write(s.openAPI)
	return err
}
