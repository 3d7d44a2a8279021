package mail_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/keys"
	"github.com/camvault/camvault/internal/mail"
	"github.com/camvault/camvault/internal/mail/mailtest"
	"github.com/camvault/camvault/internal/store/sqlite"
)

func TestParseRelay(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    mail.Relay
		wantErr bool
	}{
		{in: "smtp://relay.example.com", want: mail.Relay{Host: "relay.example.com", Port: "587"}},
		{in: "smtp://ann:p%40ss@relay.example.com:2525", want: mail.Relay{Host: "relay.example.com", Port: "2525", Username: "ann", Password: "p@ss"}},
		{in: "smtps://u:p@[::1]", want: mail.Relay{Host: "::1", Port: "465", ImplicitTLS: true, Username: "u", Password: "p"}},
		{in: "http://relay.example.com", wantErr: true},
		{in: "smtp://", wantErr: true},
		{in: "smtp://relay.example.com/path", wantErr: true},
		{in: "relay.example.com:25", wantErr: true},
	} {
		got, err := mail.ParseRelay(tc.in)
		if (err != nil) != tc.wantErr {
			t.Errorf("ParseRelay(%q): error %v, want error %v", tc.in, err, tc.wantErr)
			continue
		}
		if err == nil && (got.Host != tc.want.Host || got.Port != tc.want.Port || got.ImplicitTLS != tc.want.ImplicitTLS || got.Username != tc.want.Username || got.Password != tc.want.Password) {
			t.Errorf("ParseRelay(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "p@ss") {
			t.Errorf("ParseRelay(%q): the error shows the password: %v", tc.in, err)
		}
	}
	r, _ := mail.ParseRelay("smtp://ann:secret@relay.example.com")
	if s := r.String(); strings.Contains(s, "secret") {
		t.Fatalf("Relay.String shows the password: %s", s)
	}
}

// TestRequireTLS: the policy. STARTTLS is required unless the relay is
// named as loopback or speaks TLS from the start.
func TestRequireTLS(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": false, "LOCALHOST": false, "127.0.0.1": false, "127.8.9.10": false, "::1": false,
		"relay.example.com": true, "10.0.0.5": true, "192.168.1.2": true, "localhost.example.com": true, "::ffff:10.0.0.1": true,
	} {
		if got := (mail.Relay{Host: host}).RequireTLS(); got != want {
			t.Errorf("RequireTLS for %s = %v, want %v", host, got, want)
		}
		if (mail.Relay{Host: host, ImplicitTLS: true}).RequireTLS() {
			t.Errorf("RequireTLS for smtps://%s: implicit TLS needs no STARTTLS", host)
		}
	}
}

// dialTo makes a relay of any name connect to a server on loopback, as a
// relay of that name would answer.
func dialTo(addr string) func(ctx context.Context, network, _ string) (net.Conn, error) {
	return func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
}

func message(t *testing.T) []byte {
	return []byte("From: a@example.com\r\nTo: b@example.com\r\nSubject: hi\r\n\r\nhello\r\n")
}

// TestRefusesRelayWithoutSTARTTLS: a relay off loopback that does not offer
// STARTTLS gets nothing, not even the credentials.
func TestRefusesRelayWithoutSTARTTLS(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{})
	_, port, _ := net.SplitHostPort(srv.Addr)
	r := mail.Relay{Host: "relay.example.com", Port: port, Username: "u", Password: "p", Dial: dialTo(srv.Addr)}
	err := r.Send(t.Context(), "a@example.com", "b@example.com", message(t))
	if !errors.Is(err, mail.ErrNoTLS) {
		t.Fatalf("send to a relay off loopback without STARTTLS: %v, want ErrNoTLS", err)
	}
	// The same server named as loopback takes the mail.
	r.Host, r.Username, r.Password = "127.0.0.1", "", ""
	if err := r.Send(t.Context(), "a@example.com", "b@example.com", message(t)); err != nil {
		t.Fatalf("send to a loopback relay without STARTTLS: %v", err)
	}
	if n := len(srv.Messages()); n != 1 {
		t.Fatalf("%d messages arrived, want 1 (the loopback one)", n)
	}
}

// TestSTARTTLS: a relay off loopback that offers STARTTLS gets the mail
// over TLS, checked against its certificate.
func TestSTARTTLS(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{STARTTLS: true, Names: []string{"relay.example.com"}})
	_, port, _ := net.SplitHostPort(srv.Addr)
	r := mail.Relay{Host: "relay.example.com", Port: port, Dial: dialTo(srv.Addr)}
	if err := r.Send(t.Context(), "a@example.com", "b@example.com", message(t)); err == nil {
		t.Fatal("a certificate the system does not trust was accepted")
	}
	r.TLS = nil
	r.TLS = tlsWith(srv)
	if err := r.Send(t.Context(), "a@example.com", "b@example.com", message(t)); err != nil {
		t.Fatalf("send over STARTTLS: %v", err)
	}
	if n := len(srv.Messages()); n != 1 {
		t.Fatalf("%d messages arrived, want 1", n)
	}
}

