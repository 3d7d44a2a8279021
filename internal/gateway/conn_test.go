package gateway_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/camvault/camvault/internal/admission"
	"github.com/camvault/camvault/internal/authz"
	"github.com/camvault/camvault/internal/bus/natsbus"
	"github.com/camvault/camvault/internal/deviceproto"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/gateway"
	"github.com/camvault/camvault/internal/live"
	"github.com/camvault/camvault/internal/store/sqlite"
)

// modes are both ways of serving camera connections; every test here runs
// on each, and they must behave alike.
var modes = []string{gateway.CameraWSNetpoll, gateway.CameraWSStd}

// served is one gateway serving n paired cameras of one home over real
// HTTP, as camvault serve does (a device's principal from a header here,
// from its token there).
type served struct {
	gw   *gateway.Gateway
	url  string // ws://...
	addr string // host:port
	devs []domain.Device
}

func serve(t testing.TB, cfg gateway.Config, n int, sink gateway.LiveSink) *served {
	t.Helper()
	ctx := t.Context()
	log := slog.New(slog.DiscardHandler)
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "camvault.db"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := natsbus.Embedded(ctx, log)
	if err != nil {
		t.Fatal(err)
	}
	devs := pairCameras(t, st, n)
	gw := gateway.New(cfg, st, admission.New(admission.DefaultConfig(), nil), authz.New(st), b, log)
	if sink != nil {
		gw.SetLiveSink(sink)
	}
	runCtx, stop := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { gw.Run(runCtx); close(ran) }()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		dev, err := st.DeviceByID(r.Context(), r.Header.Get("X-Device"))
		if err != nil {
			http.Error(w, "no such device", http.StatusUnauthorized)
			return
		}
		if err := gw.Serve(w, r, authz.Principal{Kind: domain.PrincipalDevice, DeviceID: dev.ID, HomeID: dev.HomeID}); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(func() {
		stop()
		<-ran
		srv.Close()
		b.Close()
		st.Close()
	})
	addr := strings.TrimPrefix(srv.URL, "http://")
	return &served{gw: gw, url: "ws://" + addr, addr: addr, devs: devs}
}

// TestSilentCameraIsClosedWith4003: a camera that sends nothing for three
// heartbeat intervals is closed with 4003; one that sends heartbeats is
// not.
func TestSilentCameraIsClosedWith4003(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			cfg := gateway.DefaultConfig()
			cfg.CameraWS = mode
			cfg.Heartbeat = 50 * time.Millisecond
			s := serve(t, cfg, 2, nil)
			silent, err := dial(t.Context(), s.url, s.devs[0].ID)
			if err != nil {
				t.Fatal(err)
			}
			defer silent.CloseNow()
			beating, err := dial(t.Context(), s.url, s.devs[1].ID)
			if err != nil {
				t.Fatal(err)
			}
			defer beating.CloseNow()
			stopBeats := make(chan struct{})
			var beats sync.WaitGroup
			beats.Go(func() {
				for {
					select {
					case <-stopBeats:
						return
					case <-time.After(cfg.Heartbeat / 2):
					}
					_ = beating.Write(context.Background(), websocket.MessageText, []byte(`{"type":"heartbeat"}`))
				}
			})
			defer func() { close(stopBeats); beats.Wait() }()

			rctx, cancel := context.WithTimeout(t.Context(), patience)
			defer cancel()
			_, _, err = silent.Read(rctx)
			if code := websocket.CloseStatus(err); code != deviceproto.CloseNoHeartbeat {
				t.Fatalf("a silent camera's connection ended with %v (%d); want %d", err, code, deviceproto.CloseNoHeartbeat)
			}
			// The camera that beats outlived the silent one's three
			// intervals many times over and is still connected.
			waitFor(t, func() bool { return s.gw.Connected() == 1 })
			time.Sleep(10 * cfg.Heartbeat) // not a measurement: more intervals for it to survive
			if n := s.gw.Connected(); n != 1 {
				t.Fatalf("%d cameras connected; want the one sending heartbeats", n)
			}
		})
	}
}

