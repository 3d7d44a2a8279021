package sqlite_test

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/camvault/camvault/internal/store/sqlite"
)

// TestRefusesNewerSchema: a database migrated by a later release (its
// schema version is past the last migration this binary has) is refused at
// open with a message that says so, and is left as it was: migrations
// never run backwards.
func TestRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "camvault.db")
	open(t, path).Close()
	known, err := sqlite.SchemaVersion()
	if err != nil || known < 5 {
		t.Fatalf("SchemaVersion = %d, %v", known, err)
	}
	// What a later release's migration leaves: a new version applied.
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO goose_db_version (version_id, is_applied) VALUES (?, 1)`, known+1); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE from_the_future (x INTEGER) STRICT`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	s, err := sqlite.Open(t.Context(), path)
	if err == nil {
		s.Close()
		t.Fatal("a database of a newer schema opened")
	}
	want := fmt.Sprintf("schema version %d is newer than this binary's %d", known+1, known)
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not say %q", err, want)
	}
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(before) != string(after) {
		t.Error("opening a database of a newer schema changed it")
	}
}

// TestTablesListsEveryTable: a copy (admin migrate, backup checks) takes
// the tables in sqlite.Tables; a table the migrations make and the list
// leaves out would be dropped by every migration to PostgreSQL.
func TestTablesListsEveryTable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "camvault.db")
	open(t, path).Close()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name != 'goose_db_version' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	listed := map[string]bool{}
	for _, name := range sqlite.Tables {
		listed[name] = true
	}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		if !listed[name] {
			t.Errorf("table %s is not in sqlite.Tables", name)
		}
		delete(listed, name)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for name := range listed {
		t.Errorf("sqlite.Tables lists %s, which the schema does not have", name)
	}
}
