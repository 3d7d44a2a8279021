package sqlite_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/store"
	"github.com/camvault/camvault/internal/store/sqlite"
	"github.com/camvault/camvault/internal/store/storetest"
)

func open(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, filepath.Join(t.TempDir(), "camvault.db"))
	})
}

// TestReopen opens an existing database again, twice: migrations already
// applied are not applied again, and the data is still there.
func TestReopen(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "camvault.db")
	s := open(t, path)
	a := domain.Account{ID: id.New(), EmailIndex: []byte{0, 1, 0xff}, EmailSealed: []byte("sealed"), PasswordHash: "h"}
	if err := s.CreateAccount(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		s = open(t, path)
		got, err := s.AccountByEmailIndex(ctx, a.EmailIndex)
		if err != nil || got.ID != a.ID {
			t.Fatalf("account after reopen: %+v, %v", got, err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPathWithURICharacters: a path is a path, even with the characters
// that mean something in a URI.
func TestPathWithURICharacters(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a?b#c%20d&e=f")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "camvault.db")
	s := open(t, path)
	defer s.Close()
	if err := s.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database not where asked: %v", err)
	}
}
