package bridge

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// queue holds a camera's events on disk until the server has acknowledged
// them, so an event made while the server or the Internet is away, or
// before the bridge restarts, is not lost. Each event is one file: its
// Content-Type line, then the upload's multipart body, written to a
// temporary name, synced and renamed, so a crash leaves either the whole
// event or none of it. Files are named by the time they were queued, so
// the oldest is sent first. The queue is bounded in events and bytes:
// when full, the oldest event is dropped and counted, as a camera's own
// memory would.
type queue struct {
	dir       string
	maxEvents int
	maxBytes  int64

	mu      sync.Mutex
	seq     int64 // the last file's number, to keep names increasing
	wake    chan struct{}
	dropped atomic.Int64
}

const queueSuffix = ".event"

func openQueue(dir string, maxEvents int, maxBytes int64) (*queue, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("event queue: %w", err)
	}
	q := &queue{dir: dir, maxEvents: maxEvents, maxBytes: maxBytes, wake: make(chan struct{}, 1)}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("event queue: %w", err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") { // a write a crash cut short
			_ = os.Remove(filepath.Join(dir, e.Name()))
		}
	}
	return q, nil
}

// queuedFile is one event waiting.
type queuedFile struct {
	name    string
	eventID string
	size    int64
}

// list returns the waiting events, oldest first.
func (q *queue) list() ([]queuedFile, error) {
	entries, err := os.ReadDir(q.dir)
	if err != nil {
		return nil, fmt.Errorf("event queue: %w", err)
	}
	var out []queuedFile
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, queueSuffix) {
			continue
		}
		stem := strings.TrimSuffix(name, queueSuffix)
		_, id, ok := strings.Cut(stem, "_")
		if !ok {
			continue
		}
		info, err := e.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return nil, fmt.Errorf("event queue: %w", err)
		}
		out = append(out, queuedFile{name: name, eventID: id, size: info.Size()})
	}
	slices.SortFunc(out, func(a, b queuedFile) int { return strings.Compare(a.name, b.name) })
	return out, nil
}

// put stores an event durably and drops the oldest ones past the bounds.
func (q *queue) put(eventID, contentType string, body []byte) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := time.Now().UnixNano()
	if n <= q.seq {
		n = q.seq + 1
	}
	q.seq = n
	name := fmt.Sprintf("%020d_%s%s", n, eventID, queueSuffix)
	tmp := filepath.Join(q.dir, name+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("queue event %s: %w", eventID, err)
	}
	w := bufio.NewWriter(f)
	_, err = w.WriteString(contentType + "\n")
	if err == nil {
		_, err = w.Write(body)
	}
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(q.dir, name))
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("queue event %s: %w", eventID, err)
	}
	syncDir(q.dir)
	if err := q.trimLocked(); err != nil {
		return err
	}
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return nil
}

// trimLocked drops the oldest events past the bounds.
func (q *queue) trimLocked() error {
	files, err := q.list()
	if err != nil {
		return err
	}
	var total int64
	for _, f := range files {
		total += f.size
	}
	for len(files) > 1 && (len(files) > q.maxEvents || total > q.maxBytes) {
		if err := os.Remove(filepath.Join(q.dir, files[0].name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("event queue: drop the oldest: %w", err)
		}
		q.dropped.Add(1)
		total -= files[0].size
		files = files[1:]
	}
	return nil
}

// read returns a waiting event's Content-Type and body.
func (q *queue) read(f queuedFile) (string, []byte, error) {
	b, err := os.ReadFile(filepath.Join(q.dir, f.name))
	if err != nil {
		return "", nil, fmt.Errorf("read queued event %s: %w", f.eventID, err)
	}
	ctype, body, ok := bytes.Cut(b, []byte("\n"))
	if !ok {
		return "", nil, fmt.Errorf("queued event %s is damaged", f.eventID)
	}
	return string(ctype), body, nil
}

// remove forgets an event the server acknowledged (or refused for good).
func (q *queue) remove(f queuedFile) error {
	if err := os.Remove(filepath.Join(q.dir, f.name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("event queue: %w", err)
	}
	return nil
}

// syncDir makes a rename in dir durable; where directories cannot be
// synced, the rename is as durable as the file system makes it.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	d.Close()
}
