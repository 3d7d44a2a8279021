package server_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/camvault/camvault/internal/deviceclient"
	"github.com/camvault/camvault/internal/server"
	simcam "github.com/camvault/camvault/internal/sim/camera"
)

// totpCode is the code an authenticator app shows for secret at t.
func totpCode(t testing.TB, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type totpSetup struct {
	secret string
	codes  []string
}

// turnOnTOTP sets up and confirms TOTP for p through the API, and moves
// the clock to the next time step, so the confirming code's step is past.
func (e *env) turnOnTOTP(p person) totpSetup {
	e.t.Helper()
	r := e.must(201, "POST", "/api/v1/me/totp", p.token, nil)
	s := totpSetup{secret: r.str("secret")}
	for _, c := range r.body["recovery_codes"].([]any) {
		s.codes = append(s.codes, c.(string))
	}
	e.remember(append([]string{s.secret}, s.codes...)...)
	e.must(204, "POST", "/api/v1/me/totp/confirm", p.token, map[string]string{"otp": totpCode(e.t, s.secret, e.clock.Now())})
	e.clock.Advance(30 * time.Second)
	return s
}

func (e *env) loginOTP(p person, password, code string) resp {
	e.t.Helper()
	return e.call("POST", "/api/v1/sessions", "", map[string]string{"email": p.email, "password": password, "otp": code})
}

func TestTOTPLogin(t *testing.T) {
	// Wrong codes are many here; their throttle is TestOTPThrottle's.
	e := newEnv(t, func(o *server.Options) { o.Identity.OTPFailures = 100 })
	ann := e.signup("ann")

	r := e.must(201, "POST", "/api/v1/me/totp", ann.token, nil)
	secret, link := r.str("secret"), r.str("otpauth_url")
	codes, _ := r.body["recovery_codes"].([]any)
	if u, err := url.Parse(link); err != nil || u.Scheme != "otpauth" || u.Host != "totp" || u.Query().Get("secret") != secret ||
		u.Query().Get("issuer") != "camvault" || len(codes) != 10 || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("TOTP set-up: %s", r.raw)
	}
	var recovery []string
	for _, c := range codes {
		recovery = append(recovery, c.(string))
	}
	e.remember(append([]string{secret}, recovery...)...)

	// Not in force until confirmed.
	e.login(ann.email, ann.password)
	if r := e.must(200, "GET", "/api/v1/me/second-factors", ann.token, nil); r.body["totp"] != false || r.body["totp_pending"] != true {
		t.Fatalf("second factors before confirming: %s", r.raw)
	}
	wrong := totpCode(t, secret, e.clock.Now().Add(-10*time.Minute))
	if r := e.call("POST", "/api/v1/me/totp/confirm", ann.token, map[string]string{"otp": wrong}); r.status != 400 {
		t.Fatalf("confirm with a wrong code: %d %s", r.status, r.raw)
	}
	now := totpCode(t, secret, e.clock.Now())
	e.must(204, "POST", "/api/v1/me/totp/confirm", ann.token, map[string]string{"otp": now})
	if r := e.call("POST", "/api/v1/me/totp/confirm", ann.token, map[string]string{"otp": now}); r.status != 409 {
		t.Fatalf("confirm twice: %d %s", r.status, r.raw)
	}
	e.must(409, "POST", "/api/v1/me/totp", ann.token, nil)

	// Without a code: otp_required, but only after the right password.
	if r := e.loginOTP(ann, ann.password, ""); r.status != 401 || r.errCode() != "otp_required" {
		t.Fatalf("login without a code: %d %s", r.status, r.raw)
	}
	unknown := e.call("POST", "/api/v1/sessions", "", map[string]string{"email": "nobody-" + ann.email, "password": "wrong password here"})
	for _, code := range []string{"", now, totpCode(t, secret, e.clock.Now().Add(30*time.Second))} {
		r := e.loginOTP(ann, "wrong password here", code)
		if r.status != 401 || r.errCode() != "unauthorized" || !bytes.Equal(r.raw, unknown.raw) {
			t.Fatalf("wrong password with otp %q: %d %s, want the unknown email's answer %s", code, r.status, r.raw, unknown.raw)
		}
	}
	// The confirming code's step is used: a login cannot replay it.
	if r := e.loginOTP(ann, ann.password, now); r.status != 401 || r.errCode() != "otp_required" {
		t.Fatalf("login replaying the confirming code: %d %s", r.status, r.raw)
	}
	e.clock.Advance(30 * time.Second)
	next := totpCode(t, secret, e.clock.Now())
	if r := e.loginOTP(ann, ann.password, next); r.status != 201 || !strings.HasPrefix(r.str("token"), "cvs_") {
		t.Fatalf("login with a current code: %d %s", r.status, r.raw)
	}
	if r := e.loginOTP(ann, ann.password, next); r.status != 401 || r.errCode() != "otp_required" {
		t.Fatalf("the same code twice: %d %s", r.status, r.raw)
	}
	// A code of an earlier step than the last accepted one, though
	// within the clock-drift window, is refused too.
	e.clock.Advance(30 * time.Second)
	if r := e.loginOTP(ann, ann.password, totpCode(t, secret, e.clock.Now())); r.status != 201 {
		t.Fatalf("login with the next code: %d %s", r.status, r.raw)
	}
	if r := e.loginOTP(ann, ann.password, next); r.status != 401 {
		t.Fatalf("an older step after a newer one: %d %s", r.status, r.raw)
	}

	// A recovery code works once, in any case and with or without dashes.
	if r := e.loginOTP(ann, ann.password, strings.ToUpper(strings.ReplaceAll(recovery[0], "-", ""))); r.status != 201 {
		t.Fatalf("login with a recovery code: %d %s", r.status, r.raw)
	}
	if r := e.loginOTP(ann, ann.password, recovery[0]); r.status != 401 || r.errCode() != "otp_required" {
		t.Fatalf("a recovery code used twice: %d %s", r.status, r.raw)
	}
	if r := e.must(200, "GET", "/api/v1/me/second-factors", ann.token, nil); r.body["totp"] != true || r.body["recovery_codes"] != float64(9) {
		t.Fatalf("second factors: %s", r.raw)
	}

	// Turning it off needs a code; a wrong one changes nothing.
	if r := e.call("DELETE", "/api/v1/me/totp", ann.token, map[string]string{"otp": "000000"}); r.status != 400 {
		t.Fatalf("turn off with a wrong code: %d %s", r.status, r.raw)
	}
	e.must(400, "DELETE", "/api/v1/me/totp", ann.token, map[string]string{"otp": recovery[0]})
	e.must(204, "DELETE", "/api/v1/me/totp", ann.token, map[string]string{"otp": recovery[1]})
	e.must(404, "DELETE", "/api/v1/me/totp", ann.token, map[string]string{"otp": recovery[2]})
	e.login(ann.email, ann.password)
	e.must(401, "POST", "/api/v1/me/totp", "", nil)

	// Neither the secret nor a recovery code is ever at rest in the clear.
	e.scanAtRest()
}

