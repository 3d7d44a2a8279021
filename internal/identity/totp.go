package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/camvault/camvault/internal/apperr"
	"github.com/camvault/camvault/internal/authz"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/keys"
	"github.com/camvault/camvault/internal/store"
	"github.com/camvault/camvault/internal/throttle"
)

// TOTP follows RFC 6238 as authenticator apps implement it: SHA-1, six
// digits, 30-second steps, a 160-bit secret. A code of the step before or
// after the server's is accepted too (clocks drift), but never a step at
// or before the last one accepted: a code works once.
const (
	totpIssuer     = "camvault"
	totpPeriod     = 30
	totpDigits     = otp.DigitsSix
	totpSecretSize = 20
	totpSkew       = 1
)

// RecoveryCodes is how many one-time recovery codes an enrolment gives.
const RecoveryCodes = 10

// recoveryCodeBytes is a recovery code's randomness: 80 bits, so its
// unsalted-looking hash (it is salted by the account) cannot be reversed
// by trying every code.
const recoveryCodeBytes = 10

// recoveryEncoding writes recovery codes, and reads TOTP secrets: base32
// without padding, as otpauth URLs carry them.
var recoveryEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

func totpAD(accountID string) []byte { return keys.AD("account-totp", accountID) }

// TOTPSetup is what starting a TOTP enrolment shows, once: the secret (also
// as an otpauth:// URL for a QR code) and the recovery codes.
type TOTPSetup struct {
	Secret        string   `json:"secret"`
	URL           string   `json:"otpauth_url"`
	RecoveryCodes []string `json:"recovery_codes"`
}

// SecondFactorStatus is what an account has set up.
type SecondFactorStatus struct {
	TOTP          bool `json:"totp"`
	TOTPPending   bool `json:"totp_pending"` // started, not confirmed
	RecoveryCodes int  `json:"recovery_codes"`
	Passkeys      int  `json:"passkeys"`
}

var (
	errOTPWrong   = apperr.New(apperr.Invalid, "the one-time code is wrong or was used already")
	errOTPMissing = apperr.New(apperr.OTPRequired,
		`this account needs a one-time code from its authenticator app, or one of its recovery codes, in "otp"`)
	errOTPLoginWrong = apperr.New(apperr.OTPRequired, "the one-time code is wrong or was used already")
	errPasskeyOnly   = apperr.New(apperr.PasskeyRequired, "this account signs in with its passkey")
)

// StartTOTP begins (or begins again) a TOTP enrolment of p's account. It
// is not used at login until ConfirmTOTP; an account with a confirmed one
// must turn it off first (409).
func (s *Service) StartTOTP(ctx context.Context, p authz.Principal) (TOTPSetup, error) {
	if !p.IsPerson() {
		return TOTPSetup{}, errNoSession
	}
	key, err := s.totpKey(ctx, p.AccountID, nil)
	if err != nil {
		return TOTPSetup{}, err
	}
	setup := TOTPSetup{Secret: key.Secret(), URL: key.URL()}
	hashes := make([][]byte, 0, RecoveryCodes)
	for range RecoveryCodes {
		b := make([]byte, recoveryCodeBytes)
		if _, err := rand.Read(b); err != nil {
			return TOTPSetup{}, fmt.Errorf("random recovery code: %w", err)
		}
		c := strings.ToLower(recoveryEncoding.EncodeToString(b))
		setup.RecoveryCodes = append(setup.RecoveryCodes, c[0:4]+"-"+c[4:8]+"-"+c[8:12]+"-"+c[12:16])
		hashes = append(hashes, recoveryCodeHash(p.AccountID, c))
	}
	t := domain.TOTP{AccountID: p.AccountID, SecretSealed: s.keys.SealPII([]byte(key.Secret()), totpAD(p.AccountID)), CreatedAt: s.now()}
	if err := s.store.PutTOTP(ctx, t, hashes); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return TOTPSetup{}, apperr.New(apperr.Conflict, "TOTP is on already; turn it off first to set it up again")
		}
		return TOTPSetup{}, fmt.Errorf("start totp: %w", err)
	}
	return setup, nil
}

// PendingTOTP returns the otpauth:// URL and the secret of p's TOTP
// set-up waiting for confirmation, to show again after a wrong code (the
// recovery codes are not kept, and are not shown again). 409 when there is
// none waiting.
func (s *Service) PendingTOTP(ctx context.Context, p authz.Principal) (url, secret string, err error) {
	if !p.IsPerson() {
		return "", "", errNoSession
	}
	t, err := s.store.TOTP(ctx, p.AccountID)
	switch {
	case errors.Is(err, store.ErrNotFound) || err == nil && t.Confirmed:
		return "", "", apperr.New(apperr.Conflict, "there is no TOTP set-up waiting for confirmation")
	case err != nil:
		return "", "", fmt.Errorf("read totp: %w", err)
	}
	raw, err := s.keys.OpenPII(t.SecretSealed, totpAD(p.AccountID))
	if err != nil {
		return "", "", fmt.Errorf("open totp secret of account %s: %w", p.AccountID, err)
	}
	key, err := s.totpKey(ctx, p.AccountID, raw)
	if err != nil {
		return "", "", err
	}
	return key.URL(), key.Secret(), nil
}

