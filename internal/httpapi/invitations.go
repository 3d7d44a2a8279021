package httpapi

import "net/http"

// homeInvitations lists a home's pending invitations to its owners and
// admins.
func (s *Server) homeInvitations(w http.ResponseWriter, r *http.Request) error {
	homeID, err := pathID(r, "home", "home")
	if err != nil {
		return err
	}
	list, err := s.homes.HomeInvitations(r.Context(), principal(r.Context()), homeID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"invitations": list})
	return nil
}

// listInvitations lists the pending invitations to the caller's email.
func (s *Server) listInvitations(w http.ResponseWriter, r *http.Request) error {
	list, err := s.homes.Invitations(r.Context(), principal(r.Context()))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"invitations": list})
	return nil
}

func (s *Server) acceptInvitation(w http.ResponseWriter, r *http.Request) error {
	invitationID, err := pathID(r, "invitation", "invitation")
	if err != nil {
		return err
	}
	if err := s.homes.AcceptInvitation(r.Context(), principal(r.Context()), invitationID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// deleteInvitation is the invitee declining, or an owner or admin of the
// home taking the invitation back.
func (s *Server) deleteInvitation(w http.ResponseWriter, r *http.Request) error {
	invitationID, err := pathID(r, "invitation", "invitation")
	if err != nil {
		return err
	}
	if err := s.homes.DeleteInvitation(r.Context(), principal(r.Context()), invitationID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
