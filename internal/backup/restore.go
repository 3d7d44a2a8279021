package backup

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/camvault/camvault/internal/blob/disk"
	"github.com/camvault/camvault/internal/store/sqlite"
)

// Verify checks a backup directory without changing it: its manifest, the
// database's checksum and integrity, a schema this binary knows, and every
// blob its live events name. It returns the manifest.
func Verify(ctx context.Context, from string) (Manifest, error) {
	m, err := ReadManifest(from)
	if err != nil {
		return m, err
	}
	db := filepath.Join(from, DatabaseFile)
	sum, err := fileSHA256(db)
	if err != nil {
		return m, err
	}
	if sum != m.DatabaseSHA {
		return m, fmt.Errorf("the backup's database does not match its manifest (SHA-256 %s, manifest says %s): the backup was altered or damaged", sum, m.DatabaseSHA)
	}
	known, err := sqlite.SchemaVersion()
	if err != nil {
		return m, err
	}
	f, err := sqlite.OpenFile(db)
	if err != nil {
		return m, err
	}
	defer f.Close()
	version, err := f.Check(ctx)
	if err != nil {
		return m, fmt.Errorf("the backup's database: %w", err)
	}
	if version > known {
		return m, fmt.Errorf("the backup's database has schema version %d, newer than this camvault's %d: restore it with the release that made it, or a later one", version, known)
	}
	blobs := filepath.Join(from, blobsDir)
	live := 0
	err = f.Events(ctx, func(e sqlite.EventBlobs) error {
		if !e.Live {
			return nil
		}
		live++
		for _, key := range e.Keys {
			// In either layout: a format 1 backup has the one before.
			b, err := disk.OpenFile(blobs, key)
			if err != nil {
				return fmt.Errorf("the backup lacks blob %s of event %s: %w", key, e.ID, err)
			}
			b.Close()
		}
		return nil
	})
	if err != nil {
		return m, err
	}
	if live != m.Events {
		return m, fmt.Errorf("the backup holds %d live events, its manifest says %d", live, m.Events)
	}
	return m, nil
}

// Restore verifies the backup in from and copies it into dataDir, which
// must exist and hold no database and no blobs (a key file and the lock
// file may be there). The caller holds dataDir's lock, so no server runs
// on it. The database is moved into place last: until then dataDir holds
// no camvault data, and a failed restore leaves it as it was.
func Restore(ctx context.Context, from, dataDir string) (Manifest, error) {
	m, err := Verify(ctx, from)
	if err != nil {
		return m, err
	}
	for _, name := range []string{DatabaseFile, DatabaseFile + "-wal", blobsDir} {
		if _, err := os.Lstat(filepath.Join(dataDir, name)); err == nil {
			return m, fmt.Errorf("%s already holds camvault data (%s): restore into an empty data directory, and move this one aside first if it is to be replaced", dataDir, name)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return m, fmt.Errorf("data directory: %w", err)
		}
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	staging := filepath.Join(dataDir, ".restore-"+hex.EncodeToString(rnd[:]))
	if err := os.Mkdir(staging, 0o700); err != nil {
		return m, fmt.Errorf("create a staging directory in the data directory: %w", err)
	}
	defer os.RemoveAll(staging) // empty after success
	if _, err := copyFile(filepath.Join(from, DatabaseFile), filepath.Join(staging, DatabaseFile)); err != nil {
		return m, err
	}
	fromBlobs := filepath.Join(from, blobsDir)
	err = filepath.WalkDir(fromBlobs, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p == fromBlobs {
				return nil // a backup without a single event
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(from, p)
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(staging, rel), 0o700)
		}
		_, err = copyFile(p, filepath.Join(staging, rel))
		return err
	})
	if err != nil {
		return m, fmt.Errorf("copy the blobs: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(staging, blobsDir), 0o700); err != nil {
		return m, fmt.Errorf("create the blobs directory: %w", err)
	}
	if err := syncTree(staging); err != nil {
		return m, err
	}
	if err := os.Rename(filepath.Join(staging, blobsDir), filepath.Join(dataDir, blobsDir)); err != nil {
		return m, fmt.Errorf("move the blobs into place: %w", err)
	}
	if err := os.Rename(filepath.Join(staging, DatabaseFile), filepath.Join(dataDir, DatabaseFile)); err != nil {
		// Leave the data directory as it was found.
		return m, errors.Join(fmt.Errorf("move the database into place: %w", err), os.RemoveAll(filepath.Join(dataDir, blobsDir)))
	}
	if err := syncDir(dataDir); err != nil {
		return m, err
	}
	return m, nil
}
