package httpapi

import (
	"context"
	"net/http"

	"github.com/camvault/camvault/internal/authz"
	"github.com/camvault/camvault/internal/push"
)

// Push keeps people's notification subscriptions; *push.Service is one.
type Push interface {
	VAPIDPublicKey(ctx context.Context) (string, error)
	Create(ctx context.Context, p authz.Principal, in push.Subscribe) (string, error)
	List(ctx context.Context, p authz.Principal) ([]push.Subscription, error)
	Delete(ctx context.Context, p authz.Principal, subID string) error
}

func (s *Server) vapidKey(w http.ResponseWriter, r *http.Request) error {
	key, err := s.push.VAPIDPublicKey(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"key": key})
	return nil
}

func (s *Server) createPushSubscription(w http.ResponseWriter, r *http.Request) error {
	var in push.Subscribe
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	id, err := s.push.Create(r.Context(), principal(r.Context()), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]string{"id": id})
	return nil
}

func (s *Server) listPushSubscriptions(w http.ResponseWriter, r *http.Request) error {
	list, err := s.push.List(r.Context(), principal(r.Context()))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"subscriptions": list})
	return nil
}

func (s *Server) deletePushSubscription(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "subscription", "subscription")
	if err != nil {
		return err
	}
	if err := s.push.Delete(r.Context(), principal(r.Context()), id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