// blockingSink holds every frame of one device until released, and
// records the frames of each device in the order they came.
type blockingSink struct {
	hold    string
	release chan struct{}

	mu     sync.Mutex
	frames map[string][]uint64
}

func (s *blockingSink) LiveFrame(f live.Frame) {
	if f.Label.Device == s.hold {
		<-s.release
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.frames[f.Label.Device] = append(s.frames[f.Label.Device], f.Seq)
}

func (s *blockingSink) got(device string) []uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]uint64(nil), s.frames[device]...)
}

func (*blockingSink) LiveStopped(live.Label) {}

func (*blockingSink) LiveGOP(live.Label) (uint64, uint64, bool) { return 0, 0, false }

// TestSlowRelayStallsNoOtherCamera: one camera's frames are stuck in the
// live sink; another camera's frames still all arrive, in order. Once the
// sink lets the first's through they arrive in order too: on the poller
// those past its queue's bound were dropped and counted, served std the
// camera was held back by TCP and none was.
func TestSlowRelayStallsNoOtherCamera(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			cfg := gateway.DefaultConfig()
			cfg.CameraWS = mode
			sink := &blockingSink{release: make(chan struct{}), frames: map[string][]uint64{}}
			s := serve(t, cfg, 2, sink)
			stuck, free := s.devs[0], s.devs[1]
			sink.hold = stuck.ID
			released := false
			defer func() {
				if !released {
					close(sink.release)
				}
			}()
			// More than the poller's queue holds for the stuck camera;
			// fewer for the free one, so that none of its can be dropped.
			sent := map[string]int{stuck.ID: 100, free.ID: 20}
			for _, d := range []domain.Device{stuck, free} {
				ws, err := dial(t.Context(), s.url, d.ID)
				if err != nil {
					t.Fatal(err)
				}
				defer ws.CloseNow()
				st, err := s.gw.WantLive(t.Context(), d)
				if err != nil {
					t.Fatal(err)
				}
				var m deviceproto.Message
				_, data, err := ws.Read(t.Context())
				if err != nil || json.Unmarshal(data, &m) != nil || m.Type != deviceproto.TypeLiveStart || m.StreamEpoch != st.Epoch {
					t.Fatalf("camera got %q, %v; want live_start of epoch %d", data, err, st.Epoch)
				}
				for seq := range uint64(sent[d.ID]) {
					h := deviceproto.FrameHeader{Version: deviceproto.FrameVersion, Epoch: st.Epoch, Seq: seq, PTS: int64(seq) * 6000}
					if seq == 0 {
						h.Flags = deviceproto.FlagKeyframe
					}
					if err := ws.Write(t.Context(), websocket.MessageBinary, deviceproto.EncodeFrame(h, []byte{0, 0, 0, 1, 0x65, byte(seq)})); err != nil {
						t.Fatal(err)
					}
				}
			}
			waitFor(t, func() bool { return len(sink.got(free.ID)) == sent[free.ID] })
			if n := len(sink.got(stuck.ID)); n != 0 {
				t.Fatalf("%d frames of the stuck camera passed the sink", n)
			}
			close(sink.release)
			released = true
			waitFor(t, func() bool {
				return len(sink.got(stuck.ID))+int(s.gw.LiveFramesDropped()) == sent[stuck.ID]
			})
			dropped := s.gw.LiveFramesDropped()
			if (mode == gateway.CameraWSNetpoll) != (dropped > 0) {
				t.Errorf("%s: %d frames dropped", mode, dropped)
			}
			for _, d := range []domain.Device{stuck, free} {
				got := sink.got(d.ID)
				for i := 1; i < len(got); i++ {
					if got[i] <= got[i-1] {
						t.Fatalf("frames of %s out of order: %v", d.ID, got)
					}
				}
			}
		})
	}
}
