package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/camvault/camvault/internal/apperr"
	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/identity"
	"github.com/camvault/camvault/internal/websession"
)

// Second factors (docs/design/second-factors.md): TOTP with recovery
// codes, and passkeys (WebAuthn), which also log in on their own.

type otpRequest struct {
	OTP string `json:"otp"`
}

func (s *Server) secondFactors(w http.ResponseWriter, r *http.Request) error {
	st, err := s.identity.SecondFactors(r.Context(), principal(r.Context()))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

func (s *Server) startTOTP(w http.ResponseWriter, r *http.Request) error {
	setup, err := s.identity.StartTOTP(r.Context(), principal(r.Context()))
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store") // the secret and the recovery codes are shown once
	writeJSON(w, http.StatusCreated, setup)
	return nil
}

func (s *Server) confirmTOTP(w http.ResponseWriter, r *http.Request) error {
	var in otpRequest
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	if err := s.identity.ConfirmTOTP(r.Context(), principal(r.Context()), in.OTP); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) disableTOTP(w http.ResponseWriter, r *http.Request) error {
	var in otpRequest
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	if err := s.identity.DisableTOTP(r.Context(), principal(r.Context()), in.OTP); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// ceremonyFinish is the finish of a WebAuthn ceremony: the challenge its
// begin answered and the browser's PublicKeyCredential as JSON (binary
// fields base64url).
type ceremonyFinish struct {
	Challenge  string          `json:"challenge"`
	Credential json.RawMessage `json:"credential"`
}

func (c ceremonyFinish) check() error {
	if c.Challenge == "" || len(c.Credential) == 0 {
		return apperr.New(apperr.Invalid, `give "challenge" and "credential"`)
	}
	return nil
}

func (s *Server) beginPasskeyRegistration(w http.ResponseWriter, r *http.Request) error {
	c, err := s.identity.BeginPasskeyRegistration(r.Context(), principal(r.Context()))
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, c)
	return nil
}

func (s *Server) finishPasskeyRegistration(w http.ResponseWriter, r *http.Request) error {
	var in ceremonyFinish
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	if err := in.check(); err != nil {
		return err
	}
	pk, err := s.identity.FinishPasskeyRegistration(r.Context(), principal(r.Context()), in.Challenge, in.Credential)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, pk)
	return nil
}

func (s *Server) listPasskeys(w http.ResponseWriter, r *http.Request) error {
	list, err := s.identity.ListPasskeys(r.Context(), principal(r.Context()))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"passkeys": list})
	return nil
}

func (s *Server) deletePasskey(w http.ResponseWriter, r *http.Request) error {
	pid := r.PathValue("passkey")
	if !id.Valid(pid) {
		return apperr.NotFoundf("passkey")
	}
	if err := s.identity.DeletePasskey(r.Context(), principal(r.Context()), pid); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) beginPasskeyLogin(w http.ResponseWriter, r *http.Request) error {
	c, err := s.identity.BeginPasskeyLogin(r.Context(), identity.Client{Address: websession.ClientAddress(r), UserAgent: r.UserAgent()})
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, c)
	return nil
}

func (s *Server) finishPasskeyLogin(w http.ResponseWriter, r *http.Request) error {
	var in ceremonyFinish
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	if err := in.check(); err != nil {
		return err
	}
	l, err := s.identity.FinishPasskeyLogin(r.Context(), in.Challenge, in.Credential,
		identity.Client{Address: websession.ClientAddress(r), UserAgent: r.UserAgent()})
	if apperr.CodeOf(err) == apperr.Unauthorized {
		s.metrics.AuthFailures.WithLabelValues("passkey").Inc()
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, loginResponse{Token: l.Token, ExpiresAt: l.ExpiresAt})
	return nil
}
