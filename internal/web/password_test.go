package web_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/camvault/camvault/internal/identity"
	"github.com/camvault/camvault/internal/mail"
	"github.com/camvault/camvault/internal/mail/mailtest"
	"github.com/camvault/camvault/internal/server"
)

// startMailServer runs a real camvault server that mails through a real
// SMTP server in process; --public-url is its own address.
func startMailServer(t *testing.T) (*httptest.Server, *mailtest.Server) {
	t.Helper()
	smtp := mailtest.Start(t, mailtest.Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opts := server.DefaultOptions()
	opts.Identity.Argon2 = identity.Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1}
	opts.Mail = mail.Config{PollEvery: 50 * time.Millisecond}
	cfg := server.Config{DataDir: t.TempDir(), Addr: "127.0.0.1:0", AdminAddr: "127.0.0.1:1",
		SMTP: "smtp://" + smtp.Addr, SMTPFrom: "camvault@example.com", PublicURL: "http://" + ln.Addr().String()}
	app, err := server.Open(t.Context(), cfg, opts, slog.New(slog.NewTextHandler(io.Discard, nil)))
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
	return srv, smtp
}

// TestForgotWithoutMail: a server that cannot send mail says so on the
// page instead of pretending to send a link.
func TestForgotWithoutMail(t *testing.T) {
	srv := startServer(t)
	c := newClient(t, srv.URL)
	res, page := c.do("GET", "/login", "", nil, nil)
	if res.StatusCode != 200 || !strings.Contains(page, `href="/forgot-password"`) {
		t.Fatalf("the login page has no Forgot password link (%d)", res.StatusCode)
	}
	res, page = c.do("GET", "/forgot-password", "", nil, nil)
	if res.StatusCode != 200 || !strings.Contains(page, "cannot send mail") || !strings.Contains(page, "operator") || strings.Contains(page, `action="/forgot-password"`) {
		t.Fatalf("forgot password page without mail (%d):\n%s", res.StatusCode, page)
	}
}

// TestResetPageRefusesBadLinks: a link that does not work says so, with a
// way to ask for a new one, and a cross-site form post is refused.
func TestResetPageRefusesBadLinks(t *testing.T) {
	srv, _ := startMailServer(t)
	c := newClient(t, srv.URL)
	for _, tok := range []string{"cvpw_" + strings.Repeat("a", 52), "garbage"} {
		res, page := c.do("GET", "/reset-password/"+tok, "", nil, map[string]string{"Accept": "text/html"})
		if res.StatusCode != 404 || !strings.Contains(page, "does not work") || !strings.Contains(page, `href="/forgot-password"`) {
			t.Fatalf("reset page for %s: %d\n%s", tok, res.StatusCode, page)
		}
		if rp := res.Header.Get("Referrer-Policy"); rp != "same-origin" {
			t.Fatalf("reset page's Referrer-Policy %q", rp)
		}
	}
	form := url.Values{"email": {"someone@example.com"}}
	if res, _ := c.do("POST", "/forgot-password", "https://evil.example", form, nil); res.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site forgot password post: %d", res.StatusCode)
	}
}

// TestBrowserPasswordReset: forgot password in Chromium, the link read
// from the mail that arrived, a new password set, the old one refused, the
// new one accepted; and the Account page's change form.
func TestBrowserPasswordReset(t *testing.T) {
	srv, smtp := startMailServer(t)
	b := browser(t)
	const oldPassword, newPassword, changed = "old horse battery staple", "new horse battery staple", "third horse battery staple"
	p := newPerson(t, b, srv.URL, "ann", "ann.reset@example.com")
	p.signup(oldPassword)

	// On another device (a fresh browser context): forgot password.
	q := newPerson(t, b, srv.URL, "ann elsewhere", p.email)
	q.open("/login", "#forgot")
	q.do("ask for a reset link",
		chromedp.Click(css("#forgot")),
		chromedp.WaitVisible(css("#email")),
		chromedp.SendKeys(css("#email"), p.email),
		chromedp.Click(css("#submit")),
		chromedp.WaitVisible(css("#reset-sent")),
	)
	msg := smtp.Wait(t, 1, 60*time.Second)[0]
	link := msg.Link()
	if len(msg.To) != 1 || msg.To[0] != p.email || !strings.HasPrefix(link, srv.URL+"/reset-password/cvpw_") {
		t.Fatalf("reset mail to %v with link %q", msg.To, link)
	}
	q.do("set a new password",
		chromedp.Navigate(link),
		chromedp.WaitVisible(css("#password2")),
		chromedp.SendKeys(css("#password"), newPassword),
		chromedp.SendKeys(css("#password2"), newPassword),
		chromedp.Click(css("#submit")),
		chromedp.WaitVisible(css(".notice")),
	)
	if loc := get(q, "where", chromedp.Location()); !strings.Contains(loc, "/login") {
		t.Fatalf("after the reset: %s", loc)
	}
	// The link works once.
	q.do("open the link again", chromedp.Navigate(link), chromedp.WaitVisible(css("#message-title")))
	if got := q.text("#message-title"); got != "This link does not work" {
		t.Fatalf("a used link shows %q", got)
	}
	// The old password is refused, the new one accepted.
	q.open("/login", "#email")
	q.do("log in with the old password",
		chromedp.SendKeys(css("#email"), p.email),
		chromedp.SendKeys(css("#password"), oldPassword),
		chromedp.Click(css("#submit")),
		chromedp.WaitVisible(css("#form-error")),
	)
	q.login(newPassword)
	// The first browser's session ended with the reset.
	p.do("open the account page", chromedp.Navigate(srv.URL+"/account"), chromedp.WaitVisible(css("#email")))

	// Change it again from the Account page: a wrong current password is
	// refused on the form, the right one changes it.
	q.open("/account", "#change-password")
	q.do("change with a wrong current password",
		chromedp.SendKeys(css("#current"), "not my password at all"),
		chromedp.SendKeys(css("#new-password"), changed),
		chromedp.SendKeys(css("#new-password2"), changed),
		chromedp.Click(css("#change-password-submit")),
		chromedp.WaitVisible(css("#password-error")),
	)
	q.do("change the password",
		chromedp.SendKeys(css("#current"), newPassword),
		chromedp.SendKeys(css("#new-password"), changed),
		chromedp.SendKeys(css("#new-password2"), changed),
		chromedp.Click(css("#change-password-submit")),
		chromedp.WaitVisible(css(".notice")),
	)
	if got := q.text(".notice"); !strings.Contains(got, "Password changed") {
		t.Fatalf("after changing the password the page says %q", got)
	}
	p.login(changed)
}
