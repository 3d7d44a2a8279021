package storm

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/camvault/camvault/internal/sim/pushclient"
)

// pushes is the storm's browsers and their push service: every household's
// owner turns notifications on for a browser of their own, and each push
// is checked as that browser would (the server's VAPID token, then the
// payload decrypted with that browser's key): a push that does not open
// with the household's key, or names another home, is foreign
// (alerts_foreign). At the end every stored event must have been pushed
// to its household at least once, through the outage.
type pushes struct {
	srv      *http.Server
	ln       net.Listener
	base     string
	vapid    string
	browsers []*pushclient.Browser
	accts    []*account

	received  atomic.Int64 // pushes that opened and were of their household
	foreign   atomic.Int64
	mu        sync.Mutex
	delivered []map[string]bool // per account: event IDs pushed
}

// newPushes starts the push service on a loopback port, with a browser for
// each household.
func newPushes(accts []*account) (*pushes, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("push service: %w", err)
	}
	p := &pushes{ln: ln, base: "http://" + ln.Addr().String(), accts: accts,
		browsers: make([]*pushclient.Browser, len(accts)), delivered: make([]map[string]bool, len(accts))}
	for i := range accts {
		if p.browsers[i], err = pushclient.New(); err != nil {
			ln.Close()
			return nil, err
		}
		p.delivered[i] = map[string]bool{}
	}
	p.srv = &http.Server{Handler: http.HandlerFunc(p.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

func (p *pushes) close() { _ = p.srv.Close() }

// register turns notifications on for each household's browser.
func (p *pushes) register(ctx context.Context, api api) error {
	var key struct {
		Key string `json:"key"`
	}
	if err := retry(ctx, 5, func() error { return api.do(ctx, "GET", "/api/v1/push/vapid-public-key", "", nil, &key, 200) }); err != nil {
		return fmt.Errorf("read the VAPID key: %w", err)
	}
	p.vapid = key.Key
	return parallel(ctx, len(p.accts), 4, func(ctx context.Context, i int) error {
		p256dh, auth := p.browsers[i].Keys()
		body := map[string]any{"endpoint": fmt.Sprintf("%s/push/%d", p.base, i), "keys": map[string]string{"p256dh": p256dh, "auth": auth}}
		if err := retry(ctx, 5, func() error {
			return api.do(ctx, "POST", "/api/v1/push/subscriptions", p.accts[i].token, body, nil, 201)
		}); err != nil {
			return fmt.Errorf("account %d: turn notifications on: %w", i, err)
		}
		return nil
	})
}

func (p *pushes) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 8<<10))
	i, perr := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/push/"))
	if err != nil || perr != nil || i < 0 || i >= len(p.accts) {
		p.foreign.Add(1)
		w.WriteHeader(http.StatusNotFound)
		return
	}
	if err := pushclient.CheckVAPID(r.Header.Get("Authorization"), p.vapid, p.base, time.Now()); err != nil {
		p.foreign.Add(1)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	plain, err := p.browsers[i].Open(body)
	var payload struct {
		EventID string `json:"event_id"`
		HomeID  string `json:"home_id"`
	}
	if err != nil || json.Unmarshal(plain, &payload) != nil || payload.HomeID != p.accts[i].home {
		p.foreign.Add(1)
		w.WriteHeader(http.StatusCreated) // taken; counted
		return
	}
	p.received.Add(1)
	p.mu.Lock()
	p.delivered[i][payload.EventID] = true
	p.mu.Unlock()
	w.WriteHeader(http.StatusCreated)
}

// missing waits up to wait for every event listed per account to have been
// pushed to its household, and returns how many were not.
func (p *pushes) missing(ctx context.Context, listed []map[string][]string, wait time.Duration) int64 {
	return waitDelivered(ctx, listed, wait, func(i int, id string) bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.delivered[i][id]
	})
}
