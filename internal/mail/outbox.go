package mail

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/textproto"
	"strings"
	"sync"
	"time"

	"github.com/camvault/camvault/internal/apperr"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/keys"
	"github.com/camvault/camvault/internal/store"
)

// Store is where mail waits (see store.Outbox).
type Store interface {
	EnqueueMail(ctx context.Context, m domain.Mail) error
	ClaimMail(ctx context.Context, now, until time.Time, limit int) ([]domain.Mail, error)
	RetryMail(ctx context.Context, id string, attempts int, next time.Time) error
	DeleteMail(ctx context.Context, id string) error
}

// Sender delivers one composed message; Relay is one.
type Sender interface {
	Send(ctx context.Context, from, to string, msg []byte) error
}

// Config tunes the outbox.
type Config struct {
	// From is the sender's address (--smtp-from).
	From string
	// Batch is how many mails one pass claims (default 10); SendTimeout
	// bounds one delivery (default 30 s). A pass holds its mails for
	// Batch x SendTimeout and a minute more, and sends none after that,
	// so no other node sends a mail while this one may.
	Batch       int
	SendTimeout time.Duration
	// PollEvery is how often the outbox is looked at without a wake-up
	// from this node (default 15 s): mail another node queued, retries.
	PollEvery time.Duration
	// A failed delivery is tried again after BackoffBase, doubling to at
	// most BackoffCap, with jitter (defaults 30 s and 1 h), at most
	// MaxAttempts times in all (default 12, about half a day).
	BackoffBase time.Duration
	BackoffCap  time.Duration
	MaxAttempts int
	Now         func() time.Time
}

func (c *Config) defaults() {
	if c.Batch <= 0 {
		c.Batch = 10
	}
	if c.SendTimeout <= 0 {
		c.SendTimeout = 30 * time.Second
	}
	if c.PollEvery <= 0 {
		c.PollEvery = 15 * time.Second
	}
	if c.BackoffBase <= 0 {
		c.BackoffBase = 30 * time.Second
	}
	if c.BackoffCap <= 0 {
		c.BackoffCap = time.Hour
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 12
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Outbox queues mail in the store and sends it. Without a sender it is
// disabled: Enabled reports false and nothing is queued.
type Outbox struct {
	store   Store
	keys    *keys.Keyring
	sender  Sender // nil: no --smtp
	address func(ctx context.Context, accountID string) (string, error)
	cfg     Config
	log     *slog.Logger
	wake    chan struct{}
	warn    sync.Once
}

// New returns an outbox. address opens an account's email when its mail
// is sent; sender nil disables mail.
func New(st Store, k *keys.Keyring, sender Sender, address func(ctx context.Context, accountID string) (string, error), cfg Config, log *slog.Logger) *Outbox {
	cfg.defaults()
	return &Outbox{store: st, keys: k, sender: sender, address: address, cfg: cfg, log: log, wake: make(chan struct{}, 1)}
}

// shutdownGrace is how long a delivery under way may go on once the
// server stops.
const shutdownGrace = 5 * time.Second

// Enabled reports whether this server can send mail.
func (o *Outbox) Enabled() bool { return o != nil && o.sender != nil }

// ErrDisabled is Enqueue's error on a server without --smtp.
var ErrDisabled = apperr.New(apperr.Unavailable, "this server cannot send mail; ask the operator to configure --smtp")

// WarnDisabled logs, once per process, that a feature needing mail was
// used on a server that cannot send it.
func (o *Outbox) WarnDisabled(what string) {
	o.warn.Do(func() {
		o.log.Warn("mail was needed but this server has no --smtp relay: nothing is sent (configure --smtp and --smtp-from)", "for", what)
	})
}

func mailAD(m domain.Mail) []byte { return keys.AD("mail-outbox", m.ID, m.AccountID) }

// Enqueue queues msg for the account: durable when it returns, sealed,
// and sent by Run on some node.
func (o *Outbox) Enqueue(ctx context.Context, accountID string, msg Message) error {
	if !o.Enabled() {
		return ErrDisabled
	}
	raw, err := json.Marshal(msg)
	if err != nil {
		return fmt.Errorf("encode mail: %w", err)
	}
	now := o.cfg.Now().UTC()
	m := domain.Mail{ID: id.New(), AccountID: accountID, CreatedAt: now, NextAttemptAt: now}
	m.Sealed = o.keys.SealPII(raw, mailAD(m))
	if err := o.store.EnqueueMail(ctx, m); err != nil {
		return fmt.Errorf("queue mail: %w", err)
	}
	select {
	case o.wake <- struct{}{}:
	default:
	}
	return nil
}

// Run sends queued mail until ctx ends. The server owns it: it is started
// with the server's background work and waited for at shutdown.
func (o *Outbox) Run(ctx context.Context) {
	if !o.Enabled() {
		return
	}
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		n := o.Pass(ctx)
		if ctx.Err() != nil {
			return
		}
		if n == o.cfg.Batch {
			continue // more may be due
		}
		t.Reset(o.cfg.PollEvery)
		select {
		case <-ctx.Done():
			return
		case <-o.wake:
		case <-t.C:
		}
	}
}

// Pass claims the due mails (at most one batch), sends them and returns
// how many it claimed.
func (o *Outbox) Pass(ctx context.Context) int {
	now := o.cfg.Now().UTC()
	hold := time.Duration(o.cfg.Batch)*o.cfg.SendTimeout + time.Minute
	until := now.Add(hold)
	ms, err := o.store.ClaimMail(ctx, now, until, o.cfg.Batch)
	if err != nil {
		if ctx.Err() == nil {
			o.log.Warn("reading the mail outbox", "err", err)
		}
		return 0
	}
	for i, m := range ms {
		// Past this point another node may claim the mail: stop, and
		// give back what is left.
		if ctx.Err() != nil || !o.cfg.Now().Add(o.cfg.SendTimeout).Before(until) {
			o.release(ctx, ms[i:])
			break
		}
		o.deliver(ctx, m)
	}
	return len(ms)
}

// release gives claimed mails back unsent, due at once.
func (o *Outbox) release(ctx context.Context, ms []domain.Mail) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	now := o.cfg.Now().UTC()
	for _, m := range ms {
		if err := o.store.RetryMail(ctx, m.ID, m.Attempts, now); err != nil && !errors.Is(err, store.ErrNotFound) {
			o.log.Warn("giving back an unsent mail (it is sent once its hold runs out)", "mail", m.ID, "err", err)
		}
	}
}

