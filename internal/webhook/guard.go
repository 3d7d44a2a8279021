package webhook

import (
	"context"
	"net"
	"net/url"

	"github.com/camvault/camvault/internal/apperr"
	"github.com/camvault/camvault/internal/egress"
)

// maxURL bounds a webhook's URL.
const maxURL = 2048

// checkURL parses a webhook URL and refuses what may not be one: anything
// but https (http too when private targets are allowed, for a receiver on
// the home's own network), credentials in it, or a host that is, or
// resolves to, a private address (unless allowed). The address is checked
// again on every connection (egress.Control), since DNS may answer
// differently later.
func checkURL(ctx context.Context, raw string, allowPrivate bool, resolver *net.Resolver) (*url.URL, error) {
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
	if err := egress.CheckHost(ctx, "url", u.Hostname(), allowPrivate, resolver); err != nil {
		return nil, err
	}
	return u, nil
}
