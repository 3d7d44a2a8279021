// Package simtest runs simulated cameras for the services' tests. Only
// tests import it.
package simtest

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/sim/camera"
)

// Patience bounds every wait: a limit on a hang, never a measurement.
const Patience = 20 * time.Second

// StartCamera runs one simulated camera with the device's credentials
// against the device API at url, sending no events (it streams when
// asked), until the test ends, and returns it once it is connected and
// knows its home.
func StartCamera(t *testing.T, url, deviceID, token string, watermarkKey []byte) *camera.Camera {
	t.Helper()
	f, err := camera.NewFleet(camera.Config{Server: url, WatermarkKey: watermarkKey, EventInterval: time.Hour, ClipFrames: -1,
		Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	c, err := f.Add("cam", camera.Credentials{DeviceID: deviceID, Token: token})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(t.Context()))
	done := make(chan struct{})
	go func() { defer close(done); _ = f.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	WaitFor(t, "the camera connects", func() bool { return c.Stats().Online.Load() && c.HomeID() != "" })
	return c
}

// WaitFor waits for cond, checking every 10 ms, for at most Patience.
func WaitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(Patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// LogBuffer collects a test's log output; a server logs from many
// goroutines at once.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
