package web_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/camvault/camvault/internal/server"
)

// totpCode is the code an authenticator app shows for secret at t.
func totpCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// logout submits the menu's log out form, as the button does.
func (p *person) logout() {
	p.t.Helper()
	p.do("log out", chromedp.Evaluate[chromedp.Void](`document.querySelector("form.logout").submit()`), chromedp.WaitVisible(css("#email")))
}

// TestBrowserTOTP sets up an authenticator app on the Account page (the
// code computed here, as the app would), sees the recovery codes once,
// and logs in with the code step after the password.
func TestBrowserTOTP(t *testing.T) {
	bctx := browser(t)
	srv := startServer(t)
	const pass = "a pass phrase for the second step"
	dan := newPerson(t, bctx, srv.URL, "dan", "dan@example.com")
	dan.signup(pass)

	dan.open("/account", "#setup-totp")
	dan.do("set up TOTP", chromedp.Click(css("#setup-totp")), chromedp.WaitVisible(css("#totp-secret")))
	secret := dan.text("#totp-secret")
	if n := dan.count("#recovery-codes li"); n != 10 || dan.count("svg.qr path") != 1 {
		t.Fatalf("the set-up page shows %d recovery codes and %d QR codes", n, dan.count("svg.qr"))
	}
	recovery := dan.text("#recovery-codes li:first-child code")
	dan.do("a wrong code", chromedp.SendKeys(css("#otp"), "000000"), chromedp.Click(css("#confirm-totp")), chromedp.WaitVisible(css("#form-error")))
	if dan.count("#recovery-codes") != 0 || dan.text("#totp-secret") != secret {
		t.Fatal("after a wrong code the page must show the same key again, and the recovery codes no more")
	}
	confirmed := time.Now()
	dan.do("confirm", chromedp.SendKeys(css("#otp"), totpCode(t, secret, confirmed)), chromedp.Click(css("#confirm-totp")),
		chromedp.WaitVisible(css("#totp-off")))
	if s := dan.text("#totp-status"); !strings.Contains(s, "On.") || !strings.Contains(s, "10 recovery codes") {
		t.Fatalf("the account page says %q", s)
	}

	dan.logout()
	dan.do("log in", chromedp.SendKeys(css("#email"), dan.email), chromedp.SendKeys(css("#password"), pass),
		chromedp.Click(css("#submit")), chromedp.WaitVisible(css("#otp-form")))
	if dan.count("#form-error") != 0 {
		t.Fatal("the code step shows an error before any code was given")
	}
	dan.do("a wrong code", chromedp.SendKeys(css("#otp"), "000000"), chromedp.Click(css("#submit")), chromedp.WaitVisible(css("#form-error")))
	if dan.count("#otp-form") != 1 {
		t.Fatal("after a wrong code the code step must stay")
	}
	// The confirming code's step is used; the next step's code is within
	// the clock drift the server allows.
	dan.do("the right code", chromedp.SendKeys(css("#otp"), totpCode(t, secret, confirmed.Add(30*time.Second))),
		chromedp.Click(css("#submit")), chromedp.WaitVisible(css(".nav")))

	// A recovery code works too, once.
	dan.logout()
	dan.do("log in", chromedp.SendKeys(css("#email"), dan.email), chromedp.SendKeys(css("#password"), pass),
		chromedp.Click(css("#submit")), chromedp.WaitVisible(css("#otp-form")),
		chromedp.SendKeys(css("#otp"), recovery), chromedp.Click(css("#submit")), chromedp.WaitVisible(css(".nav")))
	dan.open("/account", "#totp-status")
	if s := dan.text("#totp-status"); !strings.Contains(s, "9 recovery codes") {
		t.Fatalf("after a recovery code the account page says %q", s)
	}
}

// startLocalhostServer runs a real server whose public URL is
// http://localhost:PORT, the address it is reached at: a WebAuthn relying
// party ID must be a name (Chromium refuses an IP address), and
// http://localhost is a secure context.
func startLocalhostServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://localhost:" + strings.TrimPrefix(ln.Addr().String(), "127.0.0.1:")
	opts := server.DefaultOptions()
	opts.Identity.PublicURL = base
	app, err := server.Open(t.Context(), server.Config{DataDir: t.TempDir(), Addr: "127.0.0.1:0", AdminAddr: "127.0.0.1:1"},
		opts, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("open server: %v", err)
	}
	ctx, stop := context.WithCancel(context.Background())
	wait := app.Background(ctx)
	srv := httptest.NewUnstartedServer(app.Public())
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(func() {
		srv.Close()
		stop()
		wait()
		app.Close()
	})
	return base
}

// virtualAuthenticator gives p's tab a passkey authenticator of its own
// (DevTools' WebAuthn domain): CTAP2, built in, keeping resident keys and
// verifying the person at once, as a phone's fingerprint reader would.
func (p *person) virtualAuthenticator() {
	p.t.Helper()
	p.do("add a virtual authenticator", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := cdp.Call(ctx, tg, webauthn.Enable, webauthn.EnableParams{}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, tg, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
			Options: &webauthn.VirtualAuthenticatorOptions{
				Protocol: webauthn.AuthenticatorProtocolCtap2, Transport: webauthn.AuthenticatorTransportInternal,
				HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true,
			}})
		return err
	}))
}

// TestBrowserPasskey adds a passkey on the Account page with Chromium's
// virtual authenticator and logs in with it, without the password.
func TestBrowserPasskey(t *testing.T) {
	bctx := browser(t)
	base := startLocalhostServer(t)
	const pass = "a pass phrase before the passkey"
	eve := newPerson(t, bctx, base, "eve", "eve@example.com")
	eve.virtualAuthenticator()
	eve.signup(pass)

	eve.open("/account", "#add-passkey")
	if eve.count("#no-passkeys") != 1 {
		t.Fatal("a new account lists passkeys")
	}
	eve.do("add a passkey", chromedp.Click(css("#add-passkey")), chromedp.WaitVisible(css("#passkeys")))
	if loc := get(eve, "where", chromedp.Location()); !strings.Contains(loc, "done=passkey-added") || eve.count("#passkeys li") != 1 {
		t.Fatalf("adding a passkey led to %s with %d passkeys", loc, eve.count("#passkeys li"))
	}

	eve.logout()
	// The password alone is not enough any more.
	eve.do("log in with the password", chromedp.SendKeys(css("#email"), eve.email), chromedp.SendKeys(css("#password"), pass),
		chromedp.Click(css("#submit")), chromedp.WaitVisible(css("#form-error")))
	if msg := eve.text("#form-error"); !strings.Contains(msg, "passkey") {
		t.Fatalf("a password login of a passkey account says %q", msg)
	}
	eve.do("log in with the passkey", chromedp.Click(css("#passkey-login")), chromedp.WaitVisible(css(".nav")))
	if loc := get(eve, "where", chromedp.Location()); !strings.HasSuffix(loc, "/events") {
		t.Fatalf("a passkey login led to %s", loc)
	}
	eve.open("/account", "#passkeys")
	if !strings.Contains(eve.text("#passkeys li"), "last used") {
		t.Fatal("the passkey's last use is not shown")
	}
	eve.do("remove it", chromedp.Click(css("#passkeys button")), chromedp.WaitVisible(css("#no-passkeys")))
}
