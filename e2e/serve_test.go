package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestQuickstart follows docs/quickstart.md against the real binary: an
// account, a home, a pairing code, a paired camera, the camera listed, and
// a first event with the samples the quickstart ships (docs/samples),
// seen by the home's owner byte for byte.
func TestQuickstart(t *testing.T) {
	data := t.TempDir()
	p := serve(t, filepath.Join(data, "d"))

	must := func(want int, method, path, tok string, body any) map[string]any {
		t.Helper()
		status, out := p.api(t, method, path, tok, body)
		if status != want {
			t.Fatalf("%s %s: %d %v, want %d", method, path, status, out, want)
		}
		return out
	}
	must(201, "POST", "/api/v1/accounts", "", map[string]string{"email": "ann@example.com", "password": "a long passphrase"})
	tok := must(201, "POST", "/api/v1/sessions", "", map[string]string{"email": "ann@example.com", "password": "a long passphrase"})["token"].(string)
	home := must(201, "POST", "/api/v1/homes", tok, map[string]string{"name": "Home"})["id"].(string)
	code := must(201, "POST", "/api/v1/homes/"+home+"/pairing-codes", tok, nil)["code"].(string)
	dev := must(201, "POST", "/api/v1/devices/pair", "", map[string]string{"code": code, "model": "CV-1", "firmware": "1.0"})
	devs := must(200, "GET", "/api/v1/homes/"+home+"/devices", tok, nil)["devices"].([]any)
	if len(devs) != 1 || devs[0].(map[string]any)["id"] != dev["device_id"] {
		t.Fatalf("devices = %v", devs)
	}

	// A first event, with docs/samples/snapshot.jpg and clip.mp4; sent
	// again, it is recognised and stored once.
	snapshot, err := os.ReadFile("../docs/samples/snapshot.jpg")
	if err != nil {
		t.Fatal(err)
	}
	clip, err := os.ReadFile("../docs/samples/clip.mp4")
	if err != nil {
		t.Fatal(err)
	}
	upload := func() (int, string) {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		part := func(name, file, ctype string, b []byte) {
			h := textproto.MIMEHeader{}
			h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q`, name)+map[bool]string{true: fmt.Sprintf(`; filename=%q`, file)}[file != ""])
			h.Set("Content-Type", ctype)
			w, err := mw.CreatePart(h)
			if err != nil {
				t.Fatal(err)
			}
			w.Write(b)
		}
		part("meta", "", "application/json", []byte(`{"event_id": "evt-0001", "started_at": "2026-11-23T10:00:00Z", "kind": "motion"}`))
		part("thumbnail", "snapshot.jpg", "image/jpeg", snapshot)
		part("clip", "clip.mp4", "video/mp4", clip)
		mw.Close()
		req, _ := http.NewRequest("POST", "http://"+p.addr+"/api/v1/device/events", &body)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		req.Header.Set("Authorization", "Bearer "+dev["device_token"].(string))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out struct {
			ID string `json:"id"`
		}
		if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
			t.Fatalf("upload answer: %v", err)
		}
		return res.StatusCode, out.ID
	}
	status, eventID := upload()
	if status != 201 || eventID == "" {
		t.Fatalf("the first event with the samples: %d %q, want 201 and an ID", status, eventID)
	}
	if again, id := upload(); again != 200 || id != eventID {
		t.Fatalf("the same event again: %d %q, want 200 %q", again, id, eventID)
	}
	events := must(200, "GET", "/api/v1/events?home="+home, tok, nil)["events"].([]any)
	if len(events) != 1 || events[0].(map[string]any)["id"] != eventID {
		t.Fatalf("events = %v", events)
	}
	for path, want := range map[string][]byte{"/thumbnail": snapshot, "/clip": clip} {
		req, _ := http.NewRequest("GET", "http://"+p.addr+"/api/v1/events/"+eventID+path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil || res.StatusCode != 200 || !bytes.Equal(got, want) {
			t.Fatalf("GET %s: %d, %d bytes (%v); want 200 and the %d bytes uploaded", path, res.StatusCode, len(got), err, len(want))
		}
	}

	// The admin listener serves metrics; the public one does not.
	res, err := http.Get("http://" + p.admin + "/metrics")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("admin metrics: %v %v", res, err)
	}
	res.Body.Close()
	if status, _ := p.api(t, "GET", "/metrics", "", nil); status != 404 {
		t.Fatalf("public /metrics: %d", status)
	}

	// The data survives a restart.
	p.stop(t)
	p = serve(t, filepath.Join(data, "d"))
	must(200, "GET", "/api/v1/me", tok, nil)
	p.stop(t)

	fi, err := os.Stat(filepath.Join(data, "d", "master.key"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}
}

func TestRefusesUnsafeConfiguration(t *testing.T) {
	data := filepath.Join(t.TempDir(), "d")

	wantRefusal(t, nil, []string{"serve", "--data", data, "--addr", "0.0.0.0:0", "--admin-addr", freeAddr(t)}, "TLS")
	wantRefusal(t, nil, []string{"serve", "--data", data, "--addr", ":8443", "--admin-addr", freeAddr(t)}, "TLS")
	wantRefusal(t, nil, []string{"serve", "--data", data, "--addr", freeAddr(t), "--admin-addr", "0.0.0.0:0"}, "admin")
	wantRefusal(t, nil, []string{"serve", "--data", data, "--addr", freeAddr(t), "--admin-addr", freeAddr(t), "--tls-cert", "x.pem"}, "tls-key")
	wantRefusal(t, []string{"CAMVAULT_MASTER_KEY=" + strings.Repeat("A", 43) + "="}, []string{"serve", "--data", data, "--addr", freeAddr(t), "--admin-addr", freeAddr(t)}, "not random")

	// First start creates the key; a key file others can read is refused.
	p := serve(t, data)
	p.stop(t)
	key := filepath.Join(data, "master.key")
	if err := os.Chmod(key, 0o644); err != nil {
		t.Fatal(err)
	}
	wantRefusal(t, nil, []string{"serve", "--data", data, "--addr", freeAddr(t), "--admin-addr", freeAddr(t)}, "chmod 600")

	// A missing key with existing data is refused, not replaced.
	if err := os.Remove(key); err != nil {
		t.Fatal(err)
	}
	wantRefusal(t, nil, []string{"serve", "--data", data, "--addr", freeAddr(t), "--admin-addr", freeAddr(t)}, "missing")
	if _, err := os.Stat(key); err == nil {
		t.Fatal("a new key file was made over existing data")
	}
}

// TestEnvironmentVariables starts the server with every setting from
// CAMVAULT_ variables and no flags.
func TestEnvironmentVariables(t *testing.T) {
	addr, admin := freeAddr(t), freeAddr(t)
	p := start(t, []string{"CAMVAULT_DATA=" + t.TempDir(), "CAMVAULT_ADDR=" + addr, "CAMVAULT_ADMIN_ADDR=" + admin}, "serve")
	p.addr, p.admin = addr, admin
	for range 300 {
		if res, err := http.Get("http://" + addr + "/api/v1/openapi.json"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return
			}
		}
		select {
		case err := <-p.exited:
			t.Fatalf("exited: %v\n%s", err, p.out)
		default:
		}
		sleep()
	}
	t.Fatalf("server from environment variables never answered:\n%s", p.out)
}
