package server

import (
	"context"
	"fmt"
	"net/http"
	"sync"
)

// requests counts the HTTP requests being handled. http.Server.Shutdown
// waits for them only until its deadline, and Close forgets those it cuts
// (their handlers run on until they notice): the backends they use must
// not be closed under them.
type requests struct {
	mu     sync.Mutex
	n      int
	closed bool
	idle   chan struct{} // made by wait; closed once closed and n is 0
}

// wrap counts h's requests; once wait has begun, new ones are refused.
func (r *requests) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if !r.enter() {
			w.Header().Set("Connection", "close")
			http.Error(w, "the server is shutting down", http.StatusServiceUnavailable)
			return
		}
		defer r.leave()
		h.ServeHTTP(w, req)
	})
}

func (r *requests) enter() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	r.n++
	return true
}

func (r *requests) leave() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n--
	if r.closed && r.n == 0 {
		close(r.idle)
	}
}

// wait refuses new requests and waits until none runs, or ctx ends.
func (r *requests) wait(ctx context.Context) error {
	r.mu.Lock()
	if !r.closed {
		r.closed = true
		r.idle = make(chan struct{})
		if r.n == 0 {
			close(r.idle)
		}
	}
	idle := r.idle
	r.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for requests in progress: %w", ctx.Err())
	}
}