func TestOTPThrottle(t *testing.T) {
	e := newEnv(t)
	ann := e.signup("ann")
	s := e.turnOnTOTP(ann)
	for i := range 5 {
		if r := e.loginOTP(ann, ann.password, "123456"); r.status != 401 || r.errCode() != "otp_required" {
			t.Fatalf("wrong code %d: %d %s", i, r.status, r.raw)
		}
	}
	// Past the limit even the right code waits, and so does a recovery code.
	for _, code := range []string{totpCode(t, s.secret, e.clock.Now()), s.codes[0]} {
		if r := e.loginOTP(ann, ann.password, code); r.status != 429 || r.header.Get("Retry-After") == "" {
			t.Fatalf("past the limit: %d %s", r.status, r.raw)
		}
	}
	// Wrong codes do not lock out someone without the password: they
	// still get the plain wrong-password answer, and nothing about codes.
	if r := e.loginOTP(ann, "wrong password here", ""); r.status != 401 || r.errCode() != "unauthorized" {
		t.Fatalf("a wrong password past the code limit: %d %s", r.status, r.raw)
	}
	e.clock.Advance(16 * time.Minute)
	if r := e.loginOTP(ann, ann.password, totpCode(t, s.secret, e.clock.Now())); r.status != 201 {
		t.Fatalf("after the window: %d %s", r.status, r.raw)
	}
}

