package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/store"
)

// secondFactor reads whether a member's account has a second factor, as
// the store reads it with the membership.
func secondFactor(t *testing.T, s store.Store, homeID, accountID string) bool {
	t.Helper()
	m, err := s.Member(t.Context(), homeID, accountID)
	check(t, "member", err)
	return m.Member.SecondFactor
}

func wantNotFound(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("%s: %v, want ErrNotFound", what, err)
	}
}

// testTOTP checks enrolment, confirmation, replay protection, one-time
// recovery codes and removal, and that the account's second factor shows
// in its memberships and moves its grant version.
func testTOTP(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, other := newAccount(t, s), newAccount(t, s)
	h := newHome(t, s, a.ID)
	gv := func() int64 {
		v, err := s.GrantVersion(ctx, h.ID, a.ID)
		check(t, "grant version", err)
		return v
	}

	_, err := s.TOTP(ctx, a.ID)
	wantNotFound(t, "totp before enrolment", err)
	wantNotFound(t, "confirm before enrolment", s.ConfirmTOTP(ctx, a.ID, 5))

	codes := [][]byte{random("code"), random("code"), random("code")}
	first := domain.TOTP{AccountID: a.ID, SecretSealed: random("secret"), CreatedAt: at(0)}
	check(t, "put totp", s.PutTOTP(ctx, first, codes))
	// Enrolling again before confirming replaces the secret and the codes.
	again := domain.TOTP{AccountID: a.ID, SecretSealed: random("secret"), CreatedAt: at(time.Minute)}
	codes = [][]byte{random("code"), random("code"), random("code")}
	check(t, "put totp again", s.PutTOTP(ctx, again, codes))
	got, err := s.TOTP(ctx, a.ID)
	check(t, "read totp", err)
	if string(got.SecretSealed) != string(again.SecretSealed) || got.Confirmed || got.LastStep != 0 || !sameTime(got.CreatedAt, again.CreatedAt) {
		t.Fatalf("totp %+v, want the second enrolment, unconfirmed", got)
	}
	if n, err := s.RecoveryCodesLeft(ctx, a.ID); err != nil || n != 3 {
		t.Fatalf("recovery codes left %d, %v; want 3", n, err)
	}
	if secondFactor(t, s, h.ID, a.ID) {
		t.Fatal("an unconfirmed enrolment counts as a second factor")
	}
	wantNotFound(t, "use a step before confirming", s.UseTOTPStep(ctx, a.ID, 10))

	before := gv()
	check(t, "confirm", s.ConfirmTOTP(ctx, a.ID, 10))
	if gv() == before {
		t.Fatal("confirming TOTP left the grant version")
	}
	if !secondFactor(t, s, h.ID, a.ID) {
		t.Fatal("a confirmed TOTP is not a second factor")
	}
	wantNotFound(t, "confirm twice", s.ConfirmTOTP(ctx, a.ID, 11))
	if err := s.PutTOTP(ctx, domain.TOTP{AccountID: a.ID, SecretSealed: random("secret"), CreatedAt: at(0)}, nil); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("enrolling over a confirmed TOTP: %v, want ErrConflict", err)
	}

	// Steps only move forward: the confirming step, an earlier one and a
	// used one are refused.
	wantNotFound(t, "reuse the confirming step", s.UseTOTPStep(ctx, a.ID, 10))
	wantNotFound(t, "an earlier step", s.UseTOTPStep(ctx, a.ID, 9))
	check(t, "a later step", s.UseTOTPStep(ctx, a.ID, 12))
	wantNotFound(t, "the same step again", s.UseTOTPStep(ctx, a.ID, 12))
	wantNotFound(t, "another account's step", s.UseTOTPStep(ctx, other.ID, 13))

	// Of concurrent uses of one step, one succeeds.
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for range 8 {
		wg.Go(func() {
			if s.UseTOTPStep(ctx, a.ID, 20) == nil {
				mu.Lock()
				ok++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if ok != 1 {
		t.Fatalf("%d concurrent uses of one step succeeded, want 1", ok)
	}

	// Recovery codes: each once, only the account's own.
	wantNotFound(t, "another account's code", s.UseRecoveryCode(ctx, other.ID, codes[0]))
	wantNotFound(t, "a code never issued", s.UseRecoveryCode(ctx, a.ID, random("code")))
	check(t, "use a code", s.UseRecoveryCode(ctx, a.ID, codes[0]))
	wantNotFound(t, "use a code twice", s.UseRecoveryCode(ctx, a.ID, codes[0]))
	if n, _ := s.RecoveryCodesLeft(ctx, a.ID); n != 2 {
		t.Fatalf("recovery codes left %d, want 2", n)
	}

	before = gv()
	check(t, "delete totp", s.DeleteTOTP(ctx, a.ID))
	if gv() == before {
		t.Fatal("removing TOTP left the grant version")
	}
	if secondFactor(t, s, h.ID, a.ID) {
		t.Fatal("a removed TOTP still counts as a second factor")
	}
	if n, _ := s.RecoveryCodesLeft(ctx, a.ID); n != 0 {
		t.Fatalf("recovery codes left after removal: %d", n)
	}
	wantNotFound(t, "a code after removal", s.UseRecoveryCode(ctx, a.ID, codes[1]))
	wantNotFound(t, "delete twice", s.DeleteTOTP(ctx, a.ID))
}

// testPasskeys checks passkeys are kept per account, found by credential
// ID, their sign count only grows, and they count as a second factor.
func testPasskeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, other := newAccount(t, s), newAccount(t, s)
	h := newHome(t, s, a.ID)
	p := domain.Passkey{ID: id.New(), AccountID: a.ID, CredentialID: random("cred"), Credential: []byte(`{"k":1}`), SignCount: 3, CreatedAt: at(0)}
	before, err := s.GrantVersion(ctx, h.ID, a.ID)
	check(t, "grant version", err)
	check(t, "create passkey", s.CreatePasskey(ctx, p))
	if after, _ := s.GrantVersion(ctx, h.ID, a.ID); after == before {
		t.Fatal("adding a passkey left the grant version")
	}
	if !secondFactor(t, s, h.ID, a.ID) {
		t.Fatal("a passkey is not a second factor")
	}
	dup := p
	dup.ID, dup.AccountID = id.New(), other.ID
	if err := s.CreatePasskey(ctx, dup); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("a credential ID registered twice: %v, want ErrConflict", err)
	}
	list, err := s.Passkeys(ctx, a.ID)
	check(t, "list passkeys", err)
	if len(list) != 1 || list[0].ID != p.ID || string(list[0].CredentialID) != string(p.CredentialID) ||
		string(list[0].Credential) != string(p.Credential) || list[0].SignCount != 3 || !sameTime(list[0].CreatedAt, p.CreatedAt) || !list[0].LastUsedAt.IsZero() {
		t.Fatalf("passkeys %+v, want the one created", list)
	}
	if list, _ := s.Passkeys(ctx, other.ID); len(list) != 0 {
		t.Fatalf("another account lists %d passkeys", len(list))
	}
	got, err := s.PasskeyByCredentialID(ctx, p.CredentialID)
	check(t, "passkey by credential id", err)
	if got.ID != p.ID || got.AccountID != a.ID {
		t.Fatalf("passkey by credential id %+v", got)
	}
	_, err = s.PasskeyByCredentialID(ctx, random("cred"))
	wantNotFound(t, "unknown credential", err)

	wantNotFound(t, "a count that did not grow", s.UsePasskey(ctx, p.ID, 3, []byte(`{}`), at(time.Minute)))
	wantNotFound(t, "a count that went back", s.UsePasskey(ctx, p.ID, 2, []byte(`{}`), at(time.Minute)))
	check(t, "use passkey", s.UsePasskey(ctx, p.ID, 4, []byte(`{"k":2}`), at(time.Minute)))
	got, _ = s.PasskeyByCredentialID(ctx, p.CredentialID)
	if got.SignCount != 4 || string(got.Credential) != `{"k":2}` || !sameTime(got.LastUsedAt, at(time.Minute)) {
		t.Fatalf("after use: %+v", got)
	}
	// An authenticator that keeps no counter always says 0.
	zero := domain.Passkey{ID: id.New(), AccountID: a.ID, CredentialID: random("cred"), Credential: []byte(`{}`), CreatedAt: at(0)}
	check(t, "create counterless passkey", s.CreatePasskey(ctx, zero))
	check(t, "use counterless passkey", s.UsePasskey(ctx, zero.ID, 0, []byte(`{}`), at(time.Minute)))
	check(t, "use counterless passkey again", s.UsePasskey(ctx, zero.ID, 0, []byte(`{}`), at(2*time.Minute)))

	wantNotFound(t, "delete another account's passkey", s.DeletePasskey(ctx, other.ID, p.ID))
	check(t, "delete passkey", s.DeletePasskey(ctx, a.ID, p.ID))
	check(t, "delete passkey", s.DeletePasskey(ctx, a.ID, zero.ID))
	wantNotFound(t, "delete twice", s.DeletePasskey(ctx, a.ID, p.ID))
	if secondFactor(t, s, h.ID, a.ID) {
		t.Fatal("an account without passkeys still has a second factor")
	}
}

// testChallenges checks a ceremony's challenge is taken once, only for its
// account and purpose, and not after it expired.
func testChallenges(t *testing.T, s store.Store) {
	ctx := t.Context()
	c := domain.WebAuthnChallenge{ID: id.New(), AccountID: "acc", Purpose: "register", Data: []byte("data"), ExpiresAt: at(time.Minute)}
	check(t, "put challenge", s.PutChallenge(ctx, c))
	_, err := s.TakeChallenge(ctx, c.ID, "other", "register", at(0))
	wantNotFound(t, "another account's challenge", err)
	_, err = s.TakeChallenge(ctx, c.ID, "acc", "login", at(0))
	wantNotFound(t, "a challenge of another purpose", err)
	got, err := s.TakeChallenge(ctx, c.ID, "acc", "register", at(0))
	check(t, "take challenge", err)
	if string(got.Data) != "data" || !sameTime(got.ExpiresAt, c.ExpiresAt) {
		t.Fatalf("challenge %+v", got)
	}
	_, err = s.TakeChallenge(ctx, c.ID, "acc", "register", at(0))
	wantNotFound(t, "a challenge taken twice", err)

	old := domain.WebAuthnChallenge{ID: id.New(), Purpose: "login", Data: []byte("x"), ExpiresAt: at(time.Minute)}
	check(t, "put challenge", s.PutChallenge(ctx, old))
	_, err = s.TakeChallenge(ctx, old.ID, "", "login", at(time.Minute))
	wantNotFound(t, "an expired challenge", err)
	n, err := s.DeleteExpiredChallenges(ctx, at(time.Minute))
	check(t, "delete expired challenges", err)
	if n != 1 {
		t.Fatalf("deleted %d expired challenges, want 1", n)
	}
}

// testRequireSecondFactor checks the home setting is read with the home
// and its memberships and moves the home's grants version.
func testRequireSecondFactor(t *testing.T, s store.Store) {
	ctx := t.Context()
	owner := newAccount(t, s)
	h := newHome(t, s, owner.ID)
	v := version(t, s, h.ID)
	seq, _ := changesAfter(t, s, 0)
	check(t, "require", s.SetRequireSecondFactor(ctx, h.ID, true))
	if version(t, s, h.ID) == v {
		t.Fatal("requiring a second factor left the grants version")
	}
	if _, list := changesAfter(t, s, seq); len(list) != 1 || list[0].HomeID != h.ID {
		t.Fatalf("changes after requiring: %+v, want one naming the home", list)
	}
	got, err := s.HomeByID(ctx, h.ID)
	check(t, "home", err)
	m, err := s.Member(ctx, h.ID, owner.ID)
	check(t, "member", err)
	ms, err := s.Memberships(ctx, owner.ID)
	check(t, "memberships", err)
	if !got.RequireSecondFactor || !m.Home.RequireSecondFactor || len(ms) != 1 || !ms[0].Home.RequireSecondFactor || !m.SecondFactorMissing() {
		t.Fatal("the requirement is not read with the home and its memberships")
	}
	check(t, "no longer require", s.SetRequireSecondFactor(ctx, h.ID, false))
	if got, _ := s.HomeByID(ctx, h.ID); got.RequireSecondFactor {
		t.Fatal("the requirement stayed")
	}
	wantNotFound(t, "an unknown home", s.SetRequireSecondFactor(ctx, id.New(), true))
}