// deliver sends one claimed mail, then removes it, or schedules its next
// attempt, or gives up on it.
func (o *Outbox) deliver(ctx context.Context, m domain.Mail) {
	raw, err := o.keys.OpenPII(m.Sealed, mailAD(m))
	var msg Message
	if err == nil {
		err = json.Unmarshal(raw, &msg)
	}
	if err != nil {
		o.drop(ctx, m, "the mail does not open (its key generation was retired?)", err)
		return
	}
	to, err := o.address(ctx, m.AccountID)
	if apperr.CodeOf(err) == apperr.NotFound || errors.Is(err, store.ErrNotFound) {
		o.drop(ctx, m, "its account is gone", err)
		return
	}
	if err == nil {
		var body []byte
		if body, err = compose(o.cfg.From, to, msg, o.cfg.Now()); err != nil {
			o.drop(ctx, m, "it cannot be written", err)
			return
		}
		// A delivery under way when the server stops is given a few
		// seconds to finish: cut in the middle, the relay may have taken
		// the mail without our knowing, and it would be sent again.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.cfg.SendTimeout)
		stopGrace := context.AfterFunc(ctx, func() { time.AfterFunc(shutdownGrace, cancel) })
		err = o.sender.Send(sctx, o.cfg.From, to, body)
		stopGrace()
		cancel()
		err = redact(err, to)
	}
	if err == nil {
		o.log.Info("mail sent", "mail", m.ID, "account", m.AccountID, "attempts", m.Attempts+1)
		if err := o.store.DeleteMail(context.WithoutCancel(ctx), m.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			o.log.Error("a sent mail could not be removed from the outbox: it will be sent again", "mail", m.ID, "err", err)
		}
		return
	}
	if ctx.Err() != nil && !permanent(err) {
		o.release(ctx, []domain.Mail{m})
		return
	}
	attempts := m.Attempts + 1
	if permanent(err) {
		o.drop(ctx, m, "the relay refused it for good", err)
		return
	}
	if attempts >= o.cfg.MaxAttempts {
		o.drop(ctx, m, fmt.Sprintf("%d attempts failed", attempts), err)
		return
	}
	next := o.cfg.Now().UTC().Add(o.backoff(attempts))
	o.log.Warn("mail not sent; trying again later", "mail", m.ID, "account", m.AccountID, "attempt", attempts, "next", next, "err", err)
	if err := o.store.RetryMail(context.WithoutCancel(ctx), m.ID, attempts, next); err != nil && !errors.Is(err, store.ErrNotFound) {
		o.log.Warn("scheduling a mail's next attempt (it is tried once its hold runs out)", "mail", m.ID, "err", err)
	}
}

// drop gives up on a mail, saying why.
func (o *Outbox) drop(ctx context.Context, m domain.Mail, why string, err error) {
	o.log.Error("mail given up: "+why, "mail", m.ID, "account", m.AccountID, "attempts", m.Attempts+1, "err", err)
	if err := o.store.DeleteMail(context.WithoutCancel(ctx), m.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
		o.log.Warn("removing a mail given up", "mail", m.ID, "err", err)
	}
}

// backoff is the wait before attempt n+1: BackoffBase doubled n-1 times,
// capped, the upper half of it jittered.
func (o *Outbox) backoff(n int) time.Duration {
	d := o.cfg.BackoffBase
	for i := 1; i < n && d < o.cfg.BackoffCap; i++ {
		d *= 2
	}
	d = min(d, o.cfg.BackoffCap)
	return d/2 + rand.N(d/2+1)
}

// permanent reports an SMTP 5xx reply: the relay will not take the mail.
func permanent(err error) bool {
	var te *textproto.Error
	return errors.As(err, &te) && te.Code >= 500 && te.Code < 600
}

// redact takes the recipient's address out of an error before it is
// logged: a relay often repeats it ("550 <ann@example.com>: no such user").
func redact(err error, addr string) error {
	if err == nil || addr == "" {
		return err
	}
	s := err.Error()
	if !strings.Contains(strings.ToLower(s), strings.ToLower(addr)) {
		return err
	}
	return redacted{msg: replaceFold(s, addr, "<recipient>"), err: err}
}

type redacted struct {
	msg string
	err error
}

func (r redacted) Error() string { return r.msg }

// Unwrap keeps the SMTP code readable (permanent) without its text.
func (r redacted) Unwrap() error {
	var te *textproto.Error
	if errors.As(r.err, &te) {
		return &textproto.Error{Code: te.Code, Msg: "(redacted)"}
	}
	return nil
}

func replaceFold(s, old, repl string) string {
	ls, lo := strings.ToLower(s), strings.ToLower(old)
	var b strings.Builder
	for {
		i := strings.Index(ls, lo)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		b.WriteString(repl)
		s, ls = s[i+len(old):], ls[i+len(old):]
	}
}
