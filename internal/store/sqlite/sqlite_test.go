package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/camvault/camvault/internal/store"
	"github.com/camvault/camvault/internal/store/sqlite"
	"github.com/camvault/camvault/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "camvault.db"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestReopen opens an existing database again: migrations already applied
// are not applied twice, and the data is there.
func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "camvault.db")
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	a := store.Account{ID: "a", EmailIndex: []byte("i"), EmailSealed: []byte("e"), PasswordHash: "h"}
	if err := s.CreateAccount(t.Context(), a); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	if _, err := s.AccountByID(t.Context(), "a"); err != nil {
		t.Fatalf("account after reopen: %v", err)
	}
}
