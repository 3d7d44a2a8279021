// Package disk is the embedded blob backend: one file per blob under a
// directory, written in a crash-safe order.
//
// A blob is written to a new file under tmp/ (O_EXCL) and fsynced, then
// linked into its place under objects/ (layout.go: its household's
// directory, no directory per event), the temp name removed, and its directory
// fsynced by a group sync that covers every link made into that directory
// since the last one (dirs.go). Only then does Put return, so a caller
// that commits a record after Put knows the bytes and their name are on
// disk (invariant 6). Whatever a crash leaves in tmp/ is removed at Open.
package disk

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/camvault/camvault/internal/blob"
)

// Store is a blob store in a local directory.
type Store struct {
	root    string // the layout file, objects/ with the blobs, tmp/ for temp files
	objects string
	tmp     string
	wrap    func(path string, sync func() error) error
	dirs    *dirSet
	bufs    sync.Pool // *[]byte copy buffers for blobs that stream in
}

var _ blob.Store = (*Store)(nil)

// Options tune a Store. The zero value is what the server runs.
type Options struct {
	// Log hears of a move of blobs from an older layout at Open.
	Log *slog.Logger
	// WrapSync, if set, is called for every fsync the store makes, of a
	// blob's file or of a directory, named by path; it must call sync
	// once and return its error. Tests use it to see what is durable
	// when.
	WrapSync func(path string, sync func() error) error
}

// Open opens (creating if needed) a blob directory.
func Open(dir string) (*Store, error) { return OpenOptions(context.Background(), dir, Options{}) }

// OpenOptions opens (creating if needed) a blob directory, removes the
// temp files an earlier crash left behind, and moves the blobs of an
// older layout into this one (crash-safe; see migrate). It returns once
// the directory is ready for Put.
func OpenOptions(ctx context.Context, dir string, o Options) (*Store, error) {
	s := &Store{root: dir, objects: filepath.Join(dir, "objects"), tmp: filepath.Join(dir, "tmp"), wrap: o.WrapSync}
	if s.wrap == nil {
		s.wrap = func(_ string, sync func() error) error { return sync() }
	}
	s.bufs.New = func() any { b := make([]byte, 64<<10); return &b }
	for _, d := range []string{s.objects, s.tmp} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("create blob directory: %w", err)
		}
	}
	// The directories themselves are durable before anything goes in.
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := s.syncDir(d); err != nil {
			return nil, err
		}
	}
	entries, err := os.ReadDir(s.tmp)
	if err != nil {
		return nil, fmt.Errorf("read blob temp directory: %w", err)
	}
	for _, e := range entries {
		if err := os.Remove(filepath.Join(s.tmp, e.Name())); err != nil {
			return nil, fmt.Errorf("remove leftover temp blob: %w", err)
		}
	}
	moved, err := s.migrate(ctx)
	if err != nil {
		return nil, err
	}
	if moved > 0 && o.Log != nil {
		o.Log.Info("moved blobs into the flat layout (no directory per event)", "blobs", moved, "dir", dir)
	}
	s.dirs = newDirSet(s.objects, s.syncDir)
	return s, nil
}

func (s *Store) path(key string) (string, error) {
	if !blob.ValidKey(key) {
		return "", fmt.Errorf("invalid blob key %q", key)
	}
	return filepath.Join(s.objects, filepath.FromSlash(relPath(key))), nil
}

// Put writes a blob durably; see the package comment for the order.
func (s *Store) Put(ctx context.Context, key string, r io.Reader) (int64, error) {
	final, err := s.path(key)
	if err != nil {
		return 0, err
	}
	var rnd [12]byte
	_, _ = rand.Read(rnd[:])
	tmpPath := filepath.Join(s.tmp, hex.EncodeToString(rnd[:]))
	f, err := os.OpenFile(tmpPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, fmt.Errorf("create temp blob: %w", err)
	}
	linked := false
	defer func() {
		if !linked {
			os.Remove(tmpPath)
		}
	}()
	n, err := s.write(ctx, f, r)
	if err != nil {
		f.Close()
		return n, fmt.Errorf("write blob: %w", err)
	}
	if err := s.syncFile(f); err != nil {
		f.Close()
		return n, err
	}
	if err := f.Close(); err != nil {
		return n, fmt.Errorf("close blob: %w", err)
	}
	dir, err := s.dirs.ensure(filepath.Dir(final))
	if err != nil {
		return n, err
	}
	// link, unlike rename, fails if the key exists: two racing Puts of one
	// key cannot overwrite each other.
	if err := os.Link(tmpPath, final); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return n, blob.ErrExists
		}
		return n, fmt.Errorf("link blob into place: %w", err)
	}
	linked = true
	// The temp name goes now, unsynced: a crash may bring it back, and
	// Open removes it.
	if err := os.Remove(tmpPath); err != nil {
		return n, fmt.Errorf("remove temp blob: %w", err)
	}
	return n, dir.wait()
}

// write copies r into f. Bytes already in memory (a thumbnail, sealed
// whole) go in one write; a stream (a clip) through a pooled buffer,
// checking ctx between reads.
func (s *Store) write(ctx context.Context, f *os.File, r io.Reader) (int64, error) {
	if b, ok := r.(*bytes.Reader); ok {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		return b.WriteTo(f)
	}
	buf := s.bufs.Get().(*[]byte)
	defer s.bufs.Put(buf)
	// Only Write: *os.File's ReadFrom would take its own buffer.
	return io.CopyBuffer(struct{ io.Writer }{f}, ctxReader{ctx, r}, *buf)
}

func (s *Store) syncFile(f *os.File) error {
	if err := s.wrap(f.Name(), f.Sync); err != nil {
		return fmt.Errorf("sync blob: %w", err)
	}
	return nil
}

func (s *Store) syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory for sync: %w", err)
	}
	defer d.Close()
	if err := s.wrap(dir, d.Sync); err != nil {
		return fmt.Errorf("sync directory: %w", err)
	}
	return nil
}

type file struct {
	*os.File
	size int64
}

func (f file) Size() int64 { return f.size }

// Open opens a blob.
func (s *Store) Open(ctx context.Context, key string) (blob.Object, error) {
	p, err := s.path(key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, blob.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("open blob: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("stat blob: %w", err)
	}
	return file{File: f, size: fi.Size()}, nil
}

// Delete removes a blob and syncs its directory (a group sync, as Put's).
func (s *Store) Delete(ctx context.Context, key string) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return blob.ErrNotFound
		}
		return fmt.Errorf("delete blob: %w", err)
	}
	dir, err := s.dirs.ensure(filepath.Dir(p))
	if err != nil {
		return err
	}
	return dir.wait()
}

// List walks the keys under prefix.
func (s *Store) List(ctx context.Context, prefix string, fn func(string, time.Time) error) error {
	root := s.objects
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed while walking
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			// A directory holds the keys that begin with its path.
			if rel != "." && !strings.HasPrefix(rel+"/", prefix) && !strings.HasPrefix(prefix, rel+"/") {
				return filepath.SkipDir
			}
			return nil
		}
		key, ok := keyOf(rel)
		if !ok || !strings.HasPrefix(key, prefix) {
			return nil
		}
		info, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil // removed while walking
		}
		if err != nil {
			return err
		}
		return fn(key, info.ModTime())
	})
}

// ctxReader stops a copy when its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
