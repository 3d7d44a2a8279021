package server_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/identity"
	"github.com/camvault/camvault/internal/server"
)

// clock is a settable time shared by the services under test. It starts at
// the wall-clock time, since uploads are checked against it ("not in the
// future") with times the tests take from the wall clock.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Now().UTC().Truncate(time.Second).UnixNano())
	return c
}

func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// env is a real camvault server on a loopback port, with the secrets that
// went through it recorded so the at-rest test can look for them.
type env struct {
	t       testing.TB
	data    string
	app     *server.App
	public  *httptest.Server
	admin   *httptest.Server
	clock   *clock
	logTo   io.Writer // the server's log; nil discards it
	mu      sync.Mutex
	secrets []string
}

func newEnv(t testing.TB, tune ...func(*server.Options)) *env {
	t.Helper()
	return newEnvIn(t, t.TempDir(), tune...)
}

// newEnvIn is newEnv on a data directory the test prepared.
func newEnvIn(t testing.TB, data string, tune ...func(*server.Options)) *env {
	t.Helper()
	e := &env{t: t, data: data, clock: newClock()}
	opts := e.options()
	opts.Events.SweepInterval = 20 * time.Millisecond
	for _, f := range tune {
		f(&opts)
	}
	e.serve(server.Config{}, opts)
	return e
}

// newBackendEnv is a server on the backends cfg names (its Store, Blobs,
// Cache or Bus), with data as its data directory and c as its clock, with
// fast password hashing: these are tests of the backends, not of passwords.
func newBackendEnv(t testing.TB, data string, c *clock, cfg server.Config, tune ...func(*server.Options)) *env {
	t.Helper()
	e := &env{t: t, data: data, clock: c}
	opts := e.options()
	opts.Identity.Argon2 = identity.Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1}
	for _, f := range tune {
		f(&opts)
	}
	e.serve(cfg, opts)
	return e
}

// options are the production options on e's clock.
func (e *env) options() server.Options {
	opts := server.DefaultOptions()
	opts.Identity.Now = e.clock.Now
	opts.Homes.Now = e.clock.Now
	opts.Events.Now = e.clock.Now
	return opts
}

// serve opens the real server on e's data directory with cfg's backends and
// serves it over loopback HTTP until the test ends.
func (e *env) serve(cfg server.Config, opts server.Options) {
	e.t.Helper()
	cfg.DataDir, cfg.Addr, cfg.AdminAddr = e.data, "127.0.0.1:0", "127.0.0.1:1"
	logTo := e.logTo
	if logTo == nil {
		logTo = io.Discard
	}
	app, err := server.Open(e.t.Context(), cfg, opts, slog.New(slog.NewTextHandler(logTo, nil)))
	if err != nil {
		e.t.Fatalf("open server (a backend that cannot be reached fails the test): %v", err)
	}
	e.app = app
	wait := app.Background(e.t.Context())
	e.public = httptest.NewServer(app.Public())
	e.admin = httptest.NewServer(app.Admin())
	e.t.Cleanup(func() {
		e.public.Close()
		e.admin.Close()
		wait()
		app.Close()
	})
}

// remember records a secret that must never be found at rest.
func (e *env) remember(s ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.secrets = append(e.secrets, s...)
}

type resp struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

func (r resp) str(k string) string { s, _ := r.body[k].(string); return s }

func (r resp) errCode() string {
	e, _ := r.body["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

// call sends a request with a JSON body (or raw bytes when body is a
// []byte or string) and the bearer token, if any.
func (e *env) call(method, path, tok string, body any) resp {
	e.t.Helper()
	return e.callWith(nil, method, path, tok, body)
}

// callWith is call with more request headers.
func (e *env) callWith(header http.Header, method, path, tok string, body any) resp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(e.t.Context(), method, e.public.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	res, err := e.public.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	r := resp{status: res.StatusCode, header: res.Header, raw: raw}
	if len(raw) > 0 && strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			e.t.Fatalf("%s %s: answer is not a JSON object: %s", method, path, raw)
		}
	}
	return r
}

