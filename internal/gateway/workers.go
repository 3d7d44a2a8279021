package gateway

import "sync"

// workers runs functions on at most max goroutines, started when there is
// work and ended when there is none: an idle node keeps none of them. What
// waits for a free goroutine is queued in order; the queue needs no bound
// of its own because each connection has at most one function waiting in
// it at a time (nbio runs a connection's jobs one after another, and a
// connection ends once).
type workers struct {
	max int

	mu      sync.Mutex
	queue   []func()
	running int
	wg      sync.WaitGroup
}

func newWorkers(max int) *workers { return &workers{max: max} }

// Go runs f on a worker, now or when one is free. It never blocks.
func (w *workers) Go(f func()) {
	w.mu.Lock()
	if w.running < w.max {
		w.running++
		w.wg.Add(1)
		w.mu.Unlock()
		go w.run(f)
		return
	}
	w.queue = append(w.queue, f)
	w.mu.Unlock()
}

func (w *workers) run(f func()) {
	defer w.wg.Done()
	for {
		f()
		w.mu.Lock()
		if len(w.queue) == 0 {
			w.queue = nil // give the backing array back
			w.running--
			w.mu.Unlock()
			return
		}
		f = w.queue[0]
		w.queue[0] = nil
		w.queue = w.queue[1:]
		w.mu.Unlock()
	}
}

// wait returns once every function given to Go has run. Call it once
// nothing calls Go any more.
func (w *workers) wait() { w.wg.Wait() }
