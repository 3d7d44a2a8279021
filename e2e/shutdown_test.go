package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	_ "modernc.org/sqlite"
)

// TestSIGTERMLeavesEveryCameraOffline: a server stopped with SIGTERM
// closes its cameras' connections with 1001 and marks every one of them
// offline in the store before it exits, including a camera that never
// answers the close.
func TestSIGTERMLeavesEveryCameraOffline(t *testing.T) {
	data := filepath.Join(t.TempDir(), "d")
	p := serve(t, data)
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
	type cam struct{ id, token string }
	var cams []cam
	for range 4 {
		code := must(201, "POST", "/api/v1/homes/"+home+"/pairing-codes", tok, nil)["code"].(string)
		dev := must(201, "POST", "/api/v1/devices/pair", "", map[string]string{"code": code, "model": "CV-1", "firmware": "1.0"})
		cams = append(cams, cam{id: dev["device_id"].(string), token: dev["device_token"].(string)})
	}

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	codes := make(chan websocket.StatusCode, len(cams))
	for i, c := range cams {
		ws, _, err := websocket.Dial(ctx, "ws://"+p.addr+"/api/v1/device/connect", &websocket.DialOptions{
			HTTPHeader: http.Header{"Authorization": {"Bearer " + c.token}}, Subprotocols: []string{"camvault.v1"}})
		if err != nil {
			t.Fatalf("camera %d connects: %v", i, err)
		}
		defer ws.CloseNow()
		if _, _, err := ws.Read(ctx); err != nil { // the hello
			t.Fatal(err)
		}
		if i == len(cams)-1 {
			continue // vanished: it never reads again, so it never answers the close
		}
		go func() {
			for {
				if _, _, err := ws.Read(ctx); err != nil {
					codes <- websocket.CloseStatus(err)
					return
				}
			}
		}()
	}
	for _, c := range cams {
		for deadline := time.Now().Add(30 * time.Second); ; sleep() {
			if _, d := p.api(t, "GET", "/api/v1/devices/"+c.id, tok, nil); d["online"] == true {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("camera %s never showed online", c.id)
			}
		}
	}

	p.stop(t) // SIGTERM, and a clean exit

	for range len(cams) - 1 {
		select {
		case code := <-codes:
			if code != websocket.StatusGoingAway {
				t.Errorf("a camera's connection closed with %d; want %d (going away)", code, websocket.StatusGoingAway)
			}
		case <-ctx.Done():
			t.Fatal("a camera's connection did not end")
		}
	}
	// What the store says once the process is gone.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(data, "camvault.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, c := range cams {
		var online bool
		if err := db.QueryRow(`SELECT online FROM devices WHERE id = ?`, c.id).Scan(&online); err != nil {
			t.Fatal(err)
		}
		if online {
			t.Errorf("camera %s is online in the store after the server exited", c.id)
		}
	}
}

// TestDataDirectoryIsLocked: a second `camvault serve` on a data directory
// a server is using exits non-zero and says so; the admin commands still
// work beside the running server; once the first server has stopped, the
// directory serves again.
func TestDataDirectoryIsLocked(t *testing.T) {
	data := filepath.Join(t.TempDir(), "d")
	p := serve(t, data)
	pid := fmt.Sprintf("pid %d", p.cmd.Process.Pid)
	wantRefusal(t, nil, []string{"serve", "--data", data, "--addr", freeAddr(t), "--admin-addr", freeAddr(t)},
		"in use by another camvault process", pid)
	// The same directory under another name is the same directory.
	wantRefusal(t, nil, []string{"serve", "--data", data + "/.", "--addr", freeAddr(t), "--admin-addr", freeAddr(t)},
		"in use by another camvault process")
	out, err := exec.Command(binary, "admin", "--data", data, "breaker", "status").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "cache breaker closed") {
		t.Fatalf("admin beside a running server: %v\n%s", err, out)
	}
	if status, _ := p.api(t, "GET", "/api/v1/openapi.json", "", nil); status != 200 {
		t.Fatalf("the first server after the refusal: %d", status)
	}
	p.stop(t)
	serve(t, data).stop(t)
}
