package audit_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/camvault/camvault/internal/audit"
	"github.com/camvault/camvault/internal/store/sqlite"
)

// TestVerifyDetectsTampering edits, removes and forges entries directly in
// the database and checks that verification names each.
func TestVerifyDetectsTampering(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	st, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	log := audit.New(st, []byte("0123456789abcdef0123456789abcdef"), nil)
	for _, h := range []string{"home-a", "home-b"} {
		for i := range 5 {
			if err := log.Record(t.Context(), h, audit.Entry{ActorKind: "person", ActorID: "acc", Action: audit.ViewThumbnail, EventID: "e" + string(rune('0'+i)), Result: audit.ResultOK}); err != nil {
				t.Fatal(err)
			}
		}
	}
	n, problems, err := log.Verify(t.Context())
	if err != nil || n != 10 || len(problems) != 0 {
		t.Fatalf("clean chains: %d entries, %v, %v", n, problems, err)
	}

	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tamper := func(q string) {
		t.Helper()
		if _, err := db.ExecContext(context.Background(), q); err != nil {
			t.Fatal(err)
		}
	}
	expect := func(want string) {
		t.Helper()
		_, problems, err := log.Verify(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		var all []string
		for _, p := range problems {
			all = append(all, p.String())
		}
		if !strings.Contains(strings.Join(all, "\n"), want) {
			t.Fatalf("verify found %q, want a problem mentioning %q", all, want)
		}
	}
	tamper(`UPDATE audit SET actor_id = 'someone-else' WHERE home_id = 'home-a' AND seq = 3`)
	expect("home home-a entry 3: content does not match")
	tamper(`DELETE FROM audit WHERE home_id = 'home-b' AND seq = 2`)
	expect("home home-b entry 2: entries 2 to 2 are missing")
	tamper(`DELETE FROM audit WHERE home_id = 'home-b' AND seq = 1`)
	expect("does not start at entry 1")
}
