package server_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/keys"
	"github.com/camvault/camvault/internal/server"
	"github.com/camvault/camvault/internal/store/postgres/pgtest"
)

// keyed is what a master key rotation must keep working: an account and
// its session, a home with a camera, an event whose thumbnail and clip
// were looked at (so its home's audit chain has entries), a pairing code
// not used yet, and an invitation to an email nobody signed up with yet.
type keyed struct {
	p       person
	home    string
	cam     camera
	up      uploaded
	code    string
	invitee string
	totp    string // the account's authenticator app's secret
}

func (e *env) keyedHome(name string) keyed {
	e.t.Helper()
	k := keyed{p: e.signup(name)}
	k.totp = e.turnOnTOTP(k.p).secret
	k.home = e.home(k.p, name+"'s house")
	k.cam = e.pairCamera(k.p, k.home)
	k.up = e.upload(k.cam, "evt-"+name, recent(2), 2000)
	e.must(200, "GET", "/api/v1/events/"+k.up.id+"/thumbnail", k.p.token, nil)
	e.must(200, "GET", "/api/v1/events/"+k.up.id+"/clip", k.p.token, nil)
	k.code = e.must(201, "POST", "/api/v1/homes/"+k.home+"/pairing-codes", k.p.token, nil).str("code")
	k.invitee = "invited-" + k.p.email
	e.must(202, "POST", "/api/v1/homes/"+k.home+"/members", k.p.token, map[string]any{"email": k.invitee, "role": "viewer"})
	return k
}

// stillWorks checks, on a server started after a change of keys, that k's
// session still works, its password logs in, its media opens byte for
// byte (a new look recorded), its email is still taken, and its pairing
// code still pairs.
func (e *env) stillWorks(k keyed) {
	e.t.Helper()
	e.must(200, "GET", "/api/v1/me", k.p.token, nil)
	// The sealed TOTP secret still opens: a code from the app logs in (a
	// step later than any used before the change).
	e.clock.Advance(2 * time.Minute)
	tok := e.must(201, "POST", "/api/v1/sessions", "", map[string]string{"email": k.p.email, "password": k.p.password,
		"otp": totpCode(e.t, k.totp, e.clock.Now())}).str("token")
	if r := e.must(200, "GET", "/api/v1/me", tok, nil); r.str("email") != k.p.email {
		e.t.Fatalf("the account's email after the change of keys: %s", r.raw)
	}
	if r := e.req("GET", "/api/v1/events/"+k.up.id+"/thumbnail", tok, nil, nil); r.status != 200 || !bytes.Equal(r.raw, k.up.thumb) {
		e.t.Fatalf("thumbnail after the change of keys: %d, %d bytes", r.status, len(r.raw))
	}
	if r := e.req("GET", "/api/v1/events/"+k.up.id+"/clip", tok, nil, nil); r.status != 200 || !bytes.Equal(r.raw, k.up.clip) {
		e.t.Fatalf("clip after the change of keys: %d, %d bytes", r.status, len(r.raw))
	}
	e.must(409, "POST", "/api/v1/accounts", "", map[string]string{"email": k.p.email, "password": "another long password"})
	if k.code != "" {
		e.must(201, "POST", "/api/v1/devices/pair", "", map[string]string{"code": k.code, "model": "CV-1", "firmware": "1.0.0"})
	}
	if k.invitee != "" {
		// The invitee signs up now, finds the invitation and joins.
		invitee := e.must(201, "POST", "/api/v1/accounts", "", map[string]string{"email": k.invitee, "password": "invited long password"}).str("id")
		tok := e.login(k.invitee, "invited long password")
		list, _ := e.must(200, "GET", "/api/v1/invitations", tok, nil).body["invitations"].([]any)
		if len(list) != 1 || invitee == "" {
			e.t.Fatalf("the invitee's invitations after the change of keys: %v", list)
		}
		invitation, _ := list[0].(map[string]any)["id"].(string)
		e.must(204, "POST", "/api/v1/invitations/"+invitation+"/accept", tok, nil)
		e.must(200, "GET", "/api/v1/homes/"+k.home, tok, nil)
	}
}

