package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite" // the same SQLite the server uses

	"github.com/camvault/camvault/internal/id"
)

// row is one loaded event.
type row struct {
	id, home, device, deviceEventID, kind string
	startedAt, createdAt                  int64
	thumbKey                              string
}

// kinds in the proportions a camera sends them: mostly motion.
var kindMix = [20]string{
	"motion", "motion", "motion", "motion", "motion", "motion", "motion", "motion", "motion", "motion",
	"motion", "motion", "person", "person", "person", "person", "person", "vehicle", "vehicle", "sound",
}

func runLoad(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("load", flag.ExitOnError)
	dbPath := fs.String("db", "", "the server's SQLite file (DATA/camvault.db), with the server stopped")
	pgURL := fs.String("postgres", "", "or the server's PostgreSQL database")
	dir := fs.String("setup", "", "directory setup wrote to")
	total := fs.Int("total", 10_000, "events the first home should hold")
	fs.Parse(args)
	s, err := readSetup(*dir)
	if err != nil {
		return err
	}
	var l loader
	switch {
	case *dbPath != "":
		db, err := sql.Open("sqlite", "file:"+*dbPath+"?_pragma=busy_timeout(10000)&_pragma=cache_size(-1000000)&_pragma=synchronous(off)")
		if err != nil {
			return err
		}
		defer db.Close()
		db.SetMaxOpenConns(1)
		l = &sqliteLoader{db: db}
	case *pgURL != "":
		conn, err := pgx.Connect(ctx, *pgURL)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		l = &pgLoader{conn: conn}
	default:
		return fmt.Errorf("--db or --postgres is required")
	}
	start := time.Now()
	rng := rand.New(rand.NewPCG(uint64(*total), 1))
	now := time.Now()
	homes := []struct {
		id      string
		devices []string
		want    int
	}{
		{s.HomeA, s.DevicesA, *total},
		{s.HomeB, []string{s.DeviceB}, *total / 100},
	}
	loaded := 0
	for _, h := range homes {
		have, err := l.count(ctx, h.id)
		if err != nil {
			return fmt.Errorf("count: %w", err)
		}
		for have < h.want {
			n := min(h.want-have, 50_000)
			batch := make([]row, n)
			for i := range batch {
				dev := h.devices[(have+i)%len(h.devices)]
				back := time.Duration(rng.Int64N(int64(30 * 24 * time.Hour)))
				batch[i] = row{
					id: id.New(), home: h.id, device: dev, deviceEventID: fmt.Sprintf("bulk-%010d", have+i),
					kind:      kindMix[rng.IntN(len(kindMix))],
					startedAt: now.Add(-back).UnixMicro(), createdAt: now.UnixMicro(),
					thumbKey: s.ThumbKeys[dev],
				}
			}
			if err := l.insert(ctx, batch); err != nil {
				return fmt.Errorf("insert: %w", err)
			}
			have += n
			loaded += n
		}
	}
	if err := l.finish(ctx); err != nil {
		return err
	}
	el := time.Since(start)
	fmt.Printf("loaded %d events in %.1f s (%.0f/s); home A holds %d\n", loaded, el.Seconds(), float64(loaded)/el.Seconds(), *total)
	return nil
}

type loader interface {
	count(ctx context.Context, home string) (int, error)
	insert(ctx context.Context, rows []row) error
	finish(ctx context.Context) error
}

// sqliteLoader drops the events table's secondary indexes before the
// first batch and builds them again at the end, which SQLite does by
// sorting, many times faster than inserting millions of rows into each
// index at random places. The schema ends exactly as it was.
type sqliteLoader struct {
	db      *sql.DB
	indexes []string // CREATE INDEX statements to run again
}

func (l *sqliteLoader) count(ctx context.Context, home string) (int, error) {
	var n int
	err := l.db.QueryRowContext(ctx, `SELECT count(*) FROM events WHERE home_id = ?`, home).Scan(&n)
	return n, err
}

// insert writes rows in one transaction, 500 to a statement.
func (l *sqliteLoader) insert(ctx context.Context, rows []row) error {
	if l.indexes == nil {
		if err := l.dropIndexes(ctx); err != nil {
			return err
		}
	}
	tx, err := l.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	const per = 500
	for len(rows) > 0 {
		chunk := rows[:min(per, len(rows))]
		rows = rows[len(chunk):]
		var q strings.Builder
		q.WriteString(`INSERT INTO events (id, home_id, device_id, device_event_id, kind, started_at, created_at, thumb_key, thumb_size) VALUES `)
		args := make([]any, 0, len(chunk)*9)
		for i, r := range chunk {
			if i > 0 {
				q.WriteByte(',')
			}
			q.WriteString("(?,?,?,?,?,?,?,?,?)")
			args = append(args, r.id, r.home, r.device, r.deviceEventID, r.kind, r.startedAt, r.createdAt, r.thumbKey, 30720)
		}
		if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// finish builds the indexes again and checkpoints the WAL. It leaves
// no planner statistics (no ANALYZE), as the server never makes them.
func (l *sqliteLoader) finish(ctx context.Context) error {
	for _, stmt := range l.indexes {
		if _, err := l.db.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("build index again: %w", err)
		}
	}
	_, err := l.db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
	return err
}

func (l *sqliteLoader) dropIndexes(ctx context.Context) error {
	rows, err := l.db.QueryContext(ctx, `SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events' AND sql IS NOT NULL`)
	if err != nil {
		return err
	}
	var names []string
	for rows.Next() {
		var name, stmt string
		if err := rows.Scan(&name, &stmt); err != nil {
			rows.Close()
			return err
		}
		names = append(names, name)
		l.indexes = append(l.indexes, stmt)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, n := range names {
		if _, err := l.db.ExecContext(ctx, `DROP INDEX `+n); err != nil {
			return fmt.Errorf("drop index %s: %w", n, err)
		}
	}
	return nil
}

type pgLoader struct{ conn *pgx.Conn }

func (l *pgLoader) count(ctx context.Context, home string) (int, error) {
	var n int
	err := l.conn.QueryRow(ctx, `SELECT count(*) FROM events WHERE home_id = $1`, home).Scan(&n)
	return n, err
}

func (l *pgLoader) insert(ctx context.Context, rows []row) error {
	_, err := l.conn.CopyFrom(ctx, pgx.Identifier{"events"},
		[]string{"id", "home_id", "device_id", "device_event_id", "kind", "started_at", "created_at", "thumb_key", "thumb_size"},
		pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) {
			r := rows[i]
			return []any{r.id, r.home, r.device, r.deviceEventID, r.kind, r.startedAt, r.createdAt, r.thumbKey, int64(30720)}, nil
		}))
	return err
}

// finish analyzes the table, as autovacuum does after a large load.
func (l *pgLoader) finish(ctx context.Context) error {
	_, err := l.conn.Exec(ctx, `ANALYZE events`)
	return err
}
