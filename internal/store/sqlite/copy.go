package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"slices"
	"time"

	"github.com/pressly/goose/v3"
)

// The operator's copies of a database file: a consistent snapshot taken
// beside a running server (camvault admin backup), and the reads the
// backup, restore and migrate commands make of such a copy. None of these
// runs migrations on the database it reads.

// Tables are the store's tables, each after the ones it refers to: the
// order in which a copy of the records is loaded elsewhere. The migrations'
// own table is not among them; a target has its own.
var Tables = []string{
	"accounts", "sessions", "homes", "members", "devices", "member_devices", "pairing_codes",
	"invitations", "invitation_devices", "throttle", "events", "audit", "audit_heads", "incidents", "breaker", "key_check",
	"mail_outbox", "password_resets", "known_devices",
	"partners", "partner_requests", "partner_links", "partner_link_devices", "partner_tokens",
	"webhooks", "webhook_deliveries", "home_mqtt",
	"totp", "recovery_codes", "passkeys", "webauthn_challenges",
	"exports", "blob_removals",
	"push_subscriptions", "push_deliveries", "server_secrets",
}

// Uncopied are the tables a copy leaves behind: the change log, its clock
// and the roster of leases belong to the nodes running on the store
// (docs/design/leases.md), and the nodes of a copy start them afresh.
var Uncopied = []string{"change_clock", "changes", "leases"}

// SchemaVersion is the schema version this binary's migrations bring a
// database to.
func SchemaVersion() (int64, error) {
	dir, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return 0, fmt.Errorf("migrations: %w", err)
	}
	entries, err := fs.ReadDir(dir, ".")
	if err != nil {
		return 0, fmt.Errorf("migrations: %w", err)
	}
	var v int64
	for _, e := range entries {
		n, err := goose.NumericComponent(e.Name())
		if err != nil {
			return 0, fmt.Errorf("migration %s: %w", e.Name(), err)
		}
		v = max(v, n)
	}
	return v, nil
}

// Snapshot writes a consistent copy of the database at src to the new file
// dst with VACUUM INTO, and syncs it. It runs beside a server that writes
// to src: the copy is one read transaction's snapshot, so it holds every
// transaction committed before the snapshot began and nothing of those
// after, and the server's writer is never blocked. src is opened without
// running migrations: a backup never changes the data it copies.
func Snapshot(ctx context.Context, src, dst string) error {
	if _, err := os.Stat(src); err != nil {
		return fmt.Errorf("database: %w", err)
	}
	if _, err := os.Lstat(dst); err == nil {
		return fmt.Errorf("snapshot: %s exists", dst)
	}
	db, err := sql.Open("sqlite", dsn(src, url.Values{"_pragma": []string{"busy_timeout(10000)"}}))
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, dst); err != nil {
		return fmt.Errorf("copy the database (VACUUM INTO): %w", err)
	}
	f, err := os.OpenFile(dst, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("open the copy: %w", err)
	}
	if err := errors.Join(f.Sync(), f.Close()); err != nil {
		return fmt.Errorf("sync the copy: %w", err)
	}
	return nil
}

// File is a database file opened for an operator's copy: one connection,
// no migrations, no group commit.
type File struct {
	db *sql.DB
}

// OpenFile opens the database file at path, which must exist.
func OpenFile(path string) (*File, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	db, err := sql.Open("sqlite", dsn(path, url.Values{"_pragma": []string{"busy_timeout(10000)", "foreign_keys(1)"}}))
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	db.SetMaxOpenConns(1)
	return &File{db: db}, nil
}

// Close closes the file.
func (f *File) Close() error { return f.db.Close() }

