package server_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/camvault/camvault/internal/identity"
	"github.com/camvault/camvault/internal/server"
)

// patience bounds waits so that a lost answer fails the test instead of
// hanging it; it is never what a test measures.
const patience = 30 * time.Second

// freeAddr is a loopback address nobody listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// logRecords keeps the level and message of every log record.
type logRecords struct {
	mu   sync.Mutex
	recs []string
}

func (l *logRecords) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecords) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logRecords) WithGroup(string) slog.Handler            { return l }
func (l *logRecords) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", r.Level, r.Message)
	r.Attrs(func(a slog.Attr) bool { fmt.Fprintf(&b, " %s=%v", a.Key, a.Value); return true })
	l.mu.Lock()
	l.recs = append(l.recs, b.String())
	l.mu.Unlock()
	return nil
}

func (l *logRecords) errors() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, r := range l.recs {
		if strings.HasPrefix(r, "ERROR") {
			out = append(out, r)
		}
	}
	return out
}

// TestStopWhileCamerasConnectUploadAndDisconnect stops a real server (Run,
// as `camvault serve` does on SIGTERM) while cameras hold connections,
// others come and go, and others upload events. Run returns without error,
// Close closes the backends, the cameras that held connections were told
// 1001, nothing was logged as an error (such as presence written to a
// closed store), and every camera is offline in the store afterwards.
func TestStopWhileCamerasConnectUploadAndDisconnect(t *testing.T) {
	// The account and cameras are made through the test harness; the
	// server under test then opens the same data directory.
	e := newEnv(t)
	ann := e.signup("ann")
	home := e.home(ann, "Home")
	const steady, churning, uploading = 4, 3, 2
	var cams []camera
	for range steady + churning + uploading {
		cams = append(cams, e.pairCamera(ann, home))
	}
	if err := e.app.Close(); err != nil { // a data directory is one server's at a time
		t.Fatal(err)
	}

	logs := &logRecords{}
	cfg := server.Config{DataDir: e.data, Addr: freeAddr(t), AdminAddr: freeAddr(t)}
	opts := server.DefaultOptions()
	opts.Identity.Argon2 = identity.Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1}
	app, err := server.Open(t.Context(), cfg, opts, slog.New(logs))
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	defer stop()
	ran := make(chan error, 1)
	go func() { ran <- app.Run(runCtx) }()
	base := "http://" + cfg.Addr
	wsURL := "ws://" + cfg.Addr + "/api/v1/device/connect"
	client := &http.Client{Timeout: patience}
	eventually(t, "the server answering", func() bool {
		res, err := client.Get("http://" + cfg.AdminAddr + "/healthz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == 200
	})
	dial := func(ctx context.Context, cam camera) (*websocket.Conn, error) {
		ws, _, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{
			HTTPHeader: http.Header{"Authorization": {"Bearer " + cam.token}}, Subprotocols: []string{"camvault.v1"}})
		if err != nil {
			return nil, err
		}
		if _, _, err := ws.Read(ctx); err != nil { // the hello
			ws.CloseNow()
			return nil, err
		}
		return ws, nil
	}
	online := func(cam camera) bool {
		req, _ := http.NewRequest("GET", base+"/api/v1/devices/"+cam.id, nil)
		req.Header.Set("Authorization", "Bearer "+ann.token)
		res, err := client.Do(req)
		if err != nil {
			return false
		}
		defer res.Body.Close()
		var buf bytes.Buffer
		buf.ReadFrom(res.Body)
		return res.StatusCode == 200 && strings.Contains(buf.String(), `"online":true`)
	}

	var wg sync.WaitGroup
	done := make(chan struct{})
	codes := make(chan websocket.StatusCode, steady)
	for _, cam := range cams[:steady] {
		ws, err := dial(t.Context(), cam)
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			for {
				if _, _, err := ws.Read(context.Background()); err != nil {
					codes <- websocket.CloseStatus(err)
					return
				}
			}
		})
	}
	var churned, uploaded atomic.Int64
	for _, cam := range cams[steady : steady+churning] {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), patience)
				if ws, err := dial(ctx, cam); err == nil {
					_ = ws.Write(ctx, websocket.MessageText, []byte(`{"type":"heartbeat"}`))
					ws.Close(websocket.StatusNormalClosure, "")
					churned.Add(1)
				}
				cancel()
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
	for i, cam := range cams[steady+churning:] {
		thumb := testJPEG(t, "")
		wg.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-done:
					return
				default:
				}
				ct, body := multipartBody(meta(fmt.Sprintf("stop-%d-%d", i, n), recent(1), "motion"), thumbPart(thumb), clipPart(testMP4(64<<10, "")))
				req, _ := http.NewRequest("POST", base+"/api/v1/device/events", bytes.NewReader(body))
				req.Header.Set("Content-Type", ct)
				req.Header.Set("Authorization", "Bearer "+cam.token)
				if res, err := client.Do(req); err == nil {
					res.Body.Close()
					if res.StatusCode == http.StatusCreated {
						uploaded.Add(1)
					}
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
	eventually(t, "cameras online, coming and going, uploading", func() bool {
		for _, cam := range cams[:steady] {
			if !online(cam) {
				return false
			}
		}
		return churned.Load() >= churning && uploaded.Load() >= uploading
	})

	stop()
	select {
	case err := <-ran:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(patience):
		t.Fatal("Run did not return after its context ended")
	}
	if err := app.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	close(done)
	wg.Wait()
	close(codes)
	for code := range codes {
		if code != websocket.StatusGoingAway {
			t.Errorf("a connected camera was closed with %d; want %d (going away)", code, websocket.StatusGoingAway)
		}
	}
	if errs := logs.errors(); len(errs) > 0 {
		t.Errorf("errors logged while stopping:\n%s", strings.Join(errs, "\n"))
	}
	off, err := server.OpenOffline(t.Context(), server.Config{DataDir: e.data})
	if err != nil {
		t.Fatal(err)
	}
	defer off.Close()
	for _, cam := range cams {
		d, err := off.Store.DeviceByID(t.Context(), cam.id)
		if err != nil {
			t.Fatal(err)
		}
		if d.Online {
			t.Errorf("camera %s is online in the store after the server stopped", cam.id)
		}
	}
	t.Logf("%d connections came and went, %d events uploaded", churned.Load(), uploaded.Load())
}
