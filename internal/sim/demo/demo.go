// Package demo runs camvault for a newcomer: the server on the embedded
// default, a demo account, a home and a few simulated cameras producing
// events, so the system is alive at once. Everything goes through the real
// API, as a person and real cameras would.
package demo

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/camvault/camvault/internal/server"
	"github.com/camvault/camvault/internal/sim/camera"
)

// Config configures a demo.
type Config struct {
	Data          string // data directory; empty: a fresh temporary one, removed at the end
	Addr          string // public listener; empty: defaultAddr, or a free port when that is taken
	AdminAddr     string // admin listener; empty: defaultAdminAddr, or a free port when that is taken
	Cameras       int
	EventInterval time.Duration
	Out           io.Writer // where the welcome text goes
	Log           *slog.Logger
}

// The demo's listeners when none is given, as camvault serve's defaults.
const (
	defaultAddr      = "127.0.0.1:8080"
	defaultAdminAddr = "127.0.0.1:8081"
)

// demoEmail is the demo account's address.
const demoEmail = "demo@example.com"

var cameraNames = []string{"Front door", "Garden", "Garage", "Living room", "Driveway", "Back yard", "Hallway", "Porch"}

// Run runs the demo until ctx ends.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Cameras < 1 || cfg.Cameras > 100 {
		return errors.New("--cameras must be 1 to 100")
	}
	dataGiven := cfg.Data != ""
	if !dataGiven {
		dir, err := os.MkdirTemp("", "camvault-demo-")
		if err != nil {
			return fmt.Errorf("demo data directory: %w", err)
		}
		defer os.RemoveAll(dir)
		cfg.Data = dir
	}
	if cfg.Addr != "" && cfg.Addr == cfg.AdminAddr {
		return errors.New("--addr and --admin-addr must differ")
	}
	// The demo opens its own listeners before anything talks to them, so
	// a port another program holds is said as such, and not mistaken for
	// this server.
	pubLn, err := listen(cfg.Addr, defaultAddr, "--addr", cfg.Out)
	if err != nil {
		return err
	}
	admLn, err := listen(cfg.AdminAddr, defaultAdminAddr, "--admin-addr", cfg.Out)
	if err != nil {
		pubLn.Close()
		return err
	}
	cfg.Addr, cfg.AdminAddr = pubLn.Addr().String(), admLn.Addr().String()
	app, err := server.Open(ctx, server.Config{DataDir: cfg.Data, Addr: cfg.Addr, AdminAddr: cfg.AdminAddr}, server.DefaultOptions(), cfg.Log)
	if err != nil {
		pubLn.Close()
		admLn.Close()
		return err
	}
	defer app.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- app.Serve(ctx, pubLn, admLn) }()

	base := "http://" + cfg.Addr
	c := &client{http: &http.Client{Timeout: 30 * time.Second}, base: base}
	if err := c.waitUp(ctx, served); err != nil {
		return err
	}
	password, err := newPassword()
	if err != nil {
		return err
	}
	if _, err := c.do(ctx, "POST", "/api/v1/accounts", "", map[string]string{"email": demoEmail, "password": password}, 201); err != nil {
		if dataGiven {
			return fmt.Errorf("create the demo account (a data directory used before keeps the first demo's account; start without --data): %w", err)
		}
		return fmt.Errorf("create the demo account: %w", err)
	}
	login, err := c.do(ctx, "POST", "/api/v1/sessions", "", map[string]string{"email": demoEmail, "password": password}, 201)
	if err != nil {
		return err
	}
	tok := login["token"].(string)
	home, err := c.do(ctx, "POST", "/api/v1/homes", tok, map[string]string{"name": "Demo home"}, 201)
	if err != nil {
		return err
	}
	homeID := home["id"].(string)

	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return fmt.Errorf("watermark key: %w", err)
	}
	fleet, err := camera.NewFleet(camera.Config{Server: base, WatermarkKey: key, EventInterval: cfg.EventInterval, Log: cfg.Log})
	if err != nil {
		return err
	}
	var cams []*camera.Camera
	for i := range cfg.Cameras {
		code, err := c.do(ctx, "POST", "/api/v1/homes/"+homeID+"/pairing-codes", tok, nil, 201)
		if err != nil {
			return err
		}
		creds, err := camera.Pair(ctx, c.http, base, code["code"].(string), "CV-Demo", "1.0.0")
		if err != nil {
			return err
		}
		name := cameraNames[i%len(cameraNames)]
		if i >= len(cameraNames) {
			name = fmt.Sprintf("%s %d", name, i/len(cameraNames)+1)
		}
		if _, err := c.do(ctx, "PATCH", "/api/v1/devices/"+creds.DeviceID, tok, map[string]string{"name": name}, 200); err != nil {
			return err
		}
		cam, err := fleet.Add(name, creds)
		if err != nil {
			return err
		}
		cams = append(cams, cam)
	}
	for _, cam := range cams {
		cam.Trigger() // a first event from each camera at once
	}
	fmt.Fprintf(cfg.Out, `
camvault demo is running.

  Open:      %s/  in a browser
  API:       %s/api/v1  (described at %s/api/v1/openapi.json)
  Metrics:   http://%s/metrics
  Log in as: %s
  Password:  %s

%d simulated cameras in "Demo home" send a motion event about every %s.
Try:
  TOKEN=$(curl -s -X POST %s/api/v1/sessions -H 'Content-Type: application/json' \
    -d '{"email": "%s", "password": "%s"}' | jq -r .token)
  curl -s %s/api/v1/events -H "Authorization: Bearer $TOKEN"

Stop with Ctrl-C.
`, base, base, base, cfg.AdminAddr, demoEmail, password, cfg.Cameras, cfg.EventInterval, base, demoEmail, password, base)

	fleetDone := make(chan error, 1)
	go func() { fleetDone <- fleet.Run(ctx) }()
	select {
	case <-ctx.Done():
	case err := <-fleetDone:
		if err != nil && ctx.Err() == nil {
			cfg.Log.Warn("the simulated cameras stopped", "err", err)
		}
		<-ctx.Done()
	case err := <-served:
		return err
	}
	return <-served
}

