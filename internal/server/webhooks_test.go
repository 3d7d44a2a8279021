package server_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/server"
)

// receiver is a webhook receiver over HTTPS on loopback. It verifies each
// delivery's signature the way the Standard Webhooks specification tells
// receivers to, written here apart from the server's code.
type receiver struct {
	t      *testing.T
	srv    *httptest.Server
	secret atomic.Value // string
	fail   atomic.Bool  // answer 503
	mu     sync.Mutex
	got    []delivery
	bad    []string
}

type delivery struct {
	id   string
	body map[string]any
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{t: t}
	rc.secret.Store("")
	rc.srv = httptest.NewTLSServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if rc.fail.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	id, ts, sigs := r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp"), r.Header.Get("webhook-signature")
	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(rc.secret.Load().(string), "whsec_"))
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "." + string(body)))
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	ok := false
	for _, sig := range strings.Fields(sigs) {
		if v, s, found := strings.Cut(sig, ","); found && v == "v1" && hmac.Equal([]byte(s), []byte(want)) {
			ok = true
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if !ok || err != nil || time.Since(time.Unix(sec, 0)).Abs() > 5*time.Minute || r.Header.Get("Content-Type") != "application/json" {
		rc.bad = append(rc.bad, fmt.Sprintf("id %q ts %q sig %q", id, ts, sigs))
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		rc.bad = append(rc.bad, "body "+string(body))
	}
	rc.got = append(rc.got, delivery{id: id, body: m})
	w.WriteHeader(http.StatusNoContent)
}

// waitFor waits until cond holds over what arrived.
func (rc *receiver) waitFor(what string, cond func([]delivery) bool) []delivery {
	rc.t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; {
		rc.mu.Lock()
		got := append([]delivery(nil), rc.got...)
		bad := append([]string(nil), rc.bad...)
		rc.mu.Unlock()
		if len(bad) > 0 {
			rc.t.Fatalf("deliveries that failed verification: %q", bad)
		}
		if cond(got) {
			return got
		}
		if time.Now().After(deadline) {
			rc.t.Fatalf("%s: never; got %d deliveries: %+v", what, len(got), got)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// webhookOptions let a server's webhooks reach rc quickly.
func webhookOptions(rc *receiver) func(*server.Options) {
	return func(o *server.Options) {
		o.Webhooks.AllowPrivateTargets = true // the receiver is on loopback
		o.Webhooks.Transport = rc.srv.Client().Transport.(*http.Transport)
		o.Webhooks.Poll = 20 * time.Millisecond
		o.Webhooks.Retries = []time.Duration{20 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond}
	}
}

func ofType(typ string) func(delivery) bool {
	return func(d delivery) bool { return d.body["type"] == typ }
}

func count(ds []delivery, keep func(delivery) bool) int {
	n := 0
	for _, d := range ds {
		if keep(d) {
			n++
		}
	}
	return n
}

// TestWebhooksDeliverSignedMetadata: owners and admins add webhooks (the
// secret shown once), viewers and strangers cannot; events and cameras
// going online and offline arrive signed, with metadata only; another
// home's webhook hears nothing of this home.
func TestWebhooksDeliverSignedMetadata(t *testing.T) {
	rc, other := newReceiver(t), newReceiver(t)
	e := newEnv(t, webhookOptions(rc))
	owner, viewer, stranger := e.signup("owner"), e.signup("viewer"), e.signup("stranger")
	home := e.home(owner, "Casa Quokka")
	cam := e.pairCamera(owner, home)
	e.share(owner, home, viewer, "viewer")
	strangerHome := e.home(stranger, "Villa Wombat")

	body := map[string]any{"url": rc.srv.URL + "/hook?token=receivers-own", "events": []string{"event.created", "device.online", "device.offline"}}
	if r := e.call("POST", "/api/v1/homes/"+home+"/webhooks", viewer.token, body); r.status != 403 {
		t.Fatalf("a viewer adds a webhook: %d %s", r.status, r.raw)
	}
	if r := e.call("POST", "/api/v1/homes/"+home+"/webhooks", stranger.token, body); r.status != 404 {
		t.Fatalf("a stranger adds a webhook: %d %s", r.status, r.raw)
	}
	created := e.must(201, "POST", "/api/v1/homes/"+home+"/webhooks", owner.token, body)
	secret, hookID := created.str("secret"), created.str("id")
	if !strings.HasPrefix(secret, "whsec_") || hookID == "" {
		t.Fatalf("created: %s", created.raw)
	}
	rc.secret.Store(secret)
	e.remember(secret, "receivers-own")
	other.secret.Store(e.must(201, "POST", "/api/v1/homes/"+strangerHome+"/webhooks", stranger.token,
		map[string]any{"url": other.srv.URL, "events": []string{"event.created", "device.online"}}).str("secret"))

	list := e.must(200, "GET", "/api/v1/homes/"+home+"/webhooks", owner.token, nil)
	if strings.Contains(string(list.raw), secret) || !strings.Contains(string(list.raw), hookID) ||
		!strings.Contains(string(list.raw), "receivers-own") {
		t.Fatalf("list: %s", list.raw)
	}
	if r := e.call("GET", "/api/v1/homes/"+home+"/webhooks", viewer.token, nil); r.status != 403 {
		t.Fatalf("a viewer lists webhooks: %d", r.status)
	}

	c, _, err := e.connect(t, cam)
	if err != nil {
		t.Fatal(err)
	}
	up := e.upload(cam, "hooked", time.Now(), 100)
	got := rc.waitFor("the event and the camera online", func(ds []delivery) bool {
		return count(ds, ofType("event.created")) >= 1 && count(ds, ofType("device.online")) >= 1
	})
	for _, d := range got {
		if d.body["type"] != "event.created" {
			continue
		}
		data, _ := d.body["data"].(map[string]any)
		if data["event_id"] != up.id || data["home_id"] != home || data["device_id"] != cam.id || data["kind"] != "motion" ||
			data["has_clip"] != true || d.id != "msg_"+hookID+up.id {
			t.Fatalf("event.created delivery: %s %+v", d.id, d.body)
		}
		for k := range data {
			if !map[string]bool{"event_id": true, "home_id": true, "device_id": true, "kind": true, "started_at": true, "has_clip": true}[k] {
				t.Errorf("event.created carries %q: metadata only", k)
			}
		}
	}
	c.ws.CloseNow()
	rc.waitFor("the camera offline", func(ds []delivery) bool { return count(ds, ofType("device.offline")) >= 1 })

	// The stranger's receiver heard nothing of this home.
	other.mu.Lock()
	defer other.mu.Unlock()
	if len(other.got) != 0 || len(other.bad) != 0 {
		t.Fatalf("another home's webhook got %+v (bad %q)", other.got, other.bad)
	}
	ds := e.must(200, "GET", "/api/v1/homes/"+home+"/webhooks/"+hookID+"/deliveries", owner.token, nil)
	if !strings.Contains(string(ds.raw), `"state":"delivered"`) {
		t.Fatalf("deliveries: %s", ds.raw)
	}
	e.must(204, "DELETE", "/api/v1/homes/"+home+"/webhooks/"+hookID, owner.token, nil)
	if r := e.call("DELETE", "/api/v1/homes/"+home+"/webhooks/"+hookID, owner.token, nil); r.status != 404 {
		t.Fatalf("deleting it again: %d", r.status)
	}
	e.scanAtRest() // the URL's token and the secret are sealed
}

// TestWebhooksAtLeastOnceAcrossARestart: events acknowledged while the
// receiver fails, and through a restart of the server, all arrive once it
// answers again.
func TestWebhooksAtLeastOnceAcrossARestart(t *testing.T) {
	rc := newReceiver(t)
	rc.fail.Store(true)
	data := t.TempDir()
	e := newEnvIn(t, data, webhookOptions(rc), func(o *server.Options) {
		o.Webhooks.Retries = []time.Duration{time.Second, time.Second, time.Second, time.Second, time.Second, time.Second, time.Second, time.Second}
	})
	owner := e.signup("owner")
	home := e.home(owner, "Home")
	cam := e.pairCamera(owner, home)
	rc.secret.Store(e.must(201, "POST", "/api/v1/homes/"+home+"/webhooks", owner.token,
		map[string]any{"url": rc.srv.URL, "events": []string{"event.created"}}).str("secret"))
	want := map[string]bool{}
	for i := range 5 {
		want[e.upload(cam, fmt.Sprintf("before-%d", i), time.Now(), 0).id] = true
	}
	e.public.Close()
	e.app.Close()

	e = newEnvIn(t, data, webhookOptions(rc))
	for i := range 3 {
		want[e.upload(cam, fmt.Sprintf("after-%d", i), time.Now(), 0).id] = true
	}
	rc.fail.Store(false)
	rc.waitFor("every event", func(ds []delivery) bool {
		seen := map[string]bool{}
		for _, d := range ds {
			if data, ok := d.body["data"].(map[string]any); ok {
				seen[fmt.Sprint(data["event_id"])] = true
			}
		}
		for id := range want {
			if !seen[id] {
				return false
			}
		}
		return true
	})
}

// TestWebhookDisabledAfterPersistentFailure: deliveries given up on in a
// row disable the webhook, with its reason shown; no more are made.
func TestWebhookDisabledAfterPersistentFailure(t *testing.T) {
	rc := newReceiver(t)
	rc.fail.Store(true)
	e := newEnv(t, webhookOptions(rc), func(o *server.Options) {
		o.Webhooks.Retries = []time.Duration{10 * time.Millisecond}
		o.Webhooks.MaxFailures = 2
	})
	owner := e.signup("owner")
	home := e.home(owner, "Home")
	cam := e.pairCamera(owner, home)
	id := e.must(201, "POST", "/api/v1/homes/"+home+"/webhooks", owner.token,
		map[string]any{"url": rc.srv.URL, "events": []string{"event.created"}}).str("id")
	e.upload(cam, "one", time.Now(), 0)
	e.upload(cam, "two", time.Now(), 0)
	for deadline := time.Now().Add(30 * time.Second); ; {
		r := e.must(200, "GET", "/api/v1/homes/"+home+"/webhooks", owner.token, nil)
		hooks, _ := r.body["webhooks"].([]any)
		h, _ := hooks[0].(map[string]any)
		if h["disabled"] == true {
			if !strings.Contains(fmt.Sprint(h["disabled_reason"]), "failed") || h["failures"] != 2.0 || h["last_status"] != "503" {
				t.Fatalf("disabled webhook: %+v", h)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the webhook was never disabled: %s", r.raw)
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.upload(cam, "three", time.Now(), 0)
	r := e.must(200, "GET", "/api/v1/homes/"+home+"/webhooks/"+id+"/deliveries", owner.token, nil)
	if ds, _ := r.body["deliveries"].([]any); len(ds) != 2 {
		t.Fatalf("a disabled webhook got a new delivery: %s", r.raw)
	}
}

// TestWebhookTargetsRefused: without --allow-private-targets a webhook may
// not point at loopback, link-local or private addresses, nor use plain
// http; a bad body changes nothing.
func TestWebhookTargetsRefused(t *testing.T) {
	e := newEnv(t)
	owner := e.signup("owner")
	home := e.home(owner, "Home")
	for _, u := range []string{"http://example.com/hook", "https://127.0.0.1/hook", "https://localhost:8443/", "https://[::1]/",
		"https://169.254.169.254/latest/meta-data", "https://10.1.2.3/", "https://192.168.1.10/", "https://[fd00::1]/",
		"https://[::ffff:127.0.0.1]/", "https://user:pass@example.com/", "ftp://example.com/", "not a url", ""} {
		r := e.call("POST", "/api/v1/homes/"+home+"/webhooks", owner.token, map[string]any{"url": u, "events": []string{"event.created"}})
		if r.status != 400 || r.errCode() != "invalid_request" {
			t.Errorf("url %q: %d %s", u, r.status, r.raw)
		}
	}
	for _, events := range [][]string{nil, {"event.deleted"}, {"event.created", "nope"}} {
		r := e.call("POST", "/api/v1/homes/"+home+"/webhooks", owner.token, map[string]any{"url": "https://93.184.215.14/", "events": events})
		if r.status != 400 {
			t.Errorf("events %q: %d %s", events, r.status, r.raw)
		}
	}
	if r := e.must(200, "GET", "/api/v1/homes/"+home+"/webhooks", owner.token, nil); !strings.Contains(string(r.raw), `"webhooks":[]`) {
		t.Fatalf("after refusals: %s", r.raw)
	}
}
