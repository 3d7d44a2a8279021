package lease

import "sync"

// Holder is a node's lease as a Table uses it; *Node is one.
type Holder interface {
	Mark() Mark
	Stamp(m Mark, homeID, accountID string) (Stamp, bool)
	Valid(s Stamp) bool
}

// Table keeps values read from the store in process memory, each with the
// stamp of its read, at most max of them. A value is returned only while
// its stamp is valid. Its keys are Go values compared whole (an ID, a
// pair of IDs, a token's hash), never strings joined from parts, and the
// callers check that a value names what they asked for.
type Table[K comparable, V any] struct {
	lease Holder
	max   int
	mu    sync.RWMutex
	m     map[K]stamped[V]
}

type stamped[V any] struct {
	v V
	s Stamp
}

// NewTable returns an empty table of at most max entries validated by l.
func NewTable[K comparable, V any](l Holder, max int) *Table[K, V] {
	return &Table[K, V]{lease: l, max: max, m: make(map[K]stamped[V])}
}

// Get returns the value kept for k while its stamp is valid.
func (t *Table[K, V]) Get(k K) (V, bool) {
	t.mu.RLock()
	e, ok := t.m[k]
	t.mu.RUnlock()
	if !ok || !t.lease.Valid(e.s) {
		var zero V
		return zero, false
	}
	return e.v, true
}

// Load reads k's value with read and keeps it, stamped with the home and
// account topics names in it, unless a change was applied while it was
// read or the lease does not hold. Callers Get first.
func (t *Table[K, V]) Load(k K, read func() (V, error), topics func(V) (homeID, accountID string)) (V, error) {
	m := t.lease.Mark()
	v, err := read()
	if err != nil {
		return v, err
	}
	h, a := topics(v)
	if s, ok := t.lease.Stamp(m, h, a); ok {
		t.Put(k, v, s)
	}
	return v, nil
}

// Put keeps v for k with the stamp of its read. When the table is full an
// arbitrary entry makes room (Go's map order is random), so memory stays
// bounded whatever the requests.
func (t *Table[K, V]) Put(k K, v V, s Stamp) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.m[k]; !ok && len(t.m) >= t.max {
		for old := range t.m {
			delete(t.m, old)
			break
		}
	}
	t.m[k] = stamped[V]{v: v, s: s}
}

// Update replaces the value kept for k, keeping its stamp, if an entry is
// there; it reports whether one was.
func (t *Table[K, V]) Update(k K, f func(V) V) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.m[k]
	if ok {
		e.v = f(e.v)
		t.m[k] = e
	}
	return ok
}

// Len is how many entries are kept, valid or not.
func (t *Table[K, V]) Len() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.m)
}
