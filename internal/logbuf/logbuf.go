// Package logbuf gathers log lines and writes them together: a server
// that logs a line per request (the access log) would otherwise make a
// write system call per request for it. Lines below a level wait in
// memory, at most Every and at most MaxBuffer bytes; a line at or above
// it (a warning, an error) is written at once, after every line before
// it, so the order is kept and what explains a failure is never held
// back. Lines still waiting when the process is killed are lost, as with
// any buffered log; Close writes them on a clean exit.
package logbuf

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

// MaxBuffer is how many bytes wait at most; a line past it writes them.
const MaxBuffer = 256 << 10

// Writer gathers what is written to it and passes it to its destination
// every interval, or when it has gathered MaxBuffer bytes, or on Flush.
type Writer struct {
	out  io.Writer
	mu   sync.Mutex
	buf  []byte
	err  error // the last write's failure, for Flush and Close
	quit chan struct{}
	done chan struct{}
	once sync.Once
}

// New returns a Writer to out, writing every interval until Close.
func New(out io.Writer, every time.Duration) *Writer {
	w := &Writer{out: out, quit: make(chan struct{}), done: make(chan struct{})}
	go w.loop(every)
	return w
}

func (w *Writer) loop(every time.Duration) {
	defer close(w.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-w.quit:
			return
		case <-t.C:
			_ = w.Flush()
		}
	}
}

// Write keeps p to be written with the next batch. Its error is that of
// an earlier write, if one failed.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	if len(w.buf) >= MaxBuffer {
		w.flushLocked()
	}
	return len(p), w.err
}

// Flush writes what waits, now.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.flushLocked()
	return w.err
}

func (w *Writer) flushLocked() {
	if len(w.buf) == 0 {
		return
	}
	_, w.err = w.out.Write(w.buf)
	if cap(w.buf) > MaxBuffer {
		w.buf = nil // a burst's buffer is not kept for ever
	} else {
		w.buf = w.buf[:0]
	}
}

// Close stops the periodic writes and writes what waits. It may be
// called more than once.
func (w *Writer) Close() error {
	w.once.Do(func() { close(w.quit) })
	<-w.done
	return w.Flush()
}

// Handler returns h, which writes to w, with every record at or above
// urgent written at once (with everything before it).
func Handler(h slog.Handler, w *Writer, urgent slog.Level) slog.Handler {
	return handler{Handler: h, w: w, urgent: urgent}
}

type handler struct {
	slog.Handler
	w      *Writer
	urgent slog.Level
}

func (h handler) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	if r.Level >= h.urgent {
		if ferr := h.w.Flush(); err == nil {
			err = ferr
		}
	}
	return err
}

func (h handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return handler{Handler: h.Handler.WithAttrs(attrs), w: h.w, urgent: h.urgent}
}

func (h handler) WithGroup(name string) slog.Handler {
	return handler{Handler: h.Handler.WithGroup(name), w: h.w, urgent: h.urgent}
}
