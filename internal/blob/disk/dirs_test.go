package disk

import (
	"runtime"
	"sync"
	"testing"
)

// TestGroupSync: callers that arrive while a directory's fsync runs are
// all covered by one more fsync, which begins after they arrived, and none
// of them is released before it ends.
func TestGroupSync(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	gate := []chan struct{}{make(chan struct{}), make(chan struct{})}
	started := make(chan int, 2)
	ds := &dirSync{path: "d", fsync: func(string) error {
		mu.Lock()
		n := calls
		calls++
		mu.Unlock()
		started <- n
		<-gate[n]
		return nil
	}}

	first := make(chan error)
	go func() { first <- ds.wait() }()
	if n := <-started; n != 0 {
		t.Fatalf("first fsync is number %d", n)
	}
	// Round 0 runs. Eight more callers arrive (their links came after
	// round 0 began) and must wait for round 1.
	const late = 8
	done := make(chan error, late)
	for range late {
		go func() { done <- ds.wait() }()
	}
	for joined(ds) < late {
		runtime.Gosched()
	}
	close(gate[0])
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if n := <-started; n != 1 {
		t.Fatalf("second fsync is number %d", n)
	}
	select {
	case <-done:
		t.Fatal("a late caller was released before the fsync that covers it ended")
	default:
	}
	close(gate[1])
	for range late {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if calls != 2 {
		t.Fatalf("%d fsyncs for 1 + %d callers, want 2", calls, late)
	}
}

// joined is how many callers wait for the directory's next fsync.
func joined(ds *dirSync) int {
	ds.mu.Lock()
	defer ds.mu.Unlock()
	if ds.pending == nil {
		return 0
	}
	return ds.pending.waiters
}
