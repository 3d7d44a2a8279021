package sqlite

import (
	"context"
	"database/sql"
	"sync"
)

// maxPrepared bounds the statement cache. The store's queries are fixed
// strings, a few dozen of them; a few (event listings) are built per call,
// and past the bound those simply run unprepared.
const maxPrepared = 256

// stmtCache prepares each query once on a pool and reuses it: database/sql
// keeps a *sql.Stmt prepared per connection, so a query is parsed once per
// connection instead of on every call. Preparation was about a fifth of the
// server's CPU per thumbnail view (docs/benchmarks.md).
type stmtCache struct {
	db *sql.DB
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, m: map[string]*sql.Stmt{}}
}

// lookup returns the prepared statement for query, or nil if it was never
// prepared. It never takes a connection, so it is safe inside a transaction.
func (c *stmtCache) lookup(query string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[query]
}

// stmt returns query prepared, preparing it on first use; nil when the
// cache is full or preparing failed (the caller then runs the query as
// is, which reports the same error). It takes a pooled connection to
// prepare, so it must not be called while holding one of the same pool.
func (c *stmtCache) stmt(ctx context.Context, query string) *sql.Stmt {
	if st := c.lookup(query); st != nil {
		return st
	}
	c.mu.Lock()
	full := len(c.m) >= maxPrepared
	c.mu.Unlock()
	if full {
		return nil
	}
	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev, ok := c.m[query]; ok {
		// Prepared by another caller meanwhile; keep one.
		_ = st.Close()
		return prev
	}
	c.m[query] = st
	return st
}

// QueryContext and QueryRowContext make the cache a querier over its pool.
func (c *stmtCache) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := c.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return c.db.QueryContext(ctx, query, args...)
}

func (c *stmtCache) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := c.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return c.db.QueryRowContext(ctx, query, args...)
}

// in returns a querier for a transaction on the cache's pool that uses
// the statements already prepared (warm them before the transaction
// begins) and runs any other query as is.
func (c *stmtCache) in(tx *sql.Tx) txQuerier { return txQuerier{tx: tx, c: c} }

func (c *stmtCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var first error
	for q, st := range c.m {
		if err := st.Close(); err != nil && first == nil {
			first = err
		}
		delete(c.m, q)
	}
	return first
}

// txQuerier runs queries in a transaction, through the cache's statements
// where they exist. tx.StmtContext reuses the statement already prepared on
// the transaction's connection, or prepares it there (taking no other
// connection) and keeps it for the next time.
type txQuerier struct {
	tx *sql.Tx
	c  *stmtCache
}

func (q txQuerier) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := q.c.lookup(query); st != nil {
		return q.tx.StmtContext(ctx, st).QueryContext(ctx, args...)
	}
	return q.tx.QueryContext(ctx, query, args...)
}

func (q txQuerier) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := q.c.lookup(query); st != nil {
		return q.tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return q.tx.QueryRowContext(ctx, query, args...)
}

func (q txQuerier) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := q.c.lookup(query); st != nil {
		return q.tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	return q.tx.ExecContext(ctx, query, args...)
}
