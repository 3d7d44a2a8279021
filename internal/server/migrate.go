package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/camvault/camvault/internal/blob"
	"github.com/camvault/camvault/internal/blob/disk"
	"github.com/camvault/camvault/internal/store/postgres"
	"github.com/camvault/camvault/internal/store/sqlite"
)

// MigrateTarget names the scale-out backends an installation moves to.
type MigrateTarget struct {
	Store string // postgres://...
	Blobs string // s3://...
	// Sample is how many events' blobs are read back from the target and
	// compared with the source after the copy.
	Sample int
}

// MigrateReport is what a migration copied and checked.
type MigrateReport struct {
	Rows    map[string]int64 // per table, equal in source and target
	Blobs   int              // blobs copied
	Bytes   int64
	Sampled int // events whose blobs were read back and compared
}

// errStop ends a listing at its first key.
var errStop = errors.New("stop")

// Migrate copies the embedded installation in cfg.DataDir (SQLite and the
// blobs directory) onto an empty PostgreSQL database and an empty S3
// bucket (or prefix). It takes the data directory's lock, so it refuses
// while a server runs there, and refuses a target that holds anything.
// The copy is the records and the sealed blobs as they are: home data keys
// stay wrapped under the same master key, which every node of the new
// deployment is given. Blobs go first and the records after, in one
// transaction, as ingest orders them: a failure leaves no record without
// its blobs. Then the row counts of every table are compared, the blobs
// are counted, and a sample of events' blobs is read back from the bucket
// and compared byte for byte with the source.
func Migrate(ctx context.Context, cfg Config, to MigrateTarget, w io.Writer) (MigrateReport, error) {
	rep := MigrateReport{Rows: map[string]int64{}}
	if !cfg.embeddedStore() {
		return rep, errors.New("admin migrate copies the embedded default (SQLite and blobs in --data); leave --store empty and give the target as --to-store")
	}
	if scheme(to.Store) != "postgres" && scheme(to.Store) != "postgresql" {
		return rep, errors.New("--to-store must be a postgres:// URL")
	}
	if scheme(to.Blobs) != "s3" {
		return rep, errors.New("--to-blobs must be an s3:// URL")
	}
	if err := checkDataDir(cfg.DataDir, nil); err != nil {
		return rep, err
	}
	dbPath := filepath.Join(cfg.DataDir, databaseFile)
	if _, err := os.Stat(dbPath); err != nil {
		return rep, fmt.Errorf("no camvault data in %s: %w", cfg.DataDir, err)
	}
	lock, err := lockDataDir(cfg.DataDir)
	if err != nil {
		return rep, err
	}
	defer lock.release()

	target := Config{DataDir: cfg.DataDir, Store: to.Store, Blobs: to.Blobs}
	st, err := openStore(ctx, target)
	if err != nil {
		return rep, fmt.Errorf("open target store: %w", err)
	}
	defer st.Close()
	pg, ok := st.(*postgres.Store)
	if !ok {
		return rep, errors.New("--to-store: not a PostgreSQL store")
	}
	dst, err := openBlobs(ctx, target, disk.Options{})
	if err != nil {
		return rep, fmt.Errorf("open target blob store: %w", err)
	}

	// Refuse a target that holds anything, before writing to it.
	for _, table := range sqlite.Tables {
		n, err := pg.Count(ctx, table)
		if err != nil {
			return rep, fmt.Errorf("target store: %w", err)
		}
		if n > 0 {
			return rep, fmt.Errorf("the target store is not empty (table %s has %d rows): migrate only into a new database or schema", table, n)
		}
	}
	if err := dst.List(ctx, "", func(string, time.Time) error { return errStop }); errors.Is(err, errStop) {
		return rep, errors.New("the target blob store is not empty: migrate only into a new bucket or prefix")
	} else if err != nil {
		return rep, fmt.Errorf("target blob store: %w", err)
	}

	// The target is usable and empty. Bring the source to this release's schema, as starting the server
	// would, so that its tables are those the target gets.
	src, err := sqlite.Open(ctx, dbPath)
	if err != nil {
		return rep, fmt.Errorf("open the source database: %w", err)
	}
	if err := src.Close(); err != nil {
		return rep, fmt.Errorf("close the source database: %w", err)
	}
	file, err := sqlite.OpenFile(dbPath)
	if err != nil {
		return rep, err
	}
	defer file.Close()
	// Opening the blobs directory moves blobs of an older layout into
	// this one first, as starting the server would.
	from, err := disk.OpenOptions(ctx, filepath.Join(cfg.DataDir, "blobs"), disk.Options{Log: slog.New(slog.NewTextHandler(w, nil))})
	if err != nil {
		return rep, err
	}

	// The sample: every stride-th live event, and the last one.
	live := 0
	if err := file.Events(ctx, func(e sqlite.EventBlobs) error {
		if e.Live {
			live++
		}
		return nil
	}); err != nil {
		return rep, err
	}
	stride := max(1, live/max(1, to.Sample))
	var sample []sqlite.EventBlobs
	seen := 0

	// Blobs first.
	err = file.Events(ctx, func(e sqlite.EventBlobs) error {
		if e.Purged {
			return nil
		}
		for _, key := range e.Keys {
			n, err := copyBlob(ctx, from, dst, key)
			if errors.Is(err, blob.ErrNotFound) && !e.Live {
				continue // a deleted event's blob the sweeper already removed
			}
			if err != nil {
				return fmt.Errorf("event %s: %w", e.ID, err)
			}
			rep.Blobs++
			rep.Bytes += n
		}
		if e.Live {
			if seen%stride == 0 && len(sample) < to.Sample || seen == live-1 {
				sample = append(sample, e)
			}
			seen++
		}
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("copy blobs: %w", err)
	}
	fmt.Fprintf(w, "copied %d blobs (%d bytes)\n", rep.Blobs, rep.Bytes)

	// Then the records, whole or not at all.
	if err := pg.Import(ctx, sqlite.Tables, file); err != nil {
		return rep, fmt.Errorf("copy records (none were kept; the target blob store now holds the blobs, empty it before trying again): %w", err)
	}

	// Check: every table's rows, the number of blobs, a sample of media.
	for _, table := range sqlite.Tables {
		a, err := file.Count(ctx, table)
		if err != nil {
			return rep, err
		}
		b, err := pg.Count(ctx, table)
		if err != nil {
			return rep, fmt.Errorf("target store: %w", err)
		}
		if a != b {
			return rep, fmt.Errorf("check: table %s has %d rows in the source and %d in the target", table, a, b)
		}
		rep.Rows[table] = a
	}
	copied := 0
	if err := dst.List(ctx, "", func(string, time.Time) error { copied++; return nil }); err != nil {
		return rep, fmt.Errorf("check: list the target blobs: %w", err)
	}
	if copied != rep.Blobs {
		return rep, fmt.Errorf("check: %d blobs copied, the target lists %d", rep.Blobs, copied)
	}
	for _, e := range sample {
		for _, key := range e.Keys {
			if err := sameBlob(ctx, from, dst, key); err != nil {
				return rep, fmt.Errorf("check: event %s: %w", e.ID, err)
			}
		}
		rep.Sampled++
	}
	fmt.Fprintf(w, "copied %d records in %d tables; %d events, of which %d were read back from the target and match\n",
		sum(rep.Rows), len(rep.Rows), live, rep.Sampled)
	fmt.Fprintf(w, "start every node with --store and --blobs set to the targets and the master key of %s (see docs/operations.md); this data directory is no longer used\n", cfg.keyFileOrEnv())
	return rep, nil
}

// copyBlob copies one blob as it is (sealed) from one store to another.
func copyBlob(ctx context.Context, from, to blob.Store, key string) (int64, error) {
	o, err := from.Open(ctx, key)
	if err != nil {
		return 0, fmt.Errorf("read blob %s: %w", key, err)
	}
	defer o.Close()
	n, err := to.Put(ctx, key, io.NewSectionReader(o, 0, o.Size()))
	if err != nil {
		return n, fmt.Errorf("write blob %s: %w", key, err)
	}
	if n != o.Size() {
		return n, fmt.Errorf("write blob %s: %d of %d bytes", key, n, o.Size())
	}
	return n, nil
}

// sameBlob reads a blob from both stores and compares them.
func sameBlob(ctx context.Context, a, b blob.Store, key string) error {
	ha, err := blobSHA(ctx, a, key)
	if err != nil {
		return err
	}
	hb, err := blobSHA(ctx, b, key)
	if err != nil {
		return err
	}
	if !bytes.Equal(ha, hb) {
		return fmt.Errorf("blob %s differs in the target", key)
	}
	return nil
}

func blobSHA(ctx context.Context, s blob.Store, key string) ([]byte, error) {
	o, err := s.Open(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", key, err)
	}
	defer o.Close()
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(o, 0, o.Size())); err != nil {
		return nil, fmt.Errorf("read blob %s: %w", key, err)
	}
	return h.Sum(nil), nil
}

func sum(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}
