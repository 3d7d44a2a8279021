package gateway_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/camvault/camvault/internal/admission"
	"github.com/camvault/camvault/internal/apperr"
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

// patience bounds waits so a lost message fails instead of hanging; it is
// never what a test measures.
const patience = 20 * time.Second

// node is one gateway, as one camvault node runs it, serving device
// connections over real HTTP.
type node struct {
	gw  *gateway.Gateway
	srv *httptest.Server
}

type cluster struct {
	store  store.Store
	bus    *natsbus.Bus
	nodes  []*node
	owner  authz.Principal
	device domain.Device
	other  domain.Device // a camera of another home
}

// newCluster runs n gateways sharing one store and one bus.
func newCluster(t *testing.T, n int) *cluster {
	t.Helper()
	ctx := t.Context()
	log := slog.New(slog.DiscardHandler)
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "camvault.db"))
	if err != nil {
		t.Fatal(err)
	}
	first, err := natsbus.Embedded(ctx, log)
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{store: st, bus: first}
	runCtx, stop := context.WithCancel(context.Background())
	var waits []chan struct{}
	var buses []*natsbus.Bus
	for i := range n {
		b := first
		if i > 0 {
			if b, err = first.Connect(ctx); err != nil {
				t.Fatal(err)
			}
		}
		buses = append(buses, b)
		cfg := gateway.DefaultConfig()
		gw := gateway.New(cfg, st, admission.New(admission.Config{ConnectsPerSecond: 1000, ConnectBurst: 100,
			UploadsPerSecond: 1, UploadBurst: 1, UploadsInFlight: 1}, nil), authz.New(st), b, log)
		done := make(chan struct{})
		waits = append(waits, done)
		go func() { gw.Run(runCtx); close(done) }()
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// The device is whoever the test says in the header: this test
			// is about routing between nodes, not about tokens.
			dev, err := st.DeviceByID(r.Context(), r.Header.Get("X-Device"))
			if err != nil {
				http.Error(w, "no such device", http.StatusUnauthorized)
				return
			}
			_ = gw.Serve(w, r, authz.Principal{Kind: domain.PrincipalDevice, DeviceID: dev.ID, HomeID: dev.HomeID})
		}))
		c.nodes = append(c.nodes, &node{gw: gw, srv: srv})
	}
	t.Cleanup(func() {
		for _, nd := range c.nodes {
			nd.srv.CloseClientConnections()
			nd.srv.Close()
		}
		stop()
		for _, w := range waits {
			<-w
		}
		for i := len(buses) - 1; i >= 0; i-- {
			buses[i].Close()
		}
		st.Close()
	})

	now := time.Now().UTC()
	mk := func() (authz.Principal, domain.Device) {
		acc := domain.Account{ID: id.New(), EmailIndex: []byte(id.New()), EmailSealed: []byte("x"), PasswordHash: "h", CreatedAt: now}
		if err := st.CreateAccount(ctx, acc); err != nil {
			t.Fatal(err)
		}
		h := domain.Home{ID: id.New(), NameSealed: []byte("x"), WrappedDataKey: []byte("k"), RetentionDays: 30, CreatedAt: now, GrantsVersion: 1}
		if err := st.CreateHome(ctx, h, domain.Member{HomeID: h.ID, AccountID: acc.ID, Role: domain.RoleOwner, AddedAt: now}); err != nil {
			t.Fatal(err)
		}
		code := []byte(id.New())
		if err := st.CreatePairingCode(ctx, domain.PairingCode{CodeHash: code, HomeID: h.ID, CreatedBy: acc.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		d, err := st.PairDevice(ctx, code, now, domain.Device{ID: id.New(), NameSealed: []byte("x"), Model: "m", Firmware: "f", TokenHash: []byte(id.New()), CreatedAt: now})
		if err != nil {
			t.Fatal(err)
		}
		return authz.Principal{Kind: domain.PrincipalPerson, AccountID: acc.ID, SessionID: id.New()}, d
	}
	c.owner, c.device = mk()
	_, c.other = mk()
	return c
}

// camera is a device's connection as the camera sees it.
type camera struct {
	ws   *websocket.Conn
	msgs chan map[string]any
	done chan websocket.StatusCode
}

func (c *cluster) connect(t *testing.T, nd *node, deviceID string) *camera {
	t.Helper()
	ws, _, err := websocket.Dial(t.Context(), "ws"+strings.TrimPrefix(nd.srv.URL, "http"), &websocket.DialOptions{
		Subprotocols: []string{deviceproto.Subprotocol}, HTTPHeader: http.Header{"X-Device": {deviceID}}})
	if err != nil {
		t.Fatal(err)
	}
	cam := &camera{ws: ws, msgs: make(chan map[string]any, 16), done: make(chan websocket.StatusCode, 1)}
	go func() {
		for {
			_, data, err := ws.Read(context.Background())
			if err != nil {
				cam.done <- websocket.CloseStatus(err)
				return
			}
			var m map[string]any
			_ = json.Unmarshal(data, &m)
			cam.msgs <- m
		}
	}()
	t.Cleanup(func() { ws.CloseNow() })
	if hello := cam.next(t); hello["type"] != "hello" || hello["device_id"] != deviceID {
		t.Fatalf("first message %v", hello)
	}
	return cam
}

func (cam *camera) next(t *testing.T) map[string]any {
	t.Helper()
	select {
	case m := <-cam.msgs:
		return m
	case <-time.After(patience):
		t.Fatal("the camera received nothing")
		return nil
	}
}

func (cam *camera) closed(t *testing.T) websocket.StatusCode {
	t.Helper()
	select {
	case code := <-cam.done:
		return code
	case <-time.After(patience):
		t.Fatal("the connection was not closed")
		return 0
	}
}

func TestCommandReachesCameraOnAnotherNode(t *testing.T) {
	c := newCluster(t, 2)
	a, b := c.nodes[0], c.nodes[1]
	cam := c.connect(t, a, c.device.ID)
	for _, cmd := range []gateway.Command{{Command: "snapshot"}, {Command: "settings", Settings: json.RawMessage(`{"motion_sensitivity":40}`)}} {
		cmdID, err := b.gw.Send(t.Context(), c.owner, c.device.ID, cmd)
		if err != nil {
			t.Fatalf("send %s through the other node: %v", cmd.Command, err)
		}
		m := cam.next(t)
		if m["type"] != "command" || m["id"] != cmdID || m["command"] != cmd.Command {
			t.Fatalf("camera got %v; want command %s %s", m, cmd.Command, cmdID)
		}
	}
	// Sent on the node that holds it, it goes straight there.
	cmdID, err := a.gw.Send(t.Context(), c.owner, c.device.ID, gateway.Command{Command: "snapshot"})
	if err != nil {
		t.Fatal(err)
	}
	if m := cam.next(t); m["id"] != cmdID {
		t.Fatalf("camera got %v", m)
	}
}

func TestCommandToCameraConnectedNowhereIsOffline(t *testing.T) {
	c := newCluster(t, 2)
	_, err := c.nodes[1].gw.Send(t.Context(), c.owner, c.device.ID, gateway.Command{Command: "snapshot"})
	if apperr.CodeOf(err) != apperr.Conflict || !strings.Contains(err.Error(), "offline") {
		t.Fatalf("command to a camera connected nowhere: %v; want the offline conflict", err)
	}
}

func TestCommandForAnotherHomesCameraIsNotFoundAndNeverSent(t *testing.T) {
	c := newCluster(t, 2)
	cam := c.connect(t, c.nodes[0], c.other.ID)
	_, err := c.nodes[1].gw.Send(t.Context(), c.owner, c.other.ID, gateway.Command{Command: "snapshot"})
	if apperr.CodeOf(err) != apperr.NotFound {
		t.Fatalf("command to someone else's camera: %v; want not found", err)
	}
	// Then a command to the owner's own camera, connected to the same
	// node: the other camera must not have received anything before it.
	own := c.connect(t, c.nodes[0], c.device.ID)
	if _, err := c.nodes[1].gw.Send(t.Context(), c.owner, c.device.ID, gateway.Command{Command: "snapshot"}); err != nil {
		t.Fatal(err)
	}
	own.next(t)
	select {
	case m := <-cam.msgs:
		t.Fatalf("another home's camera received %v", m)
	default:
	}
}

func TestReconnectToAnotherNodeReplacesTheOldConnection(t *testing.T) {
	c := newCluster(t, 2)
	a, b := c.nodes[0], c.nodes[1]
	old := c.connect(t, a, c.device.ID)
	cam := c.connect(t, b, c.device.ID)
	if code := old.closed(t); code != deviceproto.CloseReplaced {
		t.Fatalf("the older connection on the other node closed with %d; want %d", code, deviceproto.CloseReplaced)
	}
	// Commands from either node now reach the newer connection.
	for _, nd := range []*node{a, b} {
		cmdID, err := nd.gw.Send(t.Context(), c.owner, c.device.ID, gateway.Command{Command: "snapshot"})
		if err != nil {
			t.Fatal(err)
		}
		if m := cam.next(t); m["id"] != cmdID {
			t.Fatalf("camera got %v", m)
		}
	}
}

func TestUnpairingThroughAnotherNodeClosesTheConnection(t *testing.T) {
	c := newCluster(t, 2)
	cam := c.connect(t, c.nodes[0], c.device.ID)
	// A notice alone does not cut a camera that still exists.
	c.nodes[1].gw.Revoke(t.Context(), c.device.ID)
	if _, err := c.nodes[1].gw.Send(t.Context(), c.owner, c.device.ID, gateway.Command{Command: "snapshot"}); err != nil {
		t.Fatalf("the camera was cut off by a notice while still paired: %v", err)
	}
	cam.next(t)
	if err := c.store.DeleteDevice(t.Context(), c.device.ID); err != nil {
		t.Fatal(err)
	}
	c.nodes[1].gw.Revoke(t.Context(), c.device.ID)
	if code := cam.closed(t); code != deviceproto.CloseRevoked {
		t.Fatalf("closed with %d; want %d", code, deviceproto.CloseRevoked)
	}
}

func TestStaleOrForeignConnectNoticeClosesNothing(t *testing.T) {
	c := newCluster(t, 2)
	a := c.nodes[0]
	cam := c.connect(t, a, c.device.ID)
	other := c.connect(t, a, c.other.ID)
	subj, err := bus.NewSubject("connected")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	notice := func(d domain.Device, homeID string, since time.Time) {
		b, _ := json.Marshal(map[string]any{"device_id": d.ID, "home_id": homeID, "node": id.New(), "conn": id.New(), "since": since})
		if err := c.bus.Publish(t.Context(), subj, b); err != nil {
			t.Fatal(err)
		}
	}
	notice(c.device, c.other.HomeID, now.Add(time.Hour))   // names another home than the camera's credential
	notice(c.device, c.device.HomeID, now.Add(-time.Hour)) // about an older connection, arriving late
	notice(c.other, c.other.HomeID, now.Add(time.Hour))    // a true one, for another camera
	// Notices are handled in the order one node published them: once the
	// last has closed its camera, the first two have been handled.
	if code := other.closed(t); code != deviceproto.CloseReplaced {
		t.Fatalf("closed with %d", code)
	}
	cmdID, err := a.gw.Send(t.Context(), c.owner, c.device.ID, gateway.Command{Command: "snapshot"})
	if err != nil {
		t.Fatalf("the camera was cut off by a stale or foreign notice: %v", err)
	}
	if m := cam.next(t); m["id"] != cmdID {
		t.Fatalf("camera got %v", m)
	}
}

func TestProbeAnswersWithoutTouchingTheCamera(t *testing.T) {
	c := newCluster(t, 2)
	cam := c.connect(t, c.nodes[0], c.device.ID)
	subj, err := bus.NewSubject("command", c.device.ID)
	if err != nil {
		t.Fatal(err)
	}
	probe := func(homeID string) map[string]any {
		probeID := id.New()
		req, _ := json.Marshal(map[string]any{"device_id": c.device.ID, "home_id": homeID, "id": probeID, "probe": true})
		raw, err := c.bus.Request(t.Context(), subj, req, patience)
		if err != nil {
			t.Fatal(err)
		}
		var rep map[string]any
		if err := json.Unmarshal(raw, &rep); err != nil || rep["id"] != probeID || rep["device_id"] != c.device.ID {
			t.Fatalf("probe reply %s", raw)
		}
		return rep
	}
	if rep := probe(c.device.HomeID); rep["ok"] != true {
		t.Fatalf("the node holding the camera answered %v", rep)
	}
	if rep := probe(c.other.HomeID); rep["ok"] == true {
		t.Fatalf("a probe naming another home was answered %v", rep)
	}
	// The camera received nothing from the probes: the first message it
	// gets is the command sent next.
	cmdID, err := c.nodes[1].gw.Send(t.Context(), c.owner, c.device.ID, gateway.Command{Command: "snapshot"})
	if err != nil {
		t.Fatal(err)
	}
	if m := cam.next(t); m["id"] != cmdID {
		t.Fatalf("the camera received %v before the command", m)
	}
}
