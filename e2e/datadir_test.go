package e2e

import (
	"os"
	"path/filepath"
	"testing"
)

// TestDataDirWords: an operator pointing at a directory that is not there
// is told so, not about a key file; a data directory every user may write
// to is refused.
func TestDataDirWords(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nonexistent")
	wantRefusal(t, nil, []string{"admin", "--data", missing, "audit", "verify"}, "no data directory here", missing)

	open := filepath.Join(t.TempDir(), "open")
	if err := os.Mkdir(open, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil { // past the umask
		t.Fatal(err)
	}
	wantRefusal(t, nil, []string{"serve", "--data", open, "--addr", freeAddr(t), "--admin-addr", freeAddr(t)},
		"may be written by every user", "chmod 700")
	if _, err := os.Stat(filepath.Join(open, "master.key")); err == nil {
		t.Error("a key file was made in the refused data directory")
	}
}