// Check runs SQLite's integrity check and reads the schema version.
func (f *File) Check(ctx context.Context) (version int64, err error) {
	var res string
	if err := f.db.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&res); err != nil {
		return 0, fmt.Errorf("integrity check: %w", err)
	}
	if res != "ok" {
		return 0, fmt.Errorf("integrity check: %s", res)
	}
	if err := f.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version_id), 0) FROM goose_db_version WHERE is_applied`).Scan(&version); err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	return version, nil
}

// EventBlobs is what one event record says of its blobs.
type EventBlobs struct {
	ID       string
	Keys     []string // the thumbnail's, and the clip's if there is one
	Live     bool     // not marked deleted: its blobs must exist
	Purged   bool     // its blobs are gone and the row is a tombstone
	Sizes    []int64  // the sizes recorded with Keys
	HomeID   string
	DeviceID string
}

// Events calls fn with every event record, in ID order.
func (f *File) Events(ctx context.Context, fn func(EventBlobs) error) error {
	rows, err := f.db.QueryContext(ctx, `SELECT id, home_id, device_id, thumb_key, thumb_size, clip_key, clip_size,
		deleted_at IS NULL, purged_at IS NOT NULL FROM events ORDER BY id`)
	if err != nil {
		return fmt.Errorf("list events: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var e EventBlobs
		var thumb, clip string
		var thumbSize, clipSize int64
		if err := rows.Scan(&e.ID, &e.HomeID, &e.DeviceID, &thumb, &thumbSize, &clip, &clipSize, &e.Live, &e.Purged); err != nil {
			return fmt.Errorf("list events: %w", err)
		}
		e.Keys, e.Sizes = []string{thumb}, []int64{thumbSize}
		if clip != "" {
			e.Keys, e.Sizes = append(e.Keys, clip), append(e.Sizes, clipSize)
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list events: %w", err)
	}
	return nil
}

// EventLive reports whether the event with id exists and is not marked
// deleted.
func (f *File) EventLive(ctx context.Context, id string) (bool, error) {
	var live bool
	err := f.db.QueryRowContext(ctx, `SELECT deleted_at IS NULL FROM events WHERE id = ?`, id).Scan(&live)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read event: %w", err)
	}
	return live, nil
}

// MarkEventsDeleted marks the events deleted at the time given, as
// deleting them through the service would have: their blobs are then
// removed by the sweeper (a missing one counts as removed) and their rows
// stay as tombstones.
func (f *File) MarkEventsDeleted(ctx context.Context, ids []string, at time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	tx, err := f.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("mark events deleted: %w", err)
	}
	defer tx.Rollback() // after Commit, a no-op
	for _, id := range ids {
		if _, err := tx.ExecContext(ctx, `UPDATE events SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL`, ts(at), id); err != nil {
			return fmt.Errorf("mark event %s deleted: %w", id, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("mark events deleted: %w", err)
	}
	return nil
}

// Count returns the number of rows in table, one of Tables.
func (f *File) Count(ctx context.Context, table string) (int64, error) {
	if !knownTable(table) {
		return 0, fmt.Errorf("no table %q", table)
	}
	var n int64
	if err := f.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+table).Scan(&n); err != nil {
		return 0, fmt.Errorf("count %s: %w", table, err)
	}
	return n, nil
}

// Rows calls fn with the names of table's columns, then each row's values
// as the driver gives them (int64, float64, string, []byte or nil), in
// primary key order. table is one of Tables.
func (f *File) Rows(ctx context.Context, table string, columns func([]string) error, fn func([]any) error) error {
	if !knownTable(table) {
		return fmt.Errorf("no table %q", table)
	}
	rows, err := f.db.QueryContext(ctx, `SELECT * FROM `+table+` ORDER BY rowid`)
	if err != nil {
		return fmt.Errorf("read %s: %w", table, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return fmt.Errorf("read %s: %w", table, err)
	}
	if err := columns(cols); err != nil {
		return err
	}
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return fmt.Errorf("read %s: %w", table, err)
		}
		if err := fn(vals); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read %s: %w", table, err)
	}
	return nil
}

func knownTable(name string) bool { return slices.Contains(Tables, name) }
