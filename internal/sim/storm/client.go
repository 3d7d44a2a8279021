package storm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// counters are what the clients saw, counted on the client side.
type counters struct {
	requests      atomic.Int64 // HTTP requests answered (any status), WebSocket dials included
	shed503       atomic.Int64 // answers with status 503
	connects      atomic.Int64 // WebSocket upgrades (101): admitted camera connections
	transportErrs atomic.Int64 // requests that got no answer
	uploads       atomic.Int64 // uploads answered 200 or 201
	uploadMillis  Histogram    // their latency, request start to answer
	others        *others      // --hostile: every upload, in its window
}

// counting wraps a RoundTripper to count what comes back. It never wraps
// the response body: a WebSocket upgrade needs the original one.
type counting struct {
	next http.RoundTripper
	c    *counters
}

func (t counting) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	res, err := t.next.RoundTrip(req)
	upload := req.Method == http.MethodPost && strings.HasSuffix(req.URL.Path, "/api/v1/device/events")
	if err != nil {
		t.c.transportErrs.Add(1)
		if upload {
			t.c.others.upload(start, false)
		}
		return nil, err
	}
	t.c.requests.Add(1)
	if upload {
		t.c.others.upload(start, res.StatusCode == http.StatusOK || res.StatusCode == http.StatusCreated)
	}
	switch res.StatusCode {
	case http.StatusServiceUnavailable:
		t.c.shed503.Add(1)
	case http.StatusSwitchingProtocols:
		t.c.connects.Add(1)
	case http.StatusOK, http.StatusCreated:
		if upload {
			t.c.uploads.Add(1)
			t.c.uploadMillis.Add(float64(time.Since(start)) / float64(time.Millisecond))
		}
	}
	return res, nil
}

// newAPITransport is the one transport every camera upload and viewer
// request shares: enough idle connections for all of them at once, so a
// busy run does not churn through ephemeral ports.
func newAPITransport(conns int) *http.Transport {
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          conns,
		MaxIdleConnsPerHost:   conns,
		MaxConnsPerHost:       conns,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: 2 * time.Minute,
		ExpectContinueTimeout: time.Second,
	}
}

// transportFrom is an HTTP transport whose connections come from the
// local address ip (any of 127.0.0.0/8 reaches a server on loopback), so
// the server sees them as a client address of their own.
func transportFrom(ip net.IP, conns int) *http.Transport {
	t := newAPITransport(conns)
	t.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, LocalAddr: &net.TCPAddr{IP: ip}}).DialContext
	return t
}

// newWSTransport is the transport camera connections are dialled
// through. An upgraded connection leaves the transport's pool, so it has
// no per-host limit; it speaks HTTP/1.1 only, which the upgrade needs.
func newWSTransport() *http.Transport {
	return &http.Transport{
		Proxy: nil,
		// On loopback a connection is made at once unless the server's
		// accept queue overflowed and dropped the SYN; then the kernel would
		// retry it for a minute while the attempt holds one of the fleet's
		// few dial slots. Give up after the first retransmission and let
		// the camera's backoff decide, as a camera on its own would.
		DialContext:           (&net.Dialer{Timeout: 3 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          16,
		IdleConnTimeout:       30 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
	}
}

// apiError is an answer with an unexpected status.
type apiError struct {
	Method, Path string
	Status       int
	Body         string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s %s: %d %s", e.Method, e.Path, e.Status, e.Body)
}

// api speaks camvault's public API as a person.
type api struct {
	client *http.Client
	base   string
}

// do sends a JSON request and decodes a JSON answer into out (if not nil).
// Any status but want is an *apiError.
func (a api) do(ctx context.Context, method, path, token string, body, out any, want int) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("%s %s: encode: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := a.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if res.StatusCode != want {
		return &apiError{Method: method, Path: path, Status: res.StatusCode, Body: string(bytes.TrimSpace(raw[:min(len(raw), 512)]))}
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
		}
	}
	return nil
}

// retry runs fn until it succeeds, ctx ends or attempts run out, waiting
// between attempts. It retries transport errors and 5xx answers (the
// server may be busy or restarting), nothing else.
func retry(ctx context.Context, attempts int, fn func() error) error {
	var err error
	wait := 100 * time.Millisecond
	for range attempts {
		if err = fn(); err == nil {
			return nil
		}
		var ae *apiError
		if errors.As(err, &ae) && ae.Status < 500 {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last error: %w)", ctx.Err(), err)
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
	return err
}
