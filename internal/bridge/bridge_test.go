package bridge_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/pmp4"
	"github.com/coder/websocket"

	"github.com/camvault/camvault/internal/bridge"
	"github.com/camvault/camvault/internal/bridge/bridgetest"
	"github.com/camvault/camvault/internal/deviceclient"
	"github.com/camvault/camvault/internal/media/h264"
	"github.com/camvault/camvault/internal/onvif/onviftest"
	"github.com/camvault/camvault/internal/server"
)

const (
	h264Fixture = "../sim/camera/fixtures/640x360.h264"
	h265Fixture = "testdata/640x360.h265"
	camUser     = "admin"
	camPass     = "s3cret-camera-pw"
)

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
	req, err := http.NewRequestWithContext(context.Background(), method, a.url+path, rd)
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

// eventually waits for cond, for at most 60 s (a limit on a hang, not a
// performance assertion).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	limit := time.After(60 * time.Second)
	for !cond() {
		select {
		case <-limit:
			t.Fatalf("%s did not happen in 60 s", what)
		case <-tick.C:
		}
	}
}

// world is a real camvault server behind a proxy that can fail like a
// network (connections refused or cut, answers lost), an owner with a
// home, and a bridge state directory.
type world struct {
	t      *testing.T
	owner  *api
	home   string
	proxy  *faultProxy
	state  *bridge.State
	stDir  string
	keyDir string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	cfg := server.Config{DataDir: t.TempDir(), Addr: "127.0.0.1:0", AdminAddr: "127.0.0.1:1"}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	app, err := server.Open(t.Context(), cfg, server.DefaultOptions(), log)
	if err != nil {
		t.Fatalf("open server: %v", err)
	}
	public := httptest.NewServer(app.Public())
	bgCtx, stopBackground := context.WithCancel(context.Background())
	waitBackground := app.Background(bgCtx)
	proxy := newFaultProxy(t, public.URL)
	t.Cleanup(func() {
		proxy.Close()
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
	w := &world{t: t, owner: owner, home: home.ID, proxy: proxy,
		stDir: filepath.Join(t.TempDir(), "state"), keyDir: t.TempDir()}
	st, err := bridge.OpenState(w.stDir, filepath.Join(w.keyDir, "bridge.key"), true)
	if err != nil {
		t.Fatal(err)
	}
	w.state = st
	return w
}

func (w *world) pairingCode() string {
	var code struct{ Code string }
	w.owner.must(201, "POST", "/api/v1/homes/"+w.home+"/pairing-codes", nil, &code)
	return code.Code
}

func (w *world) pair(name string, cam *bridgetest.Camera, live string) bridge.CameraConfig {
	w.t.Helper()
	stream := strings.Replace(cam.URL(), "rtsp://", "rtsp://"+camUser+":"+camPass+"@", 1)
	cfg, err := bridge.Pair(w.t.Context(), w.state, bridge.PairRequest{
		Server: w.proxy.URL(), PairingCode: w.pairingCode(), Name: name,
		StreamURL: stream, LiveURL: live, SnapshotURL: cam.SnapshotURL(), Username: camUser, Password: camPass,
		Motion: bridge.MotionConfig{Sensitivity: 60},
	}, http.DefaultClient, quietLog())
	if err != nil {
		w.t.Fatalf("pair %s: %v", name, err)
	}
	return cfg
}

func (w *world) online(deviceID string) bool {
	var d struct {
		Online bool `json:"online"`
	}
	w.owner.must(200, "GET", "/api/v1/devices/"+deviceID, nil, &d)
	return d.Online
}

type listedEvent struct {
	ID       string  `json:"id"`
	HomeID   string  `json:"home_id"`
	DeviceID string  `json:"device_id"`
	Kind     string  `json:"kind"`
	Thumb    string  `json:"thumbnail_url"`
	ClipURL  *string `json:"clip_url"`
	Clip     *struct {
		Codec      string `json:"codec"`
		DurationMS int64  `json:"duration_ms"`
		Width      int    `json:"width"`
		Height     int    `json:"height"`
	} `json:"clip"`
}

func (w *world) events(deviceID string) []listedEvent {
	var page struct {
		Events []listedEvent `json:"events"`
	}
	w.owner.must(200, "GET", "/api/v1/events?device="+deviceID+"&limit=200", nil, &page)
	return page.Events
}

func (w *world) get(path string) []byte {
	w.t.Helper()
	status, b := w.owner.do("GET", path, nil)
	if status != 200 {
		w.t.Fatalf("GET %s: %d", path, status)
	}
	return b
}

func quietLog() *slog.Logger {
	if os.Getenv("CAMVAULT_TEST_LOG") == "1" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// fastOptions make a test's bridge quick: short rolls, frequent motion
// checks and brisk retries.
func fastOptions(onUploaded func(deviceID, eventID, serverID string)) bridge.Options {
	return bridge.Options{
		Log:     quietLog(),
		Backoff: deviceclient.Backoff{Base: 20 * time.Millisecond, Brisk: 200 * time.Millisecond, Cap: 300 * time.Millisecond},
		PreRoll: 2 * time.Second, PostRoll: time.Second,
		SnapshotInterval: 100 * time.Millisecond, EventGap: 1500 * time.Millisecond,
		OfflineGrace: 500 * time.Millisecond, StreamReadTimeout: 2 * time.Second,
		OnUploaded: onUploaded,
	}
}

func newCamera(t *testing.T, cfg bridgetest.Config) *bridgetest.Camera {
	t.Helper()
	cfg.User, cfg.Password = camUser, camPass
	cam, err := bridgetest.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cam.Close)
	return cam
}

// runBridge runs the bridge until the test ends.
func runBridge(t *testing.T, st *bridge.State, opt bridge.Options) *bridge.Bridge {
	t.Helper()
	b, err := bridge.New(st, opt)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("bridge: %v", err)
		}
	})
	return b
}

