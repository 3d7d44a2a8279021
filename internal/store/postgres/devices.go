package postgres

import (
	"context"
	"slices"
	"time"

	"github.com/camvault/camvault/internal/domain"
	"github.com/jackc/pgx/v5"
)

// CreatePairingCode inserts a pairing code.
func (s *Store) CreatePairingCode(ctx context.Context, p domain.PairingCode) error {
	_, err := s.pool.Exec(ctx,
		`INSERT INTO pairing_codes (code_hash, home_id, created_by, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)`,
		p.CodeHash, p.HomeID, p.CreatedBy, ts(p.CreatedAt), ts(p.ExpiresAt))
	return wrap("insert pairing code", err)
}

// PairDevice consumes a pairing code and creates the device in the code's
// home, in one transaction. The conditional UPDATE is what makes a code
// single-use: a second pairing with the code, on any node, waits for the
// first one's row lock and then finds used_at set.
func (s *Store) PairDevice(ctx context.Context, codeHash []byte, now time.Time, d domain.Device) (domain.Device, error) {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx,
			`UPDATE pairing_codes SET used_at = $1 WHERE code_hash = $2 AND used_at IS NULL AND expires_at > $1 RETURNING home_id`,
			ts(now), codeHash).Scan(&d.HomeID)
		if err != nil {
			return wrap("consume pairing code", err)
		}
		_, err = tx.Exec(ctx,
			`INSERT INTO devices (id, home_id, name_sealed, model, firmware, token_hash, created_at, last_seen_at, online, keep_warm)
			 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			d.ID, d.HomeID, d.NameSealed, d.Model, d.Firmware, d.TokenHash, ts(d.CreatedAt), ts(d.LastSeenAt), d.Online, d.KeepWarm)
		return wrap("insert device", err)
	})
	if err != nil {
		return domain.Device{}, err
	}
	return d, nil
}

const deviceCols = `id, home_id, name_sealed, model, firmware, token_hash, created_at, last_seen_at, online, keep_warm`

func scanDevice(row scanner) (domain.Device, error) {
	var d domain.Device
	var created, seen int64
	if err := row.Scan(&d.ID, &d.HomeID, &d.NameSealed, &d.Model, &d.Firmware, &d.TokenHash, &created, &seen, &d.Online, &d.KeepWarm); err != nil {
		return domain.Device{}, err
	}
	d.CreatedAt, d.LastSeenAt = fromTS(created), fromTS(seen)
	return d, nil
}

// DeviceByID reads a device.
func (s *Store) DeviceByID(ctx context.Context, id string) (domain.Device, error) {
	d, err := scanDevice(s.pool.QueryRow(ctx, `SELECT `+deviceCols+` FROM devices WHERE id = $1`, id))
	return d, wrap("device by id", err)
}

// DeviceByTokenHash reads a device by its token's hash.
func (s *Store) DeviceByTokenHash(ctx context.Context, hash []byte) (domain.Device, error) {
	d, err := scanDevice(s.pool.QueryRow(ctx, `SELECT `+deviceCols+` FROM devices WHERE token_hash = $1`, hash))
	return d, wrap("device by token hash", err)
}

// ListDevices lists a home's devices, oldest first.
func (s *Store) ListDevices(ctx context.Context, homeID string) ([]domain.Device, error) {
	return list(ctx, s.pool, "list devices", scanDevice,
		`SELECT `+deviceCols+` FROM devices WHERE home_id = $1 ORDER BY created_at, id`, homeID)
}

// RenameDevice replaces a device's sealed name.
func (s *Store) RenameDevice(ctx context.Context, id string, nameSealed []byte) error {
	tag, err := s.pool.Exec(ctx, `UPDATE devices SET name_sealed = $1 WHERE id = $2`, nameSealed, id)
	return affected("rename device", tag, err)
}

// SetKeepWarm sets whether a device streams live whenever it is connected.
func (s *Store) SetKeepWarm(ctx context.Context, id string, warm bool) error {
	tag, err := s.pool.Exec(ctx, `UPDATE devices SET keep_warm = $1 WHERE id = $2`, warm, id)
	return affected("set keep warm", tag, err)
}

// DeleteDevice removes a device (its token with it, and by cascade its
// place in members' camera lists) and bumps its home's grants version.
func (s *Store) DeleteDevice(ctx context.Context, id string) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		var homeID string
		if err := tx.QueryRow(ctx, `DELETE FROM devices WHERE id = $1 RETURNING home_id`, id).Scan(&homeID); err != nil {
			return wrap("delete device", err)
		}
		return bumpGrants(ctx, tx, homeID)
	})
}

// SetDevicePresence records a device's connection state.
func (s *Store) SetDevicePresence(ctx context.Context, id string, online bool, lastSeen time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE devices SET online = $1, last_seen_at = $2 WHERE id = $3`, online, ts(lastSeen), id)
	return affected("set device presence", tag, err)
}

// SetPresence records many presence changes in one transaction and one
// statement. When a device appears more than once, its last change wins,
// as it would applied one by one. Rows are locked in ID order first, so
// two nodes writing overlapping batches queue instead of deadlocking.
func (s *Store) SetPresence(ctx context.Context, updates []domain.Presence) error {
	if len(updates) == 0 {
		return nil
	}
	last := map[string]domain.Presence{}
	for _, u := range updates {
		last[u.DeviceID] = u
	}
	ids := make([]string, 0, len(last))
	for id := range last {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	online := make([]bool, len(ids))
	seen := make([]int64, len(ids))
	for i, id := range ids {
		online[i], seen[i] = last[id].Online, ts(last[id].LastSeen)
	}
	return s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT 1 FROM devices WHERE id = ANY($1) ORDER BY id FOR UPDATE`, ids); err != nil {
			return wrap("lock devices for presence", err)
		}
		_, err := tx.Exec(ctx,
			`UPDATE devices d SET online = u.online, last_seen_at = u.seen
			 FROM unnest($1::text[], $2::boolean[], $3::bigint[]) AS u(id, online, seen)
			 WHERE d.id = u.id`, ids, online, seen)
		return wrap("set presence", err)
	})
}
