package postgres_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/camvault/camvault/internal/store/postgres"
	"github.com/camvault/camvault/internal/store/postgres/pgtest"
)

// TestRefusesNewerSchema: a database a later release migrated is refused at
// open, with a message that says so, and nothing is applied to it.
func TestRefusesNewerSchema(t *testing.T) {
	url := pgtest.Database(t)
	open(t, url).Close()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	var known int64
	var before int
	if err := conn.QueryRow(t.Context(), `SELECT MAX(version_id), COUNT(*) FROM goose_db_version`).Scan(&known, &before); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(t.Context(), `INSERT INTO goose_db_version (version_id, is_applied) VALUES ($1, true)`, known+1); err != nil {
		t.Fatal(err)
	}
	s, err := postgres.Open(t.Context(), url)
	if err == nil {
		s.Close()
		t.Fatal("a database of a newer schema opened")
	}
	want := fmt.Sprintf("schema version %d is newer than this binary's %d", known+1, known)
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not say %q", err, want)
	}
	var rows int
	if err := conn.QueryRow(t.Context(), `SELECT COUNT(*) FROM goose_db_version`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != before+1 { // the later one alone
		t.Errorf("goose_db_version has %d rows after the refused open, want %d", rows, before+1)
	}
}
