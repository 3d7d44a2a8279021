package identity_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/camvault/camvault/internal/apperr"
	"github.com/camvault/camvault/internal/servicetest"
)

func code(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestTOTPSecretSealedForItsAccount: the store holds the secret sealed
// with its account in the associated data, never in the clear, and a
// sealed secret moved to another account does not open there.
func TestTOTPSecretSealedForItsAccount(t *testing.T) {
	t.Parallel()
	e := servicetest.New(t)
	ctx := e.Ctx()
	ann, bob := e.Person("ann"), e.Person("bob")
	annSetup, err := e.Identity.StartTOTP(ctx, ann.Principal)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Identity.StartTOTP(ctx, bob.Principal); err != nil {
		t.Fatal(err)
	}
	annRow, err := e.Store.TOTP(ctx, ann.AccountID)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(annRow.SecretSealed, []byte(annSetup.Secret)) || bytes.Contains(bytes.ToUpper(annRow.SecretSealed), []byte(annSetup.Secret)) {
		t.Fatal("the TOTP secret is stored in the clear")
	}
	// Bob's row given ann's sealed secret: ann's codes do not confirm it.
	bobRow := annRow
	bobRow.AccountID = bob.AccountID
	if err := e.Store.PutTOTP(ctx, bobRow, nil); err != nil {
		t.Fatal(err)
	}
	err = e.Identity.ConfirmTOTP(ctx, bob.Principal, code(t, annSetup.Secret, e.Clock.Now()))
	if err == nil || apperr.CodeOf(err) != apperr.Internal {
		t.Fatalf("a secret sealed for another account: %v, want it refused as unopenable", err)
	}
	if err := e.Identity.ConfirmTOTP(ctx, ann.Principal, code(t, annSetup.Secret, e.Clock.Now())); err != nil {
		t.Fatalf("ann's own: %v", err)
	}
	if !strings.HasPrefix(annSetup.URL, "otpauth://totp/camvault:") {
		t.Fatalf("otpauth URL %q", annSetup.URL)
	}
	// The URL shown again for a pending set-up is the one first shown.
	if _, _, err := e.Identity.PendingTOTP(ctx, ann.Principal); apperr.CodeOf(err) != apperr.Conflict {
		t.Fatalf("a confirmed set-up is not pending: %v", err)
	}
}

// TestPendingTOTPShowsTheSameKey: after a wrong code the set-up shown
// again is the same key, so the app that scanned it keeps working.
func TestPendingTOTPShowsTheSameKey(t *testing.T) {
	t.Parallel()
	e := servicetest.New(t)
	ctx := e.Ctx()
	ann := e.Person("ann")
	setup, err := e.Identity.StartTOTP(ctx, ann.Principal)
	if err != nil {
		t.Fatal(err)
	}
	err = e.Identity.ConfirmTOTP(ctx, ann.Principal, "12345x")
	servicetest.WantCode(t, "a code that is not six digits", err, apperr.Invalid)
	url, secret, err := e.Identity.PendingTOTP(ctx, ann.Principal)
	if err != nil || url != setup.URL || secret != setup.Secret {
		t.Fatalf("pending set-up %q %q %v, want %q %q", url, secret, err, setup.URL, setup.Secret)
	}
}
