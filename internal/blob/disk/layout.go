package disk

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/camvault/camvault/internal/blob"
)

// The layout. A key's blob is the file objects/<key> with the key's last
// two slashes turned into '+', which no key holds:
//
//	h/HOME/DEVICE/EVENT/thumbnail  ->  objects/h/HOME/DEVICE+EVENT+thumbnail
//
// so a household's blobs sit side by side in its directory, made once for
// the household, and storing an event makes no directory; the uploads of
// a household's cameras link into one directory and share its fsyncs.
// Releases before this one kept objects/<key> as it is, a directory per
// event; Open moves such a directory's blobs into place once (migrate).
const (
	layoutFile = "layout"   // under the blob directory: which layout objects/ is in
	layoutFlat = "flat 1\n" // this one
	sep        = "+"        // in a file name, where a slash of the key was
	batchMoves = 1024       // blobs moved between two rounds of directory syncs
)

// relPath is where key's blob lives, relative to objects/, slash-separated.
func relPath(key string) string {
	i := strings.LastIndexByte(key, '/')
	if i < 0 {
		return key
	}
	if j := strings.LastIndexByte(key[:i], '/'); j >= 0 {
		return key[:j] + sep + key[j+1:i] + sep + key[i+1:]
	}
	return key[:i] + sep + key[i+1:]
}

// keyOf is the key whose blob is at rel (relative to objects/,
// slash-separated); false for a file no key maps to, such as a blob of the
// old layout (none is left after Open).
func keyOf(rel string) (string, bool) {
	key := strings.ReplaceAll(rel, sep, "/")
	return key, blob.ValidKey(key) && relPath(key) == rel
}

// File returns the path of the file that holds key's blob in the blob
// directory dir, in this release's layout. Backups write their copies
// there and tests read them.
func File(dir, key string) (string, error) {
	if !blob.ValidKey(key) {
		return "", fmt.Errorf("invalid blob key %q", key)
	}
	return filepath.Join(dir, "objects", filepath.FromSlash(relPath(key))), nil
}

// KeyOf returns the key whose blob is the file at path in the blob
// directory dir (the inverse of File), or false.
func KeyOf(dir, path string) (string, bool) {
	rel, err := filepath.Rel(filepath.Join(dir, "objects"), path)
	if err != nil || strings.HasPrefix(rel, "..") {
		return "", false
	}
	return keyOf(filepath.ToSlash(rel))
}

// OpenFile opens the file that holds key's blob in the blob directory dir
// without opening the store, which would change the directory: for a
// reader beside a running server (a backup). It finds a blob in the layout
// before this one too, in a directory this release has not opened yet;
// the old place is tried first, since the move links the new name before
// it drops the old one, so a blob moved meanwhile is found in one or the
// other. A missing blob is fs.ErrNotExist.
func OpenFile(dir, key string) (*os.File, error) {
	p, err := File(dir, key)
	if err != nil {
		return nil, err
	}
	flat, err := isFlat(dir)
	if err != nil {
		return nil, err
	}
	if !flat {
		f, err := os.Open(filepath.Join(dir, "objects", filepath.FromSlash(key)))
		if !errors.Is(err, fs.ErrNotExist) {
			return f, err
		}
	}
	return os.Open(p)
}

// isFlat reports whether the blob directory dir is in this layout (its
// layout file says so). It refuses a layout it does not know, from a later
// release.
func isFlat(dir string) (bool, error) {
	b, err := os.ReadFile(filepath.Join(dir, layoutFile))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("read the blob directory's layout: %w", err)
	case !bytes.Equal(b, []byte(layoutFlat)):
		return false, fmt.Errorf("the blob directory %s is in a layout this camvault does not know (%q in %s): it was written by a later release", dir, strings.TrimSpace(string(b)), layoutFile)
	}
	return true, nil
}