// checkClip reads an event's clip: one track of codec, starting with a
// keyframe, at least minDur long.
func checkClip(t *testing.T, clip []byte, wantCodec string, minDur time.Duration) {
	t.Helper()
	var pres pmp4.Presentation
	if err := pres.Unmarshal(bytes.NewReader(clip)); err != nil {
		t.Fatalf("clip: %v", err)
	}
	if len(pres.Tracks) == 0 {
		t.Fatal("clip has no track")
	}
	tr := pres.Tracks[0]
	switch tr.Codec.(type) {
	case *codecs.H264:
		if wantCodec != "h264" {
			t.Fatalf("clip is H.264, want %s", wantCodec)
		}
	case *codecs.H265:
		if wantCodec != "h265" {
			t.Fatalf("clip is H.265, want %s", wantCodec)
		}
	default:
		t.Fatalf("clip codec %T", tr.Codec)
	}
	if len(tr.Samples) == 0 || tr.Samples[0].IsNonSyncSample {
		t.Fatal("the clip does not start with a keyframe")
	}
	var dur int64
	for _, s := range tr.Samples {
		dur += int64(s.Duration)
	}
	if got := time.Duration(dur) * time.Second / time.Duration(tr.TimeScale); got < minDur {
		t.Fatalf("clip lasts %v, want at least %v", got, minDur)
	}
}

// checkAudio: the clip's second track is the camera's AAC, playing along
// the pictures: it starts within 0.2 s of them and lasts as long, within
// 0.3 s.
func checkAudio(t *testing.T, clip []byte) {
	t.Helper()
	var pres pmp4.Presentation
	if err := pres.Unmarshal(bytes.NewReader(clip)); err != nil {
		t.Fatal(err)
	}
	if len(pres.Tracks) != 2 {
		t.Fatalf("clip has %d tracks, want video and audio", len(pres.Tracks))
	}
	v, a := pres.Tracks[0], pres.Tracks[1]
	if _, ok := a.Codec.(*codecs.MPEG4Audio); !ok {
		t.Fatalf("second track %T, want AAC", a.Codec)
	}
	length := func(tr *pmp4.Track) time.Duration {
		var d int64
		for _, s := range tr.Samples {
			d += int64(s.Duration)
		}
		return time.Duration(d) * time.Second / time.Duration(tr.TimeScale)
	}
	offset := time.Duration(a.TimeOffset) * time.Second / time.Duration(a.TimeScale)
	if offset > 200*time.Millisecond || (length(a)+offset-length(v)).Abs() > 300*time.Millisecond {
		t.Fatalf("audio %v from %v, video %v", length(a), offset, length(v))
	}
}

