// Package natsbus is the message bus on NATS: either a NATS server embedded
// in the process, listening on no port (the single-binary default), or an
// external NATS server or cluster that several camvault nodes share.
//
// Both are the same client code; only where the server runs differs, so a
// single node exercises the very paths a cluster uses.
package natsbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/camvault/camvault/internal/bus"
)

// Bus is a connection to a NATS server, with the server itself when it is
// embedded.
type Bus struct {
	nc     *nats.Conn
	srv    *server.Server // nil for an external server
	url    string         // for Connect to an external server
	log    *slog.Logger
	ctx    context.Context // handlers' context; ends on Close
	cancel context.CancelFunc
	once   sync.Once

	// Requests to every responder arrive on one channel and are handed out
	// by one goroutine. Each camera connection responds on a subject of its
	// own, and the client's callback subscriptions cost a goroutine each:
	// that would double what an idle connection costs the node.
	requests   chan *nats.Msg
	respMu     sync.RWMutex
	responders map[*nats.Subscription]bus.Responder
	dispatched sync.WaitGroup

	// Handlers run on the client's goroutines; Close waits for those
	// running, so that nothing a handler uses is closed under it. Add is
	// called only under handlersMu before closed is set.
	handlersMu sync.Mutex
	closed     bool
	handlers   sync.WaitGroup
}

// requestBuffer is how many requests may wait for the dispatcher before
// the client drops them (a dropped request times out at its sender).
const requestBuffer = 4096

var _ bus.Bus = (*Bus)(nil)

// Embedded starts a NATS server inside the process, reachable only from
// it (no listener, no port), and connects to it.
func Embedded(ctx context.Context, log *slog.Logger) (*Bus, error) {
	srv, err := server.NewServer(&server.Options{
		ServerName: "camvault-embedded",
		DontListen: true,
		NoLog:      true,
		NoSigs:     true,
	})
	if err != nil {
		return nil, fmt.Errorf("embedded bus: %w", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, errors.New("embedded bus: server did not start")
	}
	b, err := connect(ctx, log, "", nats.InProcessServer(srv))
	if err != nil {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, fmt.Errorf("embedded bus: %w", err)
	}
	b.srv = srv
	return b, nil
}

// Dial connects to an external NATS server at url (nats://...). The url may
// hold credentials, so it never appears in an error or a log line.
func Dial(ctx context.Context, url string, log *slog.Logger) (*Bus, error) {
	b, err := connect(ctx, log, url)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS: %w", err)
	}
	b.url = url
	return b, nil
}

// Connect opens another client of the same server: a second node in the
// same process, as tests run them.
func (b *Bus) Connect(ctx context.Context) (*Bus, error) {
	if b.srv != nil {
		return connect(ctx, b.log, "", nats.InProcessServer(b.srv))
	}
	return Dial(ctx, b.url, b.log)
}

func connect(ctx context.Context, log *slog.Logger, url string, extra ...nats.Option) (*Bus, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	opts := append([]nats.Option{
		nats.Name("camvault"),
		nats.Timeout(5 * time.Second),
		// A node keeps trying to reach the bus for as long as it runs: the
		// client resubscribes by itself once the server is back.
		nats.MaxReconnects(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("bus disconnected; reconnecting", "err", err)
			}
		}),
		nats.ReconnectHandler(func(*nats.Conn) { log.Info("bus reconnected") }),
		nats.ErrorHandler(func(_ *nats.Conn, s *nats.Subscription, err error) {
			subj := ""
			if s != nil {
				subj = s.Subject
			}
			log.Warn("bus error", "subject", subj, "err", err)
		}),
	}, extra...)
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, err
	}
	hctx, cancel := context.WithCancel(context.Background())
	b := &Bus{nc: nc, log: log, ctx: hctx, cancel: cancel,
		requests: make(chan *nats.Msg, requestBuffer), responders: map[*nats.Subscription]bus.Responder{}}
	b.dispatched.Go(b.dispatch)
	return b, nil
}

// dispatch hands each request to its subscription's responder, on a
// goroutine of its own (a responder may wait on a slow camera) until the
// bus closes.
func (b *Bus) dispatch() {
	for {
		select {
		case <-b.ctx.Done():
			return
		case m := <-b.requests:
			if m.Reply == "" {
				continue // a publish, not a request: nobody waits for an answer
			}
			// Respond registers a subscription under this lock before any
			// message can reach it, so the lookup never misses a live one.
			b.respMu.RLock()
			r, ok := b.responders[m.Sub]
			b.respMu.RUnlock()
			if !ok {
				continue // unsubscribed meanwhile
			}
			b.dispatched.Go(func() {
				reply, ok := r(b.ctx, m.Data)
				if !ok {
					return
				}
				if err := m.Respond(reply); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
					b.log.Warn("bus: sending a reply", "subject", m.Subject, "err", err)
				}
			})
		}
	}
}

