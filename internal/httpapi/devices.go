package httpapi

import (
	"net/http"

	"github.com/camvault/camvault/internal/apperr"
	"github.com/camvault/camvault/internal/gateway"
	"github.com/camvault/camvault/internal/homes"
	"github.com/camvault/camvault/internal/websession"
)

func (s *Server) pair(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Code     string `json:"code"`
		Model    string `json:"model"`
		Firmware string `json:"firmware"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	p, err := s.homes.Pair(r.Context(), in.Code, in.Model, in.Firmware, websession.ClientAddress(r))
	if apperr.CodeOf(err) == apperr.Throttled {
		s.metrics.ThrottledLogins.Inc()
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, p)
	return nil
}

func (s *Server) getDevice(w http.ResponseWriter, r *http.Request) error {
	deviceID, err := pathID(r, "device", "device")
	if err != nil {
		return err
	}
	d, err := s.homes.Device(r.Context(), principal(r.Context()), deviceID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

// updateDevice renames a camera and/or sets whether it is kept warm.
func (s *Server) updateDevice(w http.ResponseWriter, r *http.Request) error {
	deviceID, err := pathID(r, "device", "device")
	if err != nil {
		return err
	}
	var in struct {
		Name     *string `json:"name"`
		KeepWarm *bool   `json:"keep_warm"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	d, err := s.homes.UpdateDevice(r.Context(), principal(r.Context()), deviceID,
		homes.DeviceUpdate{Name: in.Name, KeepWarm: in.KeepWarm})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

func (s *Server) deleteDevice(w http.ResponseWriter, r *http.Request) error {
	deviceID, err := pathID(r, "device", "device")
	if err != nil {
		return err
	}
	if err := s.homes.DeleteDevice(r.Context(), principal(r.Context()), deviceID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// deviceSelf tells a device who the server knows it as: the device its
// token belongs to, and nothing it could name itself.
func (s *Server) deviceSelf(w http.ResponseWriter, r *http.Request) error {
	p := principal(r.Context())
	writeJSON(w, http.StatusOK, map[string]string{"device_id": p.DeviceID, "home_id": p.HomeID})
	return nil
}

// deviceConnect is the camera's live connection (docs/device-protocol.md).
func (s *Server) deviceConnect(w http.ResponseWriter, r *http.Request) error {
	return s.gateway.Serve(w, r, principal(r.Context()))
}

func (s *Server) deviceCommand(w http.ResponseWriter, r *http.Request) error {
	deviceID, err := pathID(r, "device", "device")
	if err != nil {
		return err
	}
	var cmd gateway.Command
	if err := decodeJSON(w, r, &cmd); err != nil {
		return err
	}
	cmdID, err := s.gateway.Send(r.Context(), principal(r.Context()), deviceID, cmd)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"id": cmdID})
	return nil
}

// partnerDevices is GET /api/v1/partner/devices: the cameras a partner
// may see now (consented to, and still seen by the person).
func (s *Server) partnerDevices(w http.ResponseWriter, r *http.Request) error {
	list, err := s.homes.PartnerDevices(r.Context(), principal(r.Context()))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"devices": list})
	return nil
}
