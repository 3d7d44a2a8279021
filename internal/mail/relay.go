// Package mail sends the mail camvault writes to people (password resets,
// warnings of a login from a new device) through the SMTP relay the
// operator configures (--smtp). Mail waits in an outbox in the store,
// sealed, and a sender owned by the server sends it, retrying with
// backoff; see docs/design/mail.md.
package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/smtp"
	"net/url"
	"os"
	"strings"
	"time"
)

// Relay is the SMTP relay mail leaves through.
type Relay struct {
	// Host and Port: where the relay listens.
	Host string
	Port string
	// ImplicitTLS: TLS from the first byte (smtps://, usually port 465);
	// otherwise the connection is upgraded with STARTTLS (smtp://).
	ImplicitTLS bool
	Username    string
	Password    string
	// TLS, if set, is used for the relay's TLS (tests give their own
	// roots); its ServerName is set to Host when empty.
	TLS *tls.Config
	// Dial, if set, opens the connection instead of a net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// ErrNoTLS is the error of a relay that offers no STARTTLS while it is
// not on loopback: credentials and reset links would cross the network in
// the clear.
var ErrNoTLS = errors.New("the SMTP relay does not offer STARTTLS: refusing to send mail in the clear to a relay off loopback (use smtps:// or a relay that offers STARTTLS)")

// ParseRelay reads --smtp: smtp://[user[:password]@]host[:port] (default
// port 587) or smtps://[user[:password]@]host[:port] (default port 465).
func ParseRelay(raw string) (Relay, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Relay{}, errors.New("--smtp is not a URL (smtp://user:password@host:port or smtps://...)")
	}
	var r Relay
	switch u.Scheme {
	case "smtp":
		r.Port = "587"
	case "smtps":
		r.Port, r.ImplicitTLS = "465", true
	default:
		return Relay{}, fmt.Errorf("--smtp: scheme %q: want smtp:// (STARTTLS) or smtps:// (implicit TLS)", u.Scheme)
	}
	r.Host = u.Hostname()
	if r.Host == "" {
		return Relay{}, errors.New("--smtp names no host")
	}
	if p := u.Port(); p != "" {
		r.Port = p
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return Relay{}, errors.New("--smtp takes only user, password, host and port")
	}
	if u.User != nil {
		r.Username = u.User.Username()
		r.Password, _ = u.User.Password()
	}
	return r, nil
}

// String is the relay without its password, for logs.
func (r Relay) String() string {
	scheme := "smtp"
	if r.ImplicitTLS {
		scheme = "smtps"
	}
	user := ""
	if r.Username != "" {
		user = url.User(r.Username).String() + "@"
	}
	return scheme + "://" + user + net.JoinHostPort(r.Host, r.Port)
}

// Loopback reports whether the relay's configured host is on loopback
// ("localhost" or a loopback address): only there may mail go without
// TLS. The name as configured decides, not what it resolves to.
func (r Relay) Loopback() bool {
	if strings.EqualFold(r.Host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(r.Host)
	return err == nil && a.IsLoopback()
}

// RequireTLS reports whether a relay that offers no STARTTLS is refused.
func (r Relay) RequireTLS() bool { return !r.ImplicitTLS && !r.Loopback() }

func (r Relay) tlsConfig() *tls.Config {
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if r.TLS != nil {
		c = r.TLS.Clone()
	}
	if c.ServerName == "" {
		c.ServerName = r.Host
	}
	return c
}

// Send delivers one message to one recipient. It gives up when ctx ends.
func (r Relay) Send(ctx context.Context, from, to string, msg []byte) (err error) {
	dial := r.Dial
	if dial == nil {
		d := &net.Dialer{Timeout: 30 * time.Second}
		dial = d.DialContext
	}
	conn, err := dial(ctx, "tcp", net.JoinHostPort(r.Host, r.Port))
	if err != nil {
		return fmt.Errorf("connect to the SMTP relay: %w", err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	// An ended context cuts the connection wherever the exchange is.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if r.ImplicitTLS {
		tc := tls.Client(conn, r.tlsConfig())
		if err := tc.HandshakeContext(ctx); err != nil {
			return fmt.Errorf("TLS with the SMTP relay: %w", err)
		}
		conn = tc
	}
	c, err := smtp.NewClient(conn, r.Host)
	if err != nil {
		return fmt.Errorf("SMTP greeting: %w", err)
	}
	defer c.Close()
	if err := c.Hello(helloName()); err != nil {
		return fmt.Errorf("SMTP EHLO: %w", err)
	}
	if !r.ImplicitTLS {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(r.tlsConfig()); err != nil {
				return fmt.Errorf("SMTP STARTTLS: %w", err)
			}
		} else if r.RequireTLS() {
			return ErrNoTLS
		}
	}
	if r.Username != "" {
		// PLAIN: net/smtp sends it only over TLS or to localhost.
		if err := c.Auth(smtp.PlainAuth("", r.Username, r.Password, r.Host)); err != nil {
			return fmt.Errorf("SMTP AUTH: %w", err)
		}
	}
	if err := c.Mail(from); err != nil {
		return fmt.Errorf("SMTP MAIL FROM: %w", err)
	}
	if err := c.Rcpt(to); err != nil {
		return fmt.Errorf("SMTP RCPT TO: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("SMTP DATA: %w", err)
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("SMTP DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("SMTP end of DATA: %w", err)
	}
	_ = c.Quit() // the message is accepted; a lost QUIT changes nothing
	return nil
}

// helloName is what camvault calls itself in EHLO.
func helloName() string {
	if h, err := os.Hostname(); err == nil && h != "" && !strings.ContainsAny(h, " \r\n") {
		return h
	}
	return "localhost"
}
