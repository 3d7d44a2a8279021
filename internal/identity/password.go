package identity

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"github.com/camvault/camvault/internal/apperr"
)

// Argon2Params are the argon2id cost parameters. The defaults follow the
// OWASP Password Storage Cheat Sheet's first recommendation (19 MiB, two
// passes, one lane): about 30 ms on one core of a small server, which bounds
// both an attacker with a stolen hash and a login flood's CPU cost.
type Argon2Params struct {
	MemoryKiB uint32
	Time      uint32
	Threads   uint8
}

// DefaultArgon2 is used unless configured otherwise.
var DefaultArgon2 = Argon2Params{MemoryKiB: 19 * 1024, Time: 2, Threads: 1}

const (
	saltLen = 16
	hashLen = 32
)

// hashPassword returns an argon2id hash in the PHC string format, which
// carries its own parameters so they can be raised later without breaking
// older hashes.
func hashPassword(password string, p Argon2Params) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("random salt: %w", err)
	}
	sum := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, hashLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemoryKiB, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(sum)), nil
}

// verifyPassword reports whether password matches the PHC-format hash.
func verifyPassword(password, encoded string) (bool, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, errors.New("not an argon2id hash")
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, errors.New("unsupported argon2 version")
	}
	var p Argon2Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Time, &p.Threads); err != nil {
		return false, fmt.Errorf("argon2 parameters: %w", err)
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil {
		return false, fmt.Errorf("argon2 salt: %w", err)
	}
	want, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil {
		return false, fmt.Errorf("argon2 hash: %w", err)
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// MinPasswordLength is the password rule's least number of characters:
// the API, the web app's forms and the documents all state this one.
const MinPasswordLength = 10

const maxPasswordBytes = 256

// commonPasswords are refused outright; a short list of the most used ones
// is enough to stop the worst, the length rule does the rest.
var commonPasswords = map[string]bool{
	"1234567890": true, "12345678910": true, "123456789012": true, "0123456789": true,
	"qwertyuiop": true, "password12": true, "password123": true, "password1234": true,
	"1q2w3e4r5t": true, "qwerty1234": true, "iloveyou12": true, "abcdefghij": true,
	"passw0rd123": true, "letmein123": true, "welcome123": true, "changeme123": true,
	"administrator": true, "camvault123": true, "qwertyuiop123": true, "1111111111": true,
}

// checkPassword applies the password policy: at least MinPasswordLength characters, at
// most 256 bytes, not a well-known password, not mostly one character, and
// not the email address itself.
func checkPassword(password, email string) error {
	if utf8.RuneCountInString(password) < MinPasswordLength {
		return apperr.New(apperr.WeakPassword, "password must be at least %d characters", MinPasswordLength)
	}
	if len(password) > maxPasswordBytes {
		return apperr.New(apperr.WeakPassword, "password must be at most %d bytes", maxPasswordBytes)
	}
	if !utf8.ValidString(password) {
		return apperr.New(apperr.WeakPassword, "password must be valid UTF-8")
	}
	lower := strings.ToLower(password)
	if commonPasswords[lower] {
		return apperr.New(apperr.WeakPassword, "password is too common")
	}
	distinct := map[rune]bool{}
	for _, r := range lower {
		distinct[r] = true
	}
	if len(distinct) < 4 {
		return apperr.New(apperr.WeakPassword, "password needs more different characters")
	}
	if local, _, _ := strings.Cut(email, "@"); len(local) >= 4 && strings.Contains(lower, local) || lower == email {
		return apperr.New(apperr.WeakPassword, "password must not contain your email address")
	}
	return nil
}
