package httpapi

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/camvault/camvault/internal/apperr"
	"github.com/camvault/camvault/internal/httpmw"
)

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    apperr.Code `json:"code"`
	Message string      `json:"message"`
}

// writeError answers with err's status and body, as httpmw.Failure
// decides: no SQL, path or stack ever reaches the client, and what the
// answer hides is logged with the request ID.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e, ok := httpmw.Failure(r, s.log, err)
	if !ok {
		return // the client went away; nobody to answer
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
