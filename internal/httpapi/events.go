package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"

	"github.com/camvault/camvault/internal/apperr"
	"github.com/camvault/camvault/internal/audit"
	"github.com/camvault/camvault/internal/events"
	"github.com/camvault/camvault/internal/media"
)

const (
	maxMetaPart = 4 << 10
	// maxUploadBody bounds a whole upload: the largest thumbnail and clip
	// plus room for the meta part and multipart framing.
	maxUploadBody = (1 << 20) + (64 << 20) + (64 << 10)
)

// uploadEvent is POST /api/v1/device/events. The parts are streamed: the
// meta part first, then the thumbnail and the optional clip, each checked
// and sealed as it arrives, so a 64 MiB clip is never held in memory. The
// answer comes only once the blobs are synced and the record committed.
func (s *Server) uploadEvent(w http.ResponseWriter, r *http.Request) error {
	p := principal(r.Context())
	if !p.IsDevice() {
		return apperr.New(apperr.Unauthorized, "a device token is required")
	}
	release, err := s.admit.Upload(p.DeviceID, p.HomeID)
	if err != nil {
		return err
	}
	defer release()
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return apperr.New(apperr.Invalid, "Content-Type must be multipart/form-data with a boundary")
	}
	body := http.MaxBytesReader(w, r.Body, maxUploadBody)
	mr := multipart.NewReader(body, params["boundary"])
	part, err := mr.NextPart()
	if err != nil {
		return multipartError(err)
	}
	if part.FormName() != "meta" {
		return apperr.New(apperr.Invalid, `the first part must be "meta"`)
	}
	meta, err := readMeta(part)
	if err != nil {
		return err
	}
	up, err := s.events.Begin(r.Context(), p, meta)
	if err != nil {
		return err
	}
	if eventID, ok := up.Existing(); ok {
		writeJSON(w, http.StatusOK, map[string]string{"id": eventID})
		return nil
	}
	committed := false
	defer func() {
		if !committed {
			up.Abort(r.Context())
		}
	}()
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return multipartError(err)
		}
		switch part.FormName() {
		case "thumbnail":
			err = up.Thumbnail(r.Context(), part)
		case "clip":
			err = up.Clip(r.Context(), part)
		default:
			err = apperr.New(apperr.Invalid, "unknown part %q: parts are meta, thumbnail and clip", part.FormName())
		}
		if err != nil {
			return multipartError(err)
		}
	}
	eventID, created, err := up.Commit(r.Context())
	if err != nil {
		return err
	}
	committed = true
	status := http.StatusCreated
	if !created {
		status = http.StatusOK
	}
	writeJSON(w, status, map[string]string{"id": eventID})
	return nil
}

func readMeta(part *multipart.Part) (events.Meta, error) {
	raw, err := io.ReadAll(io.LimitReader(part, maxMetaPart+1))
	if err != nil {
		return events.Meta{}, multipartError(err)
	}
	if len(raw) > maxMetaPart {
		return events.Meta{}, apperr.New(apperr.TooLarge, "meta part is larger than %d bytes", maxMetaPart)
	}
	var m events.Meta
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return events.Meta{}, apperr.New(apperr.Invalid, "meta: %s", jsonError(err).(*apperr.Error).Message)
	}
	return m, nil
}

// multipartError keeps application errors and turns transport ones into
// a clear 400 or 413.
func multipartError(err error) error {
	if _, ok := apperr.As(err); ok {
		return err
	}
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return apperr.New(apperr.TooLarge, "upload is larger than %d bytes", maxUploadBody)
	}
	return apperr.Wrap(err, apperr.Invalid, "body is not valid multipart/form-data")
}

func (s *Server) listEvents(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	lq := events.ListQuery{Home: q.Get("home"), Device: q.Get("device"), Kinds: q["kind"], Before: q.Get("before")}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return apperr.New(apperr.Invalid, "limit must be a number")
		}
		lq.Limit = n
	}
	page, err := s.events.List(r.Context(), principal(r.Context()), lq)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}

func (s *Server) getEvent(w http.ResponseWriter, r *http.Request) error {
	eventID, err := pathID(r, "event", "event")
	if err != nil {
		return err
	}
	v, err := s.events.Get(r.Context(), principal(r.Context()), eventID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) eventThumbnail(w http.ResponseWriter, r *http.Request) error {
	return s.serveMedia(w, r, media.KindThumbnail)
}

func (s *Server) eventClip(w http.ResponseWriter, r *http.Request) error {
	return s.serveMedia(w, r, media.KindClip)
}

// serveMedia opens an event's media and hands it to the guard, the only
// writer of media bytes.
func (s *Server) serveMedia(w http.ResponseWriter, r *http.Request, kind media.Kind) error {
	eventID, err := pathID(r, "event", "event")
	if err != nil {
		return err
	}
	p := principal(r.Context())
	m, err := s.events.Open(r.Context(), p, eventID, kind)
	if err != nil {
		return err
	}
	defer m.Close()
	if err := s.guard.Serve(w, r, p, m.Grant, eventID, kind, m.Response); err != nil {
		if errors.Is(err, media.ErrBlocked) {
			return apperr.Wrap(err, apperr.Internal, "internal error")
		}
		return err
	}
	return nil
}

func (s *Server) deleteEvent(w http.ResponseWriter, r *http.Request) error {
	eventID, err := pathID(r, "event", "event")
	if err != nil {
		return err
	}
	if err := s.events.Delete(r.Context(), principal(r.Context()), eventID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) homeAudit(w http.ResponseWriter, r *http.Request) error {
	homeID, err := pathID(r, "home", "home")
	if err != nil {
		return err
	}
	q := r.URL.Query()
	var limit int
	var before int64
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil {
			return apperr.New(apperr.Invalid, "limit must be a number")
		}
	}
	if v := q.Get("before"); v != "" {
		if before, err = strconv.ParseInt(v, 10, 64); err != nil || before < 1 {
			return apperr.New(apperr.Invalid, "before must be an entry's seq")
		}
	}
	group := false
	if v := q.Get("group"); v != "" {
		if group, err = strconv.ParseBool(v); err != nil {
			return apperr.New(apperr.Invalid, "group must be true or false")
		}
	}
	entries, next, err := s.audit.List(r.Context(), principal(r.Context()), homeID, audit.Query{Before: before, Limit: limit,
		Actor: q.Get("actor"), Device: q.Get("device"), Action: q.Get("action"), Group: group})
	if err != nil {
		return err
	}
	body := map[string]any{"entries": entries}
	if next != 0 {
		body["next"] = next
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}
