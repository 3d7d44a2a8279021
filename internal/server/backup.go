package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/camvault/camvault/internal/backup"
	"github.com/camvault/camvault/internal/keys"
	"github.com/camvault/camvault/internal/store/sqlite"
)

// Backup copies the embedded default's database and blobs into the new or
// empty directory to, beside a server that may be running on cfg.DataDir
// (it only reads the data directory and takes no lock). The master key is
// not copied. It writes what it did to w.
func Backup(ctx context.Context, cfg Config, to string, w io.Writer) (backup.Manifest, error) {
	if !cfg.embeddedStore() {
		return backup.Manifest{}, errors.New("admin backup copies the embedded default (SQLite and blobs in --data); " +
			"back up PostgreSQL with pg_dump and the bucket with versioning or replication (docs/operations.md, \"Backups\")")
	}
	if err := checkDataDir(cfg.DataDir, nil); err != nil {
		return backup.Manifest{}, err
	}
	if inside(to, cfg.DataDir) {
		return backup.Manifest{}, fmt.Errorf("--to %s is inside the data directory: put backups elsewhere, ideally on another disk", to)
	}
	m, err := backup.Backup(ctx, cfg.DataDir, to, time.Now)
	if err != nil {
		return m, fmt.Errorf("backup: %w", err)
	}
	fmt.Fprintf(w, "backup in %s: %d events, %d blobs (%d bytes), schema version %d\n", to, m.Events, m.Blobs, m.BlobBytes, m.SchemaVersion)
	if m.DeletedDuring > 0 {
		fmt.Fprintf(w, "%d events were deleted while the backup ran; they are deleted in the backup too\n", m.DeletedDuring)
	}
	fmt.Fprintf(w, "the master key is not in the backup: keep a copy of %s apart from it\n", cfg.keyFileOrEnv())
	return m, nil
}

// Restore copies the backup in from into cfg.DataDir, which must hold no
// camvault data; it takes the data directory's lock, so it refuses while a
// server runs there. When the master key is at hand (CAMVAULT_MASTER_KEY,
// --key-file, or a key file already put back in the data directory) it
// checks that the key opens the restored data; otherwise it says where the
// key must go before the server starts.
func Restore(ctx context.Context, cfg Config, from string, w io.Writer) (backup.Manifest, error) {
	if !cfg.embeddedStore() {
		return backup.Manifest{}, errors.New("admin restore restores the embedded default (SQLite and blobs in --data); restore PostgreSQL with pg_restore")
	}
	if cfg.DataDir == "" {
		return backup.Manifest{}, errors.New("--data is required")
	}
	// Verify the backup, and read the key if there is one, before the
	// data directory is even created: bad input changes nothing.
	if _, err := backup.Verify(ctx, from); err != nil {
		return backup.Manifest{}, fmt.Errorf("restore: %w", err)
	}
	kr, err := restoredKeys(cfg)
	if err != nil {
		return backup.Manifest{}, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return backup.Manifest{}, fmt.Errorf("create data directory: %w", err)
	}
	if err := checkDataDir(cfg.DataDir, nil); err != nil {
		return backup.Manifest{}, err
	}
	lock, err := lockDataDir(cfg.DataDir)
	if err != nil {
		return backup.Manifest{}, err
	}
	defer lock.release()
	m, err := backup.Restore(ctx, from, cfg.DataDir)
	if err != nil {
		return m, fmt.Errorf("restore: %w", err)
	}
	fmt.Fprintf(w, "restored %d events and %d blobs into %s\n", m.Events, m.Blobs, cfg.DataDir)
	if kr == nil {
		fmt.Fprintf(w, "no master key found: put the key file this data was written with at %s (mode 0600), or give CAMVAULT_MASTER_KEY, before starting the server\n", cfg.keyFile())
		return m, nil
	}
	// Open the restored store as the server will (bringing its schema up
	// to this release's) and check the key against it.
	st, err := sqlite.Open(ctx, filepath.Join(cfg.DataDir, databaseFile))
	if err != nil {
		return m, fmt.Errorf("open the restored database: %w", err)
	}
	defer st.Close()
	if _, err := checkKeys(ctx, st, kr, 0); err != nil {
		return m, fmt.Errorf("the restored data and the master key: %w", err)
	}
	fmt.Fprintln(w, "the master key matches the restored data")
	return m, nil
}

// restoredKeys is the master key as the server would find it, or nil when
// there is none yet.
func restoredKeys(cfg Config) (*keys.Keyring, error) {
	if cfg.MasterKey != "" {
		kr, err := keys.ParseKeys(cfg.MasterKey)
		if err != nil {
			return nil, fmt.Errorf("CAMVAULT_MASTER_KEY: %w", err)
		}
		return kr, nil
	}
	kr, err := keys.LoadFile(cfg.keyFile())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return kr, err
}

// keyFileOrEnv names where this configuration's master key comes from.
func (c Config) keyFileOrEnv() string {
	if c.MasterKey != "" {
		return "the key in CAMVAULT_MASTER_KEY"
	}
	return c.keyFile()
}

// inside reports whether path is dir or lies under it.
func inside(path, dir string) bool {
	p, err1 := filepath.Abs(path)
	d, err2 := filepath.Abs(dir)
	if err1 != nil || err2 != nil {
		return false
	}
	return p == d || strings.HasPrefix(p, d+string(filepath.Separator))
}
