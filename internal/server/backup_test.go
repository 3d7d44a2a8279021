package server_test

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/camvault/camvault/internal/identity"
	"github.com/camvault/camvault/internal/server"
)

// ingest uploads events from several cameras at once, as fast as the
// server takes them, and keeps what each acknowledged upload carried.
type ingest struct {
	e    *env
	mu   sync.Mutex
	done []uploaded
	errs []error
	stop chan struct{}
	wg   sync.WaitGroup
}

func startIngest(e *env, cams []camera) *ingest {
	in := &ingest{e: e, stop: make(chan struct{})}
	thumb := testJPEG(e.t, "")
	for c, cam := range cams {
		in.wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-in.stop:
					return
				default:
				}
				u := uploaded{thumb: withCOM(thumb, fmt.Appendf(nil, "cam %d event %d", c, i)), clip: testMP4(20<<10, ""), started: recent(1)}
				ct, body := multipartBody(meta(fmt.Sprintf("ingest-%d", i), u.started, "motion"), thumbPart(u.thumb), clipPart(u.clip))
				r, err := e.rawRequest("POST", "/api/v1/device/events", cam.token, map[string]string{"Content-Type": ct}, body)
				in.mu.Lock()
				switch {
				case err != nil:
					in.errs = append(in.errs, err)
				case r.status == 201:
					u.id = r.str("id")
					in.done = append(in.done, u)
				case r.status != 503: // shed under load: the camera would retry
					in.errs = append(in.errs, fmt.Errorf("upload: %d %s", r.status, r.raw))
				}
				in.mu.Unlock()
			}
		})
	}
	return in
}

// acknowledged is every upload acknowledged so far.
func (in *ingest) acknowledged() []uploaded {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]uploaded(nil), in.done...)
}

// end stops the cameras and fails the test on any upload that failed.
func (in *ingest) end(t *testing.T) {
	t.Helper()
	close(in.stop)
	in.wg.Wait()
	for _, err := range in.errs {
		t.Error(err)
	}
}

// TestBackupDuringIngest takes a backup while cameras upload and a person
// deletes events, restores it into a new data directory, starts a server
// on it and finds every event acknowledged before the backup began, with
// its media as uploaded (opened with the home's key, so decryptable), and
// none that was deleted before it began.
func TestBackupDuringIngest(t *testing.T) {
	e := newEnv(t, func(o *server.Options) { o.Identity.Argon2 = identity.Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1} })
	ann := e.signup("ann")
	home := e.home(ann, "Ann's house")
	cams := []camera{e.pairCamera(ann, home), e.pairCamera(ann, home), e.pairCamera(ann, home)}
	deleted := e.upload(cams[0], "deleted-before", recent(2), 1000)
	e.must(204, "DELETE", "/api/v1/events/"+deleted.id, ann.token, nil)

	in := startIngest(e, cams)
	eventually(t, "cameras upload", func() bool { return len(in.acknowledged()) >= 15 })
	before := in.acknowledged()
	// A person deletes events while the backup runs; they may or may not
	// be in it, but whatever is in it must open.
	var deleting sync.WaitGroup
	deleting.Go(func() {
		for _, u := range before[:5] {
			_, _ = e.rawRequest("DELETE", "/api/v1/events/"+u.id, ann.token, nil, nil)
		}
	})
	dir := filepath.Join(t.TempDir(), "backup")
	var out bytes.Buffer
	m, err := server.Backup(t.Context(), server.Config{DataDir: e.data}, dir, &out)
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	deleting.Wait()
	t.Logf("backup during ingest: %+v", m)
	eventually(t, "cameras upload after the backup", func() bool { return len(in.acknowledged()) >= len(before)+5 })
	in.end(t)
	if m.Events < len(before)-5 || !strings.Contains(out.String(), "master key is not in the backup") {
		t.Fatalf("backup: %+v\n%s", m, out.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "master.key")); err == nil {
		t.Fatal("the backup holds the master key")
	}
	wantSeen := map[string]uploaded{}
	for _, u := range before[5:] {
		wantSeen[u.id] = u
	}

	// Restore beside the running server, into a new data directory.
	restored := filepath.Join(t.TempDir(), "restored")
	out.Reset()
	if _, err := server.Restore(t.Context(), server.Config{DataDir: restored}, dir, &out); err != nil {
		t.Fatalf("restore: %v", err)
	}
	if !strings.Contains(out.String(), "no master key found") {
		t.Errorf("restore without a key does not say where it goes:\n%s", out.String())
	}
	if _, err := server.Restore(t.Context(), server.Config{DataDir: restored}, dir, io.Discard); err == nil || !strings.Contains(err.Error(), "already holds camvault data") {
		t.Errorf("a second restore into the same directory: %v", err)
	}
	copyKey(t, filepath.Join(e.data, "master.key"), filepath.Join(restored, "master.key"))

	r := newEnvIn(t, restored, func(o *server.Options) { o.Identity.Argon2 = identity.Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1} })
	tok := r.login(ann.email, ann.password)
	for id, u := range wantSeen {
		th := r.req("GET", "/api/v1/events/"+id+"/thumbnail", tok, nil, nil)
		clip := r.req("GET", "/api/v1/events/"+id+"/clip", tok, nil, nil)
		if th.status != 200 || !bytes.Equal(th.raw, u.thumb) || clip.status != 200 || !bytes.Equal(clip.raw, u.clip) {
			t.Errorf("event %s acknowledged before the backup: thumbnail %d (%d bytes, want %d), clip %d (%d bytes, want %d)",
				id, th.status, len(th.raw), len(u.thumb), clip.status, len(clip.raw), len(u.clip))
		}
	}
	if st := r.call("GET", "/api/v1/events/"+deleted.id, tok, nil).status; st != 404 {
		t.Errorf("an event deleted before the backup is back: %d", st)
	}
	// Every event the restored server lists opens: none lost its media.
	list, next := r.events(tok, "?limit=200")
	for next != "" {
		var more []map[string]any
		more, next = r.events(tok, "?limit=200&before="+next)
		list = append(list, more...)
	}
	for _, ev := range list {
		if st := r.req("GET", "/api/v1/events/"+ev["id"].(string)+"/thumbnail", tok, nil, nil).status; st != 200 {
			t.Errorf("restored event %s: thumbnail %d", ev["id"], st)
		}
	}
	if len(list) < len(wantSeen) {
		t.Errorf("restored server lists %d events, want at least %d", len(list), len(wantSeen))
	}

	// A restore into a data directory a server runs on is refused.
	if _, err := server.Restore(t.Context(), server.Config{DataDir: r.data}, dir, io.Discard); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("restore under a running server: %v", err)
	}
}

