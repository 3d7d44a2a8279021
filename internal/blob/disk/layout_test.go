package disk_test

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/camvault/camvault/internal/blob/disk"
)

// oldLayout writes blobs as releases before the flat layout kept them,
// objects/<key> with a directory per event, and returns each key's bytes.
func oldLayout(t *testing.T, dir string) map[string]string {
	t.Helper()
	blobs := map[string]string{"k": "one segment", "a/1/x": "three segments"}
	for cam := range 3 {
		for ev := range 4 {
			base := fmt.Sprintf("h/home1/cam%d/event%d/", cam, ev)
			blobs[base+"thumbnail"] = "thumbnail of " + base
			if ev%2 == 0 {
				blobs[base+"clip"] = "clip of " + base
			}
		}
	}
	for key, b := range blobs {
		p := filepath.Join(dir, "objects", filepath.FromSlash(key))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(b), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o700); err != nil {
		t.Fatal(err)
	}
	return blobs
}

// checkFlat opens dir and checks that it holds exactly blobs, each once,
// in the flat layout, with no directory per event left.
func checkFlat(t *testing.T, dir string, blobs map[string]string) {
	t.Helper()
	s, err := disk.Open(dir)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	for key, want := range blobs {
		if got := readAll(t, s, key); string(got) != want {
			t.Errorf("%s holds %q, want %q", key, got, want)
		}
	}
	if got, want := listKeys(t, s, ""), slices.Sorted(maps.Keys(blobs)); !slices.Equal(got, want) {
		t.Errorf("lists %v, want %v", got, want)
	}
	err = filepath.WalkDir(filepath.Join(dir, "objects"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.Contains(d.Name(), "event") || strings.Contains(d.Name(), "cam")) {
			t.Errorf("directory %s of the old layout is left", p)
		}
		if !d.IsDir() {
			if _, ok := disk.KeyOf(dir, p); !ok {
				t.Errorf("file %s is no key's", p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "layout")); err != nil || len(b) == 0 {
		t.Errorf("no layout file after the move: %v", err)
	}
	// Write-once holds across layouts: a moved key is taken.
	if _, err := s.Put(t.Context(), "h/home1/cam0/event0/thumbnail", strings.NewReader("again")); err == nil {
		t.Errorf("Put over a moved blob succeeded")
	}
}

// TestOldLayoutMovedAtOpen: a blob directory written by an earlier release
// opens with every blob readable under its key, and is in the flat layout
// afterwards; a later Open has nothing to move.
func TestOldLayoutMovedAtOpen(t *testing.T) {
	dir := t.TempDir()
	blobs := oldLayout(t, dir)
	checkFlat(t, dir, blobs)
	checkFlat(t, dir, blobs)
}

// TestOldLayoutReadWithoutOpen: a reader that does not open the store (a
// backup beside a server) finds a blob in either layout.
func TestOldLayoutReadWithoutOpen(t *testing.T) {
	dir := t.TempDir()
	blobs := oldLayout(t, dir)
	read := func() {
		t.Helper()
		for key, want := range blobs {
			f, err := disk.OpenFile(dir, key)
			if err != nil {
				t.Fatalf("%s: %v", key, err)
			}
			b, err := os.ReadFile(f.Name())
			f.Close()
			if err != nil || string(b) != want {
				t.Fatalf("%s holds %q (%v), want %q", key, b, err, want)
			}
		}
		if _, err := disk.OpenFile(dir, "h/home1/cam0/nothing/thumbnail"); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("a missing blob: %v, want fs.ErrNotExist", err)
		}
	}
	read()
	if _, err := disk.Open(dir); err != nil {
		t.Fatal(err)
	}
	read()
}

// TestMoveCrashStates: a crash during the move leaves each blob in one of
// three states: only its old name, both names (linked, the old one not yet
// removed, or its removal lost), or only its new name (its event directory
// removed or left empty). From any mix of those, Open finishes the move
// and loses nothing.
func TestMoveCrashStates(t *testing.T) {
	for variant := range 3 {
		t.Run(fmt.Sprint(variant), func(t *testing.T) {
			dir := t.TempDir()
			blobs := oldLayout(t, dir)
			for i, key := range slices.Sorted(maps.Keys(blobs)) {
				if !strings.Contains(key, "/") {
					continue
				}
				old := filepath.Join(dir, "objects", filepath.FromSlash(key))
				flat, _ := disk.File(dir, key)
				switch (i + variant) % 3 {
				case 0: // not moved yet
				case 1: // linked
					if err := os.Link(old, flat); err != nil {
						t.Fatal(err)
					}
				case 2: // moved
					if err := os.Rename(old, flat); err != nil {
						t.Fatal(err)
					}
					if variant == 2 {
						_ = os.Remove(filepath.Dir(old)) // when empty
					}
				}
			}
			checkFlat(t, dir, blobs)
		})
	}
}

// TestMoveInterrupted: Open stopped at each fsync of the move (as a crash
// would stop it; the step after an fsync never runs) leaves a directory
// the next Open finishes, with every blob there.
func TestMoveInterrupted(t *testing.T) {
	for stop := 1; ; stop++ {
		dir := t.TempDir()
		blobs := oldLayout(t, dir)
		calls := 0
		crash := errors.New("crash")
		_, err := disk.OpenOptions(t.Context(), dir, disk.Options{WrapSync: func(_ string, sync func() error) error {
			calls++
			if calls == stop {
				return crash
			}
			return sync()
		}})
		if err == nil {
			if stop < 4 {
				t.Fatalf("the move took only %d fsyncs", stop-1)
			}
			return // stopped after the last one: done
		}
		if !errors.Is(err, crash) {
			t.Fatalf("stop at fsync %d: %v", stop, err)
		}
		t.Run(fmt.Sprint(stop), func(t *testing.T) { checkFlat(t, dir, blobs) })
	}
}

// TestMoveRefusesTwoFiles: a new name already there that is another file
// than the old one (which no crash can leave) stops Open, and both files
// stay as they were.
func TestMoveRefusesTwoFiles(t *testing.T) {
	dir := t.TempDir()
	oldLayout(t, dir)
	key := "h/home1/cam1/event1/thumbnail"
	flat, _ := disk.File(dir, key)
	if err := os.WriteFile(flat, []byte("another"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := disk.Open(dir); err == nil || !strings.Contains(err.Error(), "different files") {
		t.Fatalf("open: %v, want an error naming two different files", err)
	}
	if b, err := os.ReadFile(flat); err != nil || string(b) != "another" {
		t.Errorf("the new name changed: %q %v", b, err)
	}
	old := filepath.Join(dir, "objects", filepath.FromSlash(key))
	if b, err := os.ReadFile(old); err != nil || !strings.HasPrefix(string(b), "thumbnail of") {
		t.Errorf("the old name changed: %q %v", b, err)
	}
}

// TestLaterLayoutRefused: a blob directory in a layout this release does
// not know (from a later one) is not opened, so nothing in it is taken
// for missing.
func TestLaterLayoutRefused(t *testing.T) {
	dir := t.TempDir()
	if _, err := disk.Open(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "layout"), []byte("sharded 7\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := disk.Open(dir); err == nil || !strings.Contains(err.Error(), "later release") {
		t.Fatalf("open: %v, want a refusal", err)
	}
}
