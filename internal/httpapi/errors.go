package httpapi

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/camvault/camvault/internal/apperr"
)

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    apperr.Code `json:"code"`
	Message string      `json:"message"`
}

// writeError answers with err's status and body. Errors without a code are
// logged with their detail and answered with a bare "internal error": no
// SQL, path or stack ever reaches the client.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e, ok := apperr.As(err)
	if !ok {
		if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
			return // the client went away; nobody to answer
		}
		s.log.ErrorContext(r.Context(), "request failed", "request_id", requestID(r.Context()), "err", err)
		e = apperr.New(apperr.Internal, "internal error")
	}
	if e.Code == apperr.Internal && e.Err != nil {
		s.log.ErrorContext(r.Context(), "request failed", "request_id", requestID(r.Context()), "err", e.Err)
	}
	if e.RetryAfter > 0 || e.Code == apperr.Throttled || e.Code == apperr.Unavailable {
		w.Header().Set("Retry-After", retryAfter(e.RetryAfter, e.Code == apperr.Unavailable))
	}
	writeJSON(w, apperr.HTTPStatus(e.Code), errorBody{Error: errorDetail{Code: e.Code, Message: e.Message}})
}

// retryAfter renders a Retry-After in whole seconds, at least one. When
// shedding load it is jittered so refused clients do not come back in step.
func retryAfter(d time.Duration, jitter bool) string {
	secs := int((d + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	if jitter {
		secs += rand.IntN(secs + 1)
	}
	return strconv.Itoa(secs)
}
