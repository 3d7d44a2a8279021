package identity

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/camvault/camvault/internal/apperr"
	"github.com/camvault/camvault/internal/authz"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/keys"
	"github.com/camvault/camvault/internal/mail"
	"github.com/camvault/camvault/internal/store"
	"github.com/camvault/camvault/internal/throttle"
	"github.com/camvault/camvault/internal/token"
)

// Account security: changing a password, resetting a forgotten one by a
// mailed link, and warning by mail of a login from a new device
// (docs/design/mail.md).

// Mailer queues mail to an account (*mail.Outbox).
type Mailer interface {
	Enabled() bool
	Enqueue(ctx context.Context, accountID string, m mail.Message) error
	WarnDisabled(what string)
}

// SecurityConfig tunes password resets and new-device warnings.
type SecurityConfig struct {
	// PublicURL is where people reach the web app (--public-url), the
	// base of the links mailed to them.
	PublicURL string
	// ResetTTL is how long a reset link works (default 30 min).
	ResetTTL time.Duration
	// Reset requests per ResetWindow (default 1 h): at most
	// ResetsPerEmail for one email (default 3) and ResetsPerAddress from
	// one client address (default 20); past either, 429. Both count
	// whether or not the email has an account.
	ResetsPerEmail   int
	ResetsPerAddress int
	ResetWindow      time.Duration
	// ResetQueue bounds the reset requests waiting for the background
	// worker on this node (default 256); past it, 503.
	ResetQueue int
	// ForgetDevicesAfter: a device not seen for this long is new again
	// (default 1 year).
	ForgetDevicesAfter time.Duration
}

