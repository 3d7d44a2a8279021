package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	blobs3 "github.com/camvault/camvault/internal/blob/s3"
	"github.com/camvault/camvault/internal/store/postgres/pgtest"
)

// TestTwoNodes runs two `camvault serve` processes on loopback sharing one
// PostgreSQL database, one NATS and one S3 bucket, and checks that any node
// serves any request: what is done through one is in force on the other at
// the next request.
//
// The blobs must be in S3: the blob directory is not shared between
// processes (each node, starting, removes the temp files it finds, which
// would be another node's uploads in progress).
func TestTwoNodes(t *testing.T) {
	var missing []string
	for _, v := range []string{pgtest.Env, "CAMVAULT_TEST_NATS", "CAMVAULT_TEST_S3"} {
		if os.Getenv(v) == "" {
			missing = append(missing, v)
		}
	}
	if len(missing) > 0 {
		t.Skipf("%s not set: skipping the two-node test (it needs PostgreSQL, NATS and S3; .ci/services starts them)", strings.Join(missing, ", "))
	}
	storeURL := pgtest.Database(t) // a schema of this test's own
	blobsURL := s3Prefix(t, os.Getenv("CAMVAULT_TEST_S3"))
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	env := []string{
		"CAMVAULT_STORE=" + storeURL,
		"CAMVAULT_BLOBS=" + blobsURL,
		"CAMVAULT_BUS=" + os.Getenv("CAMVAULT_TEST_NATS"),
		// Every node has the same master key, from the environment: a key
		// file per node would be a different key each.
		"CAMVAULT_MASTER_KEY=" + base64.StdEncoding.EncodeToString(key),
	}
	a := serve(t, filepath.Join(t.TempDir(), "a"), env...)
	b := serve(t, filepath.Join(t.TempDir(), "b"), env...)

	must := func(p *proc, want int, method, path, tok string, body any) map[string]any {
		t.Helper()
		status, out := p.api(t, method, path, tok, body)
		if status != want {
			t.Fatalf("%s %s on %s: %d %v, want %d", method, path, p.addr, status, out, want)
		}
		return out
	}
	login := func(p *proc, email string) string {
		t.Helper()
		return must(p, 201, "POST", "/api/v1/sessions", "", map[string]string{"email": email, "password": "a long passphrase"})["token"].(string)
	}

	// An account made on A logs in on B.
	must(a, 201, "POST", "/api/v1/accounts", "", map[string]string{"email": "owner@example.com", "password": "a long passphrase"})
	must(a, 201, "POST", "/api/v1/accounts", "", map[string]string{"email": "guest@example.com", "password": "a long passphrase"})
	ownerA := login(a, "owner@example.com")
	ownerB := login(b, "owner@example.com")
	home := must(a, 201, "POST", "/api/v1/homes", ownerA, map[string]string{"name": "Home"})["id"].(string)
	must(b, 200, "GET", "/api/v1/homes/"+home, ownerB, nil)

	// A member removed through A is refused on B at the next request.
	// Invited through B, accepted through A.
	inv := must(b, 202, "POST", "/api/v1/homes/"+home+"/members", ownerB,
		map[string]string{"email": "guest@example.com", "role": "viewer"})["invitation"].(map[string]any)["id"].(string)
	guestB := login(b, "guest@example.com")
	must(a, 204, "POST", "/api/v1/invitations/"+inv+"/accept", guestB, nil)
	guest := must(a, 200, "GET", "/api/v1/me", guestB, nil)["id"].(string)
	must(b, 200, "GET", "/api/v1/homes/"+home, guestB, nil) // seen once, so any cache holds it
	must(a, 204, "DELETE", "/api/v1/homes/"+home+"/members/"+guest, ownerA, nil)
	must(b, 404, "GET", "/api/v1/homes/"+home, guestB, nil)

	// A session ended through A is refused on B at the next request.
	other := login(a, "owner@example.com")
	must(b, 200, "GET", "/api/v1/homes/"+home, other, nil)
	must(a, 204, "DELETE", "/api/v1/sessions/current", other, nil)
	must(b, 401, "GET", "/api/v1/homes/"+home, other, nil)

	// A camera connected to A shows online on B.
	code := must(a, 201, "POST", "/api/v1/homes/"+home+"/pairing-codes", ownerA, nil)["code"].(string)
	dev := must(b, 201, "POST", "/api/v1/devices/pair", "", map[string]string{"code": code, "model": "CV-1", "firmware": "1.0"})
	cam := crashCamera{id: dev["device_id"].(string), token: dev["device_token"].(string)}
	must(b, 409, "POST", "/api/v1/devices/"+cam.id+"/commands", ownerB, map[string]string{"command": "snapshot"}) // connected nowhere
	ws := connectCamera(t, a, cam)
	// Presence is written in batches (docs/design/gateway.md): wait for
	// it, within a bound that only a lost write would reach.
	for deadline := time.Now().Add(10 * time.Second); ; {
		if online, _ := must(b, 200, "GET", "/api/v1/devices/"+cam.id, ownerB, nil)["online"].(bool); online {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a camera connected to A does not show online on B")
		}
		time.Sleep(20 * time.Millisecond)
	}

	// A command sent through B reaches the camera on A.
	cmdID := must(b, 202, "POST", "/api/v1/devices/"+cam.id+"/commands", ownerB, map[string]string{"command": "snapshot"})["id"].(string)
	for {
		var m map[string]any
		readCtx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		_, data, err := ws.Read(readCtx)
		cancel()
		if err != nil {
			t.Fatalf("the camera on A never received the command sent through B: %v", err)
		}
		_ = json.Unmarshal(data, &m)
		if m["type"] == "command" {
			if m["id"] != cmdID || m["command"] != "snapshot" {
				t.Fatalf("the camera received %v; want snapshot %s", m, cmdID)
			}
			break
		}
	}

	// An event uploaded to A is viewable, byte for byte, from B.
	up := &crashUpload{eventID: "two-nodes-1", startedAt: time.Now().UTC().Add(-time.Minute).Truncate(time.Second),
		thumb: crashJPEG(t), clip: crashMP4(300 << 10)}
	client := &http.Client{Timeout: 60 * time.Second}
	status, eventID, err := sendCrashUpload(client, a.addr, cam.token, up, false)
	if err != nil || status != 201 || eventID == "" {
		t.Fatalf("upload to A: %d %q %v", status, eventID, err)
	}
	ev := must(b, 200, "GET", "/api/v1/events/"+eventID, ownerB, nil)
	if thumb := crashGet(t, b, ownerB, "/api/v1/events/"+eventID+"/thumbnail"); !bytes.Equal(thumb, up.thumb) {
		t.Fatalf("the thumbnail read from B (%d bytes) differs from the one uploaded to A (%d bytes)", len(thumb), len(up.thumb))
	}
	clipURL, _ := ev["clip_url"].(string)
	if clipURL == "" {
		t.Fatalf("the event read from B has no clip: %v", ev)
	}
	if clip := crashGet(t, b, ownerB, clipURL); !bytes.Equal(clip, up.clip) {
		t.Fatalf("the clip read from B (%d bytes) differs from the one uploaded to A (%d bytes)", len(clip), len(up.clip))
	}
	// The member removed earlier sees none of it from either node.
	for _, p := range []*proc{a, b} {
		must(p, 404, "GET", "/api/v1/events/"+eventID+"/thumbnail", guestB, nil)
	}

	// Unpairing through B closes the camera's connection on A.
	must(b, 204, "DELETE", "/api/v1/devices/"+cam.id, ownerB, nil)
	readCtx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	for {
		if _, _, err := ws.Read(readCtx); err != nil {
			if code := websocket.CloseStatus(err); code != 4001 {
				t.Fatalf("the camera's connection on A ended with %v; want close 4001 (unpaired)", err)
			}
			break
		}
	}
	a.stop(t)
	b.stop(t)
}

