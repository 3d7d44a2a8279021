package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/camvault/camvault/internal/server"
)

type deviceConn struct {
	t  *testing.T
	ws *websocket.Conn
}

// connect opens a camera's connection and reads its hello.
func (e *env) connect(t *testing.T, cam camera) (*deviceConn, *http.Response, error) {
	t.Helper()
	url := "ws" + strings.TrimPrefix(e.public.URL, "http") + "/api/v1/device/connect"
	ws, res, err := websocket.Dial(t.Context(), url, &websocket.DialOptions{
		HTTPHeader:   http.Header{"Authorization": {"Bearer " + cam.token}},
		Subprotocols: []string{"camvault.v1"},
	})
	if err != nil {
		return nil, res, err
	}
	c := &deviceConn{t: t, ws: ws}
	t.Cleanup(func() { ws.CloseNow() })
	hello := c.read()
	if hello["type"] != "hello" || hello["device_id"] != cam.id || hello["heartbeat_seconds"] == nil {
		t.Fatalf("hello = %v", hello)
	}
	return c, res, nil
}

func (c *deviceConn) read() map[string]any {
	c.t.Helper()
	_, data, err := c.ws.Read(c.t.Context())
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		c.t.Fatalf("message %q: %v", data, err)
	}
	return m
}

// closedWith reads until the connection ends and returns its close code.
func (c *deviceConn) closedWith() websocket.StatusCode {
	c.t.Helper()
	for {
		_, _, err := c.ws.Read(c.t.Context())
		if err != nil {
			return websocket.CloseStatus(err)
		}
	}
}

// eventually polls cond until it holds; the store's presence is written in
// batches, a moment after the connection changes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 200 {
		if cond() {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("%s never happened", what)
}

func (e *env) online(tok, deviceID string) bool {
	d := e.must(200, "GET", "/api/v1/devices/"+deviceID, tok, nil)
	return d.body["online"] == true && d.body["last_seen"] != nil
}

func TestDeviceConnection(t *testing.T) {
	e := newEnv(t)
	ann := e.signup("ann")
	home := e.home(ann, "Home")
	cam := e.pairCamera(ann, home)

	c, _, err := e.connect(t, cam)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "camera shown online", func() bool { return e.online(ann.token, cam.id) })

	// A command from the owner reaches the camera.
	r := e.must(202, "POST", "/api/v1/devices/"+cam.id+"/commands", ann.token, map[string]any{"command": "settings", "settings": map[string]int{"event_interval_seconds": 10}})
	cmd := c.read()
	if cmd["type"] != "command" || cmd["command"] != "settings" || cmd["id"] != r.str("id") {
		t.Fatalf("camera got %v", cmd)
	}
	e.must(202, "POST", "/api/v1/devices/"+cam.id+"/commands", ann.token, map[string]any{"command": "snapshot"})
	if cmd := c.read(); cmd["command"] != "snapshot" {
		t.Fatalf("camera got %v", cmd)
	}
	ok := true
	res, _ := json.Marshal(map[string]any{"type": "command_result", "id": cmd["id"], "ok": ok, "event_id": "snap-1"})
	if err := c.ws.Write(t.Context(), websocket.MessageText, res); err != nil {
		t.Fatal(err)
	}
	hb, _ := json.Marshal(map[string]string{"type": "heartbeat"})
	if err := c.ws.Write(t.Context(), websocket.MessageText, hb); err != nil {
		t.Fatal(err)
	}

	// A second connection replaces the first, which is told why.
	c2, _, err := e.connect(t, cam)
	if err != nil {
		t.Fatal(err)
	}
	if code := c.closedWith(); code != 4000 {
		t.Fatalf("replaced connection closed with %d, want 4000", code)
	}
	eventually(t, "camera still online after the replacement", func() bool { return e.online(ann.token, cam.id) })

	// A bad message ends the connection with 4002.
	if err := c2.ws.Write(t.Context(), websocket.MessageText, []byte("not json")); err != nil {
		t.Fatal(err)
	}
	if code := c2.closedWith(); code != 4002 {
		t.Fatalf("protocol violation closed with %d, want 4002", code)
	}
	eventually(t, "camera shown offline", func() bool { return !e.online(ann.token, cam.id) })
	e.must(409, "POST", "/api/v1/devices/"+cam.id+"/commands", ann.token, map[string]any{"command": "snapshot"})

	// Unpairing closes the connection with 4001 and the token stops working.
	c3, _, err := e.connect(t, cam)
	if err != nil {
		t.Fatal(err)
	}
	e.must(204, "DELETE", "/api/v1/devices/"+cam.id, ann.token, nil)
	if code := c3.closedWith(); code != 4001 {
		t.Fatalf("unpaired camera's connection closed with %d, want 4001", code)
	}
	if _, res, err := e.connect(t, cam); err == nil || res == nil || res.StatusCode != 401 {
		t.Fatalf("unpaired camera connected: %v %v", res, err)
	}
}

