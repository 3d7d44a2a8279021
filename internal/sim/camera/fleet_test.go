package camera

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"regexp"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/camvault/camvault/internal/deviceclient"
	"github.com/camvault/camvault/internal/deviceproto"
	"github.com/camvault/camvault/internal/media"
)

// fakeServer is the device side of camvault's API, scripted by tests.
type fakeServer struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	attempts []attempt         // every upload, in order of arrival
	stored   map[string]string // event_id -> server ID
	answer   func(eventID string) int
	connects int
	connect  func(w http.ResponseWriter, r *http.Request, n int) // nil: 404; n counts connects
}

type attempt struct {
	eventID string
	status  int
	thumb   []byte
}

const fakeToken = "cvd_test-token"

func newFakeServer(t *testing.T) *fakeServer {
	s := &fakeServer{t: t, stored: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/device", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+fakeToken {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"device_id":%q,"home_id":%q}`, testDevice, testHome)
	})
	mux.HandleFunc("POST /api/v1/device/events", s.upload)
	mux.HandleFunc("GET /api/v1/device/connect", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.connects++
		h, n := s.connect, s.connects
		s.mu.Unlock()
		if h == nil {
			http.NotFound(w, r)
			return
		}
		h(w, r, n)
	})
	s.srv = httptest.NewServer(mux)
	t.Cleanup(s.srv.Close)
	return s
}

var eventIDShape = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// upload checks an upload as camvault does, then answers as scripted:
// by default 201 the first time an event ID is seen and 200 after.
func (s *fakeServer) upload(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+fakeToken {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	_, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		s.t.Errorf("upload content type: %v", err)
		return
	}
	mr := multipart.NewReader(r.Body, params["boundary"])
	var names []string
	var meta struct {
		EventID   string    `json:"event_id"`
		StartedAt time.Time `json:"started_at"`
		Kind      string    `json:"kind"`
	}
	var thumb []byte
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			s.t.Errorf("upload body: %v", err)
			return
		}
		names = append(names, p.FormName())
		data, _ := io.ReadAll(p)
		switch p.FormName() {
		case "meta":
			if err := json.Unmarshal(data, &meta); err != nil {
				s.t.Errorf("meta: %v", err)
			}
		case "thumbnail":
			thumb = data
			if err := media.CheckJPEG(data); err != nil {
				s.t.Errorf("thumbnail: %v", err)
			}
		case "clip":
			var c media.MP4Checker
			c.Write(data)
			if err := c.Close(); err != nil {
				s.t.Errorf("clip: %v", err)
			}
		}
	}
	if fmt.Sprint(names) != "[meta thumbnail clip]" || !eventIDShape.MatchString(meta.EventID) || meta.Kind != "motion" || meta.StartedAt.IsZero() {
		s.t.Errorf("upload parts %v, meta %+v", names, meta)
	}
	s.mu.Lock()
	status := 0
	if s.answer != nil {
		status = s.answer(meta.EventID)
	}
	id, seen := s.stored[meta.EventID]
	if status == 0 {
		status = http.StatusOK
		if !seen {
			status, id = http.StatusCreated, fmt.Sprintf("srv%d", len(s.stored)+1)
			s.stored[meta.EventID] = id
		}
	}
	s.attempts = append(s.attempts, attempt{eventID: meta.EventID, status: status, thumb: thumb})
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "0")
	}
	w.WriteHeader(status)
	if status < 300 {
		fmt.Fprintf(w, `{"id":%q}`, id)
	} else {
		fmt.Fprint(w, `{"error":{"code":"scripted","message":"scripted failure"}}`)
	}
}

