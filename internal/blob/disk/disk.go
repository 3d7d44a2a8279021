// Package disk is the embedded blob backend: one file per blob under a
// directory, written in a crash-safe order.
//
// A blob is written to a new file under tmp/ (O_EXCL), fsynced, linked into
// place under its key's directories (which are fsynced too), and the temp
// name removed. Only then does Put return, so a caller that commits a
// record after Put knows the bytes are on disk (invariant 6).
// Whatever a crash leaves in tmp/ is removed at Open.
package disk

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/camvault/camvault/internal/blob"
)

// Store is a blob store in a local directory.
type Store struct {
	root string // blobs live under root/objects, temp files under root/tmp
}

var _ blob.Store = (*Store)(nil)

// Open opens (creating if needed) a blob directory and removes temp files
// an earlier crash left behind.
func Open(dir string) (*Store, error) {
	s := &Store{root: dir}
	for _, d := range []string{s.objects(), s.tmp()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("create blob directory: %w", err)
		}
	}
	entries, err := os.ReadDir(s.tmp())
	if err != nil {
		return nil, fmt.Errorf("read blob temp directory: %w", err)
	}
	for _, e := range entries {
		if err := os.Remove(filepath.Join(s.tmp(), e.Name())); err != nil {
			return nil, fmt.Errorf("remove leftover temp blob: %w", err)
		}
	}
	return s, nil
}

func (s *Store) objects() string { return filepath.Join(s.root, "objects") }
func (s *Store) tmp() string     { return filepath.Join(s.root, "tmp") }

func (s *Store) path(key string) (string, error) {
	if !blob.ValidKey(key) {
		return "", fmt.Errorf("invalid blob key %q", key)
	}
	return filepath.Join(s.objects(), filepath.FromSlash(key)), nil
}

// Put writes a blob durably; see the package comment for the order.
func (s *Store) Put(ctx context.Context, key string, r io.Reader) (int64, error) {
	final, err := s.path(key)
	if err != nil {
		return 0, err
	}
	if _, err := os.Lstat(final); err == nil {
		return 0, blob.ErrExists
	}
	var rnd [12]byte
	_, _ = rand.Read(rnd[:])
	tmpPath := filepath.Join(s.tmp(), hex.EncodeToString(rnd[:]))
	f, err := os.OpenFile(tmpPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, fmt.Errorf("create temp blob: %w", err)
	}
	defer os.Remove(tmpPath) // after a successful link this only drops the temp name
	n, err := io.Copy(f, ctxReader{ctx, r})
	if err != nil {
		f.Close()
		return n, fmt.Errorf("write blob: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return n, fmt.Errorf("sync blob: %w", err)
	}
	if err := f.Close(); err != nil {
		return n, fmt.Errorf("close blob: %w", err)
	}
	if err := s.mkdirs(filepath.Dir(final)); err != nil {
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
	if err := syncDir(filepath.Dir(final)); err != nil {
		return n, err
	}
	return n, nil
}

// mkdirs creates dir and its missing parents under objects/, fsyncing each
// new directory's parent so the path itself survives a crash.
func (s *Store) mkdirs(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := s.mkdirs(filepath.Dir(dir)); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create blob directory: %w", err)
	}
	return syncDir(filepath.Dir(dir))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory for sync: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
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

// Delete removes a blob and syncs its directory.
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
	return syncDir(filepath.Dir(p))
}

// List walks the keys under prefix.
func (s *Store) List(ctx context.Context, prefix string, fn func(string, time.Time) error) error {
	root := s.objects()
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
		key := filepath.ToSlash(rel)
		if d.IsDir() {
			if key != "." && !strings.HasPrefix(key+"/", prefix) && !strings.HasPrefix(prefix, key+"/") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasPrefix(key, prefix) {
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
