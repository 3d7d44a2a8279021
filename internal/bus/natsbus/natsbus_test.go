package natsbus_test

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/bus"
	"github.com/camvault/camvault/internal/bus/bustest"
	"github.com/camvault/camvault/internal/bus/natsbus"
	"github.com/camvault/camvault/internal/id"
)

func TestEmbedded(t *testing.T) {
	bustest.Run(t, func(t *testing.T) (bus.Bus, bus.Bus) {
		a, err := natsbus.Embedded(t.Context(), slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		b, err := a.Connect(t.Context())
		if err != nil {
			a.Close()
			t.Fatal(err)
		}
		// b first: a's close stops the server b talks to.
		t.Cleanup(func() { b.Close(); a.Close() })
		return a, b
	})
}

// TestExternal runs the suite against the NATS server named by
// CAMVAULT_TEST_NATS. Unset, it skips; set but unreachable, it fails.
func TestExternal(t *testing.T) {
	url := os.Getenv("CAMVAULT_TEST_NATS")
	if url == "" {
		t.Skip("CAMVAULT_TEST_NATS is not set (e.g. nats://127.0.0.1:4222)")
	}
	bustest.Run(t, func(t *testing.T) (bus.Bus, bus.Bus) {
		log := slog.New(slog.DiscardHandler)
		a, err := natsbus.Dial(t.Context(), url, log)
		if err != nil {
			t.Fatalf("CAMVAULT_TEST_NATS is set but NATS is not reachable: %v", err)
		}
		b, err := natsbus.Dial(t.Context(), url, log)
		if err != nil {
			a.Close()
			t.Fatalf("CAMVAULT_TEST_NATS is set but NATS is not reachable: %v", err)
		}
		t.Cleanup(func() { b.Close(); a.Close() })
		return a, b
	})
}

func TestDialRefusesUnreachable(t *testing.T) {
	// Port 1 on loopback: nobody listens there.
	if b, err := natsbus.Dial(t.Context(), "nats://127.0.0.1:1", slog.New(slog.DiscardHandler)); err == nil {
		b.Close()
		t.Fatal("dial to an address nobody listens on succeeded")
	}
}

// BenchmarkRequest measures a request answered by another client of the
// bus, as a command to a camera held by another node travels: embedded,
// and against CAMVAULT_TEST_NATS when it is set.
func BenchmarkRequest(b *testing.B) {
	log := slog.New(slog.DiscardHandler)
	run := func(b *testing.B, asker, responder *natsbus.Bus) {
		s, err := bus.NewSubject("command", id.New())
		if err != nil {
			b.Fatal(err)
		}
		sub, err := responder.Respond(b.Context(), s, func(_ context.Context, data []byte) ([]byte, bool) { return data, true })
		if err != nil {
			b.Fatal(err)
		}
		defer sub.Unsubscribe()
		req := []byte(`{"device_id":"x","home_id":"y","id":"z","command":"snapshot"}`)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := asker.Request(b.Context(), s, req, 10*time.Second); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("embedded", func(b *testing.B) {
		a, err := natsbus.Embedded(b.Context(), log)
		if err != nil {
			b.Fatal(err)
		}
		defer a.Close()
		c, err := a.Connect(b.Context())
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		run(b, a, c)
	})
	b.Run("external", func(b *testing.B) {
		url := os.Getenv("CAMVAULT_TEST_NATS")
		if url == "" {
			b.Skip("CAMVAULT_TEST_NATS is not set")
		}
		a, err := natsbus.Dial(b.Context(), url, log)
		if err != nil {
			b.Fatal(err)
		}
		defer a.Close()
		c, err := natsbus.Dial(b.Context(), url, log)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		run(b, a, c)
	})
}
