package server

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// lockFile is the file in the data directory that a running server holds
// an exclusive lock on (flock). The lock, not the file, is what counts: it
// goes with the process however that ends, so a server killed outright
// leaves nothing to clean up.
const lockFile = "camvault.lock"

// dirLock is a data directory's lock, held while its file stays open.
type dirLock struct{ f *os.File }

// lockDataDir takes dir's lock, or says which process holds it. Two
// servers on one data directory would each take its cameras, its key file
// and its blobs for their own.
func lockDataDir(dir string) (*dirLock, error) {
	path := filepath.Join(dir, lockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open the data directory's lock file: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		holder := lockHolder(f)
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("data directory %s is in use by another camvault process%s: "+
				"stop it first, or give this one a --data of its own", dir, holder)
		}
		return nil, fmt.Errorf("lock the data directory %s: %w", dir, err)
	}
	// The holder's process ID, for the message of a second process.
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &dirLock{f: f}, nil
}

// lockHolder is " (pid N)" as the lock's holder wrote it, or nothing.
func lockHolder(f *os.File) string {
	b, err := io.ReadAll(io.LimitReader(f, 32))
	if err != nil {
		return ""
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return ""
	}
	return fmt.Sprintf(" (pid %d)", pid)
}

// release gives the lock up. The file stays: removing it could let two
// processes lock two different files of the same name.
func (l *dirLock) release() error {
	_ = l.f.Truncate(0) // no stale process ID for the next reader
	if err := l.f.Close(); err != nil {
		return fmt.Errorf("release the data directory's lock: %w", err)
	}
	return nil
}