// TestOTPParallelReplay: of many logins with one code at once, one gets in.
func TestOTPParallelReplay(t *testing.T) {
	e := newEnv(t, func(o *server.Options) { o.Identity.OTPFailures = 100 })
	ann := e.signup("ann")
	s := e.turnOnTOTP(ann)
	code := totpCode(t, s.secret, e.clock.Now())
	results := make(chan int, 8)
	for range 8 {
		go func() {
			body, _ := json.Marshal(map[string]string{"email": ann.email, "password": ann.password, "otp": code})
			res, err := e.public.Client().Post(e.public.URL+"/api/v1/sessions", "application/json", bytes.NewReader(body))
			if err != nil {
				results <- 0
				return
			}
			res.Body.Close()
			results <- res.StatusCode
		}()
	}
	ok := 0
	for range 8 {
		if <-results == 201 {
			ok++
		}
	}
	if ok != 1 {
		t.Fatalf("%d of 8 parallel logins with one code got in, want 1", ok)
	}
}

func TestRequireSecondFactor(t *testing.T) {
	e := newEnv(t)
	owner, viewer, stranger := e.signup("owner"), e.signup("viewer"), e.signup("stranger")
	home := e.home(owner, "Home")
	cam := e.pairCamera(owner, home)
	up := e.upload(cam, "evt-1", recent(2), 0)
	e.share(owner, home, viewer, "viewer")

	// The owner needs a second factor first; a viewer may not change it.
	if r := e.call("PATCH", "/api/v1/homes/"+home, owner.token, map[string]any{"require_second_factor": true}); r.status != 409 {
		t.Fatalf("requiring without a second factor of one's own: %d %s", r.status, r.raw)
	}
	e.turnOnTOTP(owner)
	e.must(403, "PATCH", "/api/v1/homes/"+home, viewer.token, map[string]any{"require_second_factor": true})
	e.must(404, "PATCH", "/api/v1/homes/"+home, stranger.token, map[string]any{"require_second_factor": true})
	if r := e.must(200, "PATCH", "/api/v1/homes/"+home, owner.token, map[string]any{"require_second_factor": true}); r.body["require_second_factor"] != true {
		t.Fatalf("home after requiring: %s", r.raw)
	}

	// The viewer, a member without a second factor, is refused clearly,
	// on every route of the home's data, at once.
	for _, path := range []string{"/api/v1/homes/" + home, "/api/v1/homes/" + home + "/devices", "/api/v1/devices/" + cam.id,
		"/api/v1/events/" + up.id, "/api/v1/events/" + up.id + "/thumbnail", "/api/v1/events?home=" + home,
		"/api/v1/events/stream?home=" + home, "/api/v1/homes/" + home + "/audit"} {
		if r := e.call("GET", path, viewer.token, nil); r.status != 403 || r.errCode() != "second_factor_required" {
			t.Fatalf("viewer GET %s: %d %s", path, r.status, r.raw)
		}
		// Someone who is not a member learns nothing: 404 as before.
		if r := e.call("GET", path, stranger.token, nil); r.status != 404 {
			t.Fatalf("stranger GET %s: %d %s", path, r.status, r.raw)
		}
	}
	if list, _ := e.events(viewer.token, ""); len(list) != 0 {
		t.Fatalf("the viewer's timeline shows %d events of the home", len(list))
	}
	homes, _ := e.must(200, "GET", "/api/v1/homes", viewer.token, nil).body["homes"].([]any)
	if len(homes) != 1 || homes[0].(map[string]any)["needs_second_factor"] != true {
		t.Fatalf("the viewer's homes: %v", homes)
	}
	// The owner, with TOTP, sees everything.
	e.must(200, "GET", "/api/v1/events/"+up.id, owner.token, nil)

	// A passkey or TOTP set up opens the home on the next request; taking
	// it away closes it again.
	s := e.turnOnTOTP(viewer)
	e.must(200, "GET", "/api/v1/events/"+up.id+"/thumbnail", viewer.token, nil)
	e.must(204, "DELETE", "/api/v1/me/totp", viewer.token, map[string]string{"otp": s.codes[0]})
	e.must(403, "GET", "/api/v1/events/"+up.id, viewer.token, nil)

	// Lifting the requirement lets them back in.
	e.must(200, "PATCH", "/api/v1/homes/"+home, owner.token, map[string]any{"require_second_factor": false})
	e.must(200, "GET", "/api/v1/events/"+up.id, viewer.token, nil)

	// Refused, a member may still leave; then the home is not theirs at all.
	e.must(200, "PATCH", "/api/v1/homes/"+home, owner.token, map[string]any{"require_second_factor": true})
	e.must(403, "GET", "/api/v1/homes/"+home, viewer.token, nil)
	e.must(204, "DELETE", "/api/v1/homes/"+home+"/members/"+viewer.id, viewer.token, nil)
	e.must(404, "GET", "/api/v1/homes/"+home, viewer.token, nil)
}