// must calls and fails the test unless the status is want.
func (e *env) must(want int, method, path, tok string, body any) resp {
	e.t.Helper()
	r := e.call(method, path, tok, body)
	if r.status != want {
		e.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, r.status, want, r.raw)
	}
	return r
}

type person struct {
	id, email, password, token string
}

var personSeq atomic.Int64

// signup creates an account and logs it in.
func (e *env) signup(name string) person {
	e.t.Helper()
	return e.signupAs(name+"-"+time.Now().Format("150405.000000")+"-"+string(rune('a'+personSeq.Add(1)%26))+"@example.com",
		"correct horse battery "+name)
}

// signupAs makes an account with the given email and password and logs
// it in.
func (e *env) signupAs(email, password string) person {
	e.t.Helper()
	p := person{email: email, password: password}
	p.id = e.must(201, "POST", "/api/v1/accounts", "", map[string]string{"email": p.email, "password": p.password}).str("id")
	p.token = e.login(p.email, p.password)
	e.remember(p.email, p.password)
	return p
}

func (e *env) login(email, password string) string {
	e.t.Helper()
	r := e.must(201, "POST", "/api/v1/sessions", "", map[string]string{"email": email, "password": password})
	tok := r.str("token")
	if !strings.HasPrefix(tok, "cvs_") {
		e.t.Fatalf("session token %q lacks the cvs_ prefix", tok)
	}
	e.remember(tok)
	return tok
}

// share makes with a member of home as role (limited to devices when any
// are given) as people do it through the API: owner invites with's email,
// and with accepts the invitation.
func (e *env) share(owner person, home string, with person, role string, devices ...string) {
	e.t.Helper()
	body := map[string]any{"email": with.email, "role": role}
	if len(devices) > 0 {
		body["devices"] = devices
	}
	inv, _ := e.must(202, "POST", "/api/v1/homes/"+home+"/members", owner.token, body).body["invitation"].(map[string]any)
	id, _ := inv["id"].(string)
	e.must(204, "POST", "/api/v1/invitations/"+id+"/accept", with.token, nil)
}

func (e *env) home(p person, name string) string {
	e.t.Helper()
	r := e.must(201, "POST", "/api/v1/homes", p.token, map[string]string{"name": name})
	e.remember(name)
	return r.str("id")
}

type camera struct{ id, token string }

// pairCamera makes a pairing code in the home and pairs a camera with it.
func (e *env) pairCamera(p person, homeID string) camera {
	e.t.Helper()
	code := e.must(201, "POST", "/api/v1/homes/"+homeID+"/pairing-codes", p.token, nil).str("code")
	r := e.must(201, "POST", "/api/v1/devices/pair", "", map[string]string{"code": code, "model": "CV-1", "firmware": "1.0.0"})
	c := camera{id: r.str("device_id"), token: r.str("device_token")}
	if !strings.HasPrefix(c.token, "cvd_") {
		e.t.Fatalf("device token %q lacks the cvd_ prefix", c.token)
	}
	e.remember(code, strings.ReplaceAll(code, "-", ""), c.token)
	return c
}

// scanAtRest fails the test if any remembered secret appears in any file
// under the data directory (database, WAL, key file, anything).
func (e *env) scanAtRest() {
	e.t.Helper()
	e.app.Close() // flush the WAL into the database file too
	e.mu.Lock()
	defer e.mu.Unlock()
	err := filepath.WalkDir(e.data, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		content, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		lower := bytes.ToLower(content)
		for _, s := range e.secrets {
			if s != "" && bytes.Contains(lower, bytes.ToLower([]byte(s))) {
				e.t.Errorf("%s holds %q in the clear", filepath.Base(path), s)
			}
		}
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
}
