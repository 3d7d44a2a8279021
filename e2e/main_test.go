// Package e2e runs the real camvault binary as a separate process on
// loopback and talks to it over HTTP, as an operator and a client would.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// binary is the camvault binary built once for the package's tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "camvault-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "camvault")
	build := exec.Command("go", "build", "-o", binary, "../cmd/camvault")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build camvault:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// freeAddr returns a loopback address with a port nobody listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// proc is a running camvault process.
type proc struct {
	cmd    *exec.Cmd
	out    *bytes.Buffer
	addr   string
	admin  string
	exited chan error
}

// start runs camvault with args and env; it does not wait for readiness.
func start(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{out: &bytes.Buffer{}, exited: make(chan error, 1)}
	p.cmd = exec.Command(binary, args...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.exited <- p.cmd.Wait() }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.exited
	})
	return p
}

// serve starts "camvault serve" on fresh loopback ports and waits until its
// admin listener says it is healthy.
func serve(t *testing.T, data string, env ...string) *proc {
	t.Helper()
	addr, admin := freeAddr(t), freeAddr(t)
	p := start(t, env, "serve", "--data", data, "--addr", addr, "--admin-addr", admin)
	p.addr, p.admin = addr, admin
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-p.exited:
			t.Fatalf("camvault exited early (%v):\n%s", err, p.out)
		default:
		}
		res, err := http.Get("http://" + admin + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return p
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("camvault did not become healthy:\n%s", p.out)
	return nil
}

// stop ends the process with SIGTERM and waits for a clean exit.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.exited:
		if err != nil {
			t.Fatalf("camvault exited with %v:\n%s", err, p.out)
		}
		p.exited <- nil // for the cleanup
	case <-time.After(20 * time.Second):
		t.Fatalf("camvault did not stop on SIGTERM")
	}
}

// wantRefusal runs camvault with args and expects it to exit non-zero,
// saying something that contains each of msgs.
func wantRefusal(t *testing.T, env []string, args []string, msgs ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("camvault %v started; want a refusal", args)
	}
	for _, m := range msgs {
		if !strings.Contains(string(out), m) {
			t.Errorf("camvault %v said %q; want it to mention %q", args, out, m)
		}
	}
}

// api sends a JSON request to the process and decodes the JSON answer.
func (p *proc) api(t *testing.T, method, path, tok string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequestWithContext(t.Context(), method, "http://"+p.addr+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(res.Body)
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &out)
	}
	return res.StatusCode, out
}

func sleep() { time.Sleep(100 * time.Millisecond) }
