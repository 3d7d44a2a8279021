// Package apperr is camvault's one error vocabulary. Services return these
// codes; the HTTP layer maps each code to a status in exactly one place.
package apperr

import (
	"errors"
	"fmt"
	"time"
)

// Code says what kind of failure an error is, independent of transport.
type Code string

// The codes. Their wire names are part of the API contract.
const (
	Invalid      Code = "invalid_request"   // malformed or unacceptable input
	WeakPassword Code = "weak_password"     // a password that fails the policy
	Unauthorized Code = "unauthorized"      // missing, wrong or expired credential
	Forbidden    Code = "forbidden"         // a known object the caller may see but not change
	NotFound     Code = "not_found"         // missing, or not the caller's to see
	Conflict     Code = "conflict"          // would duplicate something that exists
	TooLarge     Code = "too_large"         // a body past its size limit
	Throttled    Code = "too_many_requests" // slow down; see RetryAfter
	Unavailable  Code = "unavailable"       // shedding load; see RetryAfter
	Internal     Code = "internal"          // anything else; never shows details

	// CameraOffline: the camera is connected to no node (409).
	CameraOffline Code = "camera_offline"
	// TooMany: past a limit of things at once, e.g. live viewers of a
	// camera (429); the message says which limit.
	TooMany Code = "too_many"
	// WrongPassword: the current password given to change it is not the
	// account's (400).
	WrongPassword Code = "wrong_password"

	// OTPRequired: the password was right, and the account also needs a
	// one-time code (or a recovery code) that was missing or wrong (401).
	OTPRequired Code = "otp_required"
	// PasskeyRequired: the password was right, and the account signs in
	// with its passkey (401).
	PasskeyRequired Code = "passkey_required"
	// SecondFactorRequired: a home the caller is a member of requires a
	// second factor the caller's account has not set up (403).
	SecondFactorRequired Code = "second_factor_required"
	// OwnsSharedHome: an account to delete owns a home with other
	// members; ownership must be transferred first (409).
	OwnsSharedHome Code = "owns_shared_home"
)

// Error is an application error: a code, a message safe to show to the
// caller, and optionally the underlying cause, which is never shown.
type Error struct {
	Code       Code
	Message    string
	RetryAfter time.Duration
	Err        error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// New returns an error with a code and a caller-safe message.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an error with a code and message that keeps err as its cause.
func Wrap(err error, code Code, message string) *Error {
	return &Error{Code: code, Message: message, Err: err}
}

// NotFoundf is the one not-found error for objects of a kind. Every "not
// yours" and every "does not exist" goes through it so they read alike.
func NotFoundf(kind string) *Error {
	return &Error{Code: NotFound, Message: kind + " not found"}
}

// CodeOf returns the code of err, or Internal when err carries none.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// Denied reports whether c refuses the caller access (not found,
// forbidden, or a second factor the home requires): what ends a live
// session or an event stream as revoked, rather than as failed.
func Denied(c Code) bool { return c == NotFound || c == Forbidden || c == SecondFactorRequired }

// As returns the *Error inside err, if any.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
