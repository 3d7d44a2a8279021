package postgres

import (
	"context"

	"github.com/camvault/camvault/internal/domain"
)

// KeyCheck stores value for the generation unless one is stored, and
// returns the stored one. The insert waits for a racing insert of the same
// generation to commit and then does nothing; the select that follows, a
// statement of its own, sees whichever row won. Rows are never removed.
func (s *Store) KeyCheck(ctx context.Context, generation uint32, value []byte) ([]byte, error) {
	if _, err := s.pool.Exec(ctx,
		`INSERT INTO key_check (generation, value) VALUES ($1, $2) ON CONFLICT (generation) DO NOTHING`,
		int64(generation), value); err != nil {
		return nil, wrap("store key check", err)
	}
	var stored []byte
	err := s.pool.QueryRow(ctx, `SELECT value FROM key_check WHERE generation = $1`, int64(generation)).Scan(&stored)
	return stored, wrap("read key check", err)
}

// KeyGenerations lists the recorded generations, oldest first.
func (s *Store) KeyGenerations(ctx context.Context) ([]domain.KeyGeneration, error) {
	return list(ctx, s.pool, "list key generations", func(sc scanner) (domain.KeyGeneration, error) {
		var g domain.KeyGeneration
		var gen int64
		err := sc.Scan(&gen, &g.Retired, &g.AuditCheck)
		g.Generation = uint32(gen)
		return g, err
	}, `SELECT generation, retired, audit_check FROM key_check ORDER BY generation`)
}

// RetireKeyGeneration marks a recorded generation retired.
func (s *Store) RetireKeyGeneration(ctx context.Context, generation uint32, auditCheck []byte) error {
	tag, err := s.pool.Exec(ctx, `UPDATE key_check SET retired = true, audit_check = $1 WHERE generation = $2`, auditCheck, int64(generation))
	return affected("retire key generation", tag, err)
}