// A camera paired through the bridge: its password and credential are
// sealed in the state and never reach the server; its motion, seen in its
// snapshots, becomes an event with the snapshot and a clip of its own
// H.264 pictures from a keyframe before the motion, with its AAC audio; it is online while
// its stream is, offline while it reboots, and back after.
func TestBridgedCameraEndToEnd(t *testing.T) {
	w := newWorld(t)
	cam := newCamera(t, bridgetest.Config{Video: h264Fixture, ParamsInSDPOnly: true, Audio: "testdata/tone.aac"})
	cfg := w.pair("Front door", cam, "")

	// The secrets are sealed: neither the state nor the server holds them
	// in the clear.
	checkSealed(t, w, cfg)

	var mu sync.Mutex
	uploaded := map[string]string{}
	opt := fastOptions(func(_, eventID, serverID string) {
		mu.Lock()
		uploaded[eventID] = serverID
		mu.Unlock()
	})
	b := runBridge(t, w.state, opt)
	eventually(t, "the camera is online", func() bool { return w.online(cfg.DeviceID) })

	// Nothing moves: no event.
	time.Sleep(time.Second)
	if n := len(w.events(cfg.DeviceID)); n != 0 {
		t.Fatalf("%d events with nothing moving", n)
	}

	cam.SetMotion(true)
	eventually(t, "a motion event is listed", func() bool { return len(w.events(cfg.DeviceID)) > 0 })
	cam.SetMotion(false)
	ev := w.events(cfg.DeviceID)[0]
	if ev.HomeID != w.home || ev.Kind != "motion" || ev.ClipURL == nil {
		t.Fatalf("event %+v", ev)
	}
	thumb := w.get(ev.Thumb)
	if !bytes.HasPrefix(thumb, []byte{0xFF, 0xD8}) {
		t.Fatal("the thumbnail is not a JPEG")
	}
	if ev.Clip == nil || ev.Clip.Codec != "h264" || ev.Clip.Width != 640 || ev.Clip.Height != 360 || ev.Clip.DurationMS < 2000 {
		t.Fatalf("the server's clip info %+v; want an H.264 640x360 clip of 2 s or more", ev.Clip)
	}
	clip := w.get(*ev.ClipURL)
	checkClip(t, clip, "h264", 2*time.Second)
	checkAudio(t, clip)

	// The camera reboots: the server shows it offline, then online again,
	// and its motion is seen again.
	cam.Stop()
	eventually(t, "the camera is shown offline", func() bool { return !w.online(cfg.DeviceID) })
	cam.Start()
	eventually(t, "the camera is back online", func() bool { return w.online(cfg.DeviceID) })
	before := len(w.events(cfg.DeviceID))
	cam.SetMotion(true)
	eventually(t, "motion after the reboot", func() bool { return len(w.events(cfg.DeviceID)) > before })
	cam.SetMotion(false)
	if st := b.Cameras()[0].Stats(); st.Stream.Connects < 2 {
		t.Fatalf("stream connections %d after a reboot", st.Stream.Connects)
	}
}

