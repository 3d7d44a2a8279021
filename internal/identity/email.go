package identity

import (
	"net/mail"
	"strings"

	"github.com/camvault/camvault/internal/apperr"
)

const maxEmailLen = 254

// NormalizeEmail checks that s is a plain email address and returns the form
// used for lookup: trimmed and lower case. Display names and comments
// ("Ann <ann@example.com>") are refused rather than guessed at.
func NormalizeEmail(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" || len(s) > maxEmailLen {
		return "", apperr.New(apperr.Invalid, "email must be an address of at most %d characters", maxEmailLen)
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return "", apperr.New(apperr.Invalid, "email is not a valid address")
	}
	local, domain, ok := strings.Cut(s, "@")
	if !ok || local == "" || !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") ||
		strings.HasSuffix(domain, ".") || strings.ContainsAny(s, " \t\r\n") {
		return "", apperr.New(apperr.Invalid, "email is not a valid address")
	}
	return s, nil
}
