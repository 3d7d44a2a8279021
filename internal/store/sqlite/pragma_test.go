package sqlite

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
)

// TestPragmas checks the settings durability and isolation rest on are in
// force on both pools: a DSN typo would otherwise go unnoticed.
func TestPragmas(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "camvault.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	pragma := func(db *sql.DB, name string) string {
		t.Helper()
		var v string
		if err := db.QueryRowContext(t.Context(), "PRAGMA "+name).Scan(&v); err != nil {
			t.Fatalf("pragma %s: %v", name, err)
		}
		return strings.ToLower(v)
	}
	for _, c := range []struct {
		db         *sql.DB
		pool, name string
		want       string
	}{
		{s.w, "writer", "journal_mode", "wal"},
		{s.w, "writer", "synchronous", "2"}, // FULL
		{s.w, "writer", "foreign_keys", "1"},
		{s.w, "writer", "busy_timeout", "10000"},
		{s.w, "writer", "query_only", "0"},
		{s.r, "readers", "journal_mode", "wal"},
		{s.r, "readers", "foreign_keys", "1"},
		{s.r, "readers", "busy_timeout", "10000"},
		{s.r, "readers", "query_only", "1"},
	} {
		if got := pragma(c.db, c.name); got != c.want {
			t.Errorf("%s: %s = %s, want %s", c.pool, c.name, got, c.want)
		}
	}
	if _, err := s.r.ExecContext(t.Context(), `DELETE FROM accounts`); err == nil {
		t.Errorf("a write through the reader pool succeeded")
	}
}

// TestNewerSchemaRefused: a database migrated by a newer binary is not
// opened by an older one.
func TestNewerSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "camvault.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.ExecContext(t.Context(), `INSERT INTO goose_db_version (version_id, is_applied) VALUES (99999, 1)`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err := Open(t.Context(), path); err == nil {
		s.Close()
		t.Fatal("opened a database with a newer schema")
	}
}
