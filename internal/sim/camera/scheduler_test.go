package camera

import (
	"testing"
	"time"
)

func TestSchedulerOrder(t *testing.T) {
	s := newScheduler()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a, b := &Camera{name: "a"}, &Camera{name: "b"}
	s.add(timerEntry{when: t0.Add(3 * time.Second), cam: a, kind: timerEvent})
	s.add(timerEntry{when: t0.Add(1 * time.Second), cam: b, kind: timerHeartbeat, gen: 7})
	s.add(timerEntry{when: t0.Add(2 * time.Second), cam: a, kind: timerConnect})
	s.add(timerEntry{when: t0.Add(10 * time.Second), cam: b, kind: timerFlush})

	got, next, ok := s.due(t0, nil)
	if len(got) != 0 || !ok || !next.Equal(t0.Add(time.Second)) {
		t.Fatalf("nothing due yet: got %d, next %v %v", len(got), next, ok)
	}
	got, next, ok = s.due(t0.Add(2*time.Second), nil)
	if len(got) != 2 || got[0].cam != b || got[0].gen != 7 || got[1].kind != timerConnect || !ok || !next.Equal(t0.Add(3*time.Second)) {
		t.Fatalf("due at 2s: %+v, next %v", got, next)
	}
	got, _, ok = s.due(t0.Add(time.Minute), nil)
	if len(got) != 2 || ok || s.len() != 0 {
		t.Fatalf("due at 1m: %d entries, %d left, ok %v", len(got), s.len(), ok)
	}
}

// Adding an entry earlier than all others wakes the loop; adding a later
// one does not need to.
func TestSchedulerWakes(t *testing.T) {
	s := newScheduler()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s.add(timerEntry{when: t0.Add(time.Hour)})
	<-s.wake
	s.add(timerEntry{when: t0.Add(2 * time.Hour)})
	select {
	case <-s.wake:
		t.Fatal("a later entry woke the loop")
	default:
	}
	s.add(timerEntry{when: t0})
	select {
	case <-s.wake:
	default:
		t.Fatal("an earlier entry did not wake the loop")
	}
}
