package httpapi

import (
	"context"
	"net/http"

	"github.com/camvault/camvault/internal/apperr"
	"github.com/camvault/camvault/internal/authz"
	"github.com/camvault/camvault/internal/webhook"
)

// Webhooks manages homes' webhooks; *webhook.Service is one.
type Webhooks interface {
	Create(ctx context.Context, p authz.Principal, homeID, rawURL string, types []string) (webhook.Created, error)
	List(ctx context.Context, p authz.Principal, homeID string) ([]webhook.View, error)
	Delete(ctx context.Context, p authz.Principal, homeID, webhookID string) error
	Deliveries(ctx context.Context, p authz.Principal, homeID, webhookID string) ([]webhook.DeliveryView, error)
}

func (s *Server) webhooksOrNotFound() error {
	if s.webhooks == nil {
		return apperr.New(apperr.NotFound, "no such route")
	}
	return nil
}

func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request) error {
	if err := s.webhooksOrNotFound(); err != nil {
		return err
	}
	homeID, err := pathID(r, "home", "home")
	if err != nil {
		return err
	}
	var in struct {
		URL    string   `json:"url"`
		Events []string `json:"events"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	c, err := s.webhooks.Create(r.Context(), principal(r.Context()), homeID, in.URL, in.Events)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, c)
	return nil
}

func (s *Server) listWebhooks(w http.ResponseWriter, r *http.Request) error {
	if err := s.webhooksOrNotFound(); err != nil {
		return err
	}
	homeID, err := pathID(r, "home", "home")
	if err != nil {
		return err
	}
	list, err := s.webhooks.List(r.Context(), principal(r.Context()), homeID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"webhooks": list})
	return nil
}

func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request) error {
	if err := s.webhooksOrNotFound(); err != nil {
		return err
	}
	homeID, err := pathID(r, "home", "home")
	if err != nil {
		return err
	}
	webhookID, err := pathID(r, "webhook", "webhook")
	if err != nil {
		return err
	}
	if err := s.webhooks.Delete(r.Context(), principal(r.Context()), homeID, webhookID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) webhookDeliveries(w http.ResponseWriter, r *http.Request) error {
	if err := s.webhooksOrNotFound(); err != nil {
		return err
	}
	homeID, err := pathID(r, "home", "home")
	if err != nil {
		return err
	}
	webhookID, err := pathID(r, "webhook", "webhook")
	if err != nil {
		return err
	}
	list, err := s.webhooks.Deliveries(r.Context(), principal(r.Context()), homeID, webhookID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"deliveries": list})
	return nil
}
