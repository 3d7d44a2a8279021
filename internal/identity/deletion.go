package identity

import (
	"context"
	"errors"
	"fmt"

	"github.com/camvault/camvault/internal/apperr"
	"github.com/camvault/camvault/internal/store"
	"github.com/camvault/camvault/internal/throttle"
)

// errReauth is the one answer to a wrong password (or second factor) when
// a signed-in person confirms a step that cannot be undone.
var errReauth = apperr.New(apperr.Unauthorized, "the password is wrong")

// Reauthenticate checks that the person signed in as accountID is there
// to confirm a step that cannot be undone (deleting the account): their
// password, and their second factor when the account has one. An account
// without a second factor ignores otp. This is the one place such steps
// are confirmed; a second factor is added here.
func (s *Service) Reauthenticate(ctx context.Context, accountID, password, otp string) error {
	_ = otp // no second factor exists yet: accepted and ignored
	a, err := s.store.AccountByID(ctx, accountID)
	if errors.Is(err, store.ErrNotFound) {
		return errReauth
	}
	if err != nil {
		return fmt.Errorf("read account: %w", err)
	}
	if password == "" || len(password) > maxPasswordBytes {
		return errReauth
	}
	// Counted before the password is verified, per account, as logins
	// are: a stolen session cannot be used to guess the password.
	lim := throttle.Limiter{Store: s.store, Limit: s.cfg.AccountFailures, Window: s.cfg.ThrottleWindow,
		Message: "too many wrong passwords; try again later"}
	key := s.keys.BlindIndex("reauth-throttle-account", accountID)
	if err := lim.Attempt(ctx, key, s.now()); err != nil {
		return err
	}
	release, err := s.hashSlot(ctx)
	if err != nil {
		return err
	}
	ok, err := verifyPassword(password, a.PasswordHash)
	release()
	if err != nil {
		return fmt.Errorf("verify password: %w", err)
	}
	if !ok {
		return errReauth
	}
	return lim.Reset(ctx, key)
}

// EmailIndexesOf are the blind indexes of an account's email under every
// master key generation: what invitations to it are kept under.
func (s *Service) EmailIndexesOf(ctx context.Context, accountID string) ([][]byte, error) {
	a, err := s.Account(ctx, accountID)
	if err != nil {
		return nil, err
	}
	return s.emailIndexes(a.Email), nil
}
