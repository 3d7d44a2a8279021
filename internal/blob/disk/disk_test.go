package disk_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

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

// TestNoDirectoryPerEvent: an event's blobs are files in their
// household's directory, which storing more events does not add to: the
// layout makes one directory per household, not one per event or camera.
func TestNoDirectoryPerEvent(t *testing.T) {
	dir := t.TempDir()
	s, err := disk.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		for _, kind := range []string{"thumbnail", "clip"} {
			key := fmt.Sprintf("h/home1/cam%d/event%02d/%s", i%2, i, kind)
			if _, err := s.Put(t.Context(), key, strings.NewReader(key)); err != nil {
				t.Fatal(err)
			}
			f, err := disk.File(dir, key)
			if err != nil {
				t.Fatal(err)
			}
			if got, ok := disk.KeyOf(dir, f); !ok || got != key {
				t.Fatalf("KeyOf(File(%s)) = %q, %v", key, got, ok)
			}
		}
	}
	var dirs []string
	err = filepath.WalkDir(filepath.Join(dir, "objects"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			dirs = append(dirs, filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"objects", "objects/h", "objects/h/home1"}
	if !slices.Equal(dirs, want) {
		t.Fatalf("directories %v, want %v", dirs, want)
	}
	if got := listKeys(t, s, "h/home1/cam1/"); len(got) != 20 {
		t.Fatalf("camera 1 lists %d blobs, want 20: %v", len(got), got)
	}
}

// syncLog records every fsync a store makes, in order, with the names a
// directory held when its fsync began: a name in that list is on disk once
// the fsync has returned.
type syncLog struct {
	mu      sync.Mutex
	entries []syncEntry
}

type syncEntry struct {
	path  string
	names []string // of a directory, at the start of its fsync
	inode uint64   // of a file
	end   bool     // the fsync returned
}

func (l *syncLog) wrap(path string, sync func() error) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	e := syncEntry{path: path}
	if fi.IsDir() {
		ents, err := os.ReadDir(path)
		if err != nil {
			return err
		}
		for _, d := range ents {
			e.names = append(e.names, d.Name())
		}
	} else {
		e.inode = inode(fi)
	}
	l.add(e)
	err = sync()
	e.end = true
	l.add(e)
	return err
}

func (l *syncLog) add(e syncEntry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries = append(l.entries, e)
}

func (l *syncLog) snapshot() []syncEntry {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.entries)
}

// durable reports whether the log shows the file at path durable: its
// data synced (an fsync of the same inode, under any name, returned), and
// after that an fsync of its directory that began with the name in place
// returned.
func durable(log []syncEntry, path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	dataSynced := false
	for i, e := range log {
		switch {
		case e.end && e.names == nil && e.inode == inode(fi):
			dataSynced = true
		case !e.end && e.path == filepath.Dir(path) && slices.Contains(e.names, filepath.Base(path)):
			if !dataSynced {
				return fmt.Errorf("%s: its name was synced before its data", path)
			}
			for _, f := range log[i+1:] {
				if f.end && f.path == e.path && slices.Equal(f.names, e.names) {
					return nil
				}
			}
		}
	}
	return fmt.Errorf("%s: no fsync of its directory covering its name has returned (data synced: %v)", path, dataSynced)
}

// TestPutDurableOnReturn: when Put returns, the blob's data was synced, and
// then an fsync of its directory that began after its link returned, also
// when many Puts link into one directory at once and share fsyncs.
func TestPutDurableOnReturn(t *testing.T) {
	dir := t.TempDir()
	var log syncLog
	s, err := disk.OpenOptions(t.Context(), dir, disk.Options{WrapSync: log.wrap})
	if err != nil {
		t.Fatal(err)
	}
	const n = 32
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			key := fmt.Sprintf("h/home/cam%d/event%02d/thumbnail", i%2, i)
			if _, err := s.Put(t.Context(), key, bytes.NewReader(bytes.Repeat([]byte{byte(i)}, 1000))); err != nil {
				errs[i] = err
				return
			}
			// What the log holds now happened before Put returned.
			f, _ := disk.File(dir, key)
			errs[i] = durable(log.snapshot(), f)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	dirSyncs := 0
	for _, e := range log.snapshot() {
		if e.end && e.names != nil && strings.HasSuffix(e.path, "home") {
			dirSyncs++
		}
	}
	t.Logf("%d Puts into one directory: %d fsyncs of it", n, dirSyncs)
}

// TestDeleteDurableOnReturn: a removal is synced too.
func TestDeleteDurableOnReturn(t *testing.T) {
	dir := t.TempDir()
	var log syncLog
	s, err := disk.OpenOptions(t.Context(), dir, disk.Options{WrapSync: log.wrap})
	if err != nil {
		t.Fatal(err)
	}
	key := "h/home/cam/event/thumbnail"
	if _, err := s.Put(t.Context(), key, strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	f, _ := disk.File(dir, key)
	before := len(log.snapshot())
	if err := s.Delete(t.Context(), key); err != nil {
		t.Fatal(err)
	}
	after := log.snapshot()[before:]
	for i, e := range after {
		if !e.end && e.path == filepath.Dir(f) && !slices.Contains(e.names, filepath.Base(f)) {
			for _, g := range after[i+1:] {
				if g.end && g.path == e.path {
					return
				}
			}
		}
	}
	t.Fatalf("Delete returned before an fsync of the directory without the name: %+v", after)
}

func listKeys(t *testing.T, s blob.Store, prefix string) []string {
	t.Helper()
	var keys []string
	if err := s.List(t.Context(), prefix, func(k string, _ time.Time) error { keys = append(keys, k); return nil }); err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	return keys
}

func readAll(t *testing.T, s blob.Store, key string) []byte {
	t.Helper()
	o, err := s.Open(t.Context(), key)
	if err != nil {
		t.Fatalf("open %s: %v", key, err)
	}
	defer o.Close()
	b, err := io.ReadAll(io.NewSectionReader(o, 0, o.Size()))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func inode(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}