// Publish sends data to every subscriber of s.
func (b *Bus) Publish(ctx context.Context, s bus.Subject, data []byte) error {
	if !s.Valid() {
		return errors.New("bus: publish to an unset subject")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := b.nc.Publish(s.String(), data); err != nil {
		return fmt.Errorf("publish %s: %w", s, mapErr(err))
	}
	return nil
}

// Subscribe delivers messages published to s to h.
func (b *Bus) Subscribe(ctx context.Context, s bus.Subject, h bus.Handler) (bus.Subscription, error) {
	return b.subscribe(ctx, s, func(m *nats.Msg) {
		if !b.enterHandler() {
			return // closing
		}
		defer b.handlers.Done()
		h(b.ctx, m.Data)
	})
}

// enterHandler counts a handler as running, unless the bus is closing.
func (b *Bus) enterHandler() bool {
	b.handlersMu.Lock()
	defer b.handlersMu.Unlock()
	if b.closed {
		return false
	}
	b.handlers.Add(1)
	return true
}

// Respond answers requests sent to s with r.
func (b *Bus) Respond(ctx context.Context, s bus.Subject, r bus.Responder) (bus.Subscription, error) {
	if !s.Valid() {
		return nil, errors.New("bus: subscribe to an unset subject")
	}
	b.respMu.Lock()
	sub, err := b.nc.ChanSubscribe(s.String(), b.requests)
	if err == nil {
		b.responders[sub] = r
	}
	b.respMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("subscribe %s: %w", s, mapErr(err))
	}
	forget := func() {
		b.respMu.Lock()
		delete(b.responders, sub)
		b.respMu.Unlock()
	}
	if err := b.flushSubscribed(ctx, s, sub); err != nil {
		forget()
		return nil, err
	}
	return subscription{nc: b.nc, s: sub, forget: forget}, nil
}

func (b *Bus) subscribe(ctx context.Context, s bus.Subject, cb nats.MsgHandler) (bus.Subscription, error) {
	if !s.Valid() {
		return nil, errors.New("bus: subscribe to an unset subject")
	}
	sub, err := b.nc.Subscribe(s.String(), cb)
	if err != nil {
		return nil, fmt.Errorf("subscribe %s: %w", s, mapErr(err))
	}
	if err := b.flushSubscribed(ctx, s, sub); err != nil {
		return nil, err
	}
	return subscription{nc: b.nc, s: sub}, nil
}

// flushSubscribed waits until the server has the subscription: once it
// answers a ping sent after it, a message published by any node reaches
// it. On failure the subscription is dropped.
func (b *Bus) flushSubscribed(ctx context.Context, s bus.Subject, sub *nats.Subscription) error {
	fctx, cancel := flushContext(ctx)
	defer cancel()
	if err := b.nc.FlushWithContext(fctx); err != nil {
		_ = sub.Unsubscribe()
		return fmt.Errorf("subscribe %s: %w", s, mapErr(err))
	}
	return nil
}

// flushContext gives ctx a deadline when it has none: the client refuses
// to flush without one.
func flushContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, 10*time.Second)
}

// Request sends data to a responder of s and returns its reply.
func (b *Bus) Request(ctx context.Context, s bus.Subject, data []byte, timeout time.Duration) ([]byte, error) {
	if !s.Valid() {
		return nil, errors.New("bus: request to an unset subject")
	}
	if timeout <= 0 {
		return nil, fmt.Errorf("bus: request %s: timeout must be positive", s)
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	m, err := b.nc.RequestWithContext(rctx, s.String(), data)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("request %s: %w", s, ctx.Err())
		}
		return nil, fmt.Errorf("request %s: %w", s, mapErr(err))
	}
	return m.Data, nil
}

// Close ends the connection and, when embedded, the server. It returns
// once no handler or responder runs any more (their context ends first).
func (b *Bus) Close() error {
	b.once.Do(func() {
		b.handlersMu.Lock()
		b.closed = true
		b.handlersMu.Unlock()
		b.cancel()
		b.nc.Close()
		b.handlers.Wait()
		b.dispatched.Wait()
		if b.srv != nil {
			b.srv.Shutdown()
			b.srv.WaitForShutdown()
		}
	})
	return nil
}

// Ping checks the connection is up, for readiness.
func (b *Bus) Ping(ctx context.Context) error {
	fctx, cancel := flushContext(ctx)
	defer cancel()
	if err := b.nc.FlushWithContext(fctx); err != nil {
		return fmt.Errorf("bus: %w", mapErr(err))
	}
	return nil
}

func mapErr(err error) error {
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return fmt.Errorf("%w (%w)", bus.ErrNoResponders, err)
	case errors.Is(err, nats.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%w (%w)", bus.ErrTimeout, err)
	case errors.Is(err, nats.ErrConnectionClosed):
		return fmt.Errorf("%w (%w)", bus.ErrClosed, err)
	}
	return err
}

type subscription struct {
	nc     *nats.Conn
	s      *nats.Subscription
	forget func() // drops a responder's entry; nil for a handler
}

// Unsubscribe returns once the server has dropped the subscription, so a
// request sent afterwards by any node finds no responder here rather than
// waiting for a reply that would never come.
func (s subscription) Unsubscribe() error {
	err := s.s.Unsubscribe()
	if s.forget != nil {
		s.forget()
	}
	if errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, nats.ErrBadSubscription) {
		return nil // gone already
	}
	if err != nil {
		return fmt.Errorf("unsubscribe %s: %w", s.s.Subject, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.nc.FlushWithContext(ctx); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
		return fmt.Errorf("unsubscribe %s: %w", s.s.Subject, mapErr(err))
	}
	return nil
}
