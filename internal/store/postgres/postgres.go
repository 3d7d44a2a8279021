// Package postgres is the scale-out store backend: PostgreSQL through pgx,
// shared by every node, with its schema migrations embedded in the binary.
//
// It behaves exactly as the SQLite backend does (both pass storetest); what
// differs is how: several nodes write at once, so every decision SQLite gets
// from its single writer comes here from a constraint, a row lock or an
// advisory lock inside PostgreSQL.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/camvault/camvault/internal/store"
)

// migrations holds the schema, applied in order at Open. A released
// migration is never edited; changes get a new file.
//
//go:embed migrations/*.sql
var migrations embed.FS

// Store is the PostgreSQL store.
type Store struct {
	pool *pgxpool.Pool
}

var _ store.Store = (*Store)(nil)

// Open connects to the database at url (postgres://USER:PASSWORD@HOST/DB)
// and brings its schema up to date. Errors never repeat the password.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres address: %w", err)
	}
	if !strings.Contains(url, "pool_max_conns") {
		// pgx's default (the CPU count, at least 4) makes a short read, a
		// live session's re-decision, queue behind a node's ingest and
		// audit transactions on a small machine; PostgreSQL's default
		// 100 connections leave room for several nodes of 16.
		cfg.MaxConns = defaultMaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	s := &Store{pool: pool}
	// The pool connects lazily: fail here, not at the first request.
	if err := s.Ping(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// defaultMaxConns is each node's connections to PostgreSQL unless the
// address sets pool_max_conns.
const defaultMaxConns = 16

// migrateLockClass is the first key of the advisory lock migrations take;
// the second is a hash of the schema, so deployments in different schemas
// of one database do not wait for each other.
const migrateLockClass = 0x63766d67 // "cvmg"

// migrate applies the embedded migrations. Nodes starting at once queue on
// a session advisory lock held on a connection of its own, so each
// migration runs once and a node serves only a schema it knows. The lock
// is blocking (a waiting node goes on the moment the first one is done)
// and ends with its connection, even if this process dies holding it.
func (s *Store) migrate(ctx context.Context) error {
	dir, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	c, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("migrations lock: %w", err)
	}
	lockConn := c.Hijack() // out of the pool: closing it is what unlocks
	defer lockConn.Close(context.WithoutCancel(ctx))
	if _, err := lockConn.Exec(ctx, `SELECT pg_advisory_lock($1, hashtext(current_schema()))`, migrateLockClass); err != nil {
		return fmt.Errorf("migrations lock: %w", err)
	}
	db := stdlib.OpenDBFromPool(s.pool)
	defer db.Close() // leaves the pool open
	p, err := goose.NewProvider(goose.DialectPostgres, db, dir, goose.WithDisableGlobalRegistry(true))
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
	if err := s.pool.Ping(ctx); err != nil {
		return wrap("ping postgres", err)
	}
	return nil
}

// Close closes every connection.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// HasData reports whether the database holds accounts or homes: data that
// only the master key it was written with can read.
func (s *Store) HasData(ctx context.Context) (bool, error) {
	var has bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM accounts) OR EXISTS (SELECT 1 FROM homes)`).Scan(&has)
	return has, wrap("look for data", err)
}

// maxAttempts bounds how often a transaction PostgreSQL aborted to break a
// deadlock or a serialization conflict is run again.
const maxAttempts = 5

// tx runs fn in a read committed transaction, again from the start when
// PostgreSQL aborted it to resolve a conflict with another writer, so fn
// must have no effect outside the transaction.
func (s *Store) tx(ctx context.Context, fn func(pgx.Tx) error) error {
	var err error
	for range maxAttempts {
		err = pgx.BeginFunc(ctx, s.pool, fn)
		if !retryable(err) {
			break
		}
	}
	return mapErr(err)
}

// readTx runs fn in a read-only repeatable read transaction: one snapshot,
// so the rows of a multi-query read agree with each other.
func (s *Store) readTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return mapErr(pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, fn))
}

// retryable reports a deadlock or serialization failure: the transaction
// was rolled back and may simply run again.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001")
}

// mapErr turns driver errors into the store's vocabulary. Anything it
// cannot name (a closed pool, a lost connection, a server refusing work) is
// ErrUnavailable. An error already mapped, or the caller's context ending,
// passes unchanged, so mapping twice is harmless.
func mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrUnavailable),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.Is(err, pgx.ErrNoRows):
		return store.ErrNotFound
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505": // unique_violation
			return fmt.Errorf("%w: %v", store.ErrConflict, err)
		case "23503": // foreign_key_violation
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
func affected(what string, tag pgconn.CommandTag, err error) error {
	if err != nil {
		return wrap(what, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return nil
}

// querier is the pool or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// scanner is a pgx.Row or pgx.Rows.
type scanner interface{ Scan(...any) error }

// list runs a query and scans every row with scan.
func list[T any](ctx context.Context, q querier, what string, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.Query(ctx, query, args...)
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

// params numbers query parameters as they are added.
type params []any

// add appends v and returns its placeholder.
func (p *params) add(v any) string {
	*p = append(*p, v)
	return "$" + strconv.Itoa(len(*p))
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
