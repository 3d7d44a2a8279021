// Package sqlite is the embedded store backend: SQLite through a pure-Go
// driver (modernc.org/sqlite), in WAL mode with full fsync, with its schema
// migrations embedded in the binary.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/pressly/goose/v3"
	sqlite3 "modernc.org/sqlite"
	sqlite3lib "modernc.org/sqlite/lib"

	"github.com/camvault/camvault/internal/store"
)

// migrations holds the schema, applied in order at Open. A released
// migration is never edited; changes get a new file.
//
//go:embed migrations/*.sql
var migrations embed.FS

// Store is the SQLite store. Writes go through one connection, so writers
// queue in Go rather than fail with SQLITE_BUSY; reads use a pool, which WAL
// lets run beside the writer.
type Store struct {
	w *sql.DB // one connection, BEGIN IMMEDIATE
	r *sql.DB // readers, query_only
	// read prepares the readers' queries once per connection; write holds
	// the hot write statements, prepared at Open (preparing later would
	// need the writer's one connection, which a transaction may hold).
	read  *stmtCache
	write *stmtCache
	// commits groups concurrent write transactions into one commit.
	commits *committer
	// grantVersion is read on every cached authorization decision;
	// prepared once, it skips parsing the query each time.
	grantVersion *sql.Stmt
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the database at path and brings its
// schema up to date. The database and its WAL and shared-memory files are
// readable by the owner only (0600), whatever the umask: SQLite gives the
// other two the database file's mode, so the file is made (or, from an
// older release, narrowed) first.
func Open(ctx context.Context, path string) (*Store, error) {
	if err := ownerOnly(path); err != nil {
		return nil, err
	}
	common := []string{
		"busy_timeout(10000)", // wait for a checkpoint or another process rather than fail
		"foreign_keys(1)",     // per connection in SQLite: cascades depend on it
	}
	wq := url.Values{"_pragma": slices.Concat(common, []string{
		"journal_mode(WAL)", // readers run beside the writer
		"synchronous(FULL)", // a commit is on disk when it returns (invariant 6)
	})}
	// IMMEDIATE takes the write lock at BEGIN, so a transaction that reads
	// then writes never has to be retried halfway.
	wq.Set("_txlock", "immediate")
	w, err := sql.Open("sqlite", dsn(path, wq))
	if err != nil {
		return nil, fmt.Errorf("open sqlite writer: %w", err)
	}
	w.SetMaxOpenConns(1)

	// query_only: a write sent to the reader pool by mistake fails instead
	// of racing the writer.
	r, err := sql.Open("sqlite", dsn(path, url.Values{"_pragma": slices.Concat(common, []string{"query_only(1)"})}))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite readers: %w", err)
	}
	n := max(4, 2*runtime.NumCPU())
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n) // keep them: each new connection re-runs the pragmas

	s := &Store{w: w, r: r, read: newStmtCache(r), write: newStmtCache(w)}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	for _, q := range hotWrites() {
		if s.write.stmt(ctx, q) == nil {
			s.Close()
			return nil, fmt.Errorf("prepare %q", q)
		}
	}
	if s.commits, err = newCommitter(ctx, w); err != nil {
		s.Close()
		return nil, err
	}
	if s.grantVersion, err = r.PrepareContext(ctx, grantVersionQuery); err != nil {
		s.Close()
		return nil, fmt.Errorf("prepare grant version query: %w", err)
	}
	return s, nil
}

// ownerOnly creates the database file if it is missing, and makes it and
// any WAL and shared-memory file beside it mode 0600.
func ownerOnly(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open sqlite database %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("open sqlite database %s: %w", path, err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, 0o600); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("make %s readable by its owner only: %w", p, err)
		}
	}
	return nil
}

// dsn makes a URI filename. SQLite reads '%', '?' and '#' in it as URI
// syntax, so they are escaped; the driver takes its own parameters from
// after the first '?'.
func dsn(path string, q url.Values) string {
	esc := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23")
	return "file:" + esc.Replace(path) + "?" + q.Encode()
}

func (s *Store) migrate(ctx context.Context) error {
	dir, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	// Through the writer: goose's DDL must queue behind nothing else.
	p, err := goose.NewProvider(goose.DialectSQLite3, s.w, dir, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	// A database migrated by a newer camvault has a schema this binary
	// does not know; writing to it could lose data, and migrations never
	// run backwards. Refused before anything is applied.
	current, target, err := p.GetVersions(ctx)
	if err != nil {
		return fmt.Errorf("schema version: %w", err)
	}
	if current > target {
		return store.NewerSchemaError(current, target)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("apply migrations: %w", err)
	}
	return nil
}

// Ping checks the database answers.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.read.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return wrap("ping sqlite", err)
	}
	return nil
}

// Close closes the database. The last connection to close checkpoints the
// WAL into the main file.
func (s *Store) Close() error {
	if s.commits != nil {
		s.commits.close() // before the writer goes
	}
	var err error
	if s.grantVersion != nil {
		err = s.grantVersion.Close()
	}
	return errors.Join(err, s.read.close(), s.write.close(), s.r.Close(), s.w.Close())
}

// tx runs fn in a write transaction and returns once it is committed. It
// may share its commit with other writers' transactions (see committer);
// fn's error undoes fn's writes alone. fn may run on another goroutine.
func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	return mapErr(s.commits.do(ctx, fn))
}

// readTx runs fn in a read transaction: one snapshot, so the rows of a
// multi-query read agree with each other.
func (s *Store) readTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return wrap("begin read", err)
	}
	defer tx.Rollback() // read only: nothing to commit
	return mapErr(fn(tx))
}

// mapErr turns driver errors into the store's vocabulary. Anything it
// cannot name (a closed database, an I/O error, a busy timeout) is
// ErrUnavailable. An error already mapped, or the caller's context ending,
// passes unchanged, so mapping twice is harmless.
func mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrUnavailable),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.Is(err, sql.ErrNoRows):
		return store.ErrNotFound
	}
	var se *sqlite3.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3lib.SQLITE_CONSTRAINT_UNIQUE, sqlite3lib.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w: %v", store.ErrConflict, err)
		case sqlite3lib.SQLITE_CONSTRAINT_FOREIGNKEY:
			// A row naming a home, account or device that does not exist.
			return fmt.Errorf("%w: %v", store.ErrNotFound, err)
		}
	}
	return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
}

// wrap adds context to err after mapping it; nil stays nil.
func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, mapErr(err))
}

// affected returns ErrNotFound when a change touched no row.
func affected(what string, res sql.Result, err error) error {
	if err != nil {
		return wrap(what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return wrap(what, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return nil
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(...any) error }

// querier is a *sql.DB or *sql.Tx.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// list runs a query and scans every row with scan.
func list[T any](ctx context.Context, q querier, what string, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, wrap(what, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, wrap(what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(what, err)
	}
	return out, nil
}

// Times are stored as Unix microseconds in UTC; 0 is the zero time.
func ts(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromTS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMicro(v).UTC()
}
