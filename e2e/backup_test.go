package e2e

import (
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAdminBackupRestore: the operator's round trip with the real binary.
// `admin backup` beside the running server; `admin restore` into a new data
// directory says where the master key goes; with the key put back, a
// server on the restored directory logs the account in and serves the
// event's media.
func TestAdminBackupRestore(t *testing.T) {
	data := filepath.Join(t.TempDir(), "d")
	p := serve(t, data)
	must := func(p *proc, want int, method, path, tok string, body any) map[string]any {
		t.Helper()
		status, out := p.api(t, method, path, tok, body)
		if status != want {
			t.Fatalf("%s %s: %d %v", method, path, status, out)
		}
		return out
	}
	must(p, 201, "POST", "/api/v1/accounts", "", map[string]string{"email": "ann@example.com", "password": "a long passphrase"})
	tok := must(p, 201, "POST", "/api/v1/sessions", "", map[string]string{"email": "ann@example.com", "password": "a long passphrase"})["token"].(string)
	home := must(p, 201, "POST", "/api/v1/homes", tok, map[string]string{"name": "Home"})["id"].(string)
	code := must(p, 201, "POST", "/api/v1/homes/"+home+"/pairing-codes", tok, nil)["code"].(string)
	dev := must(p, 201, "POST", "/api/v1/devices/pair", "", map[string]string{"code": code, "model": "CV-1", "firmware": "1"})
	up := &crashUpload{eventID: "backup-1", startedAt: time.Now().UTC(), thumb: crashJPEG(t), clip: crashMP4(70 << 10)}
	status, id, err := sendCrashUpload(http.DefaultClient, p.addr, dev["device_token"].(string), up, false)
	if err != nil || status != 201 {
		t.Fatalf("upload: %d %v", status, err)
	}

	backup := filepath.Join(t.TempDir(), "backup")
	out, err := exec.Command(binary, "admin", "--data", data, "backup", "--to", backup).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "1 events, 2 blobs") || !strings.Contains(string(out), "master key is not in the backup") {
		t.Fatalf("admin backup beside the server: %v\n%s", err, out)
	}
	p.stop(t)

	restored := filepath.Join(t.TempDir(), "r")
	out, err = exec.Command(binary, "admin", "restore", "--from", backup, "--data", restored).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "no master key found") {
		t.Fatalf("admin restore: %v\n%s", err, out)
	}
	key, err := os.ReadFile(filepath.Join(data, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(restored, "master.key"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	r := serve(t, restored)
	tok = must(r, 201, "POST", "/api/v1/sessions", "", map[string]string{"email": "ann@example.com", "password": "a long passphrase"})["token"].(string)
	if got := crashGet(t, r, tok, "/api/v1/events/"+id+"/thumbnail"); !bytes.Equal(got, up.thumb) {
		t.Errorf("restored thumbnail: %d bytes, want the %d uploaded", len(got), len(up.thumb))
	}
	if got := crashGet(t, r, tok, "/api/v1/events/"+id+"/clip"); !bytes.Equal(got, up.clip) {
		t.Errorf("restored clip: %d bytes, want the %d uploaded", len(got), len(up.clip))
	}

	// A second restore into it, while it runs: refused, exit 1.
	out, err = exec.Command(binary, "admin", "restore", "--from", backup, "--data", restored).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "in use") {
		t.Fatalf("restore under a running server: %v\n%s", err, out)
	}
}
