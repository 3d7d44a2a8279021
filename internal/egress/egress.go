// Package egress keeps the connections camvault makes on behalf of a home
// (webhooks, MQTT brokers) off the operator's own network unless the
// operator allows it: an address a home's admin gives must not turn the
// server into a way into loopback, private networks or the cloud
// provider's metadata service (server-side request forgery). Addresses
// are checked when they are configured and again as every connection is
// made, after DNS resolution.
package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/camvault/camvault/internal/apperr"
)

// forbidden are the networks a webhook may not reach unless the operator
// allows private targets: a URL given by any home's admin must not turn the
// server into a way into the operator's own network or the cloud
// provider's metadata service (server-side request forgery).
var forbidden = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),      // "this network"
	netip.MustParsePrefix("10.0.0.0/8"),     // private
	netip.MustParsePrefix("100.64.0.0/10"),  // carrier-grade NAT
	netip.MustParsePrefix("127.0.0.0/8"),    // loopback
	netip.MustParsePrefix("169.254.0.0/16"), // link-local, cloud metadata
	netip.MustParsePrefix("172.16.0.0/12"),  // private
	netip.MustParsePrefix("192.0.0.0/24"),   // protocol assignments
	netip.MustParsePrefix("192.168.0.0/16"), // private
	netip.MustParsePrefix("198.18.0.0/15"),  // benchmarking
	netip.MustParsePrefix("224.0.0.0/3"),    // multicast and reserved
	netip.MustParsePrefix("::/128"),         // unspecified
	netip.MustParsePrefix("::1/128"),        // loopback
	netip.MustParsePrefix("64:ff9b:1::/48"), // local-use NAT64
	netip.MustParsePrefix("fc00::/7"),       // unique local
	netip.MustParsePrefix("fe80::/10"),      // link-local
	netip.MustParsePrefix("ff00::/8"),       // multicast
	netip.MustParsePrefix("2001:db8::/32"),  // documentation
	netip.MustParsePrefix("100::/64"),       // discard
}

// Private reports whether a is an address a webhook may not reach by
// default. IPv4 addresses written in IPv6 (::ffff:a.b.c.d) count as IPv4.
func Private(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range forbidden {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// privateRefusal is the message of a refused address.
const privateRefusal = "points to a loopback, link-local or private address; the server refuses such targets unless it runs with --allow-private-targets"

// CheckHost refuses a host that is, or resolves to, an address Private
// reports (unless allowPrivate), with a message for the person who gave
// it; what names the host (url, broker) begins the message.
func CheckHost(ctx context.Context, what, host string, allowPrivate bool, resolver *net.Resolver) error {
	if allowPrivate {
		return nil
	}
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		if Private(a) {
			return apperr.New(apperr.Invalid, "%s %s", what, privateRefusal)
		}
		return nil
	}
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return apperr.New(apperr.Invalid, "%s %s", what, privateRefusal)
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	addrs, err := resolver.LookupNetIP(ctx, "ip", host)
	if err != nil || len(addrs) == 0 {
		return apperr.New(apperr.Invalid, "%s: host %q could not be resolved", what, host)
	}
	for _, a := range addrs {
		if Private(a) {
			return apperr.New(apperr.Invalid, "%s resolves to an address that %s", what, strings.TrimPrefix(privateRefusal, "points to "))
		}
	}
	return nil
}

// ErrPrivate is a connection refused because it would reach a private
// address.
var ErrPrivate = errors.New("the target resolved to a loopback, link-local or private address")

// Control refuses a connection to a private address as it is made, after
// DNS resolution, so a name that resolves differently at connection time
// than when it was configured (DNS rebinding) reaches nothing it may not.
// It is a net.Dialer's Control.
func Control(allowPrivate bool) func(network, address string, _ syscall.RawConn) error {
	return func(network, address string, _ syscall.RawConn) error {
		if allowPrivate {
			return nil
		}
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("target %q: %w", address, err)
		}
		if Private(ap.Addr()) {
			return ErrPrivate
		}
		return nil
	}
}

// maxURL bounds a URL a home gives (a webhook's, a browser's push endpoint).
const maxURL = 2048

// CheckURL parses a URL camvault is to post to for a home or a person (a
// webhook, a push endpoint) and refuses what may not be one: anything
// but https (http too when private targets are allowed, for a receiver on
// the home's own network), credentials in it, or a host that is, or
// resolves to, a private address (unless allowed). The address is checked
// again on every connection (egress.Control), since DNS may answer
// differently later.
func CheckURL(ctx context.Context, raw string, allowPrivate bool, resolver *net.Resolver) (*url.URL, error) {
	if len(raw) > maxURL {
		return nil, apperr.New(apperr.Invalid, "url must be at most %d characters", maxURL)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return nil, apperr.New(apperr.Invalid, "url must be an absolute https:// URL")
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && allowPrivate:
	default:
		return nil, apperr.New(apperr.Invalid, "url must start with https://")
	}
	if u.User != nil {
		return nil, apperr.New(apperr.Invalid, "url must not hold a user name or password; put a token in its path or query")
	}
	if u.Fragment != "" {
		return nil, apperr.New(apperr.Invalid, "url must not have a #fragment")
	}
	if allowPrivate {
		return u, nil
	}
	if err := CheckHost(ctx, "url", u.Hostname(), allowPrivate, resolver); err != nil {
		return nil, err
	}
	return u, nil
}
