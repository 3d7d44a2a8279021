package faults

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// ProxyOptions configure a cross-reply proxy.
type ProxyOptions struct {
	// Rate is the probability that a reply is offered to another
	// connection (Spec.CrossReply).
	Rate float64
	// Wait is how long an offered reply waits for a reply of another
	// connection to trade places with before it goes to its own; 10 ms
	// when zero.
	Wait time.Duration
	// Seed makes the choices reproducible; 0 is random.
	Seed uint64
	// Logger logs connection errors at debug level; slog.Default() when nil.
	Logger *slog.Logger
}

// Proxy sits between Redis clients and a Redis server and, at its rate,
// delivers a reply read for one client connection to another connection
// that is waiting for a reply to the same command: the client-library
// mix-up of ChatGPT's March 2023 incident, where a GET's reply reached
// another request. Replies trade places in pairs, so every connection still
// gets one reply per request and the clients never notice anything but the
// wrong values. Replies to connection set-up (HELLO, AUTH, SELECT, CLIENT,
// PING, ...) and RESP3 pushes are delivered correctly, so the clients stay
// connected.
type Proxy struct {
	ln       net.Listener
	upstream string
	rate     float64
	wait     time.Duration
	log      *slog.Logger
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	crossed  atomic.Uint64
	replies  atomic.Uint64

	mu     sync.Mutex
	rng    *mrand.Rand
	offers map[string]*offer // by command name
	conns  map[*proxyConn]struct{}
	nextID uint64
	closed bool
}

type offer struct {
	conn  uint64
	reply []byte
	back  chan []byte // the reply given in exchange; buffered
}

type proxyConn struct {
	id               uint64
	client, upstream net.Conn
	once             sync.Once

	mu      sync.Mutex
	pending []string // command names awaiting a reply, oldest first
}

func (c *proxyConn) close() {
	c.once.Do(func() {
		c.client.Close()
		c.upstream.Close()
	})
}

func (c *proxyConn) push(cmd string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pending = append(c.pending, cmd)
}

func (c *proxyConn) pop() (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.pending) == 0 {
		return "", false
	}
	cmd := c.pending[0]
	c.pending = c.pending[1:]
	return cmd, true
}

// setup lists the commands whose replies always go to their own connection.
func setup(cmd string) bool {
	switch cmd {
	case "", "HELLO", "AUTH", "SELECT", "CLIENT", "PING", "QUIT", "RESET", "READONLY", "READWRITE",
		"ASKING", "CLUSTER", "INFO", "COMMAND", "MULTI", "EXEC", "DISCARD", "WATCH", "UNWATCH":
		return true
	}
	return false
}

// ListenCrossReply starts a proxy listening on addr (e.g. "127.0.0.1:0")
// in front of the Redis server at upstream (host:port).
func ListenCrossReply(ctx context.Context, addr, upstream string, opts ProxyOptions) (*Proxy, error) {
	if opts.Rate < 0 || opts.Rate > 1 {
		return nil, fmt.Errorf("cross-reply proxy: rate %v is not between 0 and 1", opts.Rate)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("cross-reply proxy: %w", err)
	}
	seed := opts.Seed
	if seed == 0 {
		var b [8]byte
		_, _ = rand.Read(b[:])
		for _, x := range b {
			seed = seed<<8 | uint64(x)
		}
	}
	p := &Proxy{
		ln: ln, upstream: upstream, rate: opts.Rate, wait: opts.Wait, log: opts.Logger,
		rng:    mrand.New(mrand.NewPCG(seed, ^seed)),
		offers: map[string]*offer{}, conns: map[*proxyConn]struct{}{},
	}
	if p.wait <= 0 {
		p.wait = 10 * time.Millisecond
	}
	if p.log == nil {
		p.log = slog.Default()
	}
	// The proxy outlives the call that starts it; Close ends it.
	p.ctx, p.cancel = context.WithCancel(context.WithoutCancel(ctx))
	p.wg.Go(p.accept)
	return p, nil
}

// Addr is the address clients connect to.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Crossed is how many replies went to a connection they were not read for.
func (p *Proxy) Crossed() uint64 { return p.crossed.Load() }

// Replies is how many replies the proxy delivered.
func (p *Proxy) Replies() uint64 { return p.replies.Load() }