// softAuthenticator is a passkey authenticator in software: a P-256 key
// per credential, as a phone or a security key holds it.
type softAuthenticator struct {
	t      testing.TB
	rpID   string
	origin string
	creds  map[string]*softCredential // by credential ID
}

type softCredential struct {
	id      []byte
	key     *ecdsa.PrivateKey
	user    []byte
	counter uint32
}

var b64 = base64.RawURLEncoding

func newSoftAuthenticator(t testing.TB, origin string) *softAuthenticator {
	u, err := url.Parse(origin)
	if err != nil {
		t.Fatal(err)
	}
	return &softAuthenticator{t: t, rpID: u.Hostname(), origin: origin, creds: map[string]*softCredential{}}
}

// ceremony reads a begin's answer: its challenge ID and the public key
// options.
func ceremony(t testing.TB, r resp) (string, map[string]any) {
	t.Helper()
	opts, _ := r.body["options"].(map[string]any)
	pk, _ := opts["publicKey"].(map[string]any)
	if r.str("challenge") == "" || pk == nil {
		t.Fatalf("not a ceremony: %s", r.raw)
	}
	return r.str("challenge"), pk
}

func (a *softAuthenticator) clientData(typ, challenge string) []byte {
	cd, _ := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": a.origin, "crossOrigin": false})
	return cd
}

func (a *softAuthenticator) authData(flags byte, counter uint32, attested []byte) []byte {
	rp := sha256.Sum256([]byte(a.rpID))
	out := append(rp[:], flags)
	out = binary.BigEndian.AppendUint32(out, counter)
	return append(out, attested...)
}

// create answers a registration's options with a new credential.
func (a *softAuthenticator) create(pk map[string]any) (map[string]any, *softCredential) {
	a.t.Helper()
	user, _ := pk["user"].(map[string]any)
	uid, err := b64.DecodeString(user["id"].(string))
	if err != nil {
		a.t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		a.t.Fatal(err)
	}
	c := &softCredential{id: make([]byte, 32), key: key, user: uid, counter: 1}
	rand.Read(c.id)
	a.creds[string(c.id)] = c
	point, err := key.PublicKey.Bytes() // 0x04, X, Y
	if err != nil {
		a.t.Fatal(err)
	}
	x, y := point[1:33], point[33:]
	cose, err := webauthncbor.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: x, -3: y})
	if err != nil {
		a.t.Fatal(err)
	}
	attested := append(make([]byte, 16), byte(len(c.id)>>8), byte(len(c.id)))
	attested = append(append(attested, c.id...), cose...)
	att, err := webauthncbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": a.authData(0x45, c.counter, attested)})
	if err != nil {
		a.t.Fatal(err)
	}
	return map[string]any{"id": b64.EncodeToString(c.id), "rawId": b64.EncodeToString(c.id), "type": "public-key",
		"response": map[string]any{"clientDataJSON": b64.EncodeToString(a.clientData("webauthn.create", pk["challenge"].(string))),
			"attestationObject": b64.EncodeToString(att), "transports": []string{"internal"}},
		"clientExtensionResults": map[string]any{}}, c
}