// connectCamera opens a camera's connection to p and reads its hello.
func connectCamera(t *testing.T, p *proc, cam crashCamera) *websocket.Conn {
	t.Helper()
	ws, _, err := websocket.Dial(t.Context(), "ws://"+p.addr+"/api/v1/device/connect", &websocket.DialOptions{
		Subprotocols: []string{"camvault.v1"},
		HTTPHeader:   http.Header{"Authorization": {"Bearer " + cam.token}},
	})
	if err != nil {
		t.Fatalf("camera connect to %s: %v", p.addr, err)
	}
	t.Cleanup(func() { ws.CloseNow() })
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	_, data, err := ws.Read(ctx)
	if err != nil || !strings.Contains(string(data), `"hello"`) {
		t.Fatalf("camera hello: %s %v", data, err)
	}
	return ws
}

// s3Prefix returns the S3 URL raw with a key prefix of this test's own,
// creating the bucket if needed and emptying the prefix when t ends.
func s3Prefix(t *testing.T, raw string) string {
	t.Helper()
	bc, err := blobs3.ParseURL(raw)
	if err != nil {
		t.Fatalf("CAMVAULT_TEST_S3: %v", err)
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	bc.Prefix += "camvault-e2e-two-nodes/" + hex.EncodeToString(rnd[:]) + "/"
	bucket, err := blobs3.New(t.Context(), bc)
	if err != nil {
		t.Fatal(err)
	}
	if err := bucket.CreateBucket(t.Context()); err != nil {
		t.Fatalf("CAMVAULT_TEST_S3 is set but the bucket cannot be made: %v", err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		_ = bucket.List(ctx, "", func(key string, _ time.Time) error { return bucket.Delete(ctx, key) })
	})
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("prefix", strings.TrimSuffix(bc.Prefix, "/"))
	u.RawQuery = q.Encode()
	return u.String()
}