// Close stops listening, closes every connection and waits for the
// proxy's goroutines.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	conns := make([]*proxyConn, 0, len(p.conns))
	for c := range p.conns {
		conns = append(conns, c)
	}
	p.mu.Unlock()
	p.cancel()
	err := p.ln.Close()
	for _, c := range conns {
		c.close()
	}
	p.wg.Wait()
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("cross-reply proxy: %w", err)
	}
	return nil
}

func (p *Proxy) accept() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				p.log.Debug("cross-reply proxy: accept", "err", err)
			}
			return
		}
		p.wg.Go(func() { p.serve(client) })
	}
}

func (p *Proxy) serve(client net.Conn) {
	d := net.Dialer{Timeout: 5 * time.Second}
	upstream, err := d.DialContext(p.ctx, "tcp", p.upstream)
	if err != nil {
		p.log.Debug("cross-reply proxy: dial upstream", "err", err)
		client.Close()
		return
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		client.Close()
		upstream.Close()
		return
	}
	p.nextID++
	c := &proxyConn{id: p.nextID, client: client, upstream: upstream}
	p.conns[c] = struct{}{}
	p.mu.Unlock()
	defer func() {
		c.close()
		p.mu.Lock()
		delete(p.conns, c)
		p.mu.Unlock()
	}()
	var wg sync.WaitGroup
	wg.Go(func() {
		defer c.close()
		if err := p.requests(c); err != nil {
			p.log.Debug("cross-reply proxy: requests", "conn", c.id, "err", err)
		}
	})
	if err := p.replyLoop(c); err != nil {
		p.log.Debug("cross-reply proxy: replies", "conn", c.id, "err", err)
	}
	c.close()
	wg.Wait()
}

// requests copies commands to the server, noting each command's name
// before the server can answer it.
func (p *Proxy) requests(c *proxyConn) error {
	r := bufio.NewReader(c.client)
	w := bufio.NewWriter(c.upstream)
	for {
		raw, cmd, err := readRequest(r)
		if err != nil {
			return ignoreClosed(err)
		}
		c.push(cmd)
		if _, err := w.Write(raw); err != nil {
			return ignoreClosed(err)
		}
		if r.Buffered() == 0 {
			if err := w.Flush(); err != nil {
				return ignoreClosed(err)
			}
		}
	}
}

// replyLoop delivers the server's replies, some of them to the wrong
// connection.
func (p *Proxy) replyLoop(c *proxyConn) error {
	r := bufio.NewReader(c.upstream)
	w := bufio.NewWriter(c.client)
	for {
		reply, err := readFrame(r, nil)
		if err != nil {
			return ignoreClosed(err)
		}
		if reply[0] != '>' { // a push answers no request
			if cmd, ok := c.pop(); ok && !setup(cmd) && p.roll() {
				// Flush what is already owed before waiting for a partner.
				if err := w.Flush(); err != nil {
					return ignoreClosed(err)
				}
				reply = p.exchange(c.id, cmd, reply)
			}
		}
		p.replies.Add(1)
		if _, err := w.Write(reply); err != nil {
			return ignoreClosed(err)
		}
		if r.Buffered() == 0 {
			if err := w.Flush(); err != nil {
				return ignoreClosed(err)
			}
		}
	}
}

func (p *Proxy) roll() bool {
	if p.rate <= 0 {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rng.Float64() < p.rate
}

// exchange offers reply to another connection waiting with a reply to the
// same command, and returns the reply to deliver instead: the other
// connection's, or reply itself if no partner came within the wait.
func (p *Proxy) exchange(conn uint64, cmd string, reply []byte) []byte {
	p.mu.Lock()
	if o := p.offers[cmd]; o != nil && o.conn != conn {
		delete(p.offers, cmd)
		p.mu.Unlock()
		o.back <- reply
		p.crossed.Add(2)
		return o.reply
	}
	o := &offer{conn: conn, reply: reply, back: make(chan []byte, 1)}
	p.offers[cmd] = o
	p.mu.Unlock()
	t := time.NewTimer(p.wait)
	defer t.Stop()
	select {
	case got := <-o.back:
		return got
	case <-t.C:
	case <-p.ctx.Done():
	}
	p.mu.Lock()
	if p.offers[cmd] == o {
		delete(p.offers, cmd)
		p.mu.Unlock()
		return reply
	}
	p.mu.Unlock()
	return <-o.back // taken just now; the partner sends without blocking
}

func ignoreClosed(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}
