package identity

import (
	"fmt"

	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/keys"
)

// What a master key rotation rewrites of identity's records
// (internal/rekey): each is sealed or indexed here, so here is where it is
// known how.

// ResealEmail returns an account's sealed email sealed under the current
// generation, and whether it changed.
func ResealEmail(k *keys.Keyring, accountID string, sealed []byte) ([]byte, bool, error) {
	return k.ResealPII(sealed, emailAD(accountID))
}

// ResealSessionClient returns a session's sealed client details sealed
// under the current generation, and whether they changed.
func ResealSessionClient(k *keys.Keyring, sessionID string, sealed []byte) ([]byte, bool, error) {
	return k.ResealPII(sealed, sessionClientAD(sessionID))
}

// ResealTOTPSecret returns an account's sealed TOTP secret sealed under
// the current generation, and whether it changed.
func ResealTOTPSecret(k *keys.Keyring, accountID string, sealed []byte) ([]byte, bool, error) {
	return k.ResealPII(sealed, totpAD(accountID))
}

// EmailIndex is an account's email blind index under the current
// generation, from its sealed email.
func EmailIndex(k *keys.Keyring, a domain.Account) ([]byte, error) {
	email, err := k.OpenPII(a.EmailSealed, emailAD(a.ID))
	if err != nil {
		return nil, fmt.Errorf("open email of account %s: %w", a.ID, err)
	}
	return IndexEmail(k, string(email)), nil
}

// IndexEmail is a normalized email's blind index under the current
// generation, as accounts and invitations keep it.
func IndexEmail(k *keys.Keyring, normalized string) []byte {
	return k.BlindIndex(emailIndexPurpose, normalized)
}
