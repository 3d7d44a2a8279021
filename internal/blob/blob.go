// Package blob declares where camvault keeps media bytes: a flat namespace
// of immutable objects, already sealed before they arrive (see
// internal/media). Backends live in subpackages (disk and s3); each passes
// the conformance suite in blobtest.
package blob

import (
	"context"
	"errors"
	"io"
	"strings"
	"time"
)

// Errors every backend returns for the same situations.
var (
	ErrNotFound = errors.New("blob: not found")
	ErrExists   = errors.New("blob: already exists")
)

// Object is an open blob: random access, for Range requests that decrypt
// only the segments they need.
type Object interface {
	io.ReaderAt
	io.Closer
	Size() int64
}

// Store keeps blobs.
type Store interface {
	// Put stores the bytes of r under key, durably: when Put returns nil the
	// blob survives a crash or power loss. A key is written once; Put on an
	// existing key fails with ErrExists and leaves the blob as it was. A
	// failed or interrupted Put leaves nothing visible under key.
	Put(ctx context.Context, key string, r io.Reader) (int64, error)
	// Open opens a blob for reading.
	Open(ctx context.Context, key string) (Object, error)
	// Delete removes a blob; ErrNotFound if there was none.
	Delete(ctx context.Context, key string) error
	// List calls fn with every key under prefix and when its blob was
	// written, in no particular order, stopping at fn's first error. The
	// time lets a sweeper on one node leave alone what an upload on
	// another node has only just stored.
	List(ctx context.Context, prefix string, fn func(key string, written time.Time) error) error
}

// ValidKey reports whether key can name a blob in every backend: slash
// separated segments of lowercase letters, digits, '-', '_' and '.', no
// empty, "." or ".." segment, at most 512 bytes.
func ValidKey(key string) bool {
	if key == "" || len(key) > 512 {
		return false
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
		for i := 0; i < len(seg); i++ {
			c := seg[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
				return false
			}
		}
	}
	return true
}