// checkSealed: the camera's password and the device token are in no file
// of the state directory in the clear, the directory is 0700 and its
// files 0600, and nothing the server stored names the password.
func checkSealed(t *testing.T, w *world, cfg bridge.CameraConfig) {
	t.Helper()
	info, err := os.Stat(w.stDir)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o700 {
		t.Fatalf("state directory mode %v", info.Mode().Perm())
	}
	sec, err := w.state.Secrets(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if sec.Password != camPass || !strings.HasPrefix(sec.DeviceToken, "cvd_") {
		t.Fatalf("secrets do not open: %+v", sec)
	}
	err = filepath.Walk(w.stDir, func(path string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s mode %v", path, fi.Mode().Perm())
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, s := range []string{camPass, sec.DeviceToken} {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s holds a secret in the clear", path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(w.proxy.Seen(), []byte(camPass)) {
		t.Fatal("the camera's password reached the server")
	}
	// Another key does not open the state.
	other, err := bridge.OpenState(w.stDir, filepath.Join(t.TempDir(), "other.key"), true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Secrets(cfg); err == nil {
		t.Fatal("the state opened with another key")
	}
}

// While the server cannot be reached, and when an answer is lost after
// the server stored the event, events wait on disk and are all uploaded
// once, none lost and none twice.
func TestBridgeQueuesThroughServerOutage(t *testing.T) {
	w := newWorld(t)
	cam := newCamera(t, bridgetest.Config{Video: h264Fixture})
	cfg := w.pair("Garage", cam, "")
	var mu sync.Mutex
	acks := map[string]int{}
	b := runBridge(t, w.state, fastOptions(func(_, eventID, _ string) {
		mu.Lock()
		acks[eventID]++
		mu.Unlock()
	}))
	eventually(t, "the camera is online", func() bool { return w.online(cfg.DeviceID) })
	c := b.Cameras()[0]

	w.proxy.SetMode(modeRefuse)
	for i := 0; c.Stats().Queued < 3; i++ {
		cam.SetMotion(true)
		time.Sleep(300 * time.Millisecond)
		if i > 400 {
			t.Fatalf("events queued during the outage: %+v", c.Stats())
		}
	}
	cam.SetMotion(false)
	// The first upload after the outage is stored but its answer is lost.
	w.proxy.SetMode(modeLoseAnswer)
	eventually(t, "an answer is lost", func() bool { return w.proxy.Lost() > 0 })
	w.proxy.SetMode(modePass)
	eventually(t, "the queue drains", func() bool {
		st := c.Stats()
		return st.Queued == 0 && st.Uploaded >= st.Events
	})
	st := c.Stats()
	listed := w.events(cfg.DeviceID)
	if int64(len(listed)) != st.Events || st.Dropped != 0 || st.Rejected != 0 {
		t.Fatalf("%d events listed; the bridge made %d, dropped %d, had %d refused", len(listed), st.Events, st.Dropped, st.Rejected)
	}
	seen := map[string]bool{}
	for _, e := range listed {
		if seen[e.ID] {
			t.Fatalf("event %s listed twice", e.ID)
		}
		seen[e.ID] = true
	}
}

// An H.265 camera: a snapshot asked for in the app becomes an event with
// an H.265 clip; live view uses the camera's H.264 sub-stream and starts
// on a keyframe.
func TestBridgedH265CameraWithLiveSubstream(t *testing.T) {
	w := newWorld(t)
	main := newCamera(t, bridgetest.Config{Video: h265Fixture, H265: true})
	sub := newCamera(t, bridgetest.Config{Video: h264Fixture})
	subURL := strings.Replace(sub.URL(), "rtsp://", "rtsp://"+camUser+":"+camPass+"@", 1)
	cfg := w.pair("Nursery", main, subURL)
	runBridge(t, w.state, fastOptions(nil))
	eventually(t, "the camera is online", func() bool { return w.online(cfg.DeviceID) })
	time.Sleep(2500 * time.Millisecond) // a pre-roll in the ring

	w.owner.must(202, "POST", "/api/v1/devices/"+cfg.DeviceID+"/commands", map[string]string{"command": "snapshot"}, nil)
	eventually(t, "the snapshot event is listed", func() bool { return len(w.events(cfg.DeviceID)) > 0 })
	ev := w.events(cfg.DeviceID)[0]
	if ev.ClipURL == nil || ev.Clip == nil || ev.Clip.Codec != "h265" || ev.Clip.Width != 640 || ev.Clip.Height != 360 || ev.Clip.DurationMS < 1000 {
		t.Fatalf("clip %v, the server's info %+v; want an H.265 640x360 clip", ev.ClipURL, ev.Clip)
	}
	checkClip(t, w.get(*ev.ClipURL), "h265", time.Second)

	if sub.Readers() != 0 {
		t.Fatal("the live sub-stream is open with nobody watching")
	}
	url := "ws" + strings.TrimPrefix(w.owner.url, "http") + "/api/v1/devices/" + cfg.DeviceID + "/live/mse"
	ws, _, err := websocket.Dial(t.Context(), url, &websocket.DialOptions{
		HTTPHeader: http.Header{"Authorization": {"Bearer " + w.owner.token}}, Subprotocols: []string{"camvault.live.v1"}})
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	ws.SetReadLimit(8 << 20)
	_, b, err := ws.Read(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var init fmp4.Init
	if err := init.Unmarshal(bytes.NewReader(b)); err != nil {
		t.Fatalf("init segment: %v", err)
	}
	for i := range 10 {
		_, b, err := ws.Read(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		var parts fmp4.Parts
		if err := parts.Unmarshal(b); err != nil {
			t.Fatalf("fragment %d: %v", i, err)
		}
		if i == 0 {
			nalus, err := h264.SplitAVCC(parts[0].Tracks[0].Samples[0].Payload)
			if err != nil || !h264.IsKeyframe(nalus) {
				t.Fatalf("live does not start on a keyframe: %v", err)
			}
		}
	}
	if sub.Readers() != 1 {
		t.Fatalf("%d readers of the sub-stream while watching", sub.Readers())
	}
	ws.Close(websocket.StatusNormalClosure, "")
	eventually(t, "the sub-stream is closed after the viewer left", func() bool { return sub.Readers() == 0 })
}

// faultProxy stands between the bridge and the server and fails as a
// network does.
type faultProxy struct {
	srv  *httptest.Server
	mode atomic.Int32
	lost atomic.Int64
	mu   sync.Mutex
	seen bytes.Buffer
}

const (
	modePass int32 = iota
	modeRefuse
	modeLoseAnswer
)

func newFaultProxy(t *testing.T, target string) *faultProxy {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{}
	rp := httputil.NewSingleHostReverseProxy(u)
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		p.mu.Lock()
		p.seen.WriteString(r.URL.String())
		p.seen.Write(body)
		p.mu.Unlock()
		switch p.mode.Load() {
		case modeRefuse:
			drop(w)
			return
		case modeLoseAnswer:
			if r.Method == http.MethodPost && r.URL.Path == "/api/v1/device/events" {
				rec := httptest.NewRecorder()
				rp.ServeHTTP(rec, r)
				if rec.Code == http.StatusCreated {
					p.lost.Add(1)
					drop(w)
					return
				}
				for k, v := range rec.Header() {
					w.Header()[k] = v
				}
				w.WriteHeader(rec.Code)
				_, _ = w.Write(rec.Body.Bytes())
				return
			}
		}
		rp.ServeHTTP(w, r)
	}))
	return p
}

// drop cuts the connection without an answer.
func drop(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("no hijacker")
	}
	conn, _, err := hj.Hijack()
	if err == nil {
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		conn.Close()
	}
}

func (p *faultProxy) URL() string     { return p.srv.URL }
func (p *faultProxy) SetMode(m int32) { p.mode.Store(m) }
func (p *faultProxy) Lost() int64     { return p.lost.Load() }
func (p *faultProxy) Close()          { p.srv.CloseClientConnections(); p.srv.Close() }
func (p *faultProxy) Seen() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]byte(nil), p.seen.Bytes()...)
}

