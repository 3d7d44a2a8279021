// Package blobtest is the conformance suite every blob backend must pass.
package blobtest

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/blob"
)

// Run runs the suite. open must return a fresh, empty store each call.
func Run(t *testing.T, open func(t *testing.T) blob.Store) {
	t.Run("PutOpenReadAt", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		data := make([]byte, 300<<10)
		rand.Read(data)
		n, err := s.Put(ctx, "h1/d1/e1/clip", bytes.NewReader(data))
		if err != nil || n != int64(len(data)) {
			t.Fatalf("put: %d %v", n, err)
		}
		o, err := s.Open(ctx, "h1/d1/e1/clip")
		if err != nil {
			t.Fatal(err)
		}
		defer o.Close()
		if o.Size() != int64(len(data)) {
			t.Fatalf("size %d", o.Size())
		}
		for _, r := range [][2]int{{0, 10}, {1000, 70000}, {len(data) - 5, len(data)}} {
			buf := make([]byte, r[1]-r[0])
			if _, err := o.ReadAt(buf, int64(r[0])); err != nil && !errors.Is(err, io.EOF) {
				t.Fatalf("read at %d: %v", r[0], err)
			}
			if !bytes.Equal(buf, data[r[0]:r[1]]) {
				t.Fatalf("bytes %d..%d differ", r[0], r[1])
			}
		}
		all, err := io.ReadAll(io.NewSectionReader(o, 0, o.Size()))
		if err != nil || !bytes.Equal(all, data) {
			t.Fatalf("whole blob differs: %v", err)
		}
	})
	t.Run("EmptyBlob", func(t *testing.T) {
		s := open(t)
		if _, err := s.Put(t.Context(), "empty", bytes.NewReader(nil)); err != nil {
			t.Fatal(err)
		}
		o, err := s.Open(t.Context(), "empty")
		if err != nil || o.Size() != 0 {
			t.Fatalf("open empty: %v", err)
		}
		o.Close()
	})
	t.Run("WriteOnce", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		if _, err := s.Put(ctx, "k", bytes.NewReader([]byte("first"))); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Put(ctx, "k", bytes.NewReader([]byte("second"))); !errors.Is(err, blob.ErrExists) {
			t.Fatalf("second put: %v, want ErrExists", err)
		}
		if got := read(t, s, "k"); string(got) != "first" {
			t.Fatalf("blob is %q after a refused put", got)
		}
	})
	t.Run("RacingPuts", func(t *testing.T) {
		s := open(t)
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = s.Put(t.Context(), "race", bytes.NewReader(bytes.Repeat([]byte{byte(i)}, 4096)))
			}()
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
			} else if !errors.Is(err, blob.ErrExists) {
				t.Fatalf("racing put: %v", err)
			}
		}
		got := read(t, s, "race")
		if ok != 1 || len(got) != 4096 || !bytes.Equal(got, bytes.Repeat(got[:1], 4096)) {
			t.Fatalf("%d puts won; blob mixes writers: %v", ok, len(got))
		}
	})
	t.Run("FailedPutLeavesNothing", func(t *testing.T) {
		s := open(t)
		_, err := s.Put(t.Context(), "broken", io.MultiReader(bytes.NewReader([]byte("partial")), errReader{}))
		if err == nil {
			t.Fatal("put from a failing reader succeeded")
		}
		if _, err := s.Open(t.Context(), "broken"); !errors.Is(err, blob.ErrNotFound) {
			t.Fatalf("after failed put: %v, want ErrNotFound", err)
		}
	})
	t.Run("DeleteAndList", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		for _, k := range []string{"a/1/x", "a/2/y", "b/1/z"} {
			if _, err := s.Put(ctx, k, bytes.NewReader([]byte(k))); err != nil {
				t.Fatal(err)
			}
		}
		if got := list(t, s, "a/"); !slices.Equal(got, []string{"a/1/x", "a/2/y"}) {
			t.Fatalf("list a/ = %v", got)
		}
		if got := list(t, s, ""); len(got) != 3 {
			t.Fatalf("list all = %v", got)
		}
		if err := s.Delete(ctx, "a/1/x"); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, "a/1/x"); !errors.Is(err, blob.ErrNotFound) {
			t.Fatalf("delete twice: %v", err)
		}
		if _, err := s.Open(ctx, "a/1/x"); !errors.Is(err, blob.ErrNotFound) {
			t.Fatalf("open deleted: %v", err)
		}
		if got := list(t, s, ""); !slices.Equal(got, []string{"a/2/y", "b/1/z"}) {
			t.Fatalf("list after delete = %v", got)
		}
		if _, err := s.Open(ctx, "missing"); !errors.Is(err, blob.ErrNotFound) {
			t.Fatalf("open missing: %v", err)
		}
	})
	t.Run("InvalidKeys", func(t *testing.T) {
		s := open(t)
		for _, k := range []string{"", "../x", "a//b", "/abs", "a/./b", "UPPER", "a b"} {
			if _, err := s.Put(t.Context(), k, bytes.NewReader(nil)); err == nil {
				t.Errorf("put accepted key %q", k)
			}
		}
	})
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection lost") }

func read(t *testing.T, s blob.Store, key string) []byte {
	t.Helper()
	o, err := s.Open(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	b, err := io.ReadAll(io.NewSectionReader(o, 0, o.Size()))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func list(t *testing.T, s blob.Store, prefix string) []string {
	t.Helper()
	var keys []string
	// Clocks of the test and the store's server may differ a little; a
	// time far from now means the store reports something else.
	now := time.Now()
	err := s.List(t.Context(), prefix, func(k string, written time.Time) error {
		if written.Before(now.Add(-time.Hour)) || written.After(now.Add(time.Hour)) {
			t.Errorf("List: %s written at %v, not around now (%v)", k, written, now)
		}
		keys = append(keys, k)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	return keys
}