// listen opens a listener on addr, the one the person gave. When they gave
// none it tries def, and when another program holds that port it takes a
// free one and says so on out. A port taken that they asked for is an
// error that says how to pick another.
func listen(addr, def, flag string, out io.Writer) (net.Listener, error) {
	given := addr != ""
	if !given {
		addr = def
	}
	ln, err := net.Listen("tcp", addr)
	switch {
	case err == nil:
		return ln, nil
	case !errors.Is(err, syscall.EADDRINUSE):
		return nil, fmt.Errorf("listen on %s %s: %w", flag, addr, err)
	case given:
		return nil, fmt.Errorf("%s %s: that port is in use by another program; pick a free one with %s 127.0.0.1:PORT, or leave %s out and the demo picks one", flag, addr, flag, flag)
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", flag, addr, err)
	}
	ln, err = net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return nil, fmt.Errorf("listen on a free port for %s: %w", flag, err)
	}
	fmt.Fprintf(out, "%s is in use by another program; the demo uses %s instead (%s to choose).\n", addr, ln.Addr(), flag)
	return ln, nil
}

// newPassword makes a readable random password for the demo account.
func newPassword() (string, error) {
	b := make([]byte, 10)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("demo password: %w", err)
	}
	s := strings.ToLower(base32.StdEncoding.EncodeToString(b)) // 16 characters
	return s[:4] + "-" + s[4:8] + "-" + s[8:12] + "-" + s[12:16], nil
}

// client speaks the public API as a person would.
type client struct {
	http *http.Client
	base string
}

func (c *client) waitUp(ctx context.Context, served <-chan error) error {
	for range 200 {
		select {
		case err := <-served:
			return fmt.Errorf("server stopped: %w", err)
		default:
		}
		res, err := c.http.Get(c.base + "/api/v1/openapi.json")
		if err == nil {
			res.Body.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(25 * time.Millisecond):
		}
	}
	return errors.New("the server did not start listening")
}

func (c *client) do(ctx context.Context, method, path, tok string, body any, want int) (map[string]any, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if res.StatusCode != want {
		return nil, fmt.Errorf("%s %s: %d %s", method, path, res.StatusCode, bytes.TrimSpace(raw))
	}
	var out map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			return nil, fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return out, nil
}
