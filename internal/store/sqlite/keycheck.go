package sqlite

import (
	"context"
	"database/sql"

	"github.com/camvault/camvault/internal/domain"
)

// KeyCheck stores value for the generation unless one is stored, and
// returns the stored one. Both steps run on the single writer connection in
// one immediate transaction, so no other writer comes between them.
func (s *Store) KeyCheck(ctx context.Context, generation uint32, value []byte) ([]byte, error) {
	var stored []byte
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO key_check (generation, value) VALUES (?, ?) ON CONFLICT (generation) DO NOTHING`,
			int64(generation), value); err != nil {
			return wrap("store key check", err)
		}
		return wrap("read key check", tx.QueryRowContext(ctx,
			`SELECT value FROM key_check WHERE generation = ?`, int64(generation)).Scan(&stored))
	})
	return stored, err
}

// KeyGenerations lists the recorded generations, oldest first.
func (s *Store) KeyGenerations(ctx context.Context) ([]domain.KeyGeneration, error) {
	return list(ctx, s.read, "list key generations", func(sc scanner) (domain.KeyGeneration, error) {
		var g domain.KeyGeneration
		var gen int64
		err := sc.Scan(&gen, &g.Retired, &g.AuditCheck)
		g.Generation = uint32(gen)
		return g, err
	}, `SELECT generation, retired, audit_check FROM key_check ORDER BY generation`)
}

// RetireKeyGeneration marks a recorded generation retired.
func (s *Store) RetireKeyGeneration(ctx context.Context, generation uint32, auditCheck []byte) error {
	res, err := s.w.ExecContext(ctx, `UPDATE key_check SET retired = 1, audit_check = ? WHERE generation = ?`, auditCheck, int64(generation))
	return affected("retire key generation", res, err)
}