func (c *SecurityConfig) defaults() {
	if c.ResetTTL <= 0 {
		c.ResetTTL = 30 * time.Minute
	}
	if c.ResetsPerEmail <= 0 {
		c.ResetsPerEmail = 3
	}
	if c.ResetsPerAddress <= 0 {
		c.ResetsPerAddress = 20
	}
	if c.ResetWindow <= 0 {
		c.ResetWindow = time.Hour
	}
	if c.ResetQueue <= 0 {
		c.ResetQueue = 256
	}
	if c.ForgetDevicesAfter <= 0 {
		c.ForgetDevicesAfter = 365 * 24 * time.Hour
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
}

type security struct {
	mailer Mailer
	cfg    SecurityConfig
	log    *slog.Logger
	resets chan resetRequest
}

// resetRequest is a reset asked for, waiting for the worker: the lookup
// and the mail happen there, so the request answers alike and as fast
// whether or not the email has an account.
type resetRequest struct {
	email  string
	client Client
	at     time.Time
}

// WithMail gives the service its mailer: password resets, and warnings
// of new devices and password changes. Call it before serving, and run
// RunResets.
func (s *Service) WithMail(m Mailer, cfg SecurityConfig, log *slog.Logger) *Service {
	cfg.defaults()
	s.sec = &security{mailer: m, cfg: cfg, log: log, resets: make(chan resetRequest, cfg.ResetQueue)}
	return s
}

// MailEnabled reports whether this server can send mail (the web app says
// so on the pages that need it).
func (s *Service) MailEnabled() bool { return s.sec != nil && s.sec.mailer.Enabled() }

var errWrongPassword = apperr.New(apperr.WrongPassword, "the current password is not right")

// ChangePassword sets a new password for p's account, given the current
// one, and ends every other session of the account. A wrong current
// password counts as a failed login of the account from client.
func (s *Service) ChangePassword(ctx context.Context, p authz.Principal, current, next string, client Client) error {
	a, err := s.store.AccountByID(ctx, p.AccountID)
	if errors.Is(err, store.ErrNotFound) {
		return errNoSession
	}
	if err != nil {
		return fmt.Errorf("read account: %w", err)
	}
	email, err := s.keys.OpenPII(a.EmailSealed, emailAD(a.ID))
	if err != nil {
		return fmt.Errorf("open email of account %s: %w", a.ID, err)
	}
	if err := checkPassword(next, string(email)); err != nil {
		return err
	}
	now := s.now()
	k, l := s.loginKeys(string(email), client.Address), s.limiters()
	if err := l.address.Attempt(ctx, k.address, now); err != nil {
		return err
	}
	if err := l.pair.Attempt(ctx, k.pair, now); err != nil {
		return err
	}
	release, err := s.hashSlot(ctx)
	if err != nil {
		return err
	}
	ok, err := verifyPassword(current, a.PasswordHash)
	var hash string
	if err == nil && ok {
		hash, err = hashPassword(next, s.cfg.Argon2)
	}
	release()
	if err != nil {
		return fmt.Errorf("password: %w", err)
	}
	if !ok {
		return errWrongPassword
	}
	if err := l.address.Undo(ctx, k.address, now); err != nil {
		return err
	}
	if err := l.pair.Reset(ctx, k.pair); err != nil {
		return err
	}
	if err := s.store.SetPassword(ctx, a.ID, hash, p.SessionID); err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	s.warn(ctx, a.ID, "password change", mail.Message{
		Subject: "Your camvault password was changed",
		Body: "The password of your camvault account was changed, and every other place you were logged in was logged out.\n\n" +
			s.describeClient(client, now) +
			"\nIf this was not you, reset your password at once: " + s.link("/forgot-password") + "\n",
	})
	return nil
}

// RequestPasswordReset asks for a reset link for email. It answers the
// same whether or not the email has an account: the lookup and the mail
// happen in the background (RunResets). Requests are limited per email and
// per client address (429).
func (s *Service) RequestPasswordReset(ctx context.Context, email string, client Client) error {
	email, err := NormalizeEmail(email)
	if err != nil {
		return err
	}
	if s.sec == nil {
		return nil
	}
	now := s.now()
	const msg = "too many password reset requests; try again later"
	byAddress := throttle.Limiter{Store: s.store, Limit: s.sec.cfg.ResetsPerAddress, Window: s.sec.cfg.ResetWindow, Message: msg}
	if err := byAddress.Attempt(ctx, s.keys.BlindIndex("reset-throttle-address", throttleAddress(client.Address)), now); err != nil {
		return err
	}
	byEmail := throttle.Limiter{Store: s.store, Limit: s.sec.cfg.ResetsPerEmail, Window: s.sec.cfg.ResetWindow, Message: msg}
	if err := byEmail.Attempt(ctx, s.keys.BlindIndex("reset-throttle-email", email), now); err != nil {
		return err
	}
	if !s.sec.mailer.Enabled() {
		s.sec.mailer.WarnDisabled("password reset")
		return nil
	}
	if len(client.UserAgent) > maxUserAgent {
		client.UserAgent = client.UserAgent[:maxUserAgent]
	}
	select {
	case s.sec.resets <- resetRequest{email: email, client: client, at: now}:
		return nil
	default:
		e := apperr.New(apperr.Unavailable, "too many password resets are being sent; try again in a minute")
		e.RetryAfter = time.Minute
		return e
	}
}

// RunResets handles reset requests until ctx ends: the server owns it.
func (s *Service) RunResets(ctx context.Context) {
	if s.sec == nil {
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case r := <-s.sec.resets:
			if err := s.sendReset(ctx, r); err != nil && ctx.Err() == nil {
				s.sec.log.Warn("a password reset could not be sent", "err", err)
			}
		}
	}
}

// sendReset makes a reset token for r's account, if it has one, and mails
// the link.
func (s *Service) sendReset(ctx context.Context, r resetRequest) error {
	a, err := s.store.AccountByEmailIndex(ctx, s.emailIndexes(r.email)...)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("look up account: %w", err)
	}
	tok, hash := token.New(token.PasswordReset)
	reset := domain.PasswordReset{TokenHash: hash, AccountID: a.ID, CreatedAt: r.at, ExpiresAt: r.at.Add(s.sec.cfg.ResetTTL)}
	if err := s.store.CreatePasswordReset(ctx, reset); err != nil {
		return fmt.Errorf("store password reset: %w", err)
	}
	m := mail.Message{
		Subject: "Reset your camvault password",
		Body: "Someone asked to reset the password of your camvault account. To choose a new password, open this link within " +
			words(s.sec.cfg.ResetTTL) + ":\n\n" + s.link("/reset-password/"+tok) + "\n\n" +
			"The link works once. If you did not ask, ignore this mail: your password stays as it is.\n\n" +
			s.describeClient(r.client, r.at),
	}
	if err := s.sec.mailer.Enqueue(ctx, a.ID, m); err != nil {
		return fmt.Errorf("queue reset mail: %w", err)
	}
	return nil
}

