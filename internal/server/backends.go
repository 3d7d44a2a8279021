package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"time"

	"github.com/camvault/camvault/internal/blob"
	"github.com/camvault/camvault/internal/blob/disk"
	blobs3 "github.com/camvault/camvault/internal/blob/s3"
	"github.com/camvault/camvault/internal/bus/natsbus"
	"github.com/camvault/camvault/internal/store"
	"github.com/camvault/camvault/internal/store/postgres"
	"github.com/camvault/camvault/internal/store/sqlite"
)

// Each backend is chosen by configuration alone (docs/design/README.md, "Parts"): an
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

// openBlobs opens the blob store named by cfg.Blobs; o tunes the blob
// directory in the data directory when that is the one.
func openBlobs(ctx context.Context, cfg Config, o disk.Options) (blob.Store, error) {
	if cfg.Blobs == "" {
		return disk.OpenOptions(ctx, filepath.Join(cfg.DataDir, "blobs"), o)
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

// openBus opens the message bus named by cfg.Bus: empty for a NATS server
// embedded in the process (no port), nats://... (or tls://) for an
// external NATS that every node shares. The cache is opened by openCache
// (cache.go).
func openBus(ctx context.Context, cfg Config, log *slog.Logger) (*natsbus.Bus, error) {
	if cfg.Bus == "" {
		return natsbus.Embedded(ctx, log)
	}
	switch scheme(cfg.Bus) {
	case "nats", "tls":
		b, err := natsbus.Dial(ctx, cfg.Bus, log)
		if err != nil {
			return nil, fmt.Errorf("--bus: %w", err)
		}
		return b, nil
	default:
		return nil, fmt.Errorf("--bus: unsupported scheme %q (leave it empty for the embedded bus, or give nats://HOST:PORT)", scheme(cfg.Bus))
	}
}

// sharedOrphanMinAge is how old a blob without a record must be before a
// node takes it for an orphan on a blob store other nodes share: far
// longer than any upload takes (uploads are bounded by the HTTP server's
// timeouts), so a blob another node is about to commit is never removed.
const sharedOrphanMinAge = time.Hour

// orphanMinAge is that age for cfg's blob store: none for the blobs
// directory of an embedded deployment, which this process alone writes.
func (c Config) orphanMinAge() time.Duration {
	if c.Blobs == "" && c.embeddedStore() {
		return 0
	}
	return sharedOrphanMinAge
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
