package server_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/server"
	"github.com/camvault/camvault/internal/store/postgres/pgtest"
	"github.com/camvault/camvault/internal/store/sqlite"
)

// Upgrade fixtures: small data directories written by a released schema,
// under testdata/upgrade/schema-N (made by testdata/upgrade/make-fixture.sh,
// which runs TestWriteUpgradeFixture). Each is kept as it was written, key
// file included (it is a test fixture and protects nothing); a release that
// adds a migration adds a fixture and keeps the older ones.

// fixtureExpect is what a fixture's data holds, written beside it.
type fixtureExpect struct {
	MadeAt   time.Time        `json:"made_at"`
	Schema   int64            `json:"schema_version"`
	Accounts []fixtureAccount `json:"accounts"`
	HomeID   string           `json:"home_id"`
	Events   []fixtureEvent   `json:"events"`
}

type fixtureAccount struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

type fixtureEvent struct {
	ID        string `json:"id"`
	ThumbSHA  string `json:"thumbnail_sha256"`
	ClipSHA   string `json:"clip_sha256,omitempty"`
	StartedAt string `json:"started_at"`
}

func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// TestWriteUpgradeFixture writes a fixture with this release's code into
// the directory CAMVAULT_WRITE_UPGRADE_FIXTURE names; it is skipped
// otherwise.
func TestWriteUpgradeFixture(t *testing.T) {
	out := os.Getenv("CAMVAULT_WRITE_UPGRADE_FIXTURE")
	if out == "" {
		t.Skip("CAMVAULT_WRITE_UPGRADE_FIXTURE is not set: nothing to write (testdata/upgrade/make-fixture.sh sets it)")
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatalf("%s exists: a fixture is never rewritten", out)
	}
	data := t.TempDir()
	e := &env{t: t, data: data, clock: newClock()}
	e.serve(server.Config{}, e.options()) // production settings, password hashing included
	exp := fixtureExpect{MadeAt: e.clock.Now()}
	ann := fixtureAccount{Email: "ann@example.com", Password: "upgrade fixture ann"}
	bob := fixtureAccount{Email: "bob@example.com", Password: "upgrade fixture bob"}
	for _, a := range []fixtureAccount{ann, bob} {
		e.must(201, "POST", "/api/v1/accounts", "", map[string]string{"email": a.Email, "password": a.Password})
	}
	exp.Accounts = []fixtureAccount{ann, bob}
	annTok := e.login(ann.Email, ann.Password)
	exp.HomeID = e.home(person{token: annTok}, "Ann's house")
	e.share(person{token: annTok}, exp.HomeID, person{email: bob.Email, token: e.login(bob.Email, bob.Password)}, "viewer")
	cam := e.pairCamera(person{token: annTok}, exp.HomeID)
	for i, clip := range []int{6 << 10, 0} {
		started := e.clock.Now().Add(-time.Duration(10-i) * time.Minute)
		u := e.upload(cam, "fixture-"+string(rune('a'+i)), started, clip)
		ev := fixtureEvent{ID: u.id, ThumbSHA: sha(u.thumb), StartedAt: started.Format(time.RFC3339)}
		if clip > 0 {
			ev.ClipSHA = sha(u.clip)
		}
		exp.Events = append(exp.Events, ev)
	}
	e.public.Close()
	if err := e.app.Close(); err != nil { // checkpoints the WAL into the database file
		t.Fatal(err)
	}
	db, err := os.ReadFile(filepath.Join(data, "camvault.db"))
	if err != nil {
		t.Fatal(err)
	}
	exp.Schema = schemaOf(t, db)
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	copyTree(t, data, filepath.Join(out, "data"), func(rel string) bool {
		return rel == "camvault.db" || rel == "master.key" || rel == "blobs/layout" || strings.HasPrefix(rel, "blobs/objects/")
	})
	b, _ := json.MarshalIndent(exp, "", "  ")
	if err := os.WriteFile(filepath.Join(out, "expect.json"), append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

// schemaOf is the schema version of a database file's bytes, read through
// a copy.
func schemaOf(t *testing.T, db []byte) int64 {
	t.Helper()
	p := filepath.Join(t.TempDir(), "camvault.db")
	if err := os.WriteFile(p, db, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := sqlite.OpenFile(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	v, err := f.Check(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// copyTree copies the files under from whose slash-separated relative
// path keep accepts to the same places under to, with modes a data
// directory needs (0700 directories, 0600 files).
func copyTree(t *testing.T, from, to string, keep func(rel string) bool) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(from, p)
		if err != nil || !keep(filepath.ToSlash(rel)) {
			return err
		}
		if err := os.MkdirAll(filepath.Join(to, filepath.Dir(rel)), 0o700); err != nil {
			return err
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(filepath.Join(to, rel), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(to, 0o700); err != nil {
		t.Fatal(err)
	}
}

// TestUpgradeFromFixtures opens each fixture's data, written by an earlier
// (or this) release, with this release's code: the migrations bring it up
// to date, the accounts log in, the events are listed and their media open
// with the keys the fixture was written with, byte for byte, and the audit
// chains verify.
func TestUpgradeFromFixtures(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("testdata", "upgrade", "schema-*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no upgrade fixtures under testdata/upgrade (%v)", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			t.Parallel()
			exp := readExpect(t, dir)
			// A copy: the fixture itself is never migrated. Git keeps no
			// 0600 modes, so the copy gets them as a data directory must.
			data := filepath.Join(t.TempDir(), "data")
			copyTree(t, filepath.Join(dir, "data"), data, func(string) bool { return true })
			checkFixtureData(t, server.Config{DataDir: data}, exp)
		})
	}
}

func readExpect(t *testing.T, dir string) fixtureExpect {
	t.Helper()
	var exp fixtureExpect
	b, err := os.ReadFile(filepath.Join(dir, "expect.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &exp); err != nil {
		t.Fatal(err)
	}
	return exp
}

// checkFixtureData serves cfg, a fixture's data or a copy of it made some
// other way, and checks it holds what exp says.
func checkFixtureData(t *testing.T, cfg server.Config, exp fixtureExpect) {
	t.Helper()
	// The clock of the fixture's day, so that retention does not
	// sweep what the test reads.
	c := newClock()
	c.ns.Store(exp.MadeAt.Add(time.Hour).UnixNano())
	e := newBackendEnv(t, cfg.DataDir, c, cfg)

	var tokens []string
	for _, a := range exp.Accounts {
		tokens = append(tokens, e.login(a.Email, a.Password))
	}
	for i, tok := range tokens {
		list, _ := e.events(tok, "?limit=100")
		var want []string
		for _, ev := range exp.Events {
			want = append(want, ev.ID)
		}
		got := eventIDs(list)
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("%s lists events %v, want %v", exp.Accounts[i].Email, got, want)
		}
		for _, ev := range exp.Events {
			th := e.req("GET", "/api/v1/events/"+ev.ID+"/thumbnail", tok, nil, nil)
			if th.status != 200 || sha(th.raw) != ev.ThumbSHA {
				t.Errorf("event %s: thumbnail %d, sha256 %s, want %s", ev.ID, th.status, sha(th.raw), ev.ThumbSHA)
			}
			if ev.ClipSHA != "" {
				clip := e.req("GET", "/api/v1/events/"+ev.ID+"/clip", tok, nil, nil)
				if clip.status != 200 || sha(clip.raw) != ev.ClipSHA {
					t.Errorf("event %s: clip %d, sha256 %s, want %s", ev.ID, clip.status, sha(clip.raw), ev.ClipSHA)
				}
			}
		}
	}
	if r := e.must(200, "GET", "/api/v1/homes", tokens[0], nil); !strings.Contains(string(r.raw), "Ann's house") {
		t.Errorf("the home's name does not open: %s", r.raw)
	}
	o, err := server.OpenOffline(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	var out strings.Builder
	if err := o.VerifyAudit(t.Context(), &out, ""); err != nil {
		t.Errorf("audit after the upgrade: %v\n%s", err, out.String())
	}
}

// TestBackupRestoreOfOldLayout: blobs kept by a release before the flat
// layout (a directory per event) still back up and restore. A backup of
// such a data directory, never opened by this release, finds every blob;
// a backup made by such a release (format 1, its blobs in the old layout)
// restores; and either restored directory serves every event byte for
// byte once the server has moved its blobs.
func TestBackupRestoreOfOldLayout(t *testing.T) {
	fixture := filepath.Join("testdata", "upgrade", "schema-5")
	exp := readExpect(t, fixture)
	restore := func(t *testing.T, backupDir string) {
		t.Helper()
		data := filepath.Join(t.TempDir(), "restored")
		if _, err := server.Restore(t.Context(), server.Config{DataDir: data}, backupDir, io.Discard); err != nil {
			t.Fatalf("restore: %v", err)
		}
		copyTree(t, filepath.Join(fixture, "data"), data, func(rel string) bool { return rel == "master.key" })
		checkFixtureData(t, server.Config{DataDir: data}, exp)
	}

	t.Run("backup of an old layout", func(t *testing.T) {
		data := filepath.Join(t.TempDir(), "data")
		copyTree(t, filepath.Join(fixture, "data"), data, func(string) bool { return true })
		dir := filepath.Join(t.TempDir(), "backup")
		m, err := server.Backup(t.Context(), server.Config{DataDir: data}, dir, io.Discard)
		if err != nil {
			t.Fatalf("backup: %v", err)
		}
		if m.Format != 2 || m.Events != len(exp.Events) {
			t.Fatalf("backup: %+v", m)
		}
		restore(t, dir)
	})

	t.Run("format 1 backup", func(t *testing.T) {
		// As a release before the flat layout wrote it: the database, the
		// blobs as they were, the manifest last.
		dir := filepath.Join(t.TempDir(), "backup")
		copyTree(t, filepath.Join(fixture, "data"), dir, func(rel string) bool {
			return rel == "camvault.db" || strings.HasPrefix(rel, "blobs/")
		})
		db, err := os.ReadFile(filepath.Join(dir, "camvault.db"))
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]any{"format": 1, "created_at": exp.MadeAt, "schema_version": schemaOf(t, db),
			"database_sha256": sha(db), "events": len(exp.Events)}
		b, _ := json.Marshal(m)
		if err := os.WriteFile(filepath.Join(dir, "manifest.json"), b, 0o600); err != nil {
			t.Fatal(err)
		}
		restore(t, dir)
	})
}

// TestMigrateOldLayoutToPostgresAndS3: an installation whose blobs are in
// the layout before the flat one moves to PostgreSQL and S3 as any other
// (opening its blob directory moves them first), and the new node serves
// every event byte for byte.
func TestMigrateOldLayoutToPostgresAndS3(t *testing.T) {
	pg := pgtest.Database(t)
	s3URL, _ := s3Target(t)
	fixture := filepath.Join("testdata", "upgrade", "schema-5")
	exp := readExpect(t, fixture)
	data := filepath.Join(t.TempDir(), "data")
	copyTree(t, filepath.Join(fixture, "data"), data, func(string) bool { return true })
	var out strings.Builder
	rep, err := server.Migrate(t.Context(), server.Config{DataDir: data}, server.MigrateTarget{Store: pg, Blobs: s3URL, Sample: 10}, &out)
	if err != nil {
		t.Fatalf("migrate: %v\n%s", err, out.String())
	}
	if rep.Rows["events"] != int64(len(exp.Events)) || rep.Blobs == 0 {
		t.Fatalf("report %+v\n%s", rep, out.String())
	}
	checkFixtureData(t, server.Config{DataDir: t.TempDir(), Store: pg, Blobs: s3URL, KeyFile: filepath.Join(data, "master.key")}, exp)
}