// migrate brings objects/ into this layout and then records that it is,
// so later Opens skip the walk. Every blob keeps a name on disk at every
// step, so a crash anywhere in here loses nothing and the next Open
// finishes the move:
//
//  1. link each blob of the old layout under its new name (a link, not a
//     rename: the old name stays);
//  2. sync every directory that got a new name;
//  3. only then remove the old names, and the event and camera
//     directories left empty.
//
// A crash after 1 or 2 leaves both names of one file; the next run finds
// the new name already there, checks that it is the same file and drops
// the old one. Lost removals (3 not yet on disk) look the same. Nothing is
// written into objects/ meanwhile: Open runs this before the store serves.
func (s *Store) migrate(ctx context.Context) (int, error) {
	flat, err := isFlat(s.root)
	if err != nil || flat {
		return 0, err
	}
	var batch []move
	moved := 0
	err = filepath.WalkDir(s.objects, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(s.objects, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if strings.Contains(filepath.Base(p), sep) || !strings.Contains(rel, "/") {
			return nil // in this layout already (a key of one segment is in both)
		}
		batch = append(batch, move{from: p, to: filepath.Join(s.objects, filepath.FromSlash(relPath(rel)))})
		if len(batch) < batchMoves {
			return nil
		}
		moved += len(batch)
		err = s.moveBatch(batch)
		batch = batch[:0]
		return err
	})
	if err == nil && len(batch) > 0 {
		moved += len(batch)
		err = s.moveBatch(batch)
	}
	if err != nil {
		return moved, fmt.Errorf("move blobs into the flat layout: %w", err)
	}
	return moved, s.writeLayout()
}

type move struct{ from, to string }

// moveBatch is steps 1 to 3 of migrate for some blobs. WalkDir has read
// each directory's names before visiting them, so names added or removed
// here are not visited twice.
func (s *Store) moveBatch(batch []move) error {
	synced := map[string]bool{}
	for _, m := range batch {
		if err := os.Link(m.from, m.to); err != nil {
			if !errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("link %s: %w", m.from, err)
			}
			if err := sameFile(m.from, m.to); err != nil {
				return err
			}
		}
		synced[filepath.Dir(m.to)] = true
	}
	for dir := range synced {
		if err := s.syncDir(dir); err != nil {
			return err
		}
	}
	emptied := map[string]bool{}
	for _, m := range batch {
		if err := os.Remove(m.from); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove the old name %s: %w", m.from, err)
		}
		emptied[filepath.Dir(m.from)] = true
	}
	for dir := range emptied {
		// The event's directory, then its camera's: each removal fails
		// while the directory still holds something (a blob a later batch
		// moves, or a household's blobs in this layout), and stops there.
		for ; len(dir) > len(s.objects); dir = filepath.Dir(dir) {
			if os.Remove(dir) != nil {
				break
			}
		}
	}
	return nil
}

// sameFile checks that the new name a move found already there is the
// blob's own file (linked by a move a crash interrupted), never another.
func sameFile(old, new string) error {
	a, err := os.Stat(old)
	if err != nil {
		return fmt.Errorf("move blob: %w", err)
	}
	b, err := os.Stat(new)
	if err != nil {
		return fmt.Errorf("move blob: %w", err)
	}
	if !os.SameFile(a, b) {
		return fmt.Errorf("move blob: %s and %s hold the same key but are different files; neither was changed", old, new)
	}
	return nil
}

// writeLayout records that objects/ is in this layout: written whole
// (temp name, sync, rename) and synced into the directory.
func (s *Store) writeLayout() error {
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	tmp := filepath.Join(s.tmp, "layout-"+hex.EncodeToString(rnd[:]))
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write the layout file: %w", err)
	}
	defer os.Remove(tmp)
	_, err = f.WriteString(layoutFlat)
	if err := errors.Join(err, s.syncFile(f), f.Close()); err != nil {
		return fmt.Errorf("write the layout file: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(s.root, layoutFile)); err != nil {
		return fmt.Errorf("write the layout file: %w", err)
	}
	return s.syncDir(s.root)
}
