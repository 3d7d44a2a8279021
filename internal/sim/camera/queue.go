package camera

import "time"

// queuedEvent is an event waiting to be uploaded. Only its description is
// kept, not its pictures: they are rendered again, identically, from it
// when it is uploaded, so a camera's 200 queued events cost a few KiB and
// ten thousand offline cameras fit in memory.
type queuedEvent struct {
	seq      uint64
	at       time.Time
	kind     string
	snapshot bool
}

// eventQueue is a bounded FIFO of events, oldest first. Full, it drops
// the oldest event to take a new one. Its ring grows on demand up to its
// limit, so an empty queue costs nothing. Not safe for concurrent use.
type eventQueue struct {
	buf   []queuedEvent
	head  int // index of the oldest
	n     int
	limit int
}

func newEventQueue(limit int) eventQueue {
	return eventQueue{limit: max(1, limit)}
}

func (q *eventQueue) len() int { return q.n }

// push adds e as the newest event. When the queue is full it drops the
// oldest and returns it, with dropped true.
func (q *eventQueue) push(e queuedEvent) (old queuedEvent, dropped bool) {
	if q.n == q.limit {
		old = q.buf[q.head]
		q.buf[q.head] = e
		q.head = (q.head + 1) % len(q.buf)
		return old, true
	}
	if q.n == len(q.buf) {
		q.grow()
	}
	q.buf[(q.head+q.n)%len(q.buf)] = e
	q.n++
	return queuedEvent{}, false
}

func (q *eventQueue) grow() {
	size := min(q.limit, max(4, 2*len(q.buf)))
	nb := make([]queuedEvent, size)
	for i := 0; i < q.n; i++ {
		nb[i] = q.buf[(q.head+i)%len(q.buf)]
	}
	q.buf, q.head = nb, 0
}

// peek returns the oldest event.
func (q *eventQueue) peek() (queuedEvent, bool) {
	if q.n == 0 {
		return queuedEvent{}, false
	}
	return q.buf[q.head], true
}

// remove takes the event with sequence number seq out of the queue, if it
// is still there (it may have been dropped while it was being uploaded).
// It is almost always the oldest.
func (q *eventQueue) remove(seq uint64) bool {
	for i := 0; i < q.n; i++ {
		if q.buf[(q.head+i)%len(q.buf)].seq != seq {
			continue
		}
		for j := i; j > 0; j-- { // close the gap from the old end
			q.buf[(q.head+j)%len(q.buf)] = q.buf[(q.head+j-1)%len(q.buf)]
		}
		q.buf[q.head] = queuedEvent{}
		q.head = (q.head + 1) % len(q.buf)
		q.n--
		if q.n == 0 {
			q.buf, q.head = nil, 0 // give the memory back
		}
		return true
	}
	return false
}
