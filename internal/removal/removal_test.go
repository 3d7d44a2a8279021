package removal_test

import (
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/blob"
	"github.com/camvault/camvault/internal/blob/disk"
	"github.com/camvault/camvault/internal/removal"
	"github.com/camvault/camvault/internal/store/sqlite"
)

// TestDrain: queued blobs that are due go, with their queue rows; a blob
// already gone counts as removed; one not yet due stays; a second drain
// finds nothing.
func TestDrain(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "camvault.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	blobs, err := disk.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, k := range []string{"h/a/d/e1/thumbnail", "h/a/d/e1/clip", "x/later/1"} {
		if _, err := blobs.Put(ctx, k, strings.NewReader("sealed bytes of "+k)); err != nil {
			t.Fatal(err)
		}
	}
	for k, due := range map[string]time.Time{"h/a/d/e1/thumbnail": now, "h/a/d/e1/clip": now, "h/a/d/gone/thumbnail": now, "x/later/1": now.Add(time.Hour)} {
		if err := st.QueueBlobRemoval(ctx, k, now, due); err != nil {
			t.Fatal(err)
		}
	}
	r := removal.New(st, blobs, slog.New(slog.NewTextHandler(io.Discard, nil)), time.Minute, func() time.Time { return now })
	n, err := r.Drain(ctx)
	if err != nil || n != 3 {
		t.Fatalf("drain: %d, %v; want 3", n, err)
	}
	for _, k := range []string{"h/a/d/e1/thumbnail", "h/a/d/e1/clip"} {
		if _, err := blobs.Open(ctx, k); !errors.Is(err, blob.ErrNotFound) {
			t.Fatalf("blob %s after the drain: %v", k, err)
		}
	}
	if o, err := blobs.Open(ctx, "x/later/1"); err != nil {
		t.Fatalf("a blob not yet due was removed: %v", err)
	} else {
		o.Close()
	}
	if n, err := r.Drain(ctx); err != nil || n != 0 {
		t.Fatalf("second drain: %d, %v", n, err)
	}
	if left, err := st.DueBlobRemovals(ctx, now.Add(2*time.Hour), 10); err != nil || len(left) != 1 || left[0] != "x/later/1" {
		t.Fatalf("queue after the drain: %v, %v", left, err)
	}
}
