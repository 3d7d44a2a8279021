package storm

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// balancer stands in front of several nodes for the viewers and the
// setup, the way an operator's TCP load balancer would: each new client
// connection goes to the next node in turn, and a node that refuses the
// connection (killed, restarting) is skipped. A connection to a node that
// dies is closed on both sides, so the client on it notices at once and
// its next connection goes to a node that is up. (Cameras do not use it:
// they are given every node's address; see clientPaths.)
type balancer struct {
	ln    net.Listener
	nodes []string
	next  atomic.Uint64

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup

	refused atomic.Int64 // client connections no node accepted
}

// startBalancer listens on a free loopback port and spreads connections
// over nodes (HOST:PORT each).
func startBalancer(nodes []string) (*balancer, error) {
	if len(nodes) == 0 {
		return nil, errors.New("balancer: no nodes")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("balancer: listen: %w", err)
	}
	b := &balancer{ln: ln, nodes: nodes, conns: map[net.Conn]struct{}{}}
	b.wg.Go(b.accept)
	return b, nil
}

func (b *balancer) addr() string { return b.ln.Addr().String() }

func (b *balancer) accept() {
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return // closed
		}
		b.wg.Go(func() { b.serve(c) })
	}
}

// serve connects one client to the first node, in round-robin order, that
// accepts, and copies bytes both ways until either side ends.
func (b *balancer) serve(client net.Conn) {
	var upstream net.Conn
	start := b.next.Add(1)
	for i := range len(b.nodes) {
		node := b.nodes[(start+uint64(i))%uint64(len(b.nodes))]
		c, err := net.DialTimeout("tcp", node, 2*time.Second)
		if err == nil {
			upstream = c
			break
		}
	}
	if upstream == nil {
		b.refused.Add(1)
		client.Close()
		return
	}
	if !b.track(client, upstream) {
		client.Close()
		upstream.Close()
		return
	}
	defer b.untrack(client, upstream)
	done := make(chan struct{}, 2)
	// Between two TCP connections io.Copy splices in the kernel, so ten
	// thousand idle connections cost no copy buffers here.
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		done <- struct{}{}
	}
	go pipe(upstream, client)
	go pipe(client, upstream)
	<-done
	// One side ended (a client closed, or a node died): end the other, as
	// a load balancer that lost its upstream does.
	client.Close()
	upstream.Close()
	<-done
}

func (b *balancer) track(cs ...net.Conn) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return false
	}
	for _, c := range cs {
		b.conns[c] = struct{}{}
	}
	return true
}

func (b *balancer) untrack(cs ...net.Conn) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range cs {
		delete(b.conns, c)
	}
}

// Close stops accepting, closes every connection and waits for them.
func (b *balancer) Close() {
	b.mu.Lock()
	b.closed = true
	for c := range b.conns {
		c.Close()
	}
	b.mu.Unlock()
	b.ln.Close()
	b.wg.Wait()
}
