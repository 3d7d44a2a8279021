package camera_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/deviceclient"
	"github.com/camvault/camvault/internal/media"
	"github.com/camvault/camvault/internal/server"
	"github.com/camvault/camvault/internal/sim/camera"
)

var wmKey = []byte("integration-watermark-key-000001")

// api is a person's view of a real camvault server.
type api struct {
	t     *testing.T
	url   string
	token string
}

func (a *api) do(method, path string, body any) (int, []byte) {
	a.t.Helper()
	var rd io.Reader
	if body != nil {
		j, err := json.Marshal(body)
		if err != nil {
			a.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(a.t.Context(), method, a.url+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		a.t.Fatal(err)
	}
	return res.StatusCode, raw
}

func (a *api) must(want int, method, path string, body any, out any) {
	a.t.Helper()
	status, raw := a.do(method, path, body)
	if status != want {
		a.t.Fatalf("%s %s: %d, want %d: %s", method, path, status, want, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			a.t.Fatalf("%s %s: %v: %s", method, path, err, raw)
		}
	}
}

// eventually waits for cond, checking it now and then, for at most 30 s
// (a limit on a hang, not a performance assertion).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	limit := time.After(30 * time.Second)
	for !cond() {
		select {
		case <-limit:
			t.Fatalf("%s did not happen in 30 s", what)
		case <-tick.C:
		}
	}
}

// A camera paired through the real API uploads events that its home's
// owner sees, with thumbnails that carry its watermark; over its
// connection it takes commands, and unpairing it stops it.
func TestCameraAgainstRealServer(t *testing.T) {
	cfg := server.Config{DataDir: t.TempDir(), Addr: "127.0.0.1:0", AdminAddr: "127.0.0.1:1"}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	app, err := server.Open(t.Context(), cfg, server.DefaultOptions(), log)
	if err != nil {
		t.Fatalf("open server: %v", err)
	}
	public := httptest.NewServer(app.Public())
	bgCtx, stopBackground := context.WithCancel(t.Context())
	waitBackground := app.Background(bgCtx) // the gateway writes presence
	t.Cleanup(func() {
		public.Close()
		stopBackground()
		waitBackground()
		app.Close()
	})

	owner := &api{t: t, url: public.URL}
	creds := map[string]string{"email": "owner@example.com", "password": "correct horse battery staple"}
	owner.must(201, "POST", "/api/v1/accounts", creds, nil)
	var session struct{ Token string }
	owner.must(201, "POST", "/api/v1/sessions", creds, &session)
	owner.token = session.Token
	var home struct{ ID string }
	owner.must(201, "POST", "/api/v1/homes", map[string]string{"name": "Home"}, &home)
	var code struct{ Code string }
	owner.must(201, "POST", "/api/v1/homes/"+home.ID+"/pairing-codes", nil, &code)

	paired, err := camera.Pair(t.Context(), public.Client(), public.URL, code.Code, "CV-SIM", "test")
	if err != nil {
		t.Fatalf("pair: %v", err)
	}
	tokenFile := filepath.Join(t.TempDir(), "camera.json")
	if err := camera.SaveCredentials(tokenFile, paired); err != nil {
		t.Fatal(err)
	}
	loaded, err := camera.LoadCredentials(tokenFile)
	if err != nil {
		t.Fatal(err)
	}

	acks := make(chan camera.Ack, 100)
	fleet, err := camera.NewFleet(camera.Config{
		Server:        public.URL,
		WatermarkKey:  wmKey,
		EventInterval: 150 * time.Millisecond,
		ClipFrames:    2,
		Backoff:       deviceclient.Backoff{Base: 10 * time.Millisecond, Cap: 200 * time.Millisecond},
		Log:           log,
		OnAck:         func(a camera.Ack) { acks <- a },
	})
	if err != nil {
		t.Fatal(err)
	}
	cam, err := fleet.Add("front door", loaded)
	if err != nil {
		t.Fatal(err)
	}
	runErr := make(chan error, 1)
	go func() { runErr <- fleet.Run(t.Context()) }()

	// Three events arrive and are listed under the camera, each with a
	// watermarked thumbnail and a clip the server took.
	got := map[string]camera.Ack{}
	for len(got) < 3 {
		select {
		case a := <-acks:
			if a.DeviceID != paired.DeviceID {
				t.Fatalf("ack for device %s, want %s", a.DeviceID, paired.DeviceID)
			}
			got[a.ServerID] = a
		case err := <-runErr:
			t.Fatalf("fleet stopped: %v", err)
		}
	}
	var page struct {
		Events []struct {
			ID           string  `json:"id"`
			HomeID       string  `json:"home_id"`
			DeviceID     string  `json:"device_id"`
			ThumbnailURL string  `json:"thumbnail_url"`
			ClipURL      *string `json:"clip_url"`
		} `json:"events"`
	}
	owner.must(200, "GET", "/api/v1/events?device="+paired.DeviceID+"&limit=200", nil, &page)
	listed := 0
	for _, e := range page.Events {
		if e.DeviceID != paired.DeviceID || e.HomeID != home.ID {
			t.Fatalf("event %s listed for device %s home %s", e.ID, e.DeviceID, e.HomeID)
		}
		a, ok := got[e.ID]
		if !ok {
			continue
		}
		listed++
		status, thumb := owner.do("GET", e.ThumbnailURL, nil)
		if status != 200 {
			t.Fatalf("thumbnail of %s: %d", e.ID, status)
		}
		info, err := camera.VerifyWatermark(wmKey, thumb)
		if err != nil {
			t.Fatalf("thumbnail of %s: %v", e.ID, err)
		}
		if info.DeviceID != paired.DeviceID || info.HomeID != home.ID || info.Seq != a.Seq {
			t.Fatalf("thumbnail of %s is marked %+v, want device %s home %s seq %d", e.ID, info, paired.DeviceID, home.ID, a.Seq)
		}
		if e.ClipURL == nil {
			t.Fatalf("event %s has no clip", e.ID)
		}
		status, clip := owner.do("GET", *e.ClipURL, nil)
		var check media.MP4Checker
		check.Write(clip)
		if status != 200 || check.Close() != nil {
			t.Fatalf("clip of %s: %d, %v", e.ID, status, check.Close())
		}
		// Every frame of the clip is H.264 watermarked by this camera, in
		// sequence, the first a keyframe.
		frames, err := camera.ClipFrames(clip)
		if err != nil || !frames[0].Keyframe() {
			t.Fatalf("clip of %s: %v", e.ID, err)
		}
		var prev uint64
		for i, f := range frames {
			w, err := camera.VerifyVideoWatermark(wmKey, f.NALUs)
			if err != nil || w.DeviceID != paired.DeviceID || w.HomeID != home.ID || (i > 0 && w.Seq != prev+1) {
				t.Fatalf("clip of %s, frame %d: %+v, %v", e.ID, i, w, err)
			}
			prev = w.Seq
		}
	}
	if listed != len(got) {
		t.Fatalf("%d of %d acknowledged events are listed", listed, len(got))
	}

	t.Run("connection", func(t *testing.T) {
		if status, _ := (&api{t: t, url: public.URL, token: paired.Token}).do("GET", "/api/v1/device/connect", nil); status == http.StatusNotFound {
			t.Skip("the server has no /api/v1/device/connect yet")
		}
		eventually(t, "the camera is online", func() bool { return cam.Stats().Online.Load() })
		var dev struct{ Online bool }
		eventually(t, "the server shows the camera online", func() bool {
			owner.must(200, "GET", "/api/v1/devices/"+paired.DeviceID, nil, &dev)
			return dev.Online
		})

		owner.must(202, "POST", "/api/v1/devices/"+paired.DeviceID+"/commands",
			map[string]any{"command": "settings", "settings": map[string]int{"event_interval_seconds": 3600, "motion_sensitivity": 10}}, nil)
		eventually(t, "the settings apply", func() bool {
			iv, s := cam.Settings()
			return iv == time.Hour && s == 10
		})

		owner.must(202, "POST", "/api/v1/devices/"+paired.DeviceID+"/commands", map[string]string{"command": "snapshot"}, nil)
		var snap camera.Ack
		for !snap.Snapshot {
			select {
			case snap = <-acks:
			case <-t.Context().Done():
				t.Fatal("no snapshot arrived")
			}
		}
		var ev struct {
			DeviceID     string `json:"device_id"`
			ThumbnailURL string `json:"thumbnail_url"`
		}
		owner.must(200, "GET", "/api/v1/events/"+snap.ServerID, nil, &ev)
		_, thumb := owner.do("GET", ev.ThumbnailURL, nil)
		if info, err := camera.VerifyWatermark(wmKey, thumb); err != nil || ev.DeviceID != paired.DeviceID || info.Seq != snap.Seq {
			t.Fatalf("snapshot event %+v: watermark %+v, %v", ev, info, err)
		}

		// Unpairing closes the connection with 4001; the camera stops.
		owner.must(204, "DELETE", "/api/v1/devices/"+paired.DeviceID, nil, nil)
		select {
		case <-cam.Done():
		case <-t.Context().Done():
			t.Fatal("the camera did not stop when unpaired")
		}
		if !errors.Is(cam.Err(), camera.ErrUnpaired) {
			t.Fatalf("stopped with %v", cam.Err())
		}
		if err := <-runErr; !errors.Is(err, camera.ErrUnpaired) {
			t.Fatalf("Run returned %v", err)
		}
		runErr <- nil
		st := cam.Stats().Snapshot()
		t.Logf("camera stats: %+v", st)
		if st.Connects < 1 || st.Uploaded < 4 || st.Rejected != 0 {
			t.Fatalf("stats %+v", st)
		}
	})
}

// A camera given several addresses of the service starts on one of them,
// spread, and moves to the next when it cannot connect: with the first
// address dead (a node that was killed), every camera ends up connected
// through the other and its events are acknowledged.
func TestCameraMovesToAnotherServer(t *testing.T) {
	cfg := server.Config{DataDir: t.TempDir(), Addr: "127.0.0.1:0", AdminAddr: "127.0.0.1:1"}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	app, err := server.Open(t.Context(), cfg, server.DefaultOptions(), log)
	if err != nil {
		t.Fatalf("open server: %v", err)
	}
	public := httptest.NewServer(app.Public())
	bgCtx, stopBackground := context.WithCancel(t.Context())
	waitBackground := app.Background(bgCtx)
	t.Cleanup(func() {
		public.Close()
		stopBackground()
		waitBackground()
		app.Close()
	})
	// An address nobody listens on any more.
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()

	owner := &api{t: t, url: public.URL}
	creds := map[string]string{"email": "owner@example.com", "password": "correct horse battery staple"}
	owner.must(201, "POST", "/api/v1/accounts", creds, nil)
	var session struct{ Token string }
	owner.must(201, "POST", "/api/v1/sessions", creds, &session)
	owner.token = session.Token
	var home struct{ ID string }
	owner.must(201, "POST", "/api/v1/homes", map[string]string{"name": "Home"}, &home)

	acked := map[string]int{}
	var mu sync.Mutex
	fleet, err := camera.NewFleet(camera.Config{
		Server:        deadURL,
		MoreServers:   []string{public.URL},
		WatermarkKey:  wmKey,
		EventInterval: 100 * time.Millisecond,
		ClipFrames:    1,
		Backoff:       deviceclient.Backoff{Base: 10 * time.Millisecond, Cap: 100 * time.Millisecond},
		Log:           log,
		OnAck: func(a camera.Ack) {
			mu.Lock()
			acked[a.DeviceID]++
			mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	var cams []*camera.Camera
	for i := range 4 {
		var code struct{ Code string }
		owner.must(201, "POST", "/api/v1/homes/"+home.ID+"/pairing-codes", nil, &code)
		paired, err := camera.Pair(t.Context(), public.Client(), public.URL, code.Code, "CV-SIM", "test")
		if err != nil {
			t.Fatalf("pair: %v", err)
		}
		cam, err := fleet.Add(fmt.Sprintf("camera %d", i), paired)
		if err != nil {
			t.Fatal(err)
		}
		cams = append(cams, cam)
	}
	ctx, stop := context.WithCancel(t.Context())
	runErr := make(chan error, 1)
	go func() { runErr <- fleet.Run(ctx) }()
	eventually(t, "every camera connected and acknowledged", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range cams {
			if !c.Stats().Online.Load() || acked[c.DeviceID()] == 0 {
				return false
			}
		}
		return true
	})
	stop()
	if err := <-runErr; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("fleet: %v", err)
	}
}
