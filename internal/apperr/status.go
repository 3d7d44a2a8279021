package apperr

import "net/http"

// HTTPStatus maps a code to its HTTP status. It is the only place that
// does: the JSON API and the web app both answer through it.
func HTTPStatus(c Code) int {
	switch c {
	case Invalid, WeakPassword, WrongPassword:
		return http.StatusBadRequest
	case Unauthorized, OTPRequired, PasskeyRequired:
		return http.StatusUnauthorized
	case Forbidden, SecondFactorRequired:
		return http.StatusForbidden
	case NotFound:
		return http.StatusNotFound
	case Conflict, CameraOffline, OwnsSharedHome:
		return http.StatusConflict
	case TooLarge:
		return http.StatusRequestEntityTooLarge
	case Throttled, TooMany:
		return http.StatusTooManyRequests
	case Unavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}
