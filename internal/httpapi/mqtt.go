package httpapi

import (
	"context"
	"net/http"

	"github.com/camvault/camvault/internal/apperr"
	"github.com/camvault/camvault/internal/authz"
	"github.com/camvault/camvault/internal/mqttpub"
)

// MQTT keeps homes' MQTT brokers; *mqttpub.Service is one.
type MQTT interface {
	Put(ctx context.Context, p authz.Principal, homeID string, in mqttpub.Settings) error
	Get(ctx context.Context, p authz.Principal, homeID string) (mqttpub.View, error)
	Delete(ctx context.Context, p authz.Principal, homeID string) error
}

func (s *Server) putMQTT(w http.ResponseWriter, r *http.Request) error {
	if s.mqtt == nil {
		return apperr.New(apperr.NotFound, "no such route")
	}
	homeID, err := pathID(r, "home", "home")
	if err != nil {
		return err
	}
	var in mqttpub.Settings
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	if err := s.mqtt.Put(r.Context(), principal(r.Context()), homeID, in); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) getMQTT(w http.ResponseWriter, r *http.Request) error {
	if s.mqtt == nil {
		return apperr.New(apperr.NotFound, "no such route")
	}
	homeID, err := pathID(r, "home", "home")
	if err != nil {
		return err
	}
	v, err := s.mqtt.Get(r.Context(), principal(r.Context()), homeID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) deleteMQTT(w http.ResponseWriter, r *http.Request) error {
	if s.mqtt == nil {
		return apperr.New(apperr.NotFound, "no such route")
	}
	homeID, err := pathID(r, "home", "home")
	if err != nil {
		return err
	}
	if err := s.mqtt.Delete(r.Context(), principal(r.Context()), homeID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
