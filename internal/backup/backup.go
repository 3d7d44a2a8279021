// Package backup copies the embedded default's data (the SQLite database
// and the blobs directory) to a backup directory while the server runs,
// and back into an empty data directory. The master key is never part of
// a backup: the operator keeps it apart, and a restore needs it to be put
// back before the server starts.
//
// Consistency comes from the order of ingest (docs/design/events.md): a
// blob is written and synced before the record naming it is committed, and
// blobs are write-once. Backup therefore takes a snapshot of the database
// first and copies afterwards exactly the blobs the snapshot's records
// name: each was complete before its record committed, so before the
// snapshot, and is still there unless its event was deleted since. Blobs
// stored after the snapshot are not copied, so a restored installation
// holds no blob without a record and its orphan sweep finds nothing.
package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/camvault/camvault/internal/blob"
	"github.com/camvault/camvault/internal/blob/disk"
	"github.com/camvault/camvault/internal/store/sqlite"
)

// The names inside a data directory and a backup directory.
const (
	DatabaseFile = "camvault.db"
	ManifestFile = "manifest.json"
	blobsDir     = "blobs" // a blob directory of internal/blob/disk
)

// format is the version of the backup directory's layout: 2 keeps the
// blobs in the flat layout (internal/blob/disk, layout.go), 1 in the one
// before, a directory per event. Both restore: the server moves the blobs
// of a format 1 backup into place when it first opens them.
const format = 2

// formatsRead are the formats Restore takes.
var formatsRead = []int{1, 2}

// Manifest describes a finished backup. It is written last: a directory
// without one is an interrupted backup and is never restored.
type Manifest struct {
	Format        int       `json:"format"`
	CreatedAt     time.Time `json:"created_at"`
	SchemaVersion int64     `json:"schema_version"`
	DatabaseSHA   string    `json:"database_sha256"`
	// Events counts the live events in the backup, Blobs the blob files
	// and BlobBytes their size.
	Events    int   `json:"events"`
	Blobs     int   `json:"blobs"`
	BlobBytes int64 `json:"blob_bytes"`
	// DeletedDuring counts events deleted (by a person or by retention)
	// between the snapshot and the copy of their blobs; they are marked
	// deleted in the backup, as they are in the data directory.
	DeletedDuring int `json:"deleted_during_backup"`
}

// Backup copies the database and blobs of the data directory dataDir into
// the new or empty directory to. It only reads dataDir, so it runs beside
// a server using it. now gives the time recorded for events found deleted
// during the copy.
func Backup(ctx context.Context, dataDir, to string, now func() time.Time) (Manifest, error) {
	m := Manifest{Format: format, CreatedAt: now().UTC()}
	src := filepath.Join(dataDir, DatabaseFile)
	if _, err := os.Stat(src); err != nil {
		return m, fmt.Errorf("no camvault database in %s: %w", dataDir, err)
	}
	if err := emptyDir(to); err != nil {
		return m, err
	}
	// Blobs first named, database first copied: see the package comment.
	dbCopy := filepath.Join(to, DatabaseFile)
	if err := sqlite.Snapshot(ctx, src, dbCopy); err != nil {
		return m, err
	}
	f, err := sqlite.OpenFile(dbCopy)
	if err != nil {
		return m, err
	}
	defer f.Close() // closed early below; closing twice is harmless
	if m.SchemaVersion, err = f.Check(ctx); err != nil {
		return m, fmt.Errorf("the database copy: %w", err)
	}
	var gone []string // live in the snapshot, deleted since
	fromBlobs, toBlobs := filepath.Join(dataDir, blobsDir), filepath.Join(to, blobsDir)
	// The backup's blobs directory is one the disk store made, in its
	// layout; the copies go where it would put them.
	if _, err := disk.Open(toBlobs); err != nil {
		return m, fmt.Errorf("the backup's blobs directory: %w", err)
	}
	err = f.Events(ctx, func(e sqlite.EventBlobs) error {
		if e.Purged {
			return nil
		}
		if e.Live {
			m.Events++
		}
		for _, key := range e.Keys {
			n, err := copyBlob(fromBlobs, toBlobs, key)
			if errors.Is(err, fs.ErrNotExist) {
				if !e.Live {
					continue // deleted before the snapshot; the sweeper was removing it
				}
				// Deletion marks the record first and removes the blobs
				// after, so a blob missing now belongs to an event no
				// longer live in the data directory, or the data
				// directory has lost it.
				if live, lerr := liveInSource(ctx, src, e.ID); lerr != nil {
					return lerr
				} else if live {
					return fmt.Errorf("event %s is live but its blob %s is missing from %s: the data directory has lost it", e.ID, key, dataDir)
				}
				gone = append(gone, e.ID)
				m.Events--
				break
			}
			if err != nil {
				return err
			}
			m.Blobs++
			m.BlobBytes += n
		}
		return nil
	})
	if err != nil {
		return m, err
	}
	if err := f.MarkEventsDeleted(ctx, gone, m.CreatedAt); err != nil {
		return m, err
	}
	m.DeletedDuring = len(gone)
	if err := f.Close(); err != nil {
		return m, fmt.Errorf("close the database copy: %w", err)
	}
	if m.DatabaseSHA, err = fileSHA256(dbCopy); err != nil {
		return m, err
	}
	if err := syncTree(to); err != nil {
		return m, err
	}
	return m, writeManifest(to, m)
}

