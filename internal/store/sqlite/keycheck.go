package sqlite

import (
	"context"
	"database/sql"
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
