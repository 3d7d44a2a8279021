package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
)

// maxBatch bounds how many write transactions share one commit.
const maxBatch = 256

// errClosed is returned to writes that arrive after Close.
var errClosed = errors.New("sqlite store closed")

// writeOp is one caller's write transaction, waiting for its commit.
type writeOp struct {
	ctx  context.Context
	fn   func(*sql.Tx) error
	done chan error // buffered: the committer never blocks on a caller
}

// committer is the group commit on the single writer connection. Write
// transactions that arrive while one commits are run together in the next
// transaction, each inside its own savepoint, and committed with one WAL
// fsync. Each caller learns its own outcome only after that commit
// returned: a part that failed is rolled back to its savepoint alone, and
// none is reported committed before it is on disk (invariant 6), so an
// audit entry is still on record before the view it records is sent.
//
// Parts run one after another in arrival order, each seeing the ones before
// it, exactly as if they had committed one by one: an audit append reads the
// head the previous append of the same batch wrote, so a home's chain stays
// in order and links as it did.
type committer struct {
	db      *sql.DB
	ops     chan *writeOp
	quit    chan struct{}
	stopped chan struct{}
	once    sync.Once // Close may be called twice
	// savepoint, release and rollback are the savepoint statements,
	// prepared once on the writer connection.
	savepoint, release, rollback *sql.Stmt
}

func newCommitter(ctx context.Context, db *sql.DB) (*committer, error) {
	c := &committer{
		db:      db,
		ops:     make(chan *writeOp, maxBatch),
		quit:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
	for _, st := range []struct {
		to    **sql.Stmt
		query string
	}{{&c.savepoint, `SAVEPOINT part`}, {&c.release, `RELEASE part`}, {&c.rollback, `ROLLBACK TO part`}} {
		var err error
		if *st.to, err = db.PrepareContext(ctx, st.query); err != nil {
			c.closeStmts()
			return nil, fmt.Errorf("prepare %q: %w", st.query, mapErr(err))
		}
	}
	go c.loop()
	return c, nil
}

func (c *committer) closeStmts() {
	for _, st := range []*sql.Stmt{c.savepoint, c.release, c.rollback} {
		if st != nil {
			_ = st.Close()
		}
	}
}

// do runs fn in a write transaction and returns once it is committed, or
// with fn's error (nothing of fn's kept), or with the commit's error.
func (c *committer) do(ctx context.Context, fn func(*sql.Tx) error) error {
	op := &writeOp{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case c.ops <- op:
	case <-c.quit:
		return errClosed
	case <-ctx.Done():
		return fmt.Errorf("wait for the writer: %w", ctx.Err())
	}
	// Once queued the caller waits for the outcome, whatever its context
	// says: its part may already be in a commit, and reporting it failed
	// while it lands would be a lie. A commit takes one fsync.
	select {
	case err := <-op.done:
		return err
	case <-c.stopped:
		select {
		case err := <-op.done:
			return err
		default:
			return errClosed
		}
	}
}

// close stops the committer after the batch in progress; writes still
// queued fail with errClosed.
func (c *committer) close() {
	c.once.Do(func() { close(c.quit) })
	<-c.stopped
	c.closeStmts()
}

func (c *committer) loop() {
	defer close(c.stopped)
	batch := make([]*writeOp, 0, maxBatch)
	for {
		select {
		case <-c.quit:
			for {
				select {
				case op := <-c.ops:
					op.done <- errClosed
				default:
					return
				}
			}
		case op := <-c.ops:
			batch = append(batch[:0], op)
			// Everything that queued while the last commit ran.
		drain:
			for len(batch) < maxBatch {
				select {
				case op := <-c.ops:
					batch = append(batch, op)
				default:
					break drain
				}
			}
			c.run(batch)
			clear(batch)
		}
	}
}

// run commits one batch and releases its callers.
func (c *committer) run(batch []*writeOp) {
	live := make([]*writeOp, 0, len(batch))
	for _, op := range batch {
		if err := op.ctx.Err(); err != nil {
			op.done <- fmt.Errorf("wait for the writer: %w", err) // never started
			continue
		}
		live = append(live, op)
	}
	switch len(live) {
	case 0:
		return
	case 1:
		live[0].done <- c.single(live[0])
		return
	}
	errs, ran, err := c.together(live)
	if err != nil && !ran {
		// The shared transaction broke before its commit was tried (a
		// part's error rolled all of it back, or a savepoint failed):
		// nothing of it is on disk. Each part that had not failed on its
		// own runs again alone, so one bad part takes no other down.
		for i, op := range live {
			if errs[i] != nil {
				op.done <- errs[i]
				continue
			}
			op.done <- c.single(op)
		}
		return
	}
	for i, op := range live {
		if err != nil {
			// The commit itself failed: no part may be reported committed.
			op.done <- err
			continue
		}
		op.done <- errs[i]
	}
}

// single runs one part in its own transaction.
func (c *committer) single(op *writeOp) error {
	tx, err := c.db.BeginTx(op.ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := call(op.fn, tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", mapErr(err))
	}
	return nil
}

// together runs the parts in one transaction, each in a savepoint, and
// commits. errs holds each part's own error; err a failure of the
// transaction as a whole, with ran telling whether the commit was tried.
func (c *committer) together(ops []*writeOp) (errs []error, ran bool, err error) {
	errs = make([]error, len(ops))
	// The shared transaction is not any one caller's: a caller giving up
	// must not roll back the others' parts.
	ctx := context.WithoutCancel(ops[0].ctx)
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return errs, false, fmt.Errorf("begin: %w", err)
	}
	savepoint, rollback, release := tx.StmtContext(ctx, c.savepoint), tx.StmtContext(ctx, c.rollback), tx.StmtContext(ctx, c.release)
	for i, op := range ops {
		if _, err := savepoint.ExecContext(ctx); err != nil {
			_ = tx.Rollback()
			return errs, false, fmt.Errorf("savepoint: %w", err)
		}
		if errs[i] = call(op.fn, tx); errs[i] != nil {
			if _, err := rollback.ExecContext(ctx); err != nil {
				_ = tx.Rollback()
				return errs, false, fmt.Errorf("roll back a failed part: %w", err)
			}
		}
		if _, err := release.ExecContext(ctx); err != nil {
			_ = tx.Rollback()
			return errs, false, fmt.Errorf("release savepoint: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return errs, true, fmt.Errorf("commit: %w", mapErr(err))
	}
	return errs, true, nil
}

// call runs fn, turning a panic into an error: the committer serves every
// writer and must outlive one bad part.
func call(fn func(*sql.Tx) error, tx *sql.Tx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("write transaction panicked: %v", r)
		}
	}()
	return fn(tx)
}
