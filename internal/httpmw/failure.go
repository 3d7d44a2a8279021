package httpmw

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/camvault/camvault/internal/apperr"
	"github.com/camvault/camvault/internal/store"
)

// unavailableMessage is what a client is told when the store failed: true,
// and with nothing of the cause in it.
const unavailableMessage = "camvault cannot reach its data just now; try again shortly"

// Failure decides how err, returned while serving r, is answered. An error
// with an application code keeps it. A store that failed (an error wrapping
// store.ErrUnavailable with no code, or only Internal) is Unavailable: 503,
// and the request may succeed later. Anything else is Internal: 500. The
// cause of every such 5xx is logged with the request ID; the answer never
// shows it. ok is false when the client has gone away and nobody is left
// to answer.
func Failure(r *http.Request, log *slog.Logger, err error) (e *apperr.Error, ok bool) {
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		return nil, false
	}
	e, coded := apperr.As(err)
	switch {
	case (!coded || e.Code == apperr.Internal) && errors.Is(err, store.ErrUnavailable):
		e = apperr.Wrap(err, apperr.Unavailable, unavailableMessage)
	case !coded:
		e = apperr.Wrap(err, apperr.Internal, "internal error")
	}
	if e.Err != nil && apperr.HTTPStatus(e.Code) >= http.StatusInternalServerError {
		log.ErrorContext(r.Context(), "request failed", "request_id", RequestID(r.Context()),
			"status", apperr.HTTPStatus(e.Code), "err", err)
	}
	return e, true
}
