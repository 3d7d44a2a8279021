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