// testFleet is a fleet on the fake server with short backoffs, no
// periodic events and deterministic randomness.
func testFleet(t *testing.T, s *fakeServer, tune func(*Config)) (*Fleet, chan Ack) {
	t.Helper()
	acks := make(chan Ack, 1000)
	cfg := Config{
		Server:        s.srv.URL,
		WatermarkKey:  testKey,
		EventInterval: 24 * time.Hour,
		Backoff:       deviceclient.Backoff{Base: time.Millisecond, Cap: 5 * time.Millisecond},
		RandN:         maxRand,
		ClipFrames:    2,
		Log:           slog.New(slog.NewTextHandler(io.Discard, nil)),
		OnAck:         func(a Ack) { acks <- a },
	}
	if tune != nil {
		tune(&cfg)
	}
	f, err := NewFleet(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return f, acks
}

func runFleet(t *testing.T, f *Fleet) (cancel func(), done chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done = make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return cancel, done
}

func waitAck(t *testing.T, acks chan Ack) Ack {
	t.Helper()
	select {
	case a := <-acks:
		return a
	case <-t.Context().Done():
		t.Fatal("test ended waiting for an acknowledgement")
	}
	return Ack{}
}

func TestOfflineQueueUploadsOldestFirst(t *testing.T) {
	s := newFakeServer(t)
	down := true
	refused := make(chan struct{}, 1)
	s.answer = func(string) int {
		if down {
			select {
			case refused <- struct{}{}:
			default:
			}
			return http.StatusServiceUnavailable
		}
		return 0
	}
	f, acks := testFleet(t, s, func(c *Config) { c.QueueSize = 4 })
	cam, err := f.Add("porch", Credentials{DeviceID: testDevice, Token: fakeToken})
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		cam.Trigger()
	}
	st := cam.Stats().Snapshot()
	if st.Generated != 10 || st.Dropped != 6 || st.Queued != 4 {
		t.Fatalf("offline: %+v; want 10 generated, 6 dropped, 4 queued", st)
	}
	runFleet(t, f)
	<-refused
	s.mu.Lock()
	down = false
	s.mu.Unlock()

	var got []uint64
	for range 4 {
		a := waitAck(t, acks)
		if a.DeviceID != testDevice || a.EventID != cam.EventID(a.Seq) || !a.Created || a.ServerID == "" {
			t.Fatalf("ack %+v", a)
		}
		got = append(got, a.Seq)
	}
	if fmt.Sprint(got) != "[7 8 9 10]" {
		t.Fatalf("uploaded %v, want the newest four oldest first: [7 8 9 10]", got)
	}
	st = cam.Stats().Snapshot()
	if st.Uploaded != 4 || st.Queued != 0 || st.UploadErrors < 1 || st.Duplicates != 0 {
		t.Fatalf("back online: %+v", st)
	}

	// Every attempt at one event sent the same, verifiable thumbnail.
	s.mu.Lock()
	defer s.mu.Unlock()
	first := map[string][]byte{}
	for _, a := range s.attempts {
		info, err := VerifyWatermark(testKey, a.thumb)
		if err != nil || info.DeviceID != testDevice || info.HomeID != testHome || cam.EventID(info.Seq) != a.eventID {
			t.Fatalf("attempt at %s: watermark %+v, %v", a.eventID, info, err)
		}
		if prev, ok := first[a.eventID]; ok && string(prev) != string(a.thumb) {
			t.Fatalf("a retry of %s sent a different thumbnail", a.eventID)
		}
		first[a.eventID] = a.thumb
	}
}

func TestRejectedEventIsDroppedAndUnpairedStops(t *testing.T) {
	s := newFakeServer(t)
	f, acks := testFleet(t, s, nil)
	cam, err := f.Add("porch", Credentials{DeviceID: testDevice, Token: fakeToken})
	if err != nil {
		t.Fatal(err)
	}
	s.answer = func(id string) int {
		if id == cam.EventID(1) {
			return http.StatusBadRequest
		}
		return 0
	}
	_, done := runFleet(t, f)
	cam.Trigger()
	cam.Trigger()
	if a := waitAck(t, acks); a.Seq != 2 {
		t.Fatalf("acknowledged %d, want 2 (1 was refused)", a.Seq)
	}
	if st := cam.Stats().Snapshot(); st.Rejected != 1 || st.Queued != 0 {
		t.Fatalf("stats %+v", st)
	}

	s.mu.Lock()
	s.answer = func(string) int { return http.StatusUnauthorized }
	s.mu.Unlock()
	cam.Trigger()
	<-cam.Done()
	if !errors.Is(cam.Err(), ErrUnpaired) {
		t.Fatalf("stopped with %v", cam.Err())
	}
	if err := <-done; !errors.Is(err, ErrUnpaired) {
		t.Fatalf("Run returned %v", err)
	}
	done <- nil // for the cleanup
}

