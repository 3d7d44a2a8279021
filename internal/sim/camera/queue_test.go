package camera

import (
	"testing"
	"time"

	"pgregory.net/rapid"
)

func ev(seq uint64) queuedEvent {
	return queuedEvent{seq: seq, at: time.Unix(int64(seq), 0), kind: "motion"}
}

func TestQueueDropsOldestWhenFull(t *testing.T) {
	q := newEventQueue(3)
	for i := uint64(1); i <= 3; i++ {
		if _, dropped := q.push(ev(i)); dropped {
			t.Fatalf("dropped at %d", i)
		}
	}
	old, dropped := q.push(ev(4))
	if !dropped || old.seq != 1 {
		t.Fatalf("push to a full queue dropped %v (%v), want 1", old.seq, dropped)
	}
	for want := uint64(2); want <= 4; want++ {
		e, ok := q.peek()
		if !ok || e.seq != want {
			t.Fatalf("peek %v %v, want %d", e.seq, ok, want)
		}
		if !q.remove(e.seq) {
			t.Fatal("remove failed")
		}
	}
	if _, ok := q.peek(); ok || q.len() != 0 || q.buf != nil {
		t.Fatal("queue not empty, or still holds its ring")
	}
}

func TestQueueGrowsOnDemand(t *testing.T) {
	q := newEventQueue(200)
	q.push(ev(1))
	if len(q.buf) > 4 {
		t.Fatalf("one event took a ring of %d", len(q.buf))
	}
	for i := uint64(2); i <= 500; i++ {
		q.push(ev(i))
	}
	if q.len() != 200 || len(q.buf) != 200 {
		t.Fatalf("len %d, ring %d; want 200, 200", q.len(), len(q.buf))
	}
	if e, _ := q.peek(); e.seq != 301 {
		t.Fatalf("oldest is %d, want 301", e.seq)
	}
}

func TestQueueRemoveGone(t *testing.T) {
	q := newEventQueue(2)
	q.push(ev(1))
	q.push(ev(2))
	q.push(ev(3)) // drops 1 while it might be uploading
	if q.remove(1) {
		t.Fatal("removed an event that was dropped")
	}
	if !q.remove(3) || q.len() != 1 {
		t.Fatal("could not remove the newest")
	}
	if e, _ := q.peek(); e.seq != 2 {
		t.Fatalf("left %d, want 2", e.seq)
	}
}

// The queue behaves like a slice that keeps its newest limit events.
func TestQueueModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		limit := rapid.IntRange(1, 9).Draw(t, "limit")
		q := newEventQueue(limit)
		var model []uint64
		var next uint64
		dropped := 0
		for _, op := range rapid.SliceOfN(rapid.IntRange(0, 2), 0, 60).Draw(t, "ops") {
			switch op {
			case 0:
				next++
				if _, d := q.push(ev(next)); d {
					dropped++
				}
				model = append(model, next)
				if len(model) > limit {
					model = model[1:]
				}
			case 1:
				if len(model) > 0 {
					i := rapid.IntRange(0, len(model)-1).Draw(t, "i")
					if !q.remove(model[i]) {
						t.Fatalf("remove %d failed", model[i])
					}
					model = append(model[:i:i], model[i+1:]...)
				}
			case 2:
				e, ok := q.peek()
				if ok != (len(model) > 0) || (ok && e.seq != model[0]) {
					t.Fatalf("peek %v %v, model %v", e.seq, ok, model)
				}
			}
			if q.len() != len(model) {
				t.Fatalf("len %d, model %v", q.len(), model)
			}
		}
		if want := int(next) - len(model); dropped > want {
			t.Fatalf("dropped %d, more than %d", dropped, want)
		}
	})
}