// offline runs an operator task on the data cfg names, as camvault admin
// does, fails the test if it fails, and returns what it wrote.
func offline(t *testing.T, cfg server.Config, task func(o *server.Offline, w io.Writer) error) string {
	t.Helper()
	o, err := server.OpenOffline(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	var out bytes.Buffer
	if err := task(o, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	return out.String()
}

// verifyAudit checks the audit chains offline and returns what it said.
func verifyAudit(t *testing.T, cfg server.Config) string {
	t.Helper()
	return offline(t, cfg, func(o *server.Offline, w io.Writer) error { return o.VerifyAudit(t.Context(), w, "") })
}

func keyStatus(t *testing.T, cfg server.Config) string {
	t.Helper()
	return offline(t, cfg, func(o *server.Offline, w io.Writer) error { return o.KeyStatus(t.Context(), w) })
}

// TestSecondGenerationKeepsWorking: a key file given a second generation
// by hand (as the key file's format always allowed) keeps every login,
// media view, pairing code and audit chain of the first working, and
// refuses a second account for an email indexed under the first.
func TestSecondGenerationKeepsWorking(t *testing.T) {
	data := t.TempDir()
	e := newEnvIn(t, data)
	ann := e.keyedHome("ann")
	if err := e.app.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := keys.AddGeneration(filepath.Join(data, "master.key"), 2); err != nil {
		t.Fatal(err)
	}
	e2 := newEnvIn(t, data)
	e2.stillWorks(ann)
	bob := e2.signup("bob")
	e2.login(bob.email, bob.password)
	if err := e2.app.Close(); err != nil {
		t.Fatal(err)
	}
	verifyAudit(t, server.Config{DataDir: data})
	status := keyStatus(t, server.Config{DataDir: data})
	for _, want := range []string{"generation 1: in the key file; home data keys 1, sealed emails 1", "generation 2: current; home data keys 0, sealed emails 2"} {
		if !strings.Contains(status, want) {
			t.Fatalf("key status does not say %q:\n%s", want, status)
		}
	}
}

// TestRotateAndRetire: admin keys rotate adds a generation and rewrites
// everything under it, with the server stopped; retire then takes the old
// key out, keeping its audit key for the old entries; the server started
// on the result keeps every session, login, media and chain; key files the
// data cannot be used with correctly are refused.
func TestRotateAndRetire(t *testing.T) {
	data := t.TempDir()
	cfg := server.Config{DataDir: data}
	keyFile := filepath.Join(data, "master.key")
	e := newEnvIn(t, data)
	ann, cat := e.keyedHome("ann"), e.keyedHome("cat")
	var out bytes.Buffer
	if err := server.RotateKeys(t.Context(), cfg, server.KeyOptions{}, &out); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("rotation beside a running server: %v", err)
	}
	if err := e.app.Close(); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := server.RotateKeys(t.Context(), server.Config{DataDir: data, MasterKey: string(before)}, server.KeyOptions{}, &out); err == nil ||
		!strings.Contains(err.Error(), "CAMVAULT_MASTER_KEY") {
		t.Fatalf("rotation of a key from the environment: %v", err)
	}
	out.Reset()
	if err := server.RotateKeys(t.Context(), cfg, server.KeyOptions{}, &out); err != nil {
		t.Fatalf("rotate: %v\n%s", err, out.String())
	}
	for _, want := range []string{"added master key generation 2", "home data keys: 2 rewritten", "account emails: 2 rewritten", "totp secrets: 2 rewritten",
		"email indexes: 2 rewritten", "invitations: 2 rewritten", "audit heads: 2 rewritten",
		"generation 1: in the key file; home data keys 0, sealed emails 0, email indexes 0, session client details 0, TOTP secrets 0, invitations 0, push endpoints 0, server secrets 0, audit entries 12, audit heads 0", "server secrets: 1 rewritten"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("rotate did not say %q:\n%s", want, out.String())
		}
	}

	// A node still given the old key file would index and seal under
	// generation 1: refused.
	old := filepath.Join(t.TempDir(), "old.key")
	if err := os.WriteFile(old, before, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := openNode(t, server.Config{DataDir: data, KeyFile: old}); err == nil || !strings.Contains(err.Error(), "generation 2, which the key file lacks") {
		t.Fatalf("a node with the key file from before the rotation: %v", err)
	}

	out.Reset()
	if err := server.RetireKeys(t.Context(), cfg, 2, &out); err == nil || !strings.Contains(err.Error(), "current") {
		t.Fatalf("retire the current generation: %v", err)
	}
	if err := server.RetireKeys(t.Context(), cfg, 1, &out); err != nil {
		t.Fatalf("retire: %v\n%s", err, out.String())
	}
	retired, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(retired), "\n1 audit-only ") || strings.Contains(string(retired), lastLine(string(before))) {
		t.Fatalf("key file after retiring generation 1:\n%s", retired)
	}
	if err := server.RetireKeys(t.Context(), cfg, 1, &out); err != nil {
		t.Fatalf("retire again: %v", err)
	}
	if again, _ := os.ReadFile(keyFile); !bytes.Equal(again, retired) {
		t.Fatal("retiring again changed the key file")
	}

	// A pairing code made under a retired generation no longer pairs
	// (codes last minutes; the camera's owner makes another).
	e2 := newEnvIn(t, data)
	e2.must(404, "POST", "/api/v1/devices/pair", "", map[string]string{"code": ann.code, "model": "CV-1", "firmware": "1.0.0"})
	ann.code, cat.code = "", ""
	e2.stillWorks(ann)
	e2.stillWorks(cat)
	if err := e2.app.Close(); err != nil {
		t.Fatal(err)
	}
	if got := verifyAudit(t, cfg); !strings.Contains(got, "intact: 20 entries") {
		t.Fatalf("audit verify after retiring: %s", got)
	}

	// Key files this data cannot be used with correctly.
	gen2 := lastLine(string(retired))
	for name, text := range map[string]string{
		"generation 1's audit key replaced": "1 audit-only " + newMasterKey(t) + "\n" + gen2,
		"generation 2 twice":                gen2 + "\n" + gen2,
		"generation 1 whole again":          lastLine(string(before)) + "\n" + "3 " + newMasterKey(t),
	} {
		path := filepath.Join(t.TempDir(), "master.key")
		if err := os.WriteFile(path, []byte(text+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := openNode(t, server.Config{DataDir: data, KeyFile: path}); err == nil {
			t.Errorf("%s: the server started", name)
		}
	}
}

func lastLine(text string) string {
	lines := strings.Split(strings.TrimSpace(text), "\n")
	return lines[len(lines)-1]
}

// TestRotationResumes: a rotation stopped halfway leaves a data directory
// a server uses as it is, and running it again finishes that rotation
// rather than starting another.
func TestRotationResumes(t *testing.T) {
	data := t.TempDir()
	cfg := server.Config{DataDir: data}
	e := newEnvIn(t, data)
	var all []keyed
	for _, name := range []string{"ann", "bob", "cat", "dan"} {
		all = append(all, e.keyedHome(name))
	}
	if err := e.app.Close(); err != nil {
		t.Fatal(err)
	}
	stop := errors.New("power cut")
	pages := 0
	var out bytes.Buffer
	err := server.RotateKeys(t.Context(), cfg, server.KeyOptions{Page: 1, Progress: func(what string, n int) error {
		if pages++; pages == 3 {
			return stop
		}
		return nil
	}}, &out)
	if !errors.Is(err, stop) {
		t.Fatalf("rotation stopped halfway: %v", err)
	}
	if status := keyStatus(t, cfg); !strings.Contains(status, "generation 1: in the key file; home data keys 1,") {
		t.Fatalf("after a rotation stopped halfway:\n%s", status)
	}
	e2 := newEnvIn(t, data)
	for i := range all {
		all[i].code = "" // used by the first check
		e2.stillWorks(all[i])
	}
	if err := e2.app.Close(); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := server.RotateKeys(t.Context(), cfg, server.KeyOptions{}, &out); err != nil {
		t.Fatalf("rotate again: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "finishing the rotation to master key generation 2") ||
		!strings.Contains(out.String(), "generation 1: in the key file; home data keys 0, sealed emails 0, email indexes 0, session client details 0, TOTP secrets 0, invitations 0") {
		t.Fatalf("rotate run again:\n%s", out.String())
	}
	out.Reset()
	if err := server.RotateKeys(t.Context(), cfg, server.KeyOptions{}, &out); err != nil || !strings.Contains(out.String(), "added master key generation 3") {
		t.Fatalf("rotate once more: %v\n%s", err, out.String())
	}
	verifyAudit(t, cfg)
}

// TestPostgresRotateAndRetire: the same commands on PostgreSQL, the key
// file in the node's data directory.
func TestPostgresRotateAndRetire(t *testing.T) {
	storeURL := pgtest.Database(t)
	data := t.TempDir()
	cfg := server.Config{DataDir: data, Store: storeURL}
	c := newClock()
	node := newPostgresNode(t, data, storeURL, c)
	ann := node.keyedHome("ann")
	if err := node.app.Close(); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := server.RotateKeys(t.Context(), cfg, server.KeyOptions{}, &out); err != nil {
		t.Fatalf("rotate: %v\n%s", err, out.String())
	}
	if err := server.RetireKeys(t.Context(), cfg, 1, &out); err != nil {
		t.Fatalf("retire: %v\n%s", err, out.String())
	}
	node2 := newPostgresNode(t, data, storeURL, c)
	ann.code = "" // made under the retired generation
	node2.stillWorks(ann)
	if err := node2.app.Close(); err != nil {
		t.Fatal(err)
	}
	verifyAudit(t, cfg)
}

// TestBackupAfterRotation: a backup made after a rotation and a
// retirement restores with the new key file alone: the restore's key check
// accepts it, the restored server keeps the account, media and chains, and
// an anchor made before the backup still holds.
func TestBackupAfterRotation(t *testing.T) {
	data := t.TempDir()
	cfg := server.Config{DataDir: data}
	e := newEnvIn(t, data)
	ann := e.keyedHome("ann")
	ann.code = "" // made under the generation retired below
	if err := e.app.Close(); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := server.RotateKeys(t.Context(), cfg, server.KeyOptions{}, &out); err != nil {
		t.Fatal(err)
	}
	if err := server.RetireKeys(t.Context(), cfg, 1, &out); err != nil {
		t.Fatal(err)
	}
	anchors := offline(t, cfg, func(o *server.Offline, w io.Writer) error { return o.AuditHeads(t.Context(), w, w) })
	anchorFile := filepath.Join(t.TempDir(), "anchors")
	if err := os.WriteFile(anchorFile, []byte(anchors), 0o600); err != nil {
		t.Fatal(err)
	}

	dir := filepath.Join(t.TempDir(), "backup")
	if _, err := server.Backup(t.Context(), cfg, dir, &out); err != nil {
		t.Fatal(err)
	}
	restored := filepath.Join(t.TempDir(), "restored")
	if err := os.Mkdir(restored, 0o700); err != nil {
		t.Fatal(err)
	}
	copyKey(t, filepath.Join(data, "master.key"), filepath.Join(restored, "master.key"))
	out.Reset()
	if _, err := server.Restore(t.Context(), server.Config{DataDir: restored}, dir, &out); err != nil ||
		!strings.Contains(out.String(), "the master key matches the restored data") {
		t.Fatalf("restore: %v\n%s", err, out.String())
	}
	r := newEnvIn(t, restored)
	r.stillWorks(ann)
	if err := r.app.Close(); err != nil {
		t.Fatal(err)
	}
	got := offline(t, server.Config{DataDir: restored}, func(o *server.Offline, w io.Writer) error {
		return o.VerifyAudit(t.Context(), w, anchorFile)
	})
	if !strings.Contains(got, "no chain went back from the 1 anchored") {
		t.Fatalf("verify against the anchor made before the backup:\n%s", got)
	}
}