// totpKey is the TOTP key of an account: a fresh one (secret nil), or the
// one of a secret (base32), with the account's email as its name.
func (s *Service) totpKey(ctx context.Context, accountID string, secret []byte) (*otp.Key, error) {
	acct, err := s.Account(ctx, accountID)
	if err != nil {
		return nil, err
	}
	opts := totp.GenerateOpts{Issuer: totpIssuer, AccountName: acct.Email, Period: totpPeriod,
		SecretSize: totpSecretSize, Digits: totpDigits, Algorithm: otp.AlgorithmSHA1}
	if secret != nil {
		if opts.Secret, err = recoveryEncoding.DecodeString(string(secret)); err != nil {
			return nil, fmt.Errorf("decode totp secret of account %s: %w", accountID, err)
		}
	}
	key, err := totp.Generate(opts)
	if err != nil {
		return nil, fmt.Errorf("totp key: %w", err)
	}
	return key, nil
}

// ConfirmTOTP turns on the enrolment StartTOTP began, given a current code
// from the authenticator app. From then on a login needs a code.
func (s *Service) ConfirmTOTP(ctx context.Context, p authz.Principal, code string) error {
	if !p.IsPerson() {
		return errNoSession
	}
	t, err := s.store.TOTP(ctx, p.AccountID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return apperr.New(apperr.Conflict, "there is no TOTP set-up to confirm; start one with POST /api/v1/me/totp")
	case err != nil:
		return fmt.Errorf("read totp: %w", err)
	case t.Confirmed:
		return apperr.New(apperr.Conflict, "TOTP is on already")
	}
	now := s.now()
	lim := s.otpLimiter()
	key := s.otpThrottleKey(p.AccountID)
	if err := lim.Attempt(ctx, key, now); err != nil {
		return err
	}
	step, ok, err := s.matchTOTP(t, code, now)
	if err != nil {
		return err
	}
	if !ok {
		return errOTPWrong
	}
	if err := s.store.ConfirmTOTP(ctx, p.AccountID, step); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return apperr.New(apperr.Conflict, "the TOTP set-up changed meanwhile; start again")
		}
		return fmt.Errorf("confirm totp: %w", err)
	}
	return lim.Undo(ctx, key, now)
}

// DisableTOTP turns TOTP off, given a current code or a recovery code: a
// stolen session alone cannot take the second factor away.
func (s *Service) DisableTOTP(ctx context.Context, p authz.Principal, code string) error {
	if !p.IsPerson() {
		return errNoSession
	}
	t, err := s.store.TOTP(ctx, p.AccountID)
	if errors.Is(err, store.ErrNotFound) {
		return apperr.NotFoundf("totp")
	}
	if err != nil {
		return fmt.Errorf("read totp: %w", err)
	}
	if t.Confirmed {
		// An unconfirmed set-up protects nothing yet; removing it needs no code.
		if err := s.checkOTP(ctx, t, code); err != nil {
			if apperr.CodeOf(err) == apperr.OTPRequired {
				return errOTPWrong
			}
			return err
		}
	}
	if err := s.store.DeleteTOTP(ctx, p.AccountID); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("delete totp: %w", err)
	}
	return nil
}

// SecondFactors reports what p's account has set up.
func (s *Service) SecondFactors(ctx context.Context, p authz.Principal) (SecondFactorStatus, error) {
	if !p.IsPerson() {
		return SecondFactorStatus{}, errNoSession
	}
	var st SecondFactorStatus
	t, err := s.store.TOTP(ctx, p.AccountID)
	switch {
	case err == nil:
		st.TOTP, st.TOTPPending = t.Confirmed, !t.Confirmed
	case !errors.Is(err, store.ErrNotFound):
		return SecondFactorStatus{}, fmt.Errorf("read totp: %w", err)
	}
	if st.TOTP {
		if st.RecoveryCodes, err = s.store.RecoveryCodesLeft(ctx, p.AccountID); err != nil {
			return SecondFactorStatus{}, fmt.Errorf("count recovery codes: %w", err)
		}
	}
	pks, err := s.store.Passkeys(ctx, p.AccountID)
	if err != nil {
		return SecondFactorStatus{}, fmt.Errorf("list passkeys: %w", err)
	}
	st.Passkeys = len(pks)
	return st, nil
}

