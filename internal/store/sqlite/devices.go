package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/camvault/camvault/internal/domain"
)

// CreatePairingCode inserts a pairing code.
func (s *Store) CreatePairingCode(ctx context.Context, p domain.PairingCode) error {
	_, err := s.w.ExecContext(ctx,
		`INSERT INTO pairing_codes (code_hash, home_id, created_by, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
		p.CodeHash, p.HomeID, p.CreatedBy, ts(p.CreatedAt), ts(p.ExpiresAt))
	return wrap("insert pairing code", err)
}

// PairDevice consumes a pairing code and creates the device in the code's
// home, in one transaction. The conditional UPDATE is what makes a code
// single-use: of two pairings with one code, only one changes the row.
func (s *Store) PairDevice(ctx context.Context, codeHash []byte, now time.Time, d domain.Device) (domain.Device, error) {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx,
			`UPDATE pairing_codes SET used_at = ? WHERE code_hash = ? AND used_at IS NULL AND expires_at > ? RETURNING home_id`,
			ts(now), codeHash, ts(now)).Scan(&d.HomeID)
		if err != nil {
			return wrap("consume pairing code", err)
		}
		_, err = tx.ExecContext(ctx,
			`INSERT INTO devices (id, home_id, name_sealed, model, firmware, token_hash, created_at, last_seen_at, online, keep_warm)
			 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
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
	d, err := scanDevice(s.read.QueryRowContext(ctx, `SELECT `+deviceCols+` FROM devices WHERE id = ?`, id))
	return d, wrap("device by id", err)
}

// DeviceByTokenHash reads a device by its token's hash.
func (s *Store) DeviceByTokenHash(ctx context.Context, hash []byte) (domain.Device, error) {
	d, err := scanDevice(s.read.QueryRowContext(ctx, `SELECT `+deviceCols+` FROM devices WHERE token_hash = ?`, hash))
	return d, wrap("device by token hash", err)
}

// ListDevices lists a home's devices, oldest first.
func (s *Store) ListDevices(ctx context.Context, homeID string) ([]domain.Device, error) {
	return list(ctx, s.read, "list devices", scanDevice,
		`SELECT `+deviceCols+` FROM devices WHERE home_id = ? ORDER BY created_at, id`, homeID)
}

// RenameDevice replaces a device's sealed name.
func (s *Store) RenameDevice(ctx context.Context, id string, nameSealed []byte) error {
	res, err := s.w.ExecContext(ctx, `UPDATE devices SET name_sealed = ? WHERE id = ?`, nameSealed, id)
	return affected("rename device", res, err)
}

// SetKeepWarm sets whether a device streams live whenever it is connected.
func (s *Store) SetKeepWarm(ctx context.Context, id string, warm bool) error {
	res, err := s.w.ExecContext(ctx, `UPDATE devices SET keep_warm = ? WHERE id = ?`, warm, id)
	return affected("set keep warm", res, err)
}

// DeleteDevice removes a device (its token with it, and by cascade its
// place in members' camera lists) and bumps its home's grants version.
func (s *Store) DeleteDevice(ctx context.Context, id string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var homeID string
		if err := tx.QueryRowContext(ctx, `DELETE FROM devices WHERE id = ? RETURNING home_id`, id).Scan(&homeID); err != nil {
			return wrap("delete device", err)
		}
		return bumpGrants(ctx, tx, homeID)
	})
}

// SetDevicePresence records a device's connection state.
func (s *Store) SetDevicePresence(ctx context.Context, id string, online bool, lastSeen time.Time) error {
	res, err := s.w.ExecContext(ctx, `UPDATE devices SET online = ?, last_seen_at = ? WHERE id = ?`, online, ts(lastSeen), id)
	return affected("set device presence", res, err)
}

// SetPresence records many presence changes in one transaction.
func (s *Store) SetPresence(ctx context.Context, updates []domain.Presence) error {
	if len(updates) == 0 {
		return nil
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `UPDATE devices SET online = ?, last_seen_at = ? WHERE id = ?`)
		if err != nil {
			return wrap("prepare presence update", err)
		}
		defer stmt.Close()
		for _, u := range updates {
			if _, err := stmt.ExecContext(ctx, u.Online, ts(u.LastSeen), u.DeviceID); err != nil {
				return wrap("set presence", err)
			}
		}
		return nil
	})
}
