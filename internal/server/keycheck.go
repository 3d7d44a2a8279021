package server

import (
	"context"
	"crypto/subtle"
	"fmt"

	"github.com/camvault/camvault/internal/keys"
	"github.com/camvault/camvault/internal/store"
)

// checkKeys records each master key generation's check value in the store,
// or compares it with the one recorded by the first node that used that
// generation. A node whose key differs is refused before it writes anything
// the other nodes could not read, or fails on every request for data it
// cannot open. The error names the generation, never a key or a check.
func checkKeys(ctx context.Context, st store.KeyChecks, kr *keys.Keyring) error {
	checks := kr.Checks()
	for _, gen := range kr.IDs() {
		stored, err := st.KeyCheck(ctx, gen, checks[gen])
		if err != nil {
			return fmt.Errorf("key check of master key generation %d: %w", gen, err)
		}
		if subtle.ConstantTimeCompare(stored, checks[gen]) != 1 {
			return fmt.Errorf("master key generation %d differs from the one the data in the store was written with: "+
				"give this node the key every other node uses (CAMVAULT_MASTER_KEY or the key file)", gen)
		}
	}
	return nil
}