func TestDialRefusals(t *testing.T) {
	s := newFakeServer(t)
	status := http.StatusServiceUnavailable
	s.connect = func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("Retry-After", "7")
		w.WriteHeader(status)
	}
	f, _ := testFleet(t, s, nil)
	cam, err := f.Add("porch", Credentials{DeviceID: testDevice, Token: fakeToken})
	if err != nil {
		t.Fatal(err)
	}
	_, ra, err := cam.dial(t.Context())
	if err == nil || ra != 7*time.Second {
		t.Fatalf("503: Retry-After %v, err %v", ra, err)
	}
	status = http.StatusUnauthorized
	if _, _, err := cam.dial(t.Context()); !errors.Is(err, ErrUnpaired) {
		t.Fatalf("401: %v", err)
	}
}

// readUntil reads the camera's messages until one of type typ.
func readUntil(t *testing.T, ctx context.Context, c *websocket.Conn, typ string) deviceproto.Message {
	t.Helper()
	for {
		_, data, err := c.Read(ctx)
		if err != nil {
			t.Errorf("server read: %v", err)
			return deviceproto.Message{}
		}
		var m deviceproto.Message
		if err := json.Unmarshal(data, &m); err != nil {
			t.Errorf("camera sent %q: %v", data, err)
			return deviceproto.Message{}
		}
		if m.Type != "heartbeat" && m.Type != "command_result" {
			t.Errorf("camera sent a %q message", m.Type)
		}
		if m.Type == typ {
			return m
		}
	}
}

func send(t *testing.T, ctx context.Context, c *websocket.Conn, m any) {
	t.Helper()
	data, _ := json.Marshal(m)
	if err := c.Write(ctx, websocket.MessageText, data); err != nil {
		t.Errorf("server write: %v", err)
	}
}

func TestConnectionProtocol(t *testing.T) {
	s := newFakeServer(t)
	settled := make(chan struct{})
	s.connect = func(w http.ResponseWriter, r *http.Request, n int) {
		if r.Header.Get("Authorization") != "Bearer "+fakeToken {
			t.Error("connect without the device token")
		}
		ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{deviceproto.Subprotocol}})
		if err != nil {
			t.Error(err)
			return
		}
		defer ws.CloseNow()
		ctx := r.Context()
		if ws.Subprotocol() != deviceproto.Subprotocol {
			t.Errorf("subprotocol %q", ws.Subprotocol())
		}
		send(t, ctx, ws, map[string]any{"type": "hello", "device_id": testDevice, "home_id": testHome, "heartbeat_seconds": 1})
		if n == 1 {
			ws.Close(websocket.StatusGoingAway, "restarting") // the camera comes back
			return
		}
		send(t, ctx, ws, map[string]any{"type": "command", "id": "c1", "command": "settings",
			"settings": map[string]int{"event_interval_seconds": 120, "motion_sensitivity": 0}})
		if m := readUntil(t, ctx, ws, "command_result"); m.ID != "c1" || m.OK == nil || !*m.OK {
			t.Errorf("settings result %+v", m)
		}
		send(t, ctx, ws, map[string]any{"type": "command", "id": "c2", "command": "settings",
			"settings": map[string]int{"event_interval_seconds": 0}})
		if m := readUntil(t, ctx, ws, "command_result"); m.ID != "c2" || m.OK == nil || *m.OK || m.Error == "" {
			t.Errorf("bad settings result %+v", m)
		}
		send(t, ctx, ws, map[string]any{"type": "command", "id": "c3", "command": "snapshot"})
		m := readUntil(t, ctx, ws, "command_result")
		if m.ID != "c3" || m.OK == nil || !*m.OK || m.EventID == "" {
			t.Errorf("snapshot result %+v", m)
		}
		s.mu.Lock()
		_, stored := s.stored[m.EventID]
		s.mu.Unlock()
		if !stored {
			t.Errorf("snapshot %s was not uploaded before the result", m.EventID)
		}
		readUntil(t, ctx, ws, "heartbeat")
		close(settled)
		ws.Close(deviceproto.CloseReplaced, "replaced by a newer connection of this camera")
	}
	f, acks := testFleet(t, s, nil)
	cam, err := f.Add("porch", Credentials{DeviceID: testDevice, Token: fakeToken})
	if err != nil {
		t.Fatal(err)
	}
	_, done := runFleet(t, f)
	if a := waitAck(t, acks); !a.Snapshot {
		t.Fatalf("ack %+v is not the snapshot", a)
	}
	<-settled
	<-cam.Done()
	if !errors.Is(cam.Err(), ErrReplaced) {
		t.Fatalf("stopped with %v, want replaced", cam.Err())
	}
	if err := <-done; !errors.Is(err, ErrReplaced) {
		t.Fatalf("Run returned %v", err)
	}
	done <- nil
	iv, sens := cam.Settings()
	if iv != 120*time.Second || sens != 0 {
		t.Fatalf("settings %v %d", iv, sens)
	}
	st := cam.Stats().Snapshot()
	if st.Connects != 2 || st.Reconnects != 1 || st.LastConnect.IsZero() || st.Online != 0 {
		t.Fatalf("stats %+v", st)
	}
	if cam.HomeID() != testHome {
		t.Fatalf("home %q", cam.HomeID())
	}
}