// outboxEnv is a real SQLite store, a keyring and an SMTP server.
type outboxEnv struct {
	st      *sqlite.Store
	kr      *keys.Keyring
	srv     *mailtest.Server
	dbPath  string
	log     bytes.Buffer
	logMu   sync.Mutex
	account domain.Account
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

const recipient = "ann.outbox@example.com"

func newOutboxEnv(t *testing.T) *outboxEnv {
	t.Helper()
	e := &outboxEnv{srv: mailtest.Start(t, mailtest.Options{}), dbPath: filepath.Join(t.TempDir(), "db")}
	var err error
	if e.kr, err = keys.CreateFile(filepath.Join(t.TempDir(), "master.key")); err != nil {
		t.Fatal(err)
	}
	if e.st, err = sqlite.Open(t.Context(), e.dbPath); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.st.Close() })
	e.account = domain.Account{ID: id.New(), EmailIndex: []byte("ix"), PasswordHash: "h", CreatedAt: time.Now()}
	e.account.EmailSealed = e.kr.SealPII([]byte(recipient), []byte("test"))
	if err := e.st.CreateAccount(t.Context(), e.account); err != nil {
		t.Fatal(err)
	}
	return e
}

// outbox is one node's outbox on the env's store and relay.
func (e *outboxEnv) outbox(t *testing.T) *mail.Outbox {
	_, port, _ := net.SplitHostPort(e.srv.Addr)
	relay := mail.Relay{Host: "127.0.0.1", Port: port}
	address := func(ctx context.Context, accountID string) (string, error) {
		a, err := e.st.AccountByID(ctx, accountID)
		if err != nil {
			return "", err
		}
		b, err := e.kr.OpenPII(a.EmailSealed, []byte("test"))
		return string(b), err
	}
	log := slog.New(slog.NewTextHandler(lockedWriter{&e.logMu, &e.log}, nil))
	return mail.New(e.st, e.kr, relay, address, mail.Config{From: "camvault@example.com", BackoffBase: 5 * time.Millisecond,
		BackoffCap: 20 * time.Millisecond, PollEvery: 10 * time.Millisecond}, log)
}

// run runs an outbox until the returned stop is called, which waits for it.
func run(o *mail.Outbox) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		o.Run(ctx)
	}()
	return func() { cancel(); <-done }
}

func (e *outboxEnv) queued(t *testing.T) int {
	t.Helper()
	ms, err := e.st.ClaimMail(t.Context(), time.Now().Add(24*time.Hour), time.Now().Add(25*time.Hour), 1000)
	if err != nil {
		t.Fatal(err)
	}
	return len(ms)
}

// TestOutboxRetries: a relay that refuses twice, then accepts, gets the
// mail once; the outbox is then empty; the log has neither the address nor
// the body.
func TestOutboxRetries(t *testing.T) {
	e := newOutboxEnv(t)
	o := e.outbox(t)
	e.srv.Refuse(2)
	const secret = "https://camvault.example/reset/cvpw_secretlink"
	if err := o.Enqueue(t.Context(), e.account.ID, mail.Message{Subject: "Reset", Body: "Open " + secret + "\n"}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{e.dbPath, e.dbPath + "-wal"} {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(raw, []byte(secret)) || bytes.Contains(raw, []byte(recipient)) || bytes.Contains(raw, []byte("Open https")) {
			t.Fatalf("the queued mail is in %s in the clear", filepath.Base(f))
		}
	}
	stop := run(o)
	e.srv.Wait(t, 1, 30*time.Second)
	stop()
	msgs := e.srv.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d mails arrived, want exactly 1", len(msgs))
	}
	m := msgs[0]
	if len(m.To) != 1 || m.To[0] != recipient || m.From != "camvault@example.com" || m.Link() != secret || m.Subject != "Reset" {
		t.Fatalf("mail arrived as %+v", m)
	}
	if n := e.queued(t); n != 0 {
		t.Fatalf("%d mails still queued after sending", n)
	}
	e.logMu.Lock()
	log := e.log.String()
	e.logMu.Unlock()
	if !strings.Contains(log, "trying again later") {
		t.Fatalf("the refusals were not logged:\n%s", log)
	}
	if strings.Contains(log, recipient) || strings.Contains(log, secret) {
		t.Fatalf("the log holds the address or the body:\n%s", log)
	}
}

// TestOutboxNodesSendOnce: several nodes on one store send each mail once.
func TestOutboxNodesSendOnce(t *testing.T) {
	e := newOutboxEnv(t)
	const n = 30
	nodes := []*mail.Outbox{e.outbox(t), e.outbox(t), e.outbox(t)}
	for i := range n {
		if err := nodes[i%3].Enqueue(t.Context(), e.account.ID, mail.Message{Subject: fmt.Sprint("mail ", i), Body: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	var stops []func()
	for _, o := range nodes {
		stops = append(stops, run(o))
	}
	e.srv.Wait(t, n, 60*time.Second)
	for _, stop := range stops {
		stop()
	}
	seen := map[string]int{}
	for _, m := range e.srv.Messages() {
		seen[m.Subject]++
	}
	if len(seen) != n {
		t.Fatalf("%d different mails arrived, want %d", len(seen), n)
	}
	for s, c := range seen {
		if c != 1 {
			t.Fatalf("%q arrived %d times", s, c)
		}
	}
	if q := e.queued(t); q != 0 {
		t.Fatalf("%d mails still queued", q)
	}
}

// TestOutboxDisabled: without a relay nothing is queued and Enqueue says
// why.
func TestOutboxDisabled(t *testing.T) {
	e := newOutboxEnv(t)
	o := mail.New(e.st, e.kr, nil, nil, mail.Config{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if o.Enabled() {
		t.Fatal("an outbox without a relay says it can send")
	}
	if err := o.Enqueue(t.Context(), e.account.ID, mail.Message{Subject: "x"}); !errors.Is(err, mail.ErrDisabled) {
		t.Fatalf("enqueue without a relay: %v", err)
	}
	if n := e.queued(t); n != 0 {
		t.Fatalf("%d mails queued without a relay", n)
	}
}