// liveInSource reports whether the event is live in the data directory's
// database now.
func liveInSource(ctx context.Context, db, id string) (bool, error) {
	f, err := sqlite.OpenFile(db)
	if err != nil {
		return false, err
	}
	defer f.Close()
	return f.EventLive(ctx, id)
}

// emptyDir makes dir, or accepts it when it exists and is empty.
func emptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("create the backup directory: %w", err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("backup directory: %w", err)
	case len(entries) > 0:
		return fmt.Errorf("backup directory %s is not empty: give a new directory for each backup", dir)
	}
	return nil
}

// copyBlob copies the blob under key from one blob directory to another,
// synced, and returns its size. A missing source is fs.ErrNotExist.
func copyBlob(fromBlobs, toBlobs, key string) (int64, error) {
	if !blob.ValidKey(key) {
		return 0, fmt.Errorf("invalid blob key %q in the database", key)
	}
	dst, err := disk.File(toBlobs, key)
	if err != nil {
		return 0, err
	}
	in, err := disk.OpenFile(fromBlobs, key)
	if err != nil {
		return 0, err // fs.ErrNotExist is the caller's to judge
	}
	defer in.Close()
	return copyInto(in, dst)
}

// copyFile copies src to the new file dst, creating dst's directories, and
// syncs dst.
func copyFile(src, dst string) (int64, error) {
	in, err := os.Open(src)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	return copyInto(in, dst)
}

// copyInto copies in to the new file dst, creating dst's directories, and
// syncs dst.
func copyInto(in *os.File, dst string) (int64, error) {
	src := in.Name()
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return 0, fmt.Errorf("create directory: %w", err)
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, fmt.Errorf("create %s: %w", dst, err)
	}
	n, err := io.Copy(out, in)
	if err != nil {
		out.Close()
		return n, fmt.Errorf("copy %s: %w", src, err)
	}
	if err := errors.Join(out.Sync(), out.Close()); err != nil {
		return n, fmt.Errorf("sync %s: %w", dst, err)
	}
	return n, nil
}

// syncTree syncs every directory under root, root included, so that the
// names of the files copied into them survive a crash.
func syncTree(root string) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		return syncDir(p)
	})
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory for sync: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// writeManifest writes the manifest under a temporary name, syncs it and
// renames it into place: it appears whole or not at all.
func writeManifest(dir string, m Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	tmp := filepath.Join(dir, ManifestFile+".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	f, err := os.Open(tmp)
	if err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	if err := errors.Join(f.Sync(), f.Close()); err != nil {
		return fmt.Errorf("sync manifest: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, ManifestFile)); err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	return syncDir(dir)
}

// ReadManifest reads a backup directory's manifest and refuses a directory
// that is not a finished backup this binary can restore.
func ReadManifest(dir string) (Manifest, error) {
	var m Manifest
	b, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if errors.Is(err, fs.ErrNotExist) {
		return m, fmt.Errorf("%s is not a finished camvault backup: it has no %s (an interrupted backup has none)", dir, ManifestFile)
	}
	if err != nil {
		return m, fmt.Errorf("read manifest: %w", err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("read manifest %s: %w", filepath.Join(dir, ManifestFile), err)
	}
	if !slices.Contains(formatsRead, m.Format) {
		return m, fmt.Errorf("backup format %d is not one this camvault reads (%v)", m.Format, formatsRead)
	}
	return m, nil
}