// A camera paired by its ONVIF address alone: the bridge reads its H.265
// main stream, its H.264 sub-stream for live view and its snapshot
// address, and makes an event of the motion the camera reports over
// ONVIF (the snapshots themselves never change here).
func TestBridgedONVIFCamera(t *testing.T) {
	w := newWorld(t)
	main := newCamera(t, bridgetest.Config{Video: h265Fixture, H265: true})
	sub := newCamera(t, bridgetest.Config{Video: h264Fixture})
	ov, err := onviftest.NewCamera(onviftest.Config{Username: camUser, Password: camPass, Media2: true,
		Profiles: []onviftest.Profile{
			{Token: "main", Name: "MainStream", Encoding: "H265", Width: 640, Height: 360, StreamURI: main.URL(), SnapshotURI: main.SnapshotURL()},
			{Token: "sub", Name: "SubStream", Encoding: "H264", Width: 320, Height: 180, StreamURI: sub.URL(), SnapshotURI: main.SnapshotURL()},
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ov.Close)
	req := bridge.PairRequest{Server: w.proxy.URL(), PairingCode: w.pairingCode(), Name: "Porch",
		Username: camUser, Password: camPass, Motion: bridge.MotionConfig{Sensitivity: 50}}
	if err := bridge.FromONVIF(t.Context(), &req, ov.URL()); err != nil {
		t.Fatal(err)
	}
	if req.StreamURL != main.URL() || req.LiveURL != sub.URL() || req.SnapshotURL != main.SnapshotURL() {
		t.Fatalf("from ONVIF: stream %s live %s snapshot %s", req.StreamURL, req.LiveURL, req.SnapshotURL)
	}
	cfg, err := bridge.Pair(t.Context(), w.state, req, http.DefaultClient, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	runBridge(t, w.state, fastOptions(nil))
	eventually(t, "the camera is online", func() bool { return w.online(cfg.DeviceID) })
	eventually(t, "the bridge subscribed to the camera's events", func() bool { return ov.Subscriptions() > 0 })
	if n := len(w.events(cfg.DeviceID)); n != 0 {
		t.Fatalf("%d events before any motion", n)
	}
	ov.SetMotion(true)
	eventually(t, "the camera's motion is listed", func() bool { return len(w.events(cfg.DeviceID)) > 0 })
	ov.SetMotion(false)
	ev := w.events(cfg.DeviceID)[0]
	if ev.ClipURL == nil {
		t.Fatal("no clip")
	}
	checkClip(t, w.get(*ev.ClipURL), "h265", time.Second)
}

// A camera that reboots while someone watches it live, and is back within
// the offline grace, carries on in the same stream: the viewer's
// fragments go on, their times increasing, from the camera's next
// keyframe.
func TestLiveThroughCameraReboot(t *testing.T) {
	w := newWorld(t)
	cam := newCamera(t, bridgetest.Config{Video: h264Fixture})
	cfg := w.pair("Hall", cam, "")
	opt := fastOptions(nil)
	opt.OfflineGrace = time.Minute
	runBridge(t, w.state, opt)
	eventually(t, "the camera is online", func() bool { return w.online(cfg.DeviceID) })

	url := "ws" + strings.TrimPrefix(w.owner.url, "http") + "/api/v1/devices/" + cfg.DeviceID + "/live/mse"
	ws, _, err := websocket.Dial(t.Context(), url, &websocket.DialOptions{
		HTTPHeader: http.Header{"Authorization": {"Bearer " + w.owner.token}}, Subprotocols: []string{"camvault.live.v1"}})
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	defer ws.CloseNow()
	ws.SetReadLimit(8 << 20)
	if _, _, err := ws.Read(t.Context()); err != nil { // the init segment
		t.Fatal(err)
	}
	var lastDTS uint64
	read := func(n int) {
		t.Helper()
		for range n {
			_, b, err := ws.Read(t.Context())
			if err != nil {
				t.Fatalf("live ended: %v", err)
			}
			var parts fmp4.Parts
			if err := parts.Unmarshal(b); err != nil {
				t.Fatal(err)
			}
			for _, p := range parts {
				for _, tr := range p.Tracks {
					if tr.BaseTime < lastDTS {
						t.Fatalf("fragment time %d after %d", tr.BaseTime, lastDTS)
					}
					lastDTS = tr.BaseTime
				}
			}
		}
	}
	read(3)
	before := lastDTS
	cam.Stop()
	time.Sleep(300 * time.Millisecond)
	if err := cam.Start(); err != nil {
		t.Fatal(err)
	}
	// Three seconds more of the stream than was sent before the camera
	// stopped: what only its restarted stream can give (the time base is
	// 90 kHz).
	for lastDTS < before+3*90000 {
		read(1)
	}
	if cam.Readers() != 1 {
		t.Fatalf("%d readers of the restarted camera", cam.Readers())
	}
}
