package natsbus_test

import (
	"log/slog"
	"os"
	"testing"

	"github.com/camvault/camvault/internal/bus"
	"github.com/camvault/camvault/internal/bus/bustest"
	"github.com/camvault/camvault/internal/bus/natsbus"
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
