package webhook

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
)

// TestSignMatchesTheStandardWebhooksVector: the signature of the
// specification's published example, which every receiver library checks
// against.
func TestSignMatchesTheStandardWebhooksVector(t *testing.T) {
	got, err := Sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Fatalf("signature %q, want %q", got, want)
	}
	if _, err := Sign("whsec_not base64!", "msg", 1, nil); err == nil {
		t.Fatal("a secret that is not base64 signed something")
	}
}

// TestPrivateAddresses: what a webhook may not reach without
// --allow-private-targets, IPv4 written as IPv6 included.
func TestPrivateAddresses(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1": true, "127.255.0.9": true, "10.0.0.1": true, "172.16.5.4": true, "172.31.255.255": true, "192.168.0.1": true,
		"169.254.169.254": true, "100.64.0.1": true, "0.0.0.0": true, "224.0.0.251": true, "255.255.255.255": true,
		"::1": true, "::": true, "fe80::1": true, "fd00::1": true, "::ffff:127.0.0.1": true, "::ffff:10.1.1.1": true, "ff02::1": true,
		"93.184.215.14": false, "172.32.0.1": false, "8.8.8.8": false, "2606:4700::1111": false, "::ffff:8.8.8.8": false,
	} {
		if got := private(netip.MustParseAddr(addr)); got != want {
			t.Errorf("private(%s) = %v, want %v", addr, got, want)
		}
	}
}

// TestConnectionsToPrivateAddressesRefused: the check made as each
// connection is made, after DNS, so a name that resolves to a private
// address later (DNS rebinding) still reaches nothing.
func TestConnectionsToPrivateAddressesRefused(t *testing.T) {
	check := dialControl(false)
	for _, addr := range []string{"127.0.0.1:443", "[::1]:443", "[::ffff:10.0.0.1]:443", "169.254.169.254:80"} {
		if err := check("tcp", addr, nil); !errors.Is(err, errPrivate) {
			t.Errorf("connect to %s: %v, want refused", addr, err)
		}
	}
	if err := check("tcp", "93.184.215.14:443", nil); err != nil {
		t.Errorf("connect to a public address: %v", err)
	}
	if err := dialControl(true)("tcp", "127.0.0.1:443", nil); err != nil {
		t.Errorf("with private targets allowed: %v", err)
	}
	// Through a real dialer: refused before any packet is sent.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	d := net.Dialer{Control: dialControl(false)}
	if c, err := d.DialContext(context.Background(), "tcp", ln.Addr().String()); !errors.Is(err, errPrivate) {
		if c != nil {
			c.Close()
		}
		t.Fatalf("dial a loopback listener: %v, want refused", err)
	}
}

// TestURLsChecked: the URLs refused whatever they resolve to, and those
// allowed with private targets.
func TestURLsChecked(t *testing.T) {
	ctx := t.Context()
	for _, u := range []string{"http://93.184.215.14/", "https://127.0.0.1/", "https://[::1]/", "https://localhost/", "https://a.localhost/",
		"https://10.0.0.1/", "https://u:p@93.184.215.14/", "https://93.184.215.14/#x", "mailto:a@b", "/relative", "https://"} {
		if _, err := checkURL(ctx, u, false, net.DefaultResolver); err == nil {
			t.Errorf("%q accepted", u)
		}
	}
	for _, u := range []string{"https://93.184.215.14/hook?token=x", "https://[2606:4700::1111]:8443/h"} {
		if _, err := checkURL(ctx, u, false, net.DefaultResolver); err != nil {
			t.Errorf("%q refused: %v", u, err)
		}
	}
	for _, u := range []string{"http://192.168.1.20:8123/api/webhook/x", "https://localhost/"} {
		if _, err := checkURL(ctx, u, true, net.DefaultResolver); err != nil {
			t.Errorf("%q refused with private targets allowed: %v", u, err)
		}
	}
}
