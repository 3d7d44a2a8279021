package httpapi

import (
	"net/http"

	"github.com/camvault/camvault/internal/apperr"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/homes"
	"github.com/camvault/camvault/internal/id"
)

// pathID reads an ID from the path. A value that cannot be an ID answers
// exactly as a missing object of that kind would.
func pathID(r *http.Request, name, kind string) (string, error) {
	v := r.PathValue(name)
	if !id.Valid(v) {
		return "", apperr.NotFoundf(kind)
	}
	return v, nil
}

func (s *Server) createHome(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Name string `json:"name"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	h, err := s.homes.Create(r.Context(), principal(r.Context()), in.Name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, h)
	return nil
}

func (s *Server) listHomes(w http.ResponseWriter, r *http.Request) error {
	list, err := s.homes.List(r.Context(), principal(r.Context()))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"homes": list})
	return nil
}

func (s *Server) getHome(w http.ResponseWriter, r *http.Request) error {
	homeID, err := pathID(r, "home", "home")
	if err != nil {
		return err
	}
	h, err := s.homes.Get(r.Context(), principal(r.Context()), homeID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, h)
	return nil
}

func (s *Server) updateHome(w http.ResponseWriter, r *http.Request) error {
	homeID, err := pathID(r, "home", "home")
	if err != nil {
		return err
	}
	var in struct {
		Name                *string `json:"name"`
		RetentionDays       *int    `json:"retention_days"`
		RequireSecondFactor *bool   `json:"require_second_factor"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	h, err := s.homes.Change(r.Context(), principal(r.Context()), homeID,
		homes.Settings{Name: in.Name, RetentionDays: in.RetentionDays, RequireSecondFactor: in.RequireSecondFactor})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, h)
	return nil
}

func (s *Server) listMembers(w http.ResponseWriter, r *http.Request) error {
	homeID, err := pathID(r, "home", "home")
	if err != nil {
		return err
	}
	list, err := s.homes.Members(r.Context(), principal(r.Context()), homeID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"members": list})
	return nil
}

// invite is POST /api/v1/homes/{home}/members: it invites the email, and
// answers the same whether or not an account has it.
func (s *Server) invite(w http.ResponseWriter, r *http.Request) error {
	homeID, err := pathID(r, "home", "home")
	if err != nil {
		return err
	}
	var in struct {
		Email   string      `json:"email"`
		Role    domain.Role `json:"role"`
		Devices []string    `json:"devices"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	inv, err := s.homes.Invite(r.Context(), principal(r.Context()), homeID, in.Email, in.Role, in.Devices)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"invitation": inv})
	return nil
}

func (s *Server) updateMember(w http.ResponseWriter, r *http.Request) error {
	homeID, err := pathID(r, "home", "home")
	if err != nil {
		return err
	}
	accountID, err := pathID(r, "account", "member")
	if err != nil {
		return err
	}
	var in struct {
		Role    domain.Role `json:"role"`
		Devices []string    `json:"devices"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	m, err := s.homes.UpdateMember(r.Context(), principal(r.Context()), homeID, accountID, in.Role, in.Devices)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, m)
	return nil
}

func (s *Server) removeMember(w http.ResponseWriter, r *http.Request) error {
	homeID, err := pathID(r, "home", "home")
	if err != nil {
		return err
	}
	accountID, err := pathID(r, "account", "member")
	if err != nil {
		return err
	}
	if err := s.homes.RemoveMember(r.Context(), principal(r.Context()), homeID, accountID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) createPairingCode(w http.ResponseWriter, r *http.Request) error {
	homeID, err := pathID(r, "home", "home")
	if err != nil {
		return err
	}
	pc, err := s.homes.CreatePairingCode(r.Context(), principal(r.Context()), homeID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, pc)
	return nil
}

func (s *Server) listDevices(w http.ResponseWriter, r *http.Request) error {
	homeID, err := pathID(r, "home", "home")
	if err != nil {
		return err
	}
	list, err := s.homes.Devices(r.Context(), principal(r.Context()), homeID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"devices": list})
	return nil
}
