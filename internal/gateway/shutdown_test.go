package gateway_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/camvault/camvault/internal/admission"
	"github.com/camvault/camvault/internal/authz"
	"github.com/camvault/camvault/internal/bus"
	"github.com/camvault/camvault/internal/bus/natsbus"
	"github.com/camvault/camvault/internal/deviceproto"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/gateway"
	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/store"
	"github.com/camvault/camvault/internal/store/sqlite"
)

// closedStore counts the gateway's uses of the store once it is marked
// closed: the app closes the store right after the gateway's Run returns.
type closedStore struct {
	gateway.Store
	closed atomic.Bool
	late   atomic.Int64
}

func (s *closedStore) use() {
	if s.closed.Load() {
		s.late.Add(1)
	}
}

func (s *closedStore) SetPresence(ctx context.Context, u []domain.Presence) error {
	s.use()
	return s.Store.SetPresence(ctx, u)
}

func (s *closedStore) DeviceByID(ctx context.Context, id string) (domain.Device, error) {
	s.use()
	return s.Store.DeviceByID(ctx, id)
}

// closedBus is the same for the bus.
type closedBus struct {
	gateway.Bus
	closed atomic.Bool
	late   atomic.Int64
}

func (b *closedBus) use() {
	if b.closed.Load() {
		b.late.Add(1)
	}
}

func (b *closedBus) Publish(ctx context.Context, s bus.Subject, data []byte) error {
	b.use()
	return b.Bus.Publish(ctx, s, data)
}

func (b *closedBus) Subscribe(ctx context.Context, s bus.Subject, h bus.Handler) (bus.Subscription, error) {
	b.use()
	return b.Bus.Subscribe(ctx, s, h)
}

func (b *closedBus) Respond(ctx context.Context, s bus.Subject, r bus.Responder) (bus.Subscription, error) {
	b.use()
	sub, err := b.Bus.Respond(ctx, s, r)
	if err != nil {
		return nil, err
	}
	return closedSub{sub, b}, nil
}

func (b *closedBus) Request(ctx context.Context, s bus.Subject, data []byte, timeout time.Duration) ([]byte, error) {
	b.use()
	return b.Bus.Request(ctx, s, data, timeout)
}

type closedSub struct {
	bus.Subscription
	b *closedBus
}

func (s closedSub) Unsubscribe() error {
	s.b.use()
	return s.Subscription.Unsubscribe()
}

// pairCameras makes a home with n cameras.
func pairCameras(t testing.TB, st store.Store, n int) []domain.Device {
	t.Helper()
	ctx := t.Context()
	now := time.Now().UTC()
	acc := domain.Account{ID: id.New(), EmailIndex: []byte(id.New()), EmailSealed: []byte("x"), PasswordHash: "h", CreatedAt: now}
	if err := st.CreateAccount(ctx, acc); err != nil {
		t.Fatal(err)
	}
	h := domain.Home{ID: id.New(), NameSealed: []byte("x"), WrappedDataKey: []byte("k"), RetentionDays: 30, CreatedAt: now, GrantsVersion: 1}
	if err := st.CreateHome(ctx, h, domain.Member{HomeID: h.ID, AccountID: acc.ID, Role: domain.RoleOwner, AddedAt: now}); err != nil {
		t.Fatal(err)
	}
	var devs []domain.Device
	for range n {
		code := []byte(id.New())
		if err := st.CreatePairingCode(ctx, domain.PairingCode{CodeHash: code, HomeID: h.ID, CreatedBy: acc.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		d, err := st.PairDevice(ctx, code, now, domain.Device{ID: id.New(), NameSealed: []byte("x"), Model: "m", Firmware: "f", TokenHash: []byte(id.New()), CreatedAt: now})
		if err != nil {
			t.Fatal(err)
		}
		devs = append(devs, d)
	}
	return devs
}

// dial opens a camera's connection and reads its hello.
func dial(ctx context.Context, url, deviceID string) (*websocket.Conn, error) {
	ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{
		Subprotocols: []string{deviceproto.Subprotocol}, HTTPHeader: http.Header{"X-Device": {deviceID}}})
	if err != nil {
		return nil, err
	}
	if _, _, err := ws.Read(ctx); err != nil {
		ws.CloseNow()
		return nil, err
	}
	return ws, nil
}

// TestShutdownWritesEveryCameraOffline stops a gateway while cameras hold
// connections, one never answers the close, and others connect, send
// heartbeats and disconnect over and over. When Run returns, every camera
// is offline in the store, the cameras that answer were told 1001, and the
// gateway uses neither the store nor the bus any more (the app closes them
// next). Run under -race, it also checks the readers, the closes and the
// presence writer against each other.
func TestShutdownWritesEveryCameraOffline(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) { shutdownWritesEveryCameraOffline(t, mode) })
	}
}

