package server

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"

	"github.com/camvault/camvault/internal/blob"
	"github.com/camvault/camvault/internal/blob/disk"
	blobs3 "github.com/camvault/camvault/internal/blob/s3"
	"github.com/camvault/camvault/internal/store"
	"github.com/camvault/camvault/internal/store/postgres"
	"github.com/camvault/camvault/internal/store/sqlite"
)

// Each backend is chosen by configuration alone (DESIGN.md "Parts"): an
// empty setting means the embedded default in the data directory, a URL
// names a distributed engine. Every choice goes through the same services;
// no code path exists in one mode only.

// embeddedStore reports whether cfg keeps its records in the SQLite file
// inside the data directory.
func (c Config) embeddedStore() bool { return c.Store == "" }

// openStore opens the record store named by cfg.Store.
func openStore(ctx context.Context, cfg Config) (store.Store, error) {
	if cfg.embeddedStore() {
		return sqlite.Open(ctx, filepath.Join(cfg.DataDir, databaseFile))
	}
	switch scheme(cfg.Store) {
	case "postgres", "postgresql":
		s, err := postgres.Open(ctx, cfg.Store)
		if err != nil {
			return nil, fmt.Errorf("--store: %w", err)
		}
		return s, nil
	default:
		return nil, fmt.Errorf("--store: unsupported scheme %q (leave it empty for SQLite in --data)", scheme(cfg.Store))
	}
}

// openBlobs opens the blob store named by cfg.Blobs.
func openBlobs(ctx context.Context, cfg Config) (blob.Store, error) {
	if cfg.Blobs == "" {
		return disk.Open(filepath.Join(cfg.DataDir, "blobs"))
	}
	switch scheme(cfg.Blobs) {
	case "s3":
		s, err := blobs3.Open(ctx, cfg.Blobs)
		if err != nil {
			return nil, fmt.Errorf("--blobs: %w", err)
		}
		return s, nil
	default:
		return nil, fmt.Errorf("--blobs: unsupported scheme %q (leave it empty for the blobs directory in --data)", scheme(cfg.Blobs))
	}
}

// checkBus refuses a bus this build cannot use rather than run silently
// without it. The cache is opened by openCache (cache.go).
func checkBus(cfg Config) error {
	if cfg.Bus != "" {
		return fmt.Errorf("--bus: unsupported scheme %q (leave it empty for the embedded bus)", scheme(cfg.Bus))
	}
	return nil
}

// scheme is the scheme of a backend URL, and only that: the rest may hold
// a password and must never reach a log line or an error.
func scheme(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return "(not a URL)"
	}
	return u.Scheme
}
