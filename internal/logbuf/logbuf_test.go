package logbuf

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// sink records each write it gets.
type sink struct {
	mu     sync.Mutex
	writes []string
	fail   error
}

func (s *sink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes = append(s.writes, string(p))
	return len(p), s.fail
}

func (s *sink) all() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.writes, "")
}

func (s *sink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.writes)
}

// TestLinesWaitUntilAnUrgentOne: information lines are gathered; a
// warning writes them and itself, in order, in one write.
func TestLinesWaitUntilAnUrgentOne(t *testing.T) {
	out := &sink{}
	w := New(out, time.Hour)
	defer w.Close()
	log := slog.New(Handler(slog.NewTextHandler(w, nil), w, slog.LevelWarn))
	for i := range 100 {
		log.Info("http request", "n", i)
	}
	if n := out.count(); n != 0 {
		t.Fatalf("%d writes before anything urgent or a flush", n)
	}
	log.With("k", "v").WithGroup("g").Warn("something is wrong")
	if n := out.count(); n != 1 {
		t.Fatalf("%d writes after a warning, want 1", n)
	}
	got := out.all()
	for i := range 100 {
		if !strings.Contains(got, fmt.Sprintf(" n=%d\n", i)) {
			t.Fatalf("line %d missing", i)
		}
	}
	if !strings.HasSuffix(strings.TrimSpace(got), `msg="something is wrong" k=v`) {
		t.Fatalf("the warning is not last or lost its attributes: %q", got[len(got)-80:])
	}
	if strings.Index(got, "n=99") > strings.Index(got, "something is wrong") {
		t.Fatal("the warning was written before a line logged before it")
	}
}

// TestFlushCloseAndBound: Flush and Close write what waits; a buffer past
// MaxBuffer writes itself; a failed write is reported.
func TestFlushCloseAndBound(t *testing.T) {
	out := &sink{}
	w := New(out, time.Hour)
	if _, err := w.Write([]byte("a\n")); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil || out.all() != "a\n" {
		t.Fatalf("after flush: %q, %v", out.all(), err)
	}
	line := bytes.Repeat([]byte("x"), 1024)
	for range MaxBuffer / len(line) {
		w.Write(line)
	}
	if out.count() != 2 {
		t.Fatalf("%d writes after filling the buffer, want 2", out.count())
	}
	w.Write([]byte("b\n"))
	out.fail = errors.New("disk full")
	if err := w.Close(); err == nil {
		t.Fatal("a failed write was not reported")
	}
	if !strings.HasSuffix(out.all(), "b\n") {
		t.Fatal("close did not write what waited")
	}
	if err := w.Close(); err == nil {
		t.Fatal("a second close forgot the failed write")
	}
}