func shutdownWritesEveryCameraOffline(t *testing.T, mode string) {
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
	t.Cleanup(func() {
		b.Close()
		st.Close()
	})
	gst, gbus := &closedStore{Store: st}, &closedBus{Bus: b}
	const steady, churning = 6, 4
	devs := pairCameras(t, st, steady+1+churning)

	cfg := gateway.DefaultConfig()
	cfg.CameraWS = mode
	// Short, so that the camera that never answers is cut: the deadline
	// path runs too. Not a measurement: Run's return is waited for.
	cfg.CloseTimeout = 300 * time.Millisecond
	gw := gateway.New(cfg, gst, admission.New(admission.DefaultConfig(), nil), authz.New(st), gbus, log)
	runCtx, stop := context.WithCancel(context.Background())
	defer stop()
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
	t.Cleanup(srv.Close)
	url := "ws" + strings.TrimPrefix(srv.URL, "http")

	// Cameras that stay connected and read until their connection ends.
	codes := make(chan websocket.StatusCode, steady)
	var readers sync.WaitGroup
	for _, d := range devs[:steady] {
		ws, err := dial(ctx, url, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		readers.Go(func() {
			for {
				if _, _, err := ws.Read(context.Background()); err != nil {
					codes <- websocket.CloseStatus(err)
					return
				}
			}
		})
	}
	// A camera that vanished: it never reads again, so it never answers.
	silent, err := dial(ctx, url, devs[steady].ID)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.CloseNow()

	// Cameras that come and go, until the gateway stops taking them.
	var churn sync.WaitGroup
	stopChurn := make(chan struct{})
	var churned atomic.Int64
	for _, d := range devs[steady+1:] {
		churn.Go(func() {
			for {
				select {
				case <-stopChurn:
					return
				default:
				}
				dctx, cancel := context.WithTimeout(context.Background(), patience)
				if ws, err := dial(dctx, url, d.ID); err == nil {
					_ = ws.Write(dctx, websocket.MessageText, []byte(`{"type":"heartbeat"}`))
					ws.Close(websocket.StatusNormalClosure, "")
					churned.Add(1)
				}
				cancel()
				time.Sleep(5 * time.Millisecond)
			}
		})
	}

	// Every steady camera shows online, and the churn is under way.
	deadline := time.Now().Add(patience)
	for {
		online := 0
		for _, d := range devs[:steady+1] {
			if dev, err := st.DeviceByID(ctx, d.ID); err == nil && dev.Online {
				online++
			}
		}
		if online == steady+1 && churned.Load() >= churning {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d cameras online, %d churned connections", online, steady+1, churned.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}

	stop()
	select {
	case <-ran:
	case <-time.After(patience):
		t.Fatal("Run did not return after its context ended")
	}
	gst.closed.Store(true)
	gbus.closed.Store(true)
	close(stopChurn)
	churn.Wait()
	readers.Wait()
	close(codes)

	for code := range codes {
		if code != websocket.StatusGoingAway {
			t.Errorf("a connected camera was closed with %d; want %d (going away)", code, websocket.StatusGoingAway)
		}
	}
	for _, d := range devs {
		dev, err := st.DeviceByID(ctx, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if dev.Online {
			t.Errorf("camera %s is still online in the store after the gateway stopped", d.ID)
		}
	}
	if n := gw.Connected(); n != 0 {
		t.Errorf("%d connections left after the gateway stopped", n)
	}
	if n := gst.late.Load(); n != 0 {
		t.Errorf("the gateway used the store %d times after Run returned", n)
	}
	if n := gbus.late.Load(); n != 0 {
		t.Errorf("the gateway used the bus %d times after Run returned", n)
	}
	// A camera connecting now is refused before the upgrade.
	_, res, err := websocket.Dial(ctx, url, &websocket.DialOptions{
		Subprotocols: []string{deviceproto.Subprotocol}, HTTPHeader: http.Header{"X-Device": {devs[0].ID}}})
	if err == nil || res == nil || res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("a connection after the shutdown: %v %v; want 503", res, err)
	}
}
