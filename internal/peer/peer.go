// Package peer says who a request came from and how: the client's address
// and whether it reached camvault over HTTPS. Without trusted proxies that
// is the TCP peer and the listener's own TLS. Behind a TLS-terminating
// proxy the operator names (--trusted-proxy), the proxy's
// X-Forwarded-For and X-Forwarded-Proto are believed, and only from it: a
// header any other client writes is ignored, so no client can pick the
// address the login throttle counts it under or claim HTTPS it does not
// have.
package peer

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Info is what is known of a request's client.
type Info struct {
	Addr    string // the client's IP address
	HTTPS   bool   // the client's connection was TLS (to camvault or to the trusted proxy)
	Proxied bool   // the request came through a trusted proxy
	// Loopback: the client is on this machine, over plain HTTP with no
	// proxy in between (a browser beside the server).
	Loopback bool
}

type ctxKey struct{}

// Of returns what the Trusted middleware found for r, or, for a request
// that did not pass it, what the connection alone says.
func Of(r *http.Request) Info {
	if v, ok := r.Context().Value(ctxKey{}).(Info); ok {
		return v
	}
	return direct(r)
}

func direct(r *http.Request) Info {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	in := Info{Addr: host, HTTPS: r.TLS != nil}
	if ip, err := netip.ParseAddr(host); err == nil && ip.IsLoopback() && r.TLS == nil {
		in.Loopback = true
	}
	return in
}

// Proxies are the addresses of the trusted proxies.
type Proxies []netip.Prefix

// ParseProxies reads a comma-separated list of IP addresses and CIDR
// prefixes ("127.0.0.1", "10.0.0.0/8").
func ParseProxies(s string) (Proxies, error) {
	var out Proxies
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, fmt.Errorf("trusted proxy %q is not an IP address or CIDR prefix", f)
			}
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q is not an IP address or CIDR prefix", f)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

func (ps Proxies) trusts(host string) bool {
	a, err := netip.ParseAddr(strings.TrimSpace(host))
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Trusted records each request's Info for Of: from the trusted proxies'
// headers when the TCP peer is one of them, from the connection
// otherwise. The client is the rightmost X-Forwarded-For address that is
// not itself a trusted proxy (the ones to its left are what the client
// wrote); the scheme is the last X-Forwarded-Proto value, the one the
// nearest proxy added.
func (ps Proxies) Trusted(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		in := direct(r)
		forwarded := r.Header.Get("X-Forwarded-For") != "" || r.Header.Get("X-Forwarded-Proto") != ""
		// A trusted proxy's own request without forwarding headers (a
		// browser on the proxy's machine, a health check) is a direct one.
		if len(ps) > 0 && forwarded && ps.trusts(in.Addr) {
			in.Proxied, in.Loopback = true, false
			hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
			for i := len(hops) - 1; i >= 0; i-- {
				h := strings.TrimSpace(hops[i])
				if h == "" {
					continue
				}
				if _, err := netip.ParseAddr(h); err != nil {
					break // garbage: keep the last address known good
				}
				in.Addr = h
				if !ps.trusts(h) {
					break
				}
			}
			if protos := r.Header.Values("X-Forwarded-Proto"); len(protos) > 0 {
				vals := strings.Split(protos[len(protos)-1], ",")
				in.HTTPS = in.HTTPS || strings.EqualFold(strings.TrimSpace(vals[len(vals)-1]), "https")
			}
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, in)))
	})
}