// get answers a login's options with credential c, its counter moved by
// step (0: not moved), signed as userHandle.
func (a *softAuthenticator) get(pk map[string]any, c *softCredential, userHandle []byte, step uint32) map[string]any {
	a.t.Helper()
	c.counter += step
	ad := a.authData(0x05, c.counter, nil)
	cd := a.clientData("webauthn.get", pk["challenge"].(string))
	h := sha256.Sum256(cd)
	digest := sha256.Sum256(append(append([]byte{}, ad...), h[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, c.key, digest[:])
	if err != nil {
		a.t.Fatal(err)
	}
	return map[string]any{"id": b64.EncodeToString(c.id), "rawId": b64.EncodeToString(c.id), "type": "public-key",
		"response": map[string]any{"clientDataJSON": b64.EncodeToString(cd), "authenticatorData": b64.EncodeToString(ad),
			"signature": b64.EncodeToString(sig), "userHandle": b64.EncodeToString(userHandle)},
		"clientExtensionResults": map[string]any{}}
}

const testPublicURL = "https://camvault.test"

func TestPasskeys(t *testing.T) {
	e := newEnv(t, func(o *server.Options) { o.Identity.PublicURL = testPublicURL })
	ann, bob := e.signup("ann"), e.signup("bob")
	auth := newSoftAuthenticator(t, testPublicURL)

	challenge, pk := ceremony(t, e.must(201, "POST", "/api/v1/me/passkeys/challenges", ann.token, nil))
	if rp, _ := pk["rp"].(map[string]any); rp["id"] != "camvault.test" {
		t.Fatalf("relying party: %v", pk["rp"])
	}
	cred, _ := auth.create(pk)
	// Another account can neither finish ann's ceremony nor spend it; an
	// answer made for another site is refused, and spends it.
	e.must(400, "POST", "/api/v1/me/passkeys", bob.token, map[string]any{"challenge": challenge, "credential": cred})
	forged := newSoftAuthenticator(t, "https://evil.test")
	bad, _ := forged.create(pk)
	e.must(400, "POST", "/api/v1/me/passkeys", ann.token, map[string]any{"challenge": challenge, "credential": bad})
	e.must(400, "POST", "/api/v1/me/passkeys", ann.token, map[string]any{"challenge": challenge, "credential": cred})
	challenge, pk = ceremony(t, e.must(201, "POST", "/api/v1/me/passkeys/challenges", ann.token, nil))
	cred, c := auth.create(pk)
	added := e.must(201, "POST", "/api/v1/me/passkeys", ann.token, map[string]any{"challenge": challenge, "credential": cred})
	e.must(400, "POST", "/api/v1/me/passkeys", ann.token, map[string]any{"challenge": challenge, "credential": cred})
	list, _ := e.must(200, "GET", "/api/v1/me/passkeys", ann.token, nil).body["passkeys"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["id"] != added.str("id") {
		t.Fatalf("ann's passkeys: %v", list)
	}
	if list, _ := e.must(200, "GET", "/api/v1/me/passkeys", bob.token, nil).body["passkeys"].([]any); len(list) != 0 {
		t.Fatalf("bob sees passkeys: %v", list)
	}

	// A passkey is a second factor: ann may require one in her home.
	home := e.home(ann, "Ann's")
	e.must(200, "PATCH", "/api/v1/homes/"+home, ann.token, map[string]any{"require_second_factor": true})
	e.must(200, "GET", "/api/v1/homes/"+home, ann.token, nil)

	// A password alone no longer signs ann in: her passkey does.
	if r := e.call("POST", "/api/v1/sessions", "", map[string]string{"email": ann.email, "password": ann.password}); r.status != 401 || r.errCode() != "passkey_required" {
		t.Fatalf("password login of a passkey account: %d %s", r.status, r.raw)
	}
	if r := e.call("POST", "/api/v1/sessions", "", map[string]string{"email": ann.email, "password": "wrong password here"}); r.errCode() != "unauthorized" {
		t.Fatalf("wrong password of a passkey account: %d %s", r.status, r.raw)
	}
	login := func(userHandle []byte, step uint32) resp {
		t.Helper()
		challenge, pk := ceremony(t, e.must(201, "POST", "/api/v1/sessions/passkey/challenges", "", nil))
		return e.call("POST", "/api/v1/sessions/passkey", "", map[string]any{"challenge": challenge, "credential": auth.get(pk, c, userHandle, step)})
	}
	r := login(c.user, 1)
	if r.status != 201 || !strings.HasPrefix(r.str("token"), "cvs_") {
		t.Fatalf("passkey login: %d %s", r.status, r.raw)
	}
	if me := e.must(200, "GET", "/api/v1/me", r.str("token"), nil); me.str("id") != ann.id {
		t.Fatalf("the passkey logged in as %s", me.raw)
	}
	// A counter that did not move (a replayed or cloned authenticator),
	// a user handle naming another account, an answer given twice: 401.
	if r := login(c.user, 0); r.status != 401 {
		t.Fatalf("login with an unmoved counter: %d %s", r.status, r.raw)
	}
	if r := login([]byte(bob.id), 1); r.status != 401 {
		t.Fatalf("login with bob's user handle: %d %s", r.status, r.raw)
	}
	// Signed by another key than the one registered: 401.
	realKey := c.key
	c.key, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if r := login(c.user, 1); r.status != 401 {
		t.Fatalf("login signed by another key: %d %s", r.status, r.raw)
	}
	c.key = realKey
	challenge, pk = ceremony(t, e.must(201, "POST", "/api/v1/sessions/passkey/challenges", "", nil))
	answer := auth.get(pk, c, c.user, 1)
	e.must(201, "POST", "/api/v1/sessions/passkey", "", map[string]any{"challenge": challenge, "credential": answer})
	e.must(400, "POST", "/api/v1/sessions/passkey", "", map[string]any{"challenge": challenge, "credential": answer})
	e.must(400, "POST", "/api/v1/sessions/passkey", "", map[string]any{"challenge": "nope"})

	// Removed, it signs nobody in; bob cannot remove it.
	e.must(404, "DELETE", "/api/v1/me/passkeys/"+added.str("id"), bob.token, nil)
	e.must(204, "DELETE", "/api/v1/me/passkeys/"+added.str("id"), ann.token, nil)
	e.must(404, "DELETE", "/api/v1/me/passkeys/"+added.str("id"), ann.token, nil)
	if r := login(c.user, 1); r.status != 401 {
		t.Fatalf("login with a removed passkey: %d %s", r.status, r.raw)
	}
	e.login(ann.email, ann.password)
}

func TestPasskeysOff(t *testing.T) {
	e := newEnv(t) // no public URL: the test server's port is not known in advance
	ann := e.signup("ann")
	e.must(404, "POST", "/api/v1/me/passkeys/challenges", ann.token, nil)
	e.must(404, "POST", "/api/v1/sessions/passkey/challenges", "", nil)
}

// TestLiveEndsWhenHomeRequiresSecondFactor: a member without a second
// factor who is watching live is cut off (4403) as soon as the home
// requires one, as a removed member is.
func TestLiveEndsWhenHomeRequiresSecondFactor(t *testing.T) {
	e := newEnv(t)
	owner, viewer := e.signup("ann"), e.signup("bob")
	home := e.home(owner, "Home")
	cam := e.pairCamera(owner, home)
	e.share(owner, home, viewer, "viewer")
	e.turnOnTOTP(owner)

	fleet, err := simcam.NewFleet(simcam.Config{
		Server: e.public.URL, WatermarkKey: []byte("second factor live key"), EventInterval: time.Hour, EventJitter: -1, ClipFrames: -1,
		Backoff: deviceclient.Backoff{Base: 10 * time.Millisecond, Cap: 200 * time.Millisecond},
		Log:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fleet.Add("front door", simcam.Credentials{DeviceID: cam.id, Token: cam.token}); err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fleet.Run(ctx) }()
	t.Cleanup(func() { stop(); <-done })
	eventually(t, "the camera is online", func() bool { return e.online(owner.token, cam.id) })

	ws, _, err := websocket.Dial(t.Context(), "ws"+strings.TrimPrefix(e.public.URL, "http")+"/api/v1/devices/"+cam.id+"/live/mse",
		&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + viewer.token}}, Subprotocols: []string{"camvault.live.v1"}})
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	defer ws.CloseNow()
	ws.SetReadLimit(8 << 20)
	if _, _, err := ws.Read(t.Context()); err != nil {
		t.Fatalf("the init segment: %v", err)
	}
	e.must(200, "PATCH", "/api/v1/homes/"+home, owner.token, map[string]any{"require_second_factor": true})
	for {
		if _, _, err := ws.Read(t.Context()); err != nil {
			if code := websocket.CloseStatus(err); code != 4403 {
				t.Fatalf("after the home required a second factor: %v; want close code 4403", err)
			}
			break
		}
	}
}
