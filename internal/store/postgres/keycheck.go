package postgres

import "context"

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
