package web_test

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/deviceclient"
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
// number of events the server has acknowledged so far, and the camera.
func startCamera(t *testing.T, base string, creds camera.Credentials) (acked func() int64, cam *camera.Camera) {
	t.Helper()
	var n atomic.Int64
	cam = runCamera(t, creds, camera.Config{Server: base, EventInterval: 150 * time.Millisecond, ClipFrames: 4,
		OnAck: func(camera.Ack) { n.Add(1) }})
	return n.Load, cam
}

// startLiveCamera runs a simulated camera that sends no events: it only
// streams when asked.
func startLiveCamera(t *testing.T, base string, creds camera.Credentials) {
	t.Helper()
	runCamera(t, creds, camera.Config{Server: base, EventInterval: time.Hour, ClipFrames: -1})
}

// runCamera runs one simulated camera with cfg, on the tests' watermark
// key, quick backoff and no log, until the test ends.
func runCamera(t *testing.T, creds camera.Credentials, cfg camera.Config) *camera.Camera {
	t.Helper()
	cfg.WatermarkKey = []byte("browser test watermark key")
	cfg.EventJitter = -1
	cfg.Backoff = deviceclient.Backoff{Base: 10 * time.Millisecond, Cap: 200 * time.Millisecond}
	cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	fleet, err := camera.NewFleet(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cam, err := fleet.Add("front door", creds)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fleet.Run(ctx) }()
	t.Cleanup(func() {
		stop()
		<-done
	})
	return cam
}