func TestRevokedCloseStops(t *testing.T) {
	s := newFakeServer(t)
	s.connect = func(w http.ResponseWriter, r *http.Request, n int) {
		ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{deviceproto.Subprotocol}})
		if err != nil {
			return
		}
		defer ws.CloseNow()
		send(t, r.Context(), ws, map[string]any{"type": "hello", "device_id": testDevice, "home_id": testHome, "heartbeat_seconds": 30})
		ws.Close(deviceproto.CloseRevoked, "the camera was unpaired")
	}
	f, _ := testFleet(t, s, nil)
	cam, err := f.Add("porch", Credentials{DeviceID: testDevice, Token: fakeToken})
	if err != nil {
		t.Fatal(err)
	}
	_, done := runFleet(t, f)
	<-cam.Done()
	if !errors.Is(cam.Err(), ErrUnpaired) {
		t.Fatalf("stopped with %v", cam.Err())
	}
	<-done
	done <- nil
}

// Idle cameras cost no goroutine: with every camera waiting out a long
// backoff, the fleet runs on its scheduler and workers alone.
func TestIdleCamerasHaveNoGoroutines(t *testing.T) {
	const cameras = 500
	s := newFakeServer(t)
	allTried := make(chan struct{})
	s.connect = func(w http.ResponseWriter, r *http.Request, n int) {
		if n == cameras {
			close(allTried)
		}
		http.NotFound(w, r)
	}
	before := runtime.NumGoroutine()
	f, _ := testFleet(t, s, func(c *Config) {
		c.Backoff = deviceclient.Backoff{Base: time.Hour, Cap: time.Hour}
		c.UploadWorkers = 4
	})
	for i := range cameras {
		if _, err := f.Add(fmt.Sprint("cam", i), Credentials{DeviceID: fmt.Sprintf("dev%023d", i), Token: fakeToken}); err != nil {
			t.Fatal(err)
		}
	}
	runFleet(t, f)
	// Wait until every camera has been refused once (404) and is waiting.
	<-allTried
	for f.sched.len() < 2*cameras { // each: a reconnect and an event
		if t.Context().Err() != nil {
			t.Fatalf("%d timers, want %d", f.sched.len(), 2*cameras)
		}
		runtime.Gosched()
	}
	s.srv.CloseClientConnections()
	f.cfg.WSClient.CloseIdleConnections()
	f.cfg.HTTPClient.CloseIdleConnections()
	runtime.Gosched()
	if extra := runtime.NumGoroutine() - before; extra > 50 {
		t.Fatalf("%d idle cameras use %d goroutines", cameras, extra)
	}
}

func TestEventIDs(t *testing.T) {
	a := eventPrefix(testDevice, zeroRand)
	b := eventPrefix(testDevice, maxRand)
	if a == b {
		t.Fatal("two runs share an event ID prefix")
	}
	id := a + "-18446744073709551615"
	if !eventIDShape.MatchString(id) {
		t.Fatalf("event ID %q does not have the protocol's shape", id)
	}
}

func TestConfigChecks(t *testing.T) {
	for _, cfg := range []Config{
		{WatermarkKey: testKey},
		{Server: "ftp://x", WatermarkKey: testKey},
		{Server: "http://127.0.0.1:1"},
	} {
		if _, err := NewFleet(cfg); err == nil {
			t.Errorf("config %+v was taken", cfg)
		}
	}
}
