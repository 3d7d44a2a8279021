package httpapi

import (
	"context"
	"errors"
	"io"
	"mime"
	"net/http"

	"github.com/camvault/camvault/internal/apperr"
	"github.com/camvault/camvault/internal/authz"
	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/live"
	"github.com/camvault/camvault/internal/live/mse"
	"github.com/camvault/camvault/internal/live/whep"
	"github.com/camvault/camvault/internal/websession"
)

// LiveSource is one viewer's live session: live.Session is one.
type LiveSource interface {
	Next(ctx context.Context) (live.Frame, error)
	Close()
}

// Live is what the live view routes need. With Watch nil they answer 404,
// as for a camera the caller may not see.
type Live struct {
	// Watch opens a live session for p on deviceID: not_found for a
	// camera p may not see, as for a missing one; conflict
	// (camera_offline) and too_many_requests as the live service decides.
	Watch func(ctx context.Context, p authz.Principal, deviceID string) (LiveSource, error)
	// AccessLost and Ended classify what a session's Next returns
	// (live.ErrRevoked, live.ErrEnded).
	AccessLost func(error) bool
	Ended      func(error) bool
	// WHEP holds the WebRTC sessions; nil answers WHEP offers with 404.
	WHEP *whep.Server
}

// maxOffer bounds an SDP offer; a browser's is a few kilobytes.
const maxOffer = 64 << 10

// whepOffer is POST /api/v1/devices/{device}/live/whep (RFC 9725): an SDP
// offer in, the answer out, with the session's Location for DELETE.
func (s *Server) whepOffer(w http.ResponseWriter, r *http.Request) error {
	deviceID, err := pathID(r, "device", "device")
	if err != nil {
		return err
	}
	if s.live.Watch == nil || s.live.WHEP == nil {
		return apperr.NotFoundf("device")
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/sdp" {
		return apperr.New(apperr.Invalid, "the body must be an SDP offer, Content-Type application/sdp")
	}
	offer, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxOffer))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return apperr.New(apperr.TooLarge, "the SDP offer is larger than %d bytes", maxOffer)
		}
		return apperr.New(apperr.Invalid, "the SDP offer could not be read")
	}
	p := principal(r.Context())
	src, err := s.live.Watch(r.Context(), p, deviceID)
	if err != nil {
		return err
	}
	sessionID, answer, err := s.live.WHEP.Offer(r.Context(), whepOwner(p, deviceID), src, string(offer))
	switch {
	case errors.Is(err, whep.ErrBadOffer):
		return apperr.New(apperr.Invalid, "the SDP offer cannot be answered: it needs a video section that can receive H.264 (packetization-mode 1)")
	case errors.Is(err, whep.ErrFull):
		return apperr.New(apperr.Throttled, "this server has as many WebRTC live sessions as it takes; try again later or use the WebSocket stream")
	case errors.Is(err, whep.ErrClosed):
		return apperr.New(apperr.Unavailable, "the server is shutting down")
	case err != nil:
		return err
	}
	w.Header().Set("Location", "/api/v1/devices/"+deviceID+"/live/whep/"+sessionID)
	w.Header().Set("Content-Type", "application/sdp")
	w.WriteHeader(http.StatusCreated)
	_, _ = io.WriteString(w, answer) // the status is sent; a failed write has no one to tell
	return nil
}

// whepDelete is DELETE on a WHEP session's Location: the session ends.
// Someone else's session is not found, as a missing one is.
func (s *Server) whepDelete(w http.ResponseWriter, r *http.Request) error {
	deviceID, err := pathID(r, "device", "device")
	if err != nil {
		return err
	}
	sessionID := r.PathValue("session")
	if s.live.WHEP == nil || !id.Valid(sessionID) || !s.live.WHEP.Delete(whepOwner(principal(r.Context()), deviceID), sessionID) {
		return apperr.NotFoundf("live session")
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// whepOwner is who may end a WHEP session: the account that opened it (or
// the partner link, for a partner), on the camera of the session's URL.
func whepOwner(p authz.Principal, deviceID string) string {
	if p.IsPartner() {
		return "link:" + p.LinkID + "/" + deviceID
	}
	return p.AccountID + "/" + deviceID
}

// liveMSE is GET /api/v1/devices/{device}/live/mse: a WebSocket of
// fragmented MP4. Every refusal is an ordinary HTTP answer before the
// upgrade.
func (s *Server) liveMSE(w http.ResponseWriter, r *http.Request) error {
	deviceID, err := pathID(r, "device", "device")
	if err != nil {
		return err
	}
	if s.live.Watch == nil {
		return apperr.NotFoundf("device")
	}
	// A WebSocket is a GET, which the CSRF rules let through; a page of
	// another site must not open a session (and its audit record) with
	// the viewer's cookie, so the Origin is checked before Watch.
	if !websession.SameOrigin(r) {
		return apperr.New(apperr.Forbidden, "a live stream must be opened from a page of this server")
	}
	src, err := s.live.Watch(r.Context(), principal(r.Context()), deviceID)
	if err != nil {
		return err
	}
	return mse.Serve(r.Context(), w, r, src, mse.Options{AccessLost: s.live.AccessLost, Ended: s.live.Ended, Log: s.log})
}