func TestDeviceConnectionCredentials(t *testing.T) {
	e := newEnv(t)
	ann, bob := e.signup("ann"), e.signup("bob")
	home := e.home(ann, "Home")
	cam := e.pairCamera(ann, home)
	// A person's token is not a device credential.
	if _, res, err := e.connect(t, camera{id: cam.id, token: ann.token}); err == nil || res.StatusCode != 401 {
		t.Fatalf("person token connected as a camera: %v", err)
	}
	// Commands: a stranger gets not found, a viewer forbidden, bad input 400.
	e.share(ann, home, bob, "viewer")
	missing := e.call("POST", "/api/v1/devices/"+strings.Repeat("a", 26)+"/commands", bob.token, map[string]any{"command": "snapshot"})
	if missing.status != 404 {
		t.Fatalf("command to a missing camera: %d", missing.status)
	}
	e.must(403, "POST", "/api/v1/devices/"+cam.id+"/commands", bob.token, map[string]any{"command": "snapshot"})
	mallory := e.signup("mallory")
	stranger := e.call("POST", "/api/v1/devices/"+cam.id+"/commands", mallory.token, map[string]any{"command": "snapshot"})
	if stranger.status != 404 || string(stranger.raw) != string(missing.raw) {
		t.Fatalf("stranger's command: %d %s", stranger.status, stranger.raw)
	}
	for _, body := range []any{
		map[string]any{"command": "reboot"},
		map[string]any{"command": "settings", "settings": map[string]int{"event_interval_seconds": 0}},
		map[string]any{"command": "settings", "settings": map[string]int{"volume": 3}},
		map[string]any{"command": "snapshot", "settings": map[string]int{"event_interval_seconds": 3}},
	} {
		e.must(400, "POST", "/api/v1/devices/"+cam.id+"/commands", ann.token, body)
	}
}

// TestAdmissionSheds: past the connection rate and the uploads in flight,
// cameras get 503 with a Retry-After, and nothing else changes.
func TestAdmissionSheds(t *testing.T) {
	e := newEnv(t, func(o *server.Options) {
		o.Admission.ConnectsPerSecond, o.Admission.ConnectBurst = 0.001, 1
	})
	ann := e.signup("ann")
	home := e.home(ann, "Home")
	cam := e.pairCamera(ann, home)
	if _, _, err := e.connect(t, cam); err != nil {
		t.Fatal(err)
	}
	_, res, err := e.connect(t, cam)
	if err == nil || res == nil || res.StatusCode != 503 {
		t.Fatalf("second connect past the rate: %v %v", res, err)
	}
	if ra := res.Header.Get("Retry-After"); ra != "1" && ra != "2" {
		t.Fatalf("Retry-After %q, want a jittered 1 or 2", ra)
	}
	if m := e.adminGet("/metrics"); !strings.Contains(m, `camvault_shed_total{kind="connect"} 1`) {
		t.Fatalf("shed connects not counted")
	}
}

// TestStalePresenceIsOffline: a node killed outright never writes
// "offline" for the cameras it held. A camera whose last seen has not been
// written for longer than a connected camera's ever goes unwritten is
// shown offline, whatever the stored flag says. (The clock of the homes
// service moves; the connection's node stops writing, as a dead node would.)
func TestStalePresenceIsOffline(t *testing.T) {
	e := newEnv(t)
	ann := e.signup("ann")
	home := e.home(ann, "Home")
	cam := e.pairCamera(ann, home)
	c, _, err := e.connect(t, cam)
	if err != nil {
		t.Fatal(err)
	}
	defer c.ws.CloseNow()
	eventually(t, "camera shown online", func() bool { return e.online(ann.token, cam.id) })
	ttl := server.DefaultOptions().Gateway.LastSeenEvery + 3*server.DefaultOptions().Gateway.Heartbeat
	e.clock.Advance(ttl - time.Minute)
	if !e.online(ann.token, cam.id) {
		t.Fatal("shown offline before its last seen went stale")
	}
	e.clock.Advance(2 * time.Minute)
	if e.online(ann.token, cam.id) {
		t.Fatal("a camera whose last seen went stale is still shown online")
	}
}

// TestCameraCannotFloodTheLog: a camera sending command results as fast
// as it can, each with 15 KB of error text, gets a few short lines into
// the server's log, not megabytes.
func TestCameraCannotFloodTheLog(t *testing.T) {
	e, logs := newLoggedEnv(t)
	ann := e.signup("ann")
	cam := e.pairCamera(ann, e.home(ann, "Home"))
	c, _, err := e.connect(t, cam)
	if err != nil {
		t.Fatal(err)
	}
	before := len(logs.String())
	res, _ := json.Marshal(map[string]any{"type": "command_result", "id": "c1", "ok": false, "error": strings.Repeat("E", 15<<10)})
	for range 500 { // 7.5 MB of error text
		if err := c.ws.Write(t.Context(), websocket.MessageText, res); err != nil {
			t.Fatal(err)
		}
	}
	// A bad message after them: the connection reads in order, so its
	// close (4002) comes once every result before it was handled.
	if err := c.ws.Write(t.Context(), websocket.MessageText, []byte("not json")); err != nil {
		t.Fatal(err)
	}
	if code := c.closedWith(); code != 4002 {
		t.Fatalf("after the flood the connection closed with %d, want 4002", code)
	}
	if grew := len(logs.String()) - before; grew > 64<<10 {
		t.Fatalf("500 command results of 15 KB grew the log by %d bytes", grew)
	}
	if n := strings.Count(logs.String(), "camera command result"); n == 0 || n > 20 {
		t.Errorf("%d command result lines logged; want a few", n)
	}
}
