package server

import (
	"strings"
	"testing"
)

func TestConfigCheck(t *testing.T) {
	safe := Config{DataDir: "d", Addr: "127.0.0.1:8080", AdminAddr: "127.0.0.1:8081"}
	for _, c := range []struct {
		what string
		edit func(*Config)
		want string // "" when accepted; else a part of the refusal
	}{
		{"the defaults", func(*Config) {}, ""},
		{"localhost", func(c *Config) { c.Addr, c.AdminAddr = "localhost:8080", "LOCALHOST:8081" }, ""},
		{"IPv6 loopback", func(c *Config) { c.Addr, c.AdminAddr = "[::1]:8080", "[::1]:8081" }, ""},
		{"another loopback address", func(c *Config) { c.Addr = "127.0.0.2:8080" }, ""},
		{"public with TLS", func(c *Config) { c.Addr, c.TLSCert, c.TLSKey = "0.0.0.0:443", "cert.pem", "key.pem" }, ""},
		{"remote admin, allowed", func(c *Config) { c.AdminAddr, c.AdminAllowRemote = "10.0.0.5:8081", true }, ""},
		{"no data directory", func(c *Config) { c.DataDir = "" }, "--data is required"},
		{"a certificate without its key", func(c *Config) { c.TLSCert = "cert.pem" }, "go together"},
		{"a key without its certificate", func(c *Config) { c.TLSKey = "key.pem" }, "go together"},
		{"every interface without TLS", func(c *Config) { c.Addr = ":8080" }, "without TLS"},
		{"a public address without TLS", func(c *Config) { c.Addr = "192.0.2.10:8080" }, "without TLS"},
		{"a host name without TLS", func(c *Config) { c.Addr = "camvault.example:8080" }, "without TLS"},
		{"no port", func(c *Config) { c.Addr = "127.0.0.1" }, "--addr"},
		{"remote admin", func(c *Config) { c.AdminAddr = "0.0.0.0:8081" }, "--admin-allow-remote"},
		{"admin without a port", func(c *Config) { c.AdminAddr = "localhost" }, "--admin-addr"},
		{"one address for both", func(c *Config) { c.AdminAddr = c.Addr }, "must differ"},
		{"an https public URL", func(c *Config) { c.PublicURL = "https://cams.example.org" }, ""},
		{"an http public URL on localhost", func(c *Config) { c.PublicURL = "http://localhost:8080/" }, ""},
		{"an http public URL elsewhere", func(c *Config) { c.PublicURL = "http://cams.example.org" }, "must be https"},
		{"a public URL with a path", func(c *Config) { c.PublicURL = "https://cams.example.org/app" }, "--public-url"},
		{"a public URL without a host", func(c *Config) { c.PublicURL = "https://" }, "--public-url"},
	} {
		cfg := safe
		c.edit(&cfg)
		err := cfg.Check()
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: refused: %v", c.what, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: %v, want a refusal saying %q", c.what, err, c.want)
		}
	}
}

// TestPublicURL: passkeys' relying party is the public URL given, or
// localhost on the port of a loopback --addr; none when that cannot be
// known.
func TestPublicURL(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{Addr: "127.0.0.1:8080"}, "http://localhost:8080"},
		{Config{Addr: "[::1]:9000", TLSCert: "c", TLSKey: "k"}, "https://localhost:9000"},
		{Config{Addr: "127.0.0.1:0"}, ""},
		{Config{Addr: "0.0.0.0:443", TLSCert: "c", TLSKey: "k"}, ""},
		{Config{Addr: "0.0.0.0:443", PublicURL: "https://cams.example.org/"}, "https://cams.example.org"},
	} {
		if got := c.cfg.publicURL(); got != c.want {
			t.Errorf("%+v: %q, want %q", c.cfg, got, c.want)
		}
	}
}
