package egress

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
)

// TestPrivateAddresses: what a webhook may not reach without
// --allow-private-targets, IPv4 written as IPv6 included.
func TestPrivateAddresses(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1": true, "127.255.0.9": true, "10.0.0.1": true, "172.16.5.4": true, "172.31.255.255": true, "192.168.0.1": true,
		"169.254.169.254": true, "100.64.0.1": true, "0.0.0.0": true, "224.0.0.251": true, "255.255.255.255": true,
		"::1": true, "::": true, "fe80::1": true, "fd00::1": true, "::ffff:127.0.0.1": true, "::ffff:10.1.1.1": true, "ff02::1": true,
		"93.184.215.14": false, "172.32.0.1": false, "8.8.8.8": false, "2606:4700::1111": false, "::ffff:8.8.8.8": false,
	} {
		if got := Private(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Private(%s) = %v, want %v", addr, got, want)
		}
	}
}

// TestConnectionsToPrivateAddressesRefused: the check made as each
// connection is made, after DNS, so a name that resolves to a private
// address later (DNS rebinding) still reaches nothing.
func TestConnectionsToPrivateAddressesRefused(t *testing.T) {
	check := Control(false)
	for _, addr := range []string{"127.0.0.1:443", "[::1]:443", "[::ffff:10.0.0.1]:443", "169.254.169.254:80"} {
		if err := check("tcp", addr, nil); !errors.Is(err, ErrPrivate) {
			t.Errorf("connect to %s: %v, want refused", addr, err)
		}
	}
	if err := check("tcp", "93.184.215.14:443", nil); err != nil {
		t.Errorf("connect to a public address: %v", err)
	}
	if err := Control(true)("tcp", "127.0.0.1:443", nil); err != nil {
		t.Errorf("with private targets allowed: %v", err)
	}
	// Through a real dialer: refused before any packet is sent.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	d := net.Dialer{Control: Control(false)}
	if c, err := d.DialContext(context.Background(), "tcp", ln.Addr().String()); !errors.Is(err, ErrPrivate) {
		if c != nil {
			c.Close()
		}
		t.Fatalf("dial a loopback listener: %v, want refused", err)
	}
}
