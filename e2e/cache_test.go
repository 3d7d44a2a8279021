package e2e

import (
	"bytes"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCacheFaultsAndBreaker: `camvault serve` with every cache entry
// swapped (CAMVAULT_CACHE_FAULTS=swap=1.0) still serves a household its own
// thumbnail; the refused entries are in `camvault admin incidents` with
// who asked; the breaker opens, `camvault admin breaker status` says so and
// `camvault admin breaker reset` closes it.
func TestCacheFaultsAndBreaker(t *testing.T) {
	data := filepath.Join(t.TempDir(), "d")
	p := serve(t, data, "CAMVAULT_CACHE_FAULTS=swap=1.0")
	defer p.stop(t)
	must := func(want int, method, path, tok string, body any) map[string]any {
		t.Helper()
		status, out := p.api(t, method, path, tok, body)
		if status != want {
			t.Fatalf("%s %s: %d %v", method, path, status, out)
		}
		return out
	}
	type household struct{ account, token, event string }
	var hs []household
	thumbs := map[string][]byte{}
	for _, name := range []string{"ann", "bob"} {
		acc := must(201, "POST", "/api/v1/accounts", "", map[string]string{"email": name + "@example.com", "password": "a long passphrase"})["id"].(string)
		tok := must(201, "POST", "/api/v1/sessions", "", map[string]string{"email": name + "@example.com", "password": "a long passphrase"})["token"].(string)
		home := must(201, "POST", "/api/v1/homes", tok, map[string]string{"name": "Home"})["id"].(string)
		code := must(201, "POST", "/api/v1/homes/"+home+"/pairing-codes", tok, nil)["code"].(string)
		dev := must(201, "POST", "/api/v1/devices/pair", "", map[string]string{"code": code, "model": "CV-1", "firmware": "1"})
		up := &crashUpload{eventID: name + "-1", startedAt: time.Now().UTC(), thumb: crashJPEG(t)}
		status, id, err := sendCrashUpload(http.DefaultClient, p.addr, dev["device_token"].(string), up, false)
		if err != nil || status != 201 {
			t.Fatalf("upload: %d %v", status, err)
		}
		hs = append(hs, household{acc, tok, id})
		thumbs[id] = up.thumb
	}
	for range 4 {
		for _, h := range hs {
			if got := crashGet(t, p, h.token, "/api/v1/events/"+h.event+"/thumbnail"); !bytes.Equal(got, thumbs[h.event]) {
				t.Fatal("a household got a thumbnail that is not its own")
			}
			for _, o := range hs {
				if o.event != h.event {
					if status, _ := p.api(t, "GET", "/api/v1/events/"+o.event+"/thumbnail", h.token, nil); status != 404 {
						t.Fatalf("another household's thumbnail: %d", status)
					}
				}
			}
		}
	}

	admin := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(binary, append([]string{"admin", "--data", data}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("admin %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	out := admin("incidents")
	if !strings.Contains(out, "cache_mismatch: person "+hs[0].account) || !strings.Contains(out, "cache_mismatch: person "+hs[1].account) {
		t.Fatalf("incidents do not name who asked for the refused entries:\n%s", out)
	}
	var status string
	for range 100 { // the trip reaches the store within a poll
		if status = admin("breaker", "status"); strings.Contains(status, "OPEN") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(status, "OPEN") || !strings.Contains(status, "trips so far: 1") {
		t.Fatalf("breaker status:\n%s", status)
	}
	if !strings.Contains(admin("incidents"), "breaker_open") {
		t.Fatal("no breaker_open incident")
	}
	if out := admin("breaker", "reset"); !strings.Contains(out, "reset") {
		t.Fatalf("reset: %s", out)
	}
	if out := admin("breaker", "status"); !strings.Contains(out, "closed") {
		t.Fatalf("status after reset:\n%s", out)
	}
}
