package server_test

import (
	"crypto/rand"
	"encoding/base64"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/camvault/camvault/internal/identity"
	"github.com/camvault/camvault/internal/server"
	"github.com/camvault/camvault/internal/store/postgres/pgtest"
)

// newMasterKey returns a fresh master key as CAMVAULT_MASTER_KEY holds it.
func newMasterKey(t *testing.T) string {
	t.Helper()
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(raw)
}

// openNode opens a server with cfg and closes it again (what it records
// at the start stays); a data directory is locked while a server has it.
func openNode(t *testing.T, cfg server.Config) error {
	t.Helper()
	cfg.Addr, cfg.AdminAddr = "127.0.0.1:0", "127.0.0.1:1"
	opts := server.DefaultOptions()
	opts.Identity.Argon2 = identity.Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1} // not a test of passwords
	app, err := server.Open(t.Context(), cfg, opts, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return err
	}
	if err := app.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	return nil
}

// mustRefuseKey checks err is the refusal of a node whose master key
// generation gen differs from the store's, and shows no key material.
func mustRefuseKey(t *testing.T, what string, err error, gen string, secrets ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: started with a master key other than the one the data was written with", what)
	}
	msg := err.Error()
	if !strings.Contains(msg, "generation "+gen) || !strings.Contains(msg, "differs from the one the data") {
		t.Fatalf("%s: refusal does not say which master key generation differs: %v", what, err)
	}
	for _, s := range secrets {
		if strings.Contains(msg, s) {
			t.Fatalf("%s: refusal shows key material: %v", what, err)
		}
	}
}

// TestRefusesAnotherMasterKey: a data directory written with one master
// key is refused to a node, or to camvault admin, given another one; the
// same key is accepted in either form, and a rotation adds a generation
// whose own key is then checked too.
func TestRefusesAnotherMasterKey(t *testing.T) {
	data := t.TempDir()
	e := newEnvIn(t, data)
	e.signup("ann")
	file, err := os.ReadFile(filepath.Join(data, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	keyA := strings.TrimSpace(string(file))
	keyB := newMasterKey(t)
	if err := e.app.Close(); err != nil { // the data directory is one server's at a time
		t.Fatal(err)
	}

	err = openNode(t, server.Config{DataDir: data, MasterKey: keyB})
	mustRefuseKey(t, "another CAMVAULT_MASTER_KEY", err, "1", keyB, keyA)
	_, err = server.OpenOffline(t.Context(), server.Config{DataDir: data, MasterKey: keyB})
	mustRefuseKey(t, "admin with another CAMVAULT_MASTER_KEY", err, "1", keyB, keyA)

	if err := openNode(t, server.Config{DataDir: data, MasterKey: keyA}); err != nil {
		t.Fatalf("the key file's key given as CAMVAULT_MASTER_KEY: %v", err)
	}
	off, err := server.OpenOffline(t.Context(), server.Config{DataDir: data})
	if err != nil {
		t.Fatalf("admin with the key file: %v", err)
	}
	off.Close()

	// Rotation: generation 2 is recorded by the first node that has it.
	keyC, keyD := newMasterKey(t), newMasterKey(t)
	if err := openNode(t, server.Config{DataDir: data, MasterKey: keyA + "\n2 " + keyC}); err != nil {
		t.Fatalf("after adding generation 2: %v", err)
	}
	err = openNode(t, server.Config{DataDir: data, MasterKey: keyA + "\n2 " + keyD})
	mustRefuseKey(t, "another key as generation 2", err, "2", keyC, keyD)
}

// TestPostgresRefusesAnotherMasterKey: nodes started on one empty
// PostgreSQL database, each with its own key, would each write data the
// others cannot read. The first node's key is recorded at once; a node
// with a key of its own, made from a missing key file or given in
// CAMVAULT_MASTER_KEY, is refused, and one with the same key starts.
func TestPostgresRefusesAnotherMasterKey(t *testing.T) {
	storeURL := pgtest.Database(t)
	first := t.TempDir()
	if err := openNode(t, server.Config{DataDir: first, Store: storeURL}); err != nil {
		t.Fatalf("first node: %v", err)
	}
	file, err := os.ReadFile(filepath.Join(first, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	key := strings.TrimSpace(string(file))

	// The database holds no account yet, so this node makes a key file of
	// its own; the key check refuses it all the same.
	err = openNode(t, server.Config{DataDir: t.TempDir(), Store: storeURL})
	mustRefuseKey(t, "a second node with its own new key file", err, "1", key)
	other := newMasterKey(t)
	err = openNode(t, server.Config{DataDir: t.TempDir(), Store: storeURL, MasterKey: other})
	mustRefuseKey(t, "a second node with another CAMVAULT_MASTER_KEY", err, "1", key, other)

	if err := openNode(t, server.Config{DataDir: t.TempDir(), Store: storeURL, MasterKey: key}); err != nil {
		t.Fatalf("a second node with the same key: %v", err)
	}
	off, err := server.OpenOffline(t.Context(), server.Config{DataDir: t.TempDir(), Store: storeURL, MasterKey: other})
	if err == nil {
		off.Close()
	}
	mustRefuseKey(t, "admin with another CAMVAULT_MASTER_KEY", err, "1", key, other)
}
