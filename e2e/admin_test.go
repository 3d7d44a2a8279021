package e2e

import (
	"database/sql"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

// TestAdminAuditVerify: the audit log of a real run verifies; after an
// entry is edited in the database, `camvault admin audit verify` says so and
// exits non-zero.
func TestAdminAuditVerify(t *testing.T) {
	data := filepath.Join(t.TempDir(), "d")
	p := serve(t, data)
	must := func(want int, method, path, tok string, body any) map[string]any {
		t.Helper()
		status, out := p.api(t, method, path, tok, body)
		if status != want {
			t.Fatalf("%s %s: %d %v", method, path, status, out)
		}
		return out
	}
	must(201, "POST", "/api/v1/accounts", "", map[string]string{"email": "ann@example.com", "password": "a long passphrase"})
	tok := must(201, "POST", "/api/v1/sessions", "", map[string]string{"email": "ann@example.com", "password": "a long passphrase"})["token"].(string)
	home := must(201, "POST", "/api/v1/homes", tok, map[string]string{"name": "Home"})["id"].(string)
	code := must(201, "POST", "/api/v1/homes/"+home+"/pairing-codes", tok, nil)["code"].(string)
	dev := must(201, "POST", "/api/v1/devices/pair", "", map[string]string{"code": code, "model": "CV-1", "firmware": "1"})

	up := &crashUpload{eventID: "audit-1", startedAt: time.Now().UTC(), thumb: crashJPEG(t), clip: crashMP4(70 << 10)}
	status, id, err := sendCrashUpload(http.DefaultClient, p.addr, dev["device_token"].(string), up, false)
	if err != nil || status != 201 {
		t.Fatalf("upload: %d %v", status, err)
	}
	crashGet(t, p, tok, "/api/v1/events/"+id+"/thumbnail")
	crashGet(t, p, tok, "/api/v1/events/"+id+"/clip")
	must(200, "GET", "/api/v1/events/"+id, tok, nil)
	p.stop(t)

	admin := func(args ...string) (string, error) {
		out, err := exec.Command(binary, append([]string{"admin", "--data", data}, args...)...).CombinedOutput()
		return string(out), err
	}
	out, err := admin("audit", "verify")
	// The pairing code and the pairing, then three looks.
	if err != nil || !strings.Contains(out, "intact: 5 entries") {
		t.Fatalf("verify of an untouched log: %v\n%s", err, out)
	}
	out, err = admin("incidents")
	if err != nil || !strings.Contains(out, "no incidents") {
		t.Fatalf("incidents: %v\n%s", err, out)
	}

	db, err := sql.Open("sqlite", "file:"+filepath.Join(data, "camvault.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE audit SET action = 'event.view' WHERE seq = 2`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	out, err = admin("audit", "verify")
	if err == nil || !strings.Contains(out, "BROKEN") || !strings.Contains(out, "entry 2") {
		t.Fatalf("verify of an edited log: %v\n%s", err, out)
	}
	if _, statErr := os.Stat(filepath.Join(data, "camvault.db")); statErr != nil {
		t.Fatal(statErr)
	}
}
