package e2e

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestDemo runs `camvault demo` as a newcomer would and checks that its
// printed credentials log in and that events from its cameras appear,
// with thumbnails and clips that can be fetched.
func TestDemo(t *testing.T) {
	addr, admin := freeAddr(t), freeAddr(t)
	cmd := exec.Command(binary, "demo", "--addr", addr, "--admin-addr", admin, "--event-interval", "1s", "--cameras", "2")
	cmd.Env = os.Environ()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })

	var email, password string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() && password == "" {
		line := strings.TrimSpace(sc.Text())
		if v, ok := strings.CutPrefix(line, "Log in as:"); ok {
			email = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(line, "Password:"); ok {
			password = strings.TrimSpace(v)
		}
	}
	go io.Copy(io.Discard, stdout)
	if email == "" || password == "" {
		t.Fatalf("the demo printed no credentials")
	}
	p := &proc{addr: addr}
	status, out := p.api(t, "POST", "/api/v1/sessions", "", map[string]string{"email": email, "password": password})
	if status != 201 {
		t.Fatalf("log in with the demo's credentials: %d %v", status, out)
	}
	tok := out["token"].(string)

	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		_, list := p.api(t, "GET", "/api/v1/events?limit=50", tok, nil)
		evs, _ := list["events"].([]any)
		devices := map[any]bool{}
		for _, ev := range evs {
			devices[ev.(map[string]any)["device_id"]] = true
		}
		if len(devices) == 2 {
			ev := evs[0].(map[string]any)
			for _, u := range []string{ev["thumbnail_url"].(string), ev["clip_url"].(string)} {
				req, _ := http.NewRequest("GET", "http://"+addr+u, nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				res, err := http.DefaultClient.Do(req)
				if err != nil || res.StatusCode != 200 {
					t.Fatalf("GET %s: %v %v", u, res, err)
				}
				res.Body.Close()
			}
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatal("no events from both demo cameras within a minute")
}
