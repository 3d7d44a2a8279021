package server_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/camvault/camvault/internal/server"
	"github.com/camvault/camvault/internal/store/postgres/pgtest"
)

// newPostgresNode opens a real server on the PostgreSQL database at
// storeURL, with data as its data directory (key file and blobs), and
// serves it over loopback HTTP.
func newPostgresNode(t *testing.T, data, storeURL string, c *clock) *env {
	t.Helper()
	return newBackendEnv(t, data, c, server.Config{Store: storeURL})
}

// TestPostgresTwoNodes runs two servers on one fresh PostgreSQL database,
// each with a data directory of its own (a server locks its own) but the
// same master key and one blob directory between them (standing in for
// the bucket nodes share in production), and goes through the API over
// real HTTP, each step on one node and its check on the other: what one
// node commits, the other serves; what one node revokes, the other
// refuses at the next request.
func TestPostgresTwoNodes(t *testing.T) {
	storeURL := pgtest.Database(t)
	data, dataB := t.TempDir(), t.TempDir()
	if err := os.Mkdir(filepath.Join(data, "blobs"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(data, "blobs"), filepath.Join(dataB, "blobs")); err != nil {
		t.Fatal(err)
	}
	key := newMasterKey(t)
	c := newClock()
	a := newBackendEnv(t, data, c, server.Config{Store: storeURL, MasterKey: key})
	b := newBackendEnv(t, dataB, c, server.Config{Store: storeURL, MasterKey: key})

	// Accounts and sessions: made on one node, used on the other.
	ann := a.signup("ann")
	annB := b.login(ann.email, ann.password)
	home := b.home(ann, "Ann's house")
	if r := a.must(200, "GET", "/api/v1/homes", annB, nil); !strings.Contains(string(r.raw), home) {
		t.Fatalf("node a does not list the home made on node b: %s", r.raw)
	}

	// Pairing: the code made on node a is consumed on node b, once.
	code := a.must(201, "POST", "/api/v1/homes/"+home+"/pairing-codes", ann.token, nil).str("code")
	pair := map[string]string{"code": code, "model": "CV-1", "firmware": "1.0.0"}
	r := b.must(201, "POST", "/api/v1/devices/pair", "", pair)
	cam := camera{id: r.str("device_id"), token: r.str("device_token")}
	a.must(404, "POST", "/api/v1/devices/pair", "", pair)

	// An upload through node b, its retry through node a: one event.
	up := b.upload(cam, "evt-pg-1", recent(3), 0)
	retry := a.uploadParts(cam.token, meta("evt-pg-1", up.started, "motion"), thumbPart(up.thumb))
	if retry.status/100 != 2 || retry.str("id") != up.id {
		t.Fatalf("retry through the other node: %d %s, want the event %s", retry.status, retry.raw, up.id)
	}
	list, _ := a.events(ann.token, "")
	if ids := eventIDs(list); len(ids) != 1 || ids[0] != up.id {
		t.Fatalf("events on node a: %v, want [%s]", ids, up.id)
	}
	thumb := a.req("GET", "/api/v1/events/"+up.id+"/thumbnail", ann.token, nil, nil)
	if thumb.status != 200 || !bytes.Equal(thumb.raw, up.thumb) {
		t.Fatalf("thumbnail on node a: %d, %d bytes, want the %d bytes uploaded", thumb.status, len(thumb.raw), len(up.thumb))
	}

	// A member added on node a sees the event on node b until removed on
	// node a; then node b refuses the very next request.
	bob := b.signup("bob")
	a.share(ann, home, bob, "viewer")
	b.must(200, "GET", "/api/v1/events/"+up.id+"/thumbnail", bob.token, nil)
	a.must(204, "DELETE", "/api/v1/homes/"+home+"/members/"+bob.id, ann.token, nil)
	b.must(404, "GET", "/api/v1/events/"+up.id+"/thumbnail", bob.token, nil)
	b.must(404, "GET", "/api/v1/events/"+up.id, bob.token, nil)
	if list, _ := b.events(bob.token, ""); len(list) != 0 {
		t.Fatalf("a removed member lists %v", eventIDs(list))
	}

	// Logout on node b ends the session on node a.
	a.must(200, "GET", "/api/v1/me", annB, nil)
	b.must(204, "DELETE", "/api/v1/sessions/current", annB, nil)
	a.must(401, "GET", "/api/v1/me", annB, nil)
	a.must(200, "GET", "/api/v1/me", ann.token, nil)

	// The audit chain written by both nodes is one intact chain.
	off, err := server.OpenOffline(t.Context(), server.Config{DataDir: data, Store: storeURL, MasterKey: key})
	if err != nil {
		t.Fatal(err)
	}
	defer off.Close()
	var out bytes.Buffer
	if err := off.VerifyAudit(t.Context(), &out, ""); err != nil || !strings.Contains(out.String(), "intact") {
		t.Fatalf("audit verify: %v\n%s", err, out.String())
	}
	// An entry edited in the database is found.
	conn, err := pgx.Connect(t.Context(), storeURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	tag, err := conn.Exec(t.Context(), `UPDATE audit SET result = 'denied' WHERE home_id = $1 AND seq = 1`, home)
	if err != nil || tag.RowsAffected() != 1 {
		t.Fatalf("edit an audit entry: %v, %d rows", err, tag.RowsAffected())
	}
	out.Reset()
	if err := off.VerifyAudit(t.Context(), &out, ""); err == nil || !strings.Contains(out.String(), "BROKEN") {
		t.Fatalf("audit verify after an edit: %v\n%s", err, out.String())
	}
}

// TestPostgresRefusesNewKeyForExistingData: a node whose key file is
// missing must not make a new key for a database that already holds data
// (the new key could not read it), but may for an empty one.
func TestPostgresRefusesNewKeyForExistingData(t *testing.T) {
	storeURL := pgtest.Database(t)
	c := newClock()
	first := newPostgresNode(t, t.TempDir(), storeURL, c)
	first.signup("ann")

	cfg := server.Config{DataDir: t.TempDir(), Addr: "127.0.0.1:0", AdminAddr: "127.0.0.1:1", Store: storeURL}
	app, err := server.Open(t.Context(), cfg, server.DefaultOptions(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil {
		app.Close()
		t.Fatal("a node made a new master key for a database holding data")
	}
	if !strings.Contains(err.Error(), "key") {
		t.Fatalf("refusal does not name the key: %v", err)
	}
	if strings.Contains(err.Error(), storeURL) {
		t.Fatalf("refusal repeats the store URL: %v", err)
	}
}
