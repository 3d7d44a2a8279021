package disk

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// dirSet is what the store knows of the directories under objects/: those
// it has made sure of (the directory exists and its own name is on disk,
// synced into its parent by this process), each with the group sync of
// its contents. A household's directory is made sure of once per process:
// the first Put into it creates it if need be and syncs the chain of
// parents, even when the directory was already there, since a process
// that crashed after creating it may never have synced its name.
type dirSet struct {
	objects string
	fsync   func(path string) error // of a directory

	mu sync.Mutex
	m  map[string]*dirSync

	create sync.Mutex // one creation at a time; rare, and keeps parents simple
}

func newDirSet(objects string, fsync func(string) error) *dirSet {
	d := &dirSet{objects: objects, fsync: fsync, m: map[string]*dirSync{}}
	d.m[objects] = &dirSync{path: objects, fsync: fsync} // Open created and synced it
	return d
}

func (d *dirSet) lookup(dir string) *dirSync {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.m[dir]
}

// ensure returns dir's group sync, first creating dir and its missing
// parents under objects/ and syncing each one's parent, so that the path
// itself survives a crash.
func (d *dirSet) ensure(dir string) (*dirSync, error) {
	if ds := d.lookup(dir); ds != nil {
		return ds, nil
	}
	d.create.Lock()
	defer d.create.Unlock()
	return d.ensureLocked(dir)
}

func (d *dirSet) ensureLocked(dir string) (*dirSync, error) {
	if ds := d.lookup(dir); ds != nil {
		return ds, nil
	}
	parent := filepath.Dir(dir)
	if len(parent) < len(d.objects) {
		return nil, fmt.Errorf("blob directory %s is outside the store", dir)
	}
	pds, err := d.ensureLocked(parent)
	if err != nil {
		return nil, err
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("create blob directory: %w", err)
	}
	if err := pds.wait(); err != nil {
		return nil, err
	}
	ds := &dirSync{path: dir, fsync: d.fsync}
	d.mu.Lock()
	d.m[dir] = ds
	d.mu.Unlock()
	return ds, nil
}

// dirSync is the group sync of one directory. A caller that has just
// linked or removed a name in the directory calls wait, which returns
// once an fsync of the directory that began after the call has finished:
// that fsync covers the caller's change. Callers that arrive while an
// fsync runs all join the next one, which the first of them to wake runs
// as soon as the running one ends. So however many uploads link into one
// directory at once, it takes at most two fsyncs for all of them, and
// none is released before the fsync that covers it.
//
// No goroutine of its own: the fsync runs on a waiting caller's.
type dirSync struct {
	path  string
	fsync func(path string) error

	mu      sync.Mutex
	cond    *sync.Cond
	running bool
	pending *round // the next round; callers join it until it starts
}

// round is one fsync of the directory and what came of it.
type round struct {
	done    bool
	err     error
	waiters int // for tests: callers that joined
}

func (s *dirSync) wait() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cond == nil {
		s.cond = sync.NewCond(&s.mu)
	}
	if s.pending == nil {
		s.pending = &round{}
	}
	r := s.pending
	r.waiters++
	for !r.done {
		if s.running {
			// Another round runs: it began before this caller's change
			// (or the change would have joined it) and may not cover it.
			s.cond.Wait()
			continue
		}
		// r has not started (a round leaves pending when it starts), so
		// it is still s.pending: run it.
		s.running, s.pending = true, nil
		s.mu.Unlock()
		err := s.fsync(s.path)
		s.mu.Lock()
		r.done, r.err, s.running = true, err, false
		s.cond.Broadcast()
	}
	return r.err
}
