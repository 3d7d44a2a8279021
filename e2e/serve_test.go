package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestQuickstart follows docs/quickstart.md against the real binary: an
// account, a home, a pairing code, a paired camera, and the camera listed.
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
