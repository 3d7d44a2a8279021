// Package pgtest gives a test a PostgreSQL schema of its own, on the server
// named by CAMVAULT_TEST_POSTGRES, so runs repeat and run in parallel
// without seeing each other's rows. A schema rather than a database: both
// isolate every table, and a schema is made in milliseconds where a
// database takes a second of fsyncs.
package pgtest

import (
	"context"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/camvault/camvault/internal/id"
)

// Env names the variable holding the server's address, a URL such as
// postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable.
const Env = "CAMVAULT_TEST_POSTGRES"

// Server returns the server's address, and skips t when none is given.
func Server(t testing.TB) string {
	t.Helper()
	base := os.Getenv(Env)
	if base == "" {
		t.Skipf("%s is not set: skipping the PostgreSQL tests (set it to a server's URL, e.g. postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable)", Env)
	}
	return base
}

// Database creates a new, empty schema and returns the server's URL with
// that schema as its search path, so everything the store creates lands
// in it; the schema is dropped with its tables when t ends. t is skipped when no server is given, and fails when the
// server cannot be reached.
func Database(t testing.TB) string {
	t.Helper()
	base := Server(t)
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("%s must be a postgres:// URL", Env)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to the server in %s: %v", Env, err)
	}
	defer conn.Close(ctx)
	name := "camvault_test_" + id.New()
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("create schema %s: %v", name, err)
	}
	t.Cleanup(func() {
		// t's own context has ended by now.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("connect to drop schema %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{name}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
	})
	q := u.Query()
	q.Set("search_path", name) // sent to the server as a run-time parameter
	u.RawQuery = q.Encode()
	return u.String()
}