var errBadReset = apperr.New(apperr.NotFound, "this password reset link does not work: it was used, it expired, or it was never made; ask for a new one")

// CheckPasswordReset reports whether a reset token is live (the web page
// asks before showing its form).
func (s *Service) CheckPasswordReset(ctx context.Context, tok string) error {
	_, err := s.liveReset(ctx, tok)
	return err
}

func (s *Service) liveReset(ctx context.Context, tok string) (domain.PasswordReset, error) {
	if !token.Parse(tok, token.PasswordReset) {
		return domain.PasswordReset{}, errBadReset
	}
	r, err := s.store.PasswordResetByHash(ctx, token.Hash(tok), s.now())
	if errors.Is(err, store.ErrNotFound) {
		return domain.PasswordReset{}, errBadReset
	}
	if err != nil {
		return domain.PasswordReset{}, fmt.Errorf("read password reset: %w", err)
	}
	return r, nil
}

// ResetPassword sets a new password with a reset token: the token dies
// and every session of the account ends. A missing, used or expired token
// changes nothing, nor does a password the policy refuses (the token
// stays usable then).
func (s *Service) ResetPassword(ctx context.Context, tok, next string, client Client) error {
	r, err := s.liveReset(ctx, tok)
	if err != nil {
		return err
	}
	a, err := s.store.AccountByID(ctx, r.AccountID)
	if errors.Is(err, store.ErrNotFound) {
		return errBadReset
	}
	if err != nil {
		return fmt.Errorf("read account: %w", err)
	}
	email, err := s.keys.OpenPII(a.EmailSealed, emailAD(a.ID))
	if err != nil {
		return fmt.Errorf("open email of account %s: %w", a.ID, err)
	}
	if err := checkPassword(next, string(email)); err != nil {
		return err
	}
	release, err := s.hashSlot(ctx)
	if err != nil {
		return err
	}
	hash, err := hashPassword(next, s.cfg.Argon2)
	release()
	if err != nil {
		return err
	}
	now := s.now()
	if _, err := s.store.ResetPassword(ctx, token.Hash(tok), hash, now); errors.Is(err, store.ErrNotFound) {
		return errBadReset
	} else if err != nil {
		return fmt.Errorf("reset password: %w", err)
	}
	s.warn(ctx, a.ID, "password reset", mail.Message{
		Subject: "Your camvault password was reset",
		Body: "The password of your camvault account was reset with a link mailed to you, and every place you were logged in was logged out.\n\n" +
			s.describeClient(client, now) +
			"\nIf this was not you, someone can read your mail: secure your mailbox, then reset your password again at " + s.link("/forgot-password") + "\n",
	})
	return nil
}

// warn queues a warning mail; a failure is logged, never the caller's.
func (s *Service) warn(ctx context.Context, accountID, what string, m mail.Message) {
	if s.sec == nil || !s.sec.mailer.Enabled() {
		return
	}
	if err := s.sec.mailer.Enqueue(context.WithoutCancel(ctx), accountID, m); err != nil {
		s.sec.log.Warn("a warning mail could not be queued", "for", what, "account", accountID, "err", err)
	}
}

