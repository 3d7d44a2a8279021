package server_test

import (
	"bytes"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/identity"
	"github.com/camvault/camvault/internal/mail"
	"github.com/camvault/camvault/internal/mail/mailtest"
	"github.com/camvault/camvault/internal/server"
	"github.com/camvault/camvault/internal/sim/simtest"
	"github.com/camvault/camvault/internal/store/sqlite"
)

// mailEnv is a real server that sends mail through a real SMTP server in
// process, with its log kept.
type mailEnv struct {
	*env
	smtp *mailtest.Server
	logs *simtest.LogBuffer
}

// newMailEnv serves on a port chosen first, so that --public-url (the base
// of mailed links) is the server's own address.
func newMailEnv(t *testing.T, tune ...func(*server.Options)) *mailEnv {
	t.Helper()
	m := &mailEnv{smtp: mailtest.Start(t, mailtest.Options{}), logs: &simtest.LogBuffer{}}
	m.env = &env{t: t, data: t.TempDir(), clock: newClock(), logTo: m.logs}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opts := m.options()
	opts.Identity.Argon2 = identity.Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1}
	opts.Mail = mail.Config{PollEvery: 20 * time.Millisecond, BackoffBase: 10 * time.Millisecond, BackoffCap: 40 * time.Millisecond}
	for _, f := range tune {
		f(&opts)
	}
	cfg := server.Config{DataDir: m.data, Addr: "127.0.0.1:0", AdminAddr: "127.0.0.1:1",
		SMTP: "smtp://" + m.smtp.Addr, SMTPFrom: "camvault@example.com", PublicURL: "http://" + ln.Addr().String()}
	app, err := server.Open(t.Context(), cfg, opts, slog.New(slog.NewTextHandler(m.logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	m.app = app
	wait := app.Background(t.Context())
	m.public = httptest.NewUnstartedServer(app.Public())
	m.public.Listener.Close()
	m.public.Listener = ln
	m.public.Start()
	m.admin = httptest.NewServer(app.Admin())
	t.Cleanup(func() {
		m.public.Close()
		m.admin.Close()
		wait()
		app.Close()
	})
	return m
}

// mailTo waits for the n-th mail (counting from 1) and checks it went to
// p.
func (m *mailEnv) mailTo(p person, n int) mailtest.Message {
	m.t.Helper()
	msg := m.smtp.Wait(m.t, n, 30*time.Second)[n-1]
	if len(msg.To) != 1 || msg.To[0] != p.email {
		m.t.Fatalf("mail %d went to %v, want %s", n, msg.To, p.email)
	}
	return msg
}

// resetToken is the token of a reset mail's link.
func (m *mailEnv) resetToken(msg mailtest.Message) string {
	m.t.Helper()
	link := msg.Link()
	prefix := m.public.URL + "/reset-password/"
	if !strings.HasPrefix(link, prefix) {
		m.t.Fatalf("reset mail's link %q is not under %s; mail:\n%s", link, prefix, msg.Body)
	}
	tok := strings.TrimPrefix(link, prefix)
	m.remember(tok)
	return tok
}

// outboxLeft opens the closed server's database and counts the mails
// still queued.
func (m *mailEnv) outboxLeft() int {
	m.t.Helper()
	m.app.Close()
	st, err := sqlite.Open(m.t.Context(), filepath.Join(m.data, "camvault.db"))
	if err != nil {
		m.t.Fatal(err)
	}
	defer st.Close()
	ms, err := st.ClaimMail(m.t.Context(), time.Now().Add(48*time.Hour), time.Now().Add(49*time.Hour), 1000)
	if err != nil {
		m.t.Fatal(err)
	}
	return len(ms)
}

func TestChangePassword(t *testing.T) {
	m := newMailEnv(t, func(o *server.Options) { o.Identity.AccountFailures = 3 })
	p := m.signup("changer")
	other := m.login(p.email, p.password)
	const next = "a brand new passphrase"
	m.remember(next)

	r := m.call("POST", "/api/v1/me/password", p.token, map[string]string{"current": "not it at all", "new": next})
	if r.status != 400 || r.errCode() != "wrong_password" {
		t.Fatalf("wrong current password: %d %s", r.status, r.raw)
	}
	r = m.call("POST", "/api/v1/me/password", p.token, map[string]string{"current": p.password, "new": "short"})
	if r.status != 400 || r.errCode() != "weak_password" {
		t.Fatalf("weak new password: %d %s", r.status, r.raw)
	}
	m.must(401, "POST", "/api/v1/me/password", "", map[string]string{"current": p.password, "new": next})
	// Nothing changed so far.
	m.must(200, "GET", "/api/v1/me", other, nil)

	m.must(204, "POST", "/api/v1/me/password", p.token, map[string]string{"current": p.password, "new": next})
	m.must(200, "GET", "/api/v1/me", p.token, nil)
	m.must(401, "GET", "/api/v1/me", other, nil)
	m.must(401, "POST", "/api/v1/sessions", "", map[string]string{"email": p.email, "password": p.password})
	m.login(p.email, next)
	msg := m.mailTo(p, 1)
	if !strings.Contains(msg.Subject, "password was changed") {
		t.Fatalf("mail after a change: %q", msg.Subject)
	}

	// Wrong current passwords count as failed logins of the account.
	for range 3 {
		if r := m.call("POST", "/api/v1/me/password", p.token, map[string]string{"current": "guess guess guess", "new": next + "!"}); r.status != 400 {
			t.Fatalf("wrong current password: %d %s", r.status, r.raw)
		}
	}
	r = m.call("POST", "/api/v1/me/password", p.token, map[string]string{"current": next, "new": next + "!"})
	if r.status != 429 || r.header.Get("Retry-After") == "" {
		t.Fatalf("change after 3 wrong passwords: %d (Retry-After %q), want 429", r.status, r.header.Get("Retry-After"))
	}
	if r := m.call("POST", "/api/v1/sessions", "", map[string]string{"email": p.email, "password": next}); r.status != 429 {
		t.Fatalf("login after 3 wrong current passwords: %d, want 429 (one throttle)", r.status)
	}
}

func TestPasswordReset(t *testing.T) {
	m := newMailEnv(t)
	p := m.signup("forgetful")
	second := m.login(p.email, p.password)

	unknown := m.must(202, "POST", "/api/v1/password-resets", "", map[string]string{"email": "nobody-here@example.com"})
	known := m.must(202, "POST", "/api/v1/password-resets", "", map[string]string{"email": "  " + strings.ToUpper(p.email)})
	if !bytes.Equal(unknown.raw, known.raw) {
		t.Fatalf("reset answers differ:\n unknown %s\n known %s", unknown.raw, known.raw)
	}
	if r := m.call("POST", "/api/v1/password-resets", "", map[string]string{"email": "not an email"}); r.status != 400 {
		t.Fatalf("reset for a malformed email: %d", r.status)
	}
	msg := m.mailTo(p, 1)
	tok := m.resetToken(msg)
	if !strings.HasPrefix(tok, "cvpw_") || !strings.Contains(msg.Body, "30 minutes") {
		t.Fatalf("reset mail:\n%s", msg.Body)
	}

	// A refused password leaves the token usable, and changes nothing.
	if r := m.call("POST", "/api/v1/password-resets/"+tok, "", map[string]string{"new": "short"}); r.status != 400 || r.errCode() != "weak_password" {
		t.Fatalf("weak password: %d %s", r.status, r.raw)
	}
	m.must(200, "GET", "/api/v1/me", second, nil)
	for _, bad := range []string{"cvpw_" + strings.Repeat("a", 52), "cvs_nope", tok + "a", strings.ToUpper(tok)} {
		if r := m.call("POST", "/api/v1/password-resets/"+bad, "", map[string]string{"new": "a fine new password"}); r.status != 404 {
			t.Fatalf("reset with token %q: %d, want 404", bad, r.status)
		}
	}
	const next = "my recovered passphrase"
	m.remember(next)
	m.must(204, "POST", "/api/v1/password-resets/"+tok, "", map[string]string{"new": next})
	m.must(401, "GET", "/api/v1/me", p.token, nil)
	m.must(401, "GET", "/api/v1/me", second, nil)
	m.must(401, "POST", "/api/v1/sessions", "", map[string]string{"email": p.email, "password": p.password})
	m.login(p.email, next)
	// Single use.
	r := m.call("POST", "/api/v1/password-resets/"+tok, "", map[string]string{"new": "yet another passphrase"})
	if r.status != 404 || r.errCode() != "not_found" {
		t.Fatalf("reset token used twice: %d %s", r.status, r.raw)
	}
	m.login(p.email, next)
	warn := m.mailTo(p, 2)
	if !strings.Contains(warn.Subject, "was reset") {
		t.Fatalf("second mail %q, want the warning of the reset", warn.Subject)
	}
	// The unknown email got nothing, and nothing waits for it.
	if n := len(m.smtp.Messages()); n != 2 {
		t.Fatalf("%d mails, want 2", n)
	}
	if n := m.outboxLeft(); n != 0 {
		t.Fatalf("%d mails left in the outbox", n)
	}
}

func TestPasswordResetExpires(t *testing.T) {
	m := newMailEnv(t)
	p := m.signup("slow")
	m.must(202, "POST", "/api/v1/password-resets", "", map[string]string{"email": p.email})
	tok := m.resetToken(m.mailTo(p, 1))
	m.clock.Advance(30*time.Minute + time.Second)
	if r := m.call("POST", "/api/v1/password-resets/"+tok, "", map[string]string{"new": "too late passphrase"}); r.status != 404 {
		t.Fatalf("expired token: %d %s, want 404", r.status, r.raw)
	}
	m.login(p.email, p.password)
}

func TestPasswordResetThrottle(t *testing.T) {
	m := newMailEnv(t, func(o *server.Options) {
		o.Security.ResetsPerEmail = 2
		o.Security.ResetsPerAddress = 5
	})
	p := m.signup("pressed")
	for _, email := range []string{p.email, "nobody-at-all@example.com"} {
		for i := range 2 {
			if r := m.call("POST", "/api/v1/password-resets", "", map[string]string{"email": email}); r.status != 202 {
				t.Fatalf("request %d: %d", i+1, r.status)
			}
		}
		r := m.call("POST", "/api/v1/password-resets", "", map[string]string{"email": email})
		if r.status != 429 || r.header.Get("Retry-After") == "" {
			t.Fatalf("third request for one email: %d (Retry-After %q), want 429 with Retry-After", r.status, r.header.Get("Retry-After"))
		}
	}
	// Five from this address so far (two answered 429 count too): the
	// address is done, whatever the email.
	r := m.call("POST", "/api/v1/password-resets", "", map[string]string{"email": "someone-else@example.com"})
	if r.status != 429 || r.header.Get("Retry-After") == "" {
		t.Fatalf("request past the address's limit: %d, want 429", r.status)
	}
	m.mailTo(p, 2)
}

// TestNewDeviceWarning: the first device of an account is its own; a
// login from another (an API client with another User-Agent) is mailed
// about, with when, what and where; the same device again is not.
func TestNewDeviceWarning(t *testing.T) {
	m := newMailEnv(t)
	p := m.signup("traveller")
	const chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	login := func() {
		t.Helper()
		r := m.callWith(http.Header{"User-Agent": {chrome}}, "POST", "/api/v1/sessions", "", map[string]string{"email": p.email, "password": p.password})
		if r.status != 201 {
			t.Fatalf("login: %d %s", r.status, r.raw)
		}
	}
	login()
	msg := m.mailTo(p, 1)
	for _, want := range []string{"Chrome on Linux", "127.0.0.1", m.clock.Now().Format("2 Jan 2006")} {
		if !strings.Contains(msg.Body, want) {
			t.Fatalf("new device mail lacks %q:\n%s", want, msg.Body)
		}
	}
	login()
	m.login(p.email, p.password) // the first device again
	// A reset mail queued after those logins arrives after any mail they
	// queued.
	m.must(202, "POST", "/api/v1/password-resets", "", map[string]string{"email": p.email})
	if next := m.mailTo(p, 2); !strings.Contains(next.Subject, "Reset") {
		t.Fatalf("a known device was warned of: %q\n%s", next.Subject, next.Body)
	}
}

// TestAccountSecurityAtRest: neither the database nor the log holds an
// email, a reset token or a mailed body in the clear, while mail waits
// (the relay refuses it) or after it went.
func TestAccountSecurityAtRest(t *testing.T) {
	m := newMailEnv(t)
	p := m.signup("private")
	m.must(202, "POST", "/api/v1/password-resets", "", map[string]string{"email": p.email})
	tok := m.resetToken(m.mailTo(p, 1))
	m.must(204, "POST", "/api/v1/password-resets/"+tok, "", map[string]string{"new": "a secret passphrase"})
	m.remember("a secret passphrase")
	m.mailTo(p, 2)

	// The relay refuses for now: a reset mail and a device warning wait.
	m.smtp.Refuse(1 << 20)
	m.must(202, "POST", "/api/v1/password-resets", "", map[string]string{"email": p.email})
	m.callWith(http.Header{"User-Agent": {"Firefox/140.0 (Windows)"}}, "POST", "/api/v1/sessions", "", map[string]string{"email": p.email, "password": "a secret passphrase"})
	m.remember("Someone asked to reset", "from a device it had not seen", "/reset-password/cvpw_")
	deadline := time.Now().Add(30 * time.Second)
	for strings.Count(m.logs.String(), "trying again later") < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("the refused mails were not retried:\n%s", m.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	m.scanAtRest()
	log := strings.ToLower(m.logs.String())
	for _, s := range m.secrets {
		if strings.Contains(log, strings.ToLower(s)) {
			t.Errorf("the log holds %q", s)
		}
	}
}

// TestResetWithoutSMTP: a server that cannot send mail answers 202 as
// always and says so in its log, once.
func TestResetWithoutSMTP(t *testing.T) {
	e, logs := newLoggedEnv(t)
	p := e.signup("mailless")
	for range 2 {
		e.must(202, "POST", "/api/v1/password-resets", "", map[string]string{"email": p.email})
	}
	if n := strings.Count(logs.String(), "no --smtp"); n != 1 {
		t.Fatalf("the missing relay was logged %d times, want once:\n%s", n, logs.String())
	}
}

func TestMailConfigChecked(t *testing.T) {
	base := server.Config{DataDir: t.TempDir(), Addr: "127.0.0.1:0", AdminAddr: "127.0.0.1:1"}
	ok := base
	ok.SMTP, ok.SMTPFrom, ok.PublicURL = "smtp://u:p@relay.example.com", "camvault@example.com", "https://camvault.example.com"
	if err := ok.Check(); err != nil {
		t.Fatalf("a complete mail configuration: %v", err)
	}
	for name, c := range map[string]func(*server.Config){
		"no from":       func(c *server.Config) { c.SMTPFrom = "" },
		"display name":  func(c *server.Config) { c.SMTPFrom = "Cam <camvault@example.com>" },
		"no public url": func(c *server.Config) { c.PublicURL = "" },
		"bad scheme":    func(c *server.Config) { c.SMTP = "http://relay.example.com" },
		"relative url":  func(c *server.Config) { c.PublicURL = "/camvault" },
		"from alone":    func(c *server.Config) { c.SMTP = "" },
	} {
		bad := ok
		c(&bad)
		err := bad.Check()
		if err == nil {
			t.Errorf("%s: accepted", name)
		} else if strings.Contains(err.Error(), "u:p") {
			t.Errorf("%s: the error shows the relay's password: %v", name, err)
		}
	}
}
