// Command authpeer is the thumbnail benchmark's peer: what a team would
// build from standard parts to serve the same JPEGs with the same checks,
// for nginx's auth_request. For every request nginx passes on it
//
//   - takes the bearer token and looks its hash up in camvault's sessions
//     (unexpired),
//   - takes the event from the original URI (/t/ID.jpg), reads the event
//     (live), and decides from the member's role and camera list whether
//     the session's account may see it,
//   - appends one audit row, committed (synced) before it answers,
//
// and answers 204 (nginx then sends the file from disk), 401, or 403 for
// an event that is not there or not the account's (nginx's auth_request
// knows only 401 and 403; the benchmark's nginx answers 404 for it, as
// camvault does). It
// reads camvault's own tables (--store: camvault's SQLite file, or its
// PostgreSQL database), read-only, and writes its audit rows to a table
// of its own (--audit: a SQLite file, or a PostgreSQL database), through
// database/sql, one autocommitted INSERT per request, as such a service
// would. It is a benchmark tool, not part of camvault.
//
//	authpeer --addr 127.0.0.1:28195 --store DATA/camvault.db --audit WORK/peer-audit.db
package main

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	_ "modernc.org/sqlite"             // database/sql driver "sqlite"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:28195", "listen address")
	storeURL := flag.String("store", "", "camvault's database: its SQLite file, or postgres://...")
	auditURL := flag.String("audit", "", "where the audit rows go: a SQLite file, or postgres://...")
	flag.Parse()
	if *storeURL == "" || *auditURL == "" {
		fmt.Fprintln(os.Stderr, "authpeer: --store and --audit are required")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *addr, *storeURL, *auditURL); err != nil {
		fmt.Fprintln(os.Stderr, "authpeer:", err)
		os.Exit(1)
	}
}

// db is a database/sql pool and how its queries number their arguments.
type db struct {
	*sql.DB
	pg bool
}

// open opens a SQLite file (WAL, synced commits) or a PostgreSQL URL.
func open(target string, readOnly bool) (db, error) {
	if strings.HasPrefix(target, "postgres://") || strings.HasPrefix(target, "postgresql://") {
		d, err := sql.Open("pgx", target)
		return db{DB: d, pg: true}, err
	}
	q := url.Values{"_pragma": {"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(FULL)"}}
	if readOnly {
		q["_pragma"] = append(q["_pragma"], "query_only(1)")
	}
	d, err := sql.Open("sqlite", "file:"+target+"?"+q.Encode())
	if err != nil {
		return db{}, err
	}
	if !readOnly {
		d.SetMaxOpenConns(1) // SQLite has one writer
	}
	return db{DB: d}, nil
}

// q writes a query's placeholders for the database: ? for SQLite, $n for
// PostgreSQL.
func (d db) q(query string) string {
	if !d.pg {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

type peer struct {
	store, audit db
	session      *sql.Stmt
	event        *sql.Stmt
	member       *sql.Stmt
	camera       *sql.Stmt
	insert       *sql.Stmt
	rows         atomic.Int64 // the audit rows' IDs
	log          *slog.Logger
}

func run(ctx context.Context, addr, storeURL, auditURL string) error {
	var p peer
	var err error
	if p.store, err = open(storeURL, true); err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	defer p.store.Close()
	if p.audit, err = open(auditURL, false); err != nil {
		return fmt.Errorf("open audit: %w", err)
	}
	defer p.audit.Close()
	if _, err := p.audit.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS peer_audit (
		id BIGINT PRIMARY KEY, at BIGINT NOT NULL, account_id TEXT NOT NULL, event_id TEXT NOT NULL, result TEXT NOT NULL)`); err != nil {
		return fmt.Errorf("create audit table: %w", err)
	}
	for _, st := range []struct {
		to    **sql.Stmt
		d     db
		query string
	}{
		{&p.session, p.store, `SELECT account_id, expires_at FROM sessions WHERE token_hash = ?`},
		{&p.event, p.store, `SELECT home_id, device_id FROM events WHERE id = ? AND deleted_at IS NULL`},
		{&p.member, p.store, `SELECT role, limited FROM members WHERE home_id = ? AND account_id = ?`},
		{&p.camera, p.store, `SELECT 1 FROM member_devices WHERE home_id = ? AND account_id = ? AND device_id = ?`},
		{&p.insert, p.audit, `INSERT INTO peer_audit (id, at, account_id, event_id, result) VALUES (?, ?, ?, ?, ?)`},
	} {
		if *st.to, err = st.d.PrepareContext(ctx, st.d.q(st.query)); err != nil {
			return fmt.Errorf("prepare %q: %w", st.query, err)
		}
	}
	p.rows.Store(time.Now().UnixNano())
	p.log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv := &http.Server{Addr: addr, Handler: http.HandlerFunc(p.check), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

var errDenied = errors.New("denied")

// check is nginx's auth_request subrequest: the original request's
// Authorization header and its URI in X-Original-URI.
func (p *peer) check(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	hash := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	var account string
	var expires int64
	err := p.session.QueryRowContext(ctx, hash[:]).Scan(&account, &expires)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && time.Now().UnixMicro() >= expires) {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if err != nil {
		p.fail(w, err)
		return
	}
	event, ok := strings.CutPrefix(r.Header.Get("X-Original-URI"), "/t/")
	event, ok2 := strings.CutSuffix(event, ".jpg")
	if !ok || !ok2 {
		w.WriteHeader(http.StatusForbidden)
		return
	}
	if err := p.allowed(ctx, account, event); errors.Is(err, errDenied) {
		w.WriteHeader(http.StatusForbidden)
		return
	} else if err != nil {
		p.fail(w, err)
		return
	}
	now := time.Now()
	if _, err := p.insert.ExecContext(ctx, p.rows.Add(1), now.UnixMicro(), account, event, "ok"); err != nil {
		p.fail(w, err) // not on record: not sent
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// allowed decides whether account may see event: a member of its home,
// and, for a viewer limited to cameras, one of them.
func (p *peer) allowed(ctx context.Context, account, event string) error {
	var home, device, role string
	var limited bool
	if err := p.event.QueryRowContext(ctx, event).Scan(&home, &device); errors.Is(err, sql.ErrNoRows) {
		return errDenied
	} else if err != nil {
		return err
	}
	if err := p.member.QueryRowContext(ctx, home, account).Scan(&role, &limited); errors.Is(err, sql.ErrNoRows) {
		return errDenied
	} else if err != nil {
		return err
	}
	if role != "viewer" || !limited {
		return nil
	}
	var one int
	if err := p.camera.QueryRowContext(ctx, home, account, device).Scan(&one); errors.Is(err, sql.ErrNoRows) {
		return errDenied
	} else if err != nil {
		return err
	}
	return nil
}

func (p *peer) fail(w http.ResponseWriter, err error) {
	p.log.Warn("check failed", "err", err)
	w.WriteHeader(http.StatusInternalServerError)
}