// secondFactorAtLogin is the step of a login after the right password:
// an account with TOTP on needs a valid code (or recovery code) in otp; an
// account with passkeys and no TOTP signs in with a passkey. Nothing here
// runs unless the password was right, so none of it tells someone without
// the password anything.
func (s *Service) secondFactorAtLogin(ctx context.Context, accountID, code string) error {
	t, err := s.store.TOTP(ctx, accountID)
	switch {
	case err == nil && t.Confirmed:
		if strings.TrimSpace(code) == "" {
			return errOTPMissing
		}
		return s.checkOTP(ctx, t, code)
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("read totp: %w", err)
	}
	pks, err := s.store.Passkeys(ctx, accountID)
	if err != nil {
		return fmt.Errorf("list passkeys: %w", err)
	}
	if len(pks) > 0 {
		return errPasskeyOnly
	}
	return nil
}

// checkOTP checks a TOTP code or a recovery code of a confirmed
// enrolment, counted against the account's OTP throttle before it is
// checked; a wrong one answers OTPRequired. A TOTP code's step is recorded
// as used, a recovery code removed, each in one store statement, so of two
// logins with one code only one passes.
func (s *Service) checkOTP(ctx context.Context, t domain.TOTP, code string) error {
	now := s.now()
	lim := s.otpLimiter()
	key := s.otpThrottleKey(t.AccountID)
	if err := lim.Attempt(ctx, key, now); err != nil {
		return err
	}
	if rc, ok := normalizeRecoveryCode(code); ok {
		err := s.store.UseRecoveryCode(ctx, t.AccountID, recoveryCodeHash(t.AccountID, rc))
		if errors.Is(err, store.ErrNotFound) {
			return errOTPLoginWrong
		}
		if err != nil {
			return fmt.Errorf("use recovery code: %w", err)
		}
		return lim.Undo(ctx, key, now)
	}
	step, ok, err := s.matchTOTP(t, code, now)
	if err != nil {
		return err
	}
	if !ok || step <= t.LastStep {
		return errOTPLoginWrong
	}
	if err := s.store.UseTOTPStep(ctx, t.AccountID, step); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return errOTPLoginWrong // used meanwhile by another login
		}
		return fmt.Errorf("use totp step: %w", err)
	}
	return lim.Undo(ctx, key, now)
}

// matchTOTP returns the time step whose code is code, of the steps around
// now, comparing in constant time.
func (s *Service) matchTOTP(t domain.TOTP, code string, now time.Time) (int64, bool, error) {
	code = strings.TrimSpace(code)
	if len(code) != totpDigits.Length() || strings.Trim(code, "0123456789") != "" {
		return 0, false, nil
	}
	secret, err := s.keys.OpenPII(t.SecretSealed, totpAD(t.AccountID))
	if err != nil {
		return 0, false, fmt.Errorf("open totp secret of account %s: %w", t.AccountID, err)
	}
	opts := totp.ValidateOpts{Period: totpPeriod, Digits: totpDigits, Algorithm: otp.AlgorithmSHA1}
	cur := now.Unix() / totpPeriod
	var found int64
	for step := cur - totpSkew; step <= cur+totpSkew; step++ {
		want, err := totp.GenerateCodeCustom(string(secret), time.Unix(step*totpPeriod, 0), opts)
		if err != nil {
			return 0, false, fmt.Errorf("totp code: %w", err)
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && found == 0 {
			found = step
		}
	}
	return found, found != 0, nil
}

// normalizeRecoveryCode returns a recovery code as it is hashed (lower
// case, no dashes or spaces), and whether code has a recovery code's shape.
func normalizeRecoveryCode(code string) (string, bool) {
	c := strings.ToLower(strings.NewReplacer("-", "", " ", "").Replace(code))
	if len(c) != 16 {
		return "", false
	}
	if _, err := recoveryEncoding.DecodeString(strings.ToUpper(c)); err != nil {
		return "", false
	}
	return c, true
}

// recoveryCodeHash is what the store keeps of a recovery code: its
// SHA-256, with the account in the hashed bytes so one code's hash is
// good for one account only.
func recoveryCodeHash(accountID, normalized string) []byte {
	h := sha256.Sum256(keys.Encode([]byte("recovery-code"), []byte(accountID), []byte(normalized)))
	return h[:]
}

// otpThrottleKey counts an account's wrong one-time codes, from anywhere:
// only someone who has the password gets to guess, and they get few.
func (s *Service) otpThrottleKey(accountID string) []byte {
	return s.keys.BlindIndex("otp-throttle-account", accountID)
}

func (s *Service) otpLimiter() throttle.Limiter {
	return throttle.Limiter{Store: s.store, Limit: s.cfg.OTPFailures, Window: s.cfg.ThrottleWindow,
		Message: "too many wrong one-time codes for this account; try again later"}
}
