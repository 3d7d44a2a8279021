package storm

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// alerts is the storm's webhook receiver: every household adds a webhook
// pointing at it (its own path), and it checks every delivery as a
// receiver would (the Standard Webhooks signature with that household's
// secret) and as the storm must: an event or camera of another household
// is foreign. At the end every stored event must have reached its
// household's webhook at least once, through the outage.
type alerts struct {
	srv     *http.Server
	ln      net.Listener
	base    string
	secrets []atomic.Value // per account index: its webhook's secret
	accts   []*account

	received   atomic.Int64 // deliveries that verified
	foreign    atomic.Int64 // of another household, or unreadable
	badSig     atomic.Int64 // signature, timestamp or headers wrong
	mu         sync.Mutex
	deliveredE []map[string]bool // per account: event IDs delivered
}

// newAlerts starts the receiver on a loopback port.
func newAlerts(accts []*account) (*alerts, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("webhook receiver: %w", err)
	}
	a := &alerts{ln: ln, base: "http://" + ln.Addr().String(), secrets: make([]atomic.Value, len(accts)), accts: accts,
		deliveredE: make([]map[string]bool, len(accts))}
	for i := range accts {
		a.deliveredE[i] = map[string]bool{}
	}
	a.srv = &http.Server{Handler: http.HandlerFunc(a.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = a.srv.Serve(ln) }()
	return a, nil
}

func (a *alerts) close() { _ = a.srv.Close() }

// register adds each household's webhook.
func (a *alerts) register(ctx context.Context, api api) error {
	return parallel(ctx, len(a.accts), 4, func(ctx context.Context, i int) error {
		ac := a.accts[i]
		var created struct {
			Secret string `json:"secret"`
		}
		body := map[string]any{"url": fmt.Sprintf("%s/hook/%d", a.base, i), "events": []string{"event.created", "device.online", "device.offline"}}
		if err := retry(ctx, 5, func() error {
			return api.do(ctx, "POST", "/api/v1/homes/"+ac.home+"/webhooks", ac.token, body, &created, 201)
		}); err != nil {
			return fmt.Errorf("account %d: add webhook: %w", i, err)
		}
		a.secrets[i].Store(created.Secret)
		return nil
	})
}

type hookBody struct {
	Type string `json:"type"`
	Data struct {
		HomeID   string `json:"home_id"`
		DeviceID string `json:"device_id"`
		EventID  string `json:"event_id"`
	} `json:"data"`
}

func (a *alerts) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	i, perr := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/hook/"))
	if err != nil || perr != nil || i < 0 || i >= len(a.accts) {
		a.badSig.Add(1)
		w.WriteHeader(http.StatusNotFound)
		return
	}
	secret, _ := a.secrets[i].Load().(string)
	if !verifyDelivery(secret, r.Header, body) {
		if secret == "" {
			// Its secret is not recorded yet (a delivery racing the
			// answer that gave it): ask for a retry.
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		a.badSig.Add(1)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var b hookBody
	ac := a.accts[i]
	if json.Unmarshal(body, &b) != nil || b.Data.HomeID != ac.home || !ac.devices[b.Data.DeviceID] {
		a.foreign.Add(1)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	a.received.Add(1)
	if b.Type == "event.created" {
		a.mu.Lock()
		a.deliveredE[i][b.Data.EventID] = true
		a.mu.Unlock()
	}
	w.WriteHeader(http.StatusNoContent)
}

// verifyDelivery checks a delivery's Standard Webhooks signature.
func verifyDelivery(secret string, h http.Header, body []byte) bool {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	ts, err2 := strconv.ParseInt(h.Get("webhook-timestamp"), 10, 64)
	if secret == "" || err != nil || err2 != nil || time.Since(time.Unix(ts, 0)).Abs() > 5*time.Minute {
		return false
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(h.Get("webhook-id") + "." + h.Get("webhook-timestamp") + "." + string(body)))
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	for _, sig := range strings.Fields(h.Get("webhook-signature")) {
		if v, s, ok := strings.Cut(sig, ","); ok && v == "v1" && hmac.Equal([]byte(s), []byte(want)) {
			return true
		}
	}
	return false
}

// missing waits up to wait for every event listed per account to have been
// delivered to its webhook, and returns how many were not.
func (a *alerts) missing(ctx context.Context, listed []map[string][]string, wait time.Duration) int64 {
	return waitDelivered(ctx, listed, wait, func(i int, id string) bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		return a.deliveredE[i][id]
	})
}

// waitDelivered waits up to wait for every event listed per account to be
// delivered (as has says), and returns how many were not.
func waitDelivered(ctx context.Context, listed []map[string][]string, wait time.Duration, has func(account int, eventID string) bool) int64 {
	deadline := time.Now().Add(wait)
	for {
		var n int64
		for i, byDevice := range listed {
			for _, ids := range byDevice {
				for _, id := range ids {
					if !has(i, id) {
						n++
					}
				}
			}
		}
		if n == 0 || time.Now().After(deadline) || errors.Is(ctx.Err(), context.Canceled) {
			return n
		}
		select {
		case <-ctx.Done():
			return n
		case <-time.After(200 * time.Millisecond):
		}
	}
}