// New devices. A device is what a login came from:
//   - in the web app, its device cookie: a random value the browser keeps
//     for a year (Client.Device);
//   - otherwise (the API, apps and scripts), its User-Agent together with
//     its client address (an IPv4 address, or an IPv6 address's /64).
//
// The store keeps, per account, only a keyed hash of it (a blind index
// under the master key) and when it was first and last seen. A login from
// a device the account has not logged in from within ForgetDevicesAfter
// is from a new device, and is warned of by mail, except for the first
// device an account ever logs in from (its sign-up).
func (s *Service) noticeDevice(ctx context.Context, accountID string, client Client, now time.Time) {
	if s.sec == nil {
		return
	}
	var what []byte
	if client.Device != "" {
		what = keys.Encode([]byte(accountID), []byte("cookie"), []byte(client.Device))
	} else {
		what = keys.Encode([]byte(accountID), []byte("agent"), []byte(client.UserAgent), []byte(throttleAddress(client.Address)))
	}
	sum := sha256.Sum256(what) // bounded input to the index
	d := domain.KnownDevice{AccountID: accountID, Hash: s.keys.BlindIndex("known-device", string(sum[:])), FirstSeen: now, LastSeen: now}
	isNew, hadOthers, err := s.store.RememberDevice(context.WithoutCancel(ctx), d)
	if err != nil {
		s.sec.log.Warn("remembering a login's device", "account", accountID, "err", err)
		return
	}
	if !isNew || !hadOthers {
		return
	}
	if s.onNewDevice != nil {
		s.onNewDevice(ctx, accountID)
	}
	s.warn(ctx, accountID, "new device", mail.Message{
		Subject: "New login to your camvault account",
		Body: "Your camvault account was logged in to from a device it had not seen before.\n\n" +
			s.describeClient(client, now) +
			"\nIf this was you, there is nothing to do. If not, change your password at once and log out the sessions you do not know: " +
			s.link("/account") + "\n",
	})
}

// ForgetDevices removes devices not seen for ForgetDevicesAfter and
// expired reset tokens.
func (s *Service) ForgetDevices(ctx context.Context) (int, error) {
	if s.sec == nil {
		return 0, nil
	}
	now := s.now()
	n, err := s.store.ForgetDevicesBefore(ctx, now.Add(-s.sec.cfg.ForgetDevicesAfter))
	if err != nil {
		return 0, fmt.Errorf("forget devices: %w", err)
	}
	m, err := s.store.DeleteExpiredPasswordResets(ctx, now)
	if err != nil {
		return n, fmt.Errorf("sweep password resets: %w", err)
	}
	return n + m, nil
}

// describeClient says when, from what and from where, for a mail.
func (s *Service) describeClient(c Client, at time.Time) string {
	where := "an unknown address"
	if a, err := netip.ParseAddr(c.Address); err == nil {
		where = a.Unmap().WithZone("").String()
	}
	return "When: " + at.UTC().Format("2 Jan 2006, 15:04 UTC") + "\n" +
		"Device: " + DescribeAgent(c.UserAgent) + "\n" +
		"From: " + where + "\n"
}

func (s *Service) link(path string) string { return s.sec.cfg.PublicURL + path }

func words(d time.Duration) string {
	if d%time.Hour == 0 && d >= time.Hour {
		if d == time.Hour {
			return "1 hour"
		}
		return fmt.Sprintf("%d hours", d/time.Hour)
	}
	m := int(d.Round(time.Minute) / time.Minute)
	if m == 1 {
		return "1 minute"
	}
	return fmt.Sprintf("%d minutes", m)
}

// DescribeAgent turns a User-Agent into a few words a person recognises.
func DescribeAgent(ua string) string {
	if ua == "" {
		return "An app or script"
	}
	browser := "A browser"
	for _, b := range []struct{ token, name string }{
		{"Edg/", "Edge"}, {"Firefox/", "Firefox"}, {"Chrome/", "Chrome"}, {"Safari/", "Safari"},
		{"curl/", "curl"}, {"Go-http-client", "A program"},
	} {
		if strings.Contains(ua, b.token) {
			browser = b.name
			break
		}
	}
	for _, o := range []struct{ token, name string }{
		{"Android", "Android"}, {"iPhone", "iPhone"}, {"iPad", "iPad"}, {"Windows", "Windows"},
		{"Mac OS X", "macOS"}, {"Linux", "Linux"},
	} {
		if strings.Contains(ua, o.token) {
			return browser + " on " + o.name
		}
	}
	return browser
}
