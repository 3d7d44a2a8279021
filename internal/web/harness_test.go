package web_test

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/server"
	"github.com/camvault/camvault/internal/sim/camera"
)

// startServer runs a real camvault server (embedded backends, the real
// public handler) on a loopback port.
func startServer(t *testing.T) *httptest.Server {
	t.Helper()
	return startServerWith(t, server.DefaultOptions())
}

// startServerWith runs a real camvault server with opts.
func startServerWith(t *testing.T, opts server.Options) *httptest.Server {
	t.Helper()
	cfg := server.Config{DataDir: t.TempDir(), Addr: "127.0.0.1:0", AdminAddr: "127.0.0.1:1"}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	app, err := server.Open(t.Context(), cfg, opts, log)
	if err != nil {
		t.Fatalf("open server: %v", err)
	}
	ctx, stop := context.WithCancel(context.Background())
	wait := app.Background(ctx)
	srv := httptest.NewServer(app.Public())
	t.Cleanup(func() {
		srv.Close()
		stop()
		wait()
		app.Close()
	})
	return srv
}

// pageSize is how many events one load of the timeline shows.
const pageSize = 24

// startCamera runs a simulated camera with its credentials, sending an
// event (thumbnail and a clip of a few frames) every 150 ms. It returns the
// number of events the server has acknowledged so far.
func startCamera(t *testing.T, base string, creds camera.Credentials) (acked func() int64) {
	t.Helper()
	var n atomic.Int64
	fleet, err := camera.NewFleet(camera.Config{
		Server:        base,
		WatermarkKey:  []byte("browser test watermark key"),
		EventInterval: 150 * time.Millisecond,
		EventJitter:   -1,
		ClipFrames:    4,
		Backoff:       camera.Backoff{Base: 10 * time.Millisecond, Cap: 200 * time.Millisecond},
		Log:           slog.New(slog.NewTextHandler(io.Discard, nil)),
		OnAck:         func(camera.Ack) { n.Add(1) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fleet.Add("front door", creds); err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fleet.Run(ctx) }()
	t.Cleanup(func() {
		stop()
		<-done
	})
	return n.Load
}