// copyKey puts a key file back as an operator would: mode 0600.
func copyKey(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestBackupBadInput: what admin backup and restore refuse, each changing
// nothing.
func TestBackupBadInput(t *testing.T) {
	e := newEnv(t, func(o *server.Options) { o.Identity.Argon2 = identity.Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1} })
	ann := e.signup("ann")
	e.home(ann, "home")
	ctx := t.Context()

	full := t.TempDir()
	if err := os.WriteFile(filepath.Join(full, "x"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := server.Backup(ctx, server.Config{DataDir: e.data}, full, io.Discard); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("backup into a non-empty directory: %v", err)
	}
	if _, err := server.Backup(ctx, server.Config{DataDir: e.data}, filepath.Join(e.data, "bk"), io.Discard); err == nil || !strings.Contains(err.Error(), "inside the data directory") {
		t.Errorf("backup into the data directory: %v", err)
	}
	if _, err := server.Backup(ctx, server.Config{DataDir: filepath.Join(t.TempDir(), "none")}, t.TempDir(), io.Discard); err == nil || !strings.Contains(err.Error(), "no data directory") {
		t.Errorf("backup of a missing data directory: %v", err)
	}
	if _, err := server.Backup(ctx, server.Config{DataDir: e.data, Store: "postgres://x@y/z"}, t.TempDir(), io.Discard); err == nil || !strings.Contains(err.Error(), "pg_dump") {
		t.Errorf("backup with --store: %v", err)
	}

	good := filepath.Join(t.TempDir(), "b")
	if _, err := server.Backup(ctx, server.Config{DataDir: e.data}, good, io.Discard); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(t.TempDir(), "target")
	// No manifest: an interrupted backup.
	partial := t.TempDir()
	copyKey(t, filepath.Join(good, "camvault.db"), filepath.Join(partial, "camvault.db"))
	if _, err := server.Restore(ctx, server.Config{DataDir: target}, partial, io.Discard); err == nil || !strings.Contains(err.Error(), "not a finished camvault backup") {
		t.Errorf("restore of a backup without a manifest: %v", err)
	}
	// A database altered after the backup.
	altered := t.TempDir()
	copyKey(t, filepath.Join(good, "manifest.json"), filepath.Join(altered, "manifest.json"))
	db, _ := os.ReadFile(filepath.Join(good, "camvault.db"))
	db[len(db)-1] ^= 1
	if err := os.WriteFile(filepath.Join(altered, "camvault.db"), db, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := server.Restore(ctx, server.Config{DataDir: target}, altered, io.Discard); err == nil || !strings.Contains(err.Error(), "does not match its manifest") {
		t.Errorf("restore of an altered backup: %v", err)
	}
	if _, err := os.Stat(target); err == nil {
		t.Errorf("a refused restore created the data directory")
	}
	// A wrong master key is found at restore.
	other := t.TempDir()
	out := &bytes.Buffer{}
	_, err := server.Restore(ctx, server.Config{DataDir: filepath.Join(other, "d"), MasterKey: newMasterKey(t)}, good, out)
	if err == nil || !strings.Contains(err.Error(), "differs") {
		t.Errorf("restore with another master key: %v\n%s", err, out)
	}
	out.Reset()
	if _, err := server.Restore(ctx, server.Config{DataDir: target, KeyFile: filepath.Join(e.data, "master.key")}, good, out); err != nil || !strings.Contains(out.String(), "matches") {
		t.Errorf("restore with the right key: %v\n%s", err, out)
	}
}
