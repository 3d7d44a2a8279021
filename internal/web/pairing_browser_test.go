package web_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// syncBuffer is a bytes.Buffer a process may write while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestBrowserPairingCommand runs the command the pairing page prints for a
// simulated camera, exactly as printed (with the real binary), and sees the
// camera come online: what a newcomer copies must work.
func TestBrowserPairingCommand(t *testing.T) {
	bctx := browser(t)
	srv := startServer(t)

	dir := t.TempDir()
	bin := filepath.Join(dir, "camvault")
	build := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "../../cmd/camvault")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build camvault: %v\n%s", err, out)
	}

	carol := newPerson(t, bctx, srv.URL, "carol", "carol@example.com")
	carol.signup("a pass phrase for the camera test")
	carol.do("create home", chromedp.WaitVisible(css("#create-home")), chromedp.Click(css("#create-home")),
		chromedp.WaitVisible(css(`button[id^="add-camera-"]`)))
	carol.do("add camera", chromedp.Click(css(`button[id^="add-camera-"]`)), chromedp.WaitVisible(css("#camera-command")))
	command := carol.text("#camera-command")

	args := strings.Fields(command)
	if len(args) < 2 || args[0] != "camvault" {
		t.Fatalf("the page prints %q; want a camvault command", command)
	}
	ctx, stop := context.WithCancel(context.Background())
	cam := exec.CommandContext(ctx, bin, args[1:]...)
	cam.Dir = dir
	cam.Env = append(os.Environ(), "CAMVAULT_WATERMARK_KEY=") // as on a newcomer's machine
	var out syncBuffer
	cam.Stdout, cam.Stderr = &out, &out
	if err := cam.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cam.Wait() }()
	t.Cleanup(func() {
		stop()
		<-exited
	})

	for deadline := time.Now().Add(60 * time.Second); ; {
		carol.open("/cameras", "main")
		if carol.count(".status.online") > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%q: the camera never came online:\n%s", command, out.String())
		}
		select {
		case <-t.Context().Done():
			return
		case err := <-exited:
			t.Fatalf("%q exited (%v):\n%s", command, err, out.String())
		case <-time.After(300 * time.Millisecond):
		}
	}
	// While it is connected the card says so, and no "last seen" time:
	// that is only written now and then, so it would read as stale.
	if got := carol.text(".camera .help"); strings.Contains(got, "last seen") {
		t.Errorf("an online camera's card reads %q", got)
	}
}
