package server_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/blob/disk"
	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/store/postgres/pgtest"
)

// putOrphans stores two blobs no event record names in the blobs directory
// of data: one written just now, one two hours ago. It returns their keys.
func putOrphans(t *testing.T, data string) (young, old string) {
	t.Helper()
	blobs, err := disk.Open(filepath.Join(data, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	key := func() string { return "h/" + id.New() + "/" + id.New() + "/" + id.New() + "/thumbnail" }
	young, old = key(), key()
	for _, k := range []string{young, old} {
		if _, err := blobs.Put(t.Context(), k, bytes.NewReader([]byte("sealed bytes"))); err != nil {
			t.Fatal(err)
		}
	}
	twoHoursAgo := time.Now().Add(-2 * time.Hour)
	f, err := disk.File(filepath.Join(data, "blobs"), old)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(f, twoHoursAgo, twoHoursAgo); err != nil {
		t.Fatal(err)
	}
	return young, old
}

// TestOrphansOnlyOldOnSharedStorage: a node starting beside others on
// shared storage must not take an upload another node is about to commit
// (a blob without a record yet) for an orphan; it removes only blobs
// older than any upload. Alone on its data directory, a node removes every
// orphan at start (the crash test shows it).
func TestOrphansOnlyOldOnSharedStorage(t *testing.T) {
	storeURL := pgtest.Database(t)
	data := t.TempDir()
	young, old := putOrphans(t, data)
	e := newPostgresNode(t, data, storeURL, newClock())
	files := e.blobFiles()
	if !slices.Contains(files, young) {
		t.Errorf("a young blob without a record (perhaps another node's upload in flight) was removed: %v", files)
	}
	if slices.Contains(files, old) {
		t.Errorf("an orphan two hours old was kept: %v", files)
	}
}

// TestOrphansAllWhenAlone: on the embedded default the node removes every
// orphan before it accepts uploads, however young.
func TestOrphansAllWhenAlone(t *testing.T) {
	data := t.TempDir()
	putOrphans(t, data)
	e := newEnvIn(t, data)
	if files := e.blobFiles(); len(files) != 0 {
		t.Errorf("orphans kept on the embedded default: %v", files)
	}
}
