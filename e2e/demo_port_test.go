package e2e

import (
	"net"
	"strings"
	"testing"
)

// TestDemoPortInUse: `camvault demo --addr` on a port another program
// holds says so and how to pick another, rather than talking to that
// program as if it were camvault.
func TestDemoPortInUse(t *testing.T) {
	other, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	out, code := run(t, "demo", "--addr", other.Addr().String(), "--admin-addr", freeAddr(t))
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	for _, want := range []string{other.Addr().String(), "in use by another program", "--addr 127.0.0.1:PORT"} {
		if !strings.Contains(out, want) {
			t.Errorf("camvault demo said %q; want it to mention %q", out, want)
		}
	}
}
