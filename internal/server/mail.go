package server

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	netmail "net/mail"

	"github.com/camvault/camvault/internal/keys"
	"github.com/camvault/camvault/internal/mail"
)

// checkMail checks --smtp, --smtp-from and --public-url.
func (c Config) checkMail() error {
	if c.SMTP == "" {
		if c.SMTPFrom != "" {
			return errors.New("--smtp-from needs --smtp")
		}
		return nil
	}
	if _, err := mail.ParseRelay(c.SMTP); err != nil {
		return err
	}
	if a, err := netmail.ParseAddress(c.SMTPFrom); err != nil || a.Name != "" || a.Address != c.SMTPFrom {
		return fmt.Errorf("--smtp needs --smtp-from, the plain address mail comes from (such as camvault@example.com)")
	}
	if c.PublicURL == "" {
		return errors.New("--smtp needs --public-url, the web app's address that mailed links point to (a link built from a request's Host header could point anywhere)")
	}
	return nil
}

// openMail makes the outbox and gives identity its mailer.
func (a *App) openMail(cfg Config, opts Options, st mail.Store, kr *keys.Keyring) (*mail.Outbox, error) {
	var sender mail.Sender
	if cfg.SMTP != "" {
		relay, err := mail.ParseRelay(cfg.SMTP)
		if err != nil {
			return nil, err
		}
		relay.TLS = opts.MailTLS
		sender = relay
		a.log.Info("mail goes through the SMTP relay", "relay", relay.String(), "from", cfg.SMTPFrom)
	}
	mcfg := opts.Mail
	mcfg.From = cfg.SMTPFrom
	address := func(ctx context.Context, accountID string) (string, error) {
		acc, err := a.identity.Account(ctx, accountID)
		return acc.Email, err
	}
	out := mail.New(st, kr, sender, address, mcfg, a.log)
	sec := opts.Security
	sec.PublicURL = cfg.PublicURL
	a.identity.WithMail(out, sec, a.log)
	return out, nil
}

// runMail sends queued mail, handles reset requests and sweeps old
// devices and reset tokens, until ctx ends.
func (a *App) runMail(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { a.identity.RunResets(ctx) })
	wg.Go(func() {
		t := time.NewTicker(time.Hour)
		defer t.Stop()
		for {
			if n, err := a.identity.ForgetDevices(ctx); err != nil && ctx.Err() == nil {
				a.log.Warn("sweeping known devices and password resets", "err", err)
			} else if n > 0 {
				a.log.Info("swept known devices and password resets", "removed", n)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	})
	a.mail.Run(ctx)
}
