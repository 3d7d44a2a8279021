package disk_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/camvault/camvault/internal/blob"
	"github.com/camvault/camvault/internal/blob/blobtest"
	"github.com/camvault/camvault/internal/blob/disk"
)

func TestConformance(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store {
		s, err := disk.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestOpenRemovesLeftoverTempFiles: what a crash left half-written in tmp/
// is gone after the next Open, and never visible as a blob.
func TestOpenRemovesLeftoverTempFiles(t *testing.T) {
	dir := t.TempDir()
	if _, err := disk.Open(dir); err != nil {
		t.Fatal(err)
	}
	leftover := filepath.Join(dir, "tmp", "0123abcd")
	if err := os.WriteFile(leftover, []byte("half a clip"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := disk.Open(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(leftover); !os.IsNotExist(err) {
		t.Fatalf("leftover temp file still there: %v", err)
	}
}
