// Package server wires camvault together: it checks the configuration is
// safe, loads the keys, opens the backends, builds the services and runs the
// public and admin listeners.
package server

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/camvault/camvault/internal/peer"
)

// Config is the server's configuration, from flags or CAMVAULT_ variables.
type Config struct {
	DataDir   string
	Addr      string // public listener
	AdminAddr string // health, readiness, metrics
	// WebRTCAddr is the UDP address every WebRTC live session's media
	// shares; empty: the public listener's host, any free port.
	WebRTCAddr string
	// AdminAllowRemote allows a non-loopback admin address; the operator
	// must then restrict it by network.
	AdminAllowRemote bool
	KeyFile          string // default: DataDir/master.key
	MasterKey        string // from CAMVAULT_MASTER_KEY; used instead of the key file
	TLSCert          string
	TLSKey           string
	// TrustedProxies are the TLS-terminating proxies in front of the
	// public listener (IP addresses and CIDR prefixes, comma-separated):
	// only their X-Forwarded-For and X-Forwarded-Proto are believed.
	TrustedProxies string
	// PublicURL is the server's address as browsers reach it
	// (https://host[:port]): passkeys (WebAuthn) are bound to its host and
	// accept only its origin, and mailed links point to it. Empty:
	// http://localhost:PORT for a loopback --addr with a fixed port (https
	// with --tls-cert), else passkeys are off; mail needs it given.
	PublicURL string

	// SMTP is the relay mail leaves through (smtp://user:pass@host:port,
	// upgraded with STARTTLS; smtps:// for implicit TLS); empty: this
	// server sends no mail. SMTPFrom is the sender's address; it and
	// PublicURL are required with SMTP.
	SMTP     string
	SMTPFrom string

	// Backends; empty means the embedded default inside DataDir.
	Store string // record store: postgres://... for PostgreSQL
	Blobs string // blob store: s3://BUCKET?endpoint=...&region=... for S3
	Cache string // cache: redis://... for Redis/Valkey
	Bus   string // message bus: nats://... for a NATS cluster
}

// webRTCAddr is where WebRTC media is received and sent.
func (c Config) webRTCAddr() string {
	if c.WebRTCAddr != "" {
		return c.WebRTCAddr
	}
	host, _, err := net.SplitHostPort(c.Addr)
	if err != nil {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, "0")
}

func (c Config) keyFile() string {
	if c.KeyFile != "" {
		return c.KeyFile
	}
	return filepath.Join(c.DataDir, "master.key")
}

// Check refuses an unsafe configuration (invariant 10): a public
// listener off loopback without TLS, an admin listener off loopback unless
// explicitly allowed, half a TLS configuration.
func (c Config) Check() error {
	if c.DataDir == "" {
		return errors.New("--data is required")
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("--tls-cert and --tls-key go together: give both or neither")
	}
	public, err := isLoopback(c.Addr)
	if err != nil {
		return fmt.Errorf("--addr: %w", err)
	}
	if !public && c.TLSCert == "" {
		return fmt.Errorf("--addr %s is not a loopback address: refusing to serve without TLS (give --tls-cert and --tls-key, or put a TLS proxy in front and listen on loopback)", c.Addr)
	}
	admin, err := isLoopback(c.AdminAddr)
	if err != nil {
		return fmt.Errorf("--admin-addr: %w", err)
	}
	if !admin && !c.AdminAllowRemote {
		return fmt.Errorf("--admin-addr %s is not a loopback address: the admin listener stays on loopback unless --admin-allow-remote is given", c.AdminAddr)
	}
	if c.Addr == c.AdminAddr {
		return errors.New("--addr and --admin-addr must differ")
	}
	if _, err := peer.ParseProxies(c.TrustedProxies); err != nil {
		return fmt.Errorf("--trusted-proxy: %w", err)
	}
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
			return fmt.Errorf("--public-url %q must be https://HOST[:PORT]", c.PublicURL)
		}
		local, _ := isLoopback(net.JoinHostPort(u.Hostname(), "0"))
		if u.Scheme != "https" && (u.Scheme != "http" || !local) {
			return fmt.Errorf("--public-url %q must be https (http only for localhost)", c.PublicURL)
		}
	}
	return c.checkMail()
}

// publicURL is PublicURL, or its default (see Config.PublicURL).
func (c Config) publicURL() string {
	if c.PublicURL != "" {
		return strings.TrimSuffix(c.PublicURL, "/")
	}
	// A loopback IP address is no WebAuthn relying party ID; localhost is.
	_, port, err := net.SplitHostPort(c.Addr)
	if local, _ := isLoopback(c.Addr); err != nil || !local || port == "0" || port == "" {
		return ""
	}
	scheme := "http"
	if c.TLSCert != "" {
		scheme = "https"
	}
	return scheme + "://localhost:" + port
}

// isLoopback reports whether a listen address is bound to loopback only.
// An empty host (":8080") means every interface, so it is not.
func isLoopback(addr string) (bool, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false, fmt.Errorf("%q is not HOST:PORT", addr)
	}
	if strings.EqualFold(host, "localhost") {
		return true, nil
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false, nil // a host name may resolve anywhere
	}
	return ip.IsLoopback(), nil
}
