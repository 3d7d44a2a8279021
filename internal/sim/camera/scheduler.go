package camera

import (
	"container/heap"
	"context"
	"sync"
	"time"
)

// timerKind is what a scheduled wake-up is for.
type timerKind uint8

const (
	timerEvent     timerKind = iota // emit a motion event
	timerHeartbeat                  // send a heartbeat on the connection
	timerConnect                    // (re)connect
	timerFlush                      // retry uploads after a backoff
)

// timerEntry is one wake-up. gen ties it to the camera state it was set
// for (a connection, a settings version); a stale one is ignored.
type timerEntry struct {
	when time.Time
	cam  *Camera
	kind timerKind
	gen  uint64
}

type timerHeap []timerEntry

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].when.Before(h[j].when) }
func (h timerHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *timerHeap) Push(x any)        { *h = append(*h, x.(timerEntry)) }
func (h *timerHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = timerEntry{}
	*h = old[:len(old)-1]
	return e
}

// scheduler is the one timer of a fleet: every camera's periodic work
// (events, heartbeats, reconnects, upload retries) is an entry in one
// heap, served by one goroutine, instead of a goroutine and a ticker per
// camera. Entries must be handled quickly: whatever waits on the network
// is handed to another goroutine by the fire function.
type scheduler struct {
	mu   sync.Mutex
	h    timerHeap
	wake chan struct{}
}

func newScheduler() *scheduler {
	return &scheduler{wake: make(chan struct{}, 1)}
}

// add schedules e.
func (s *scheduler) add(e timerEntry) {
	s.mu.Lock()
	heap.Push(&s.h, e)
	first := !s.h[0].when.Before(e.when) // e is (one of) the earliest now
	s.mu.Unlock()
	if first {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// due takes the entries due at now out of the heap, appending them to
// out, and returns when the next one is due (ok false if none is left).
func (s *scheduler) due(now time.Time, out []timerEntry) (_ []timerEntry, next time.Time, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.h) > 0 && !s.h[0].when.After(now) {
		out = append(out, heap.Pop(&s.h).(timerEntry))
	}
	if len(s.h) == 0 {
		return out, time.Time{}, false
	}
	return out, s.h[0].when, true
}

// len is how many entries are waiting.
func (s *scheduler) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.h)
}

// run fires entries as they fall due until ctx ends. now is the clock the
// entries' times come from.
func (s *scheduler) run(ctx context.Context, now func() time.Time, fire func(timerEntry)) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var batch []timerEntry
	for {
		var next time.Time
		var ok bool
		batch, next, ok = s.due(now(), batch[:0])
		for _, e := range batch {
			fire(e)
		}
		clear(batch)
		wait := time.Hour
		if ok {
			wait = max(0, next.Sub(now()))
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-s.wake:
		}
	}
}
