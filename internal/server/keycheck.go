package server

import (
	"context"
	"crypto/subtle"
	"fmt"
	"slices"

	"github.com/camvault/camvault/internal/keys"
	"github.com/camvault/camvault/internal/store"
)

// checkKeys refuses a key file the data cannot be used with correctly,
// before anything is written:
//
//   - each master key generation's check value is recorded in the store,
//     or compared with the one recorded by the first node that used that
//     generation: a node whose key differs would write data the other
//     nodes could not read, or fail on every request for data it cannot
//     open;
//   - each generation the store records and has not retired must be a
//     whole key in the file: data made under it needs it (and a file
//     without the newest one would index and seal under an older one);
//   - each audit-only line must be of a generation the store retired, and
//     be the audit key recorded when it was.
//
// except names a generation the second rule skips (0: none), for the
// command that retires it. It returns the generations the store retired
// that the file still holds whole (harmless, but their keys should go).
// The errors name generations, never a key or a check.
func checkKeys(ctx context.Context, st store.KeyChecks, kr *keys.Keyring, except uint32) (retiredWhole []uint32, err error) {
	checks := kr.Checks()
	for _, gen := range kr.IDs() {
		stored, err := st.KeyCheck(ctx, gen, checks[gen])
		if err != nil {
			return nil, fmt.Errorf("key check of master key generation %d: %w", gen, err)
		}
		if subtle.ConstantTimeCompare(stored, checks[gen]) != 1 {
			return nil, fmt.Errorf("master key generation %d differs from the one the data in the store was written with: "+
				"give this node the key every other node uses (CAMVAULT_MASTER_KEY or the key file)", gen)
		}
	}
	gens, err := st.KeyGenerations(ctx)
	if err != nil {
		return nil, fmt.Errorf("key generations: %w", err)
	}
	recorded := map[uint32]bool{} // generation: retired
	for _, g := range gens {
		recorded[g.Generation] = g.Retired
		whole := slices.Contains(kr.IDs(), g.Generation)
		switch {
		case g.Retired && whole:
			retiredWhole = append(retiredWhole, g.Generation)
		case g.Retired:
			if want, ok := kr.AuditCheck(g.Generation); ok && subtle.ConstantTimeCompare(want, g.AuditCheck) != 1 {
				return nil, fmt.Errorf("the audit-only key of master key generation %d is not the one it was retired with: "+
					"audit entries made under it would not verify; restore its line from the key file of that time", g.Generation)
			}
		case !whole && g.Generation != except:
			return nil, fmt.Errorf("the data in the store was written with master key generation %d, which the key file lacks%s: "+
				"restore its line from a copy of the key file (camvault admin keys retire %d removes a generation once nothing needs it)",
				g.Generation, auditOnlyNote(kr, g.Generation), g.Generation)
		}
	}
	for _, gen := range kr.AuditOnly() {
		if _, ok := recorded[gen]; !ok {
			return nil, fmt.Errorf("the key file holds generation %d for audit only, but the store never recorded it: "+
				"this key file is not this data's", gen)
		}
	}
	return retiredWhole, nil
}

func auditOnlyNote(kr *keys.Keyring, gen uint32) string {
	if slices.Contains(kr.AuditOnly(), gen) {
		return " (it holds its audit key only, but the generation is not retired)"
	}
	return ""
}
