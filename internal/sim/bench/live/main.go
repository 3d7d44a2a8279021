// Command live measures live view against a running camvault (and, for
// the CPU comparison, a running go2rtc): time to first frame, the latency
// the relay adds, many viewers at once, and the revocation cut-off. It
// starts no server; internal/sim/bench/live.sh starts them. The cameras
// are simulated in this process (internal/sim/camera), paired over the
// API; every frame a viewer receives is checked against its camera's
// watermark, whose PTS is the frame's capture time, so latency is the
// receive time minus it.
//
//	live --target URL --mode ttff --warm --trials 200
//	live --target URL --mode ttff --trials 200 --cameras 50
//	live --target URL --mode latency --viewers 100 --duration 30s
//	live --target URL --pid PID --mode load --cameras 100 --viewers 10 --duration 60s \
//	     [--go2rtc URL --go2rtc-pid PID --feed-addr 127.0.0.1:28196]
//	live --target URL --mode revoke --trials 100
//
// Each mode prints one line of key=value results per measurement.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/camvault/camvault/internal/deviceclient"
	"github.com/camvault/camvault/internal/sim/camera"
)

type config struct {
	target    string
	pid       int
	mode      string
	warm      bool
	trials    int
	cameras   int
	viewers   int
	duration  time.Duration
	warmup    time.Duration
	go2rtc    string
	go2rtcPID int
	feedAddr  string
	stall     time.Duration
}

func main() {
	var cfg config
	flag.StringVar(&cfg.target, "target", "", "camvault API base URL, e.g. http://127.0.0.1:28180")
	flag.IntVar(&cfg.pid, "pid", 0, "camvault's process ID: report its CPU time (load)")
	flag.StringVar(&cfg.mode, "mode", "", "ttff, latency, load or revoke")
	flag.BoolVar(&cfg.warm, "warm", false, "ttff: cameras kept warm (else started on demand)")
	flag.IntVar(&cfg.trials, "trials", 200, "ttff, revoke: trials")
	flag.IntVar(&cfg.cameras, "cameras", 0, "cameras (default: ttff on demand 50, warm 4; load 100; latency and revoke 1)")
	flag.IntVar(&cfg.viewers, "viewers", 0, "latency: viewers of the one camera (default 100); load: viewers per camera (default 10)")
	flag.DurationVar(&cfg.duration, "duration", 60*time.Second, "latency, load: the measured window")
	flag.DurationVar(&cfg.warmup, "warmup", 10*time.Second, "latency, load: from the last viewer's start to the window")
	flag.StringVar(&cfg.go2rtc, "go2rtc", "", "load: go2rtc's API base URL, to measure it the same way after camvault")
	flag.IntVar(&cfg.go2rtcPID, "go2rtc-pid", 0, "load: go2rtc's process ID")
	flag.StringVar(&cfg.feedAddr, "feed-addr", "127.0.0.1:28196", "load: where go2rtc pulls the cameras' H.264 (GET /feed/{i})")
	flag.DurationVar(&cfg.stall, "stall", time.Second, "load, latency: a gap between two frames of one viewer this long is a stall")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, cfg)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "live:", err)
		os.Exit(1)
	}
}

// watermarkKey is the simulated cameras' watermark key: the viewers verify
// every frame with it.
var watermarkKey = []byte("camvault live benchmark watermark key")

func run(ctx context.Context, cfg config) error {
	if cfg.target == "" {
		return errors.New("--target is required")
	}
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	switch cfg.mode {
	case "ttff":
		def(&cfg.cameras, map[bool]int{true: 4, false: 50}[cfg.warm])
	case "latency":
		def(&cfg.cameras, 1)
		def(&cfg.viewers, 100)
	case "load":
		def(&cfg.cameras, 100)
		def(&cfg.viewers, 10)
	case "revoke":
		def(&cfg.cameras, 1)
	default:
		return fmt.Errorf("--mode %q: want ttff, latency, load or revoke", cfg.mode)
	}
	b := &bench{cfg: cfg, api: newClient(cfg.target), ws: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}}
	video, err := camera.LoadVideo(camera.Video360p)
	if err != nil {
		return err
	}
	b.video = video
	fleet, err := camera.NewFleet(camera.Config{
		Server: cfg.target, WatermarkKey: watermarkKey, EventInterval: 24 * time.Hour, EventJitter: -1, ClipFrames: -1,
		Backoff: deviceclient.Backoff{Base: 100 * time.Millisecond, Cap: 2 * time.Second},
		Log:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		return err
	}
	b.fleet = fleet
	fctx, stopFleet := context.WithCancel(ctx)
	var fleetErr error
	var wg sync.WaitGroup
	defer func() { stopFleet(); wg.Wait() }()
	// Cameras are added before the fleet runs.
	if err := b.setup(ctx, cfg.cameras, cfg.warm && cfg.mode == "ttff" || cfg.mode == "latency" || cfg.mode == "revoke"); err != nil {
		return err
	}
	wg.Go(func() { fleetErr = fleet.Run(fctx) })
	if err := b.waitOnline(ctx); err != nil {
		return err
	}
	switch cfg.mode {
	case "ttff":
		err = b.ttff(ctx)
	case "latency":
		err = b.latency(ctx)
	case "load":
		err = b.load(ctx)
	case "revoke":
		err = b.revoke(ctx)
	}
	stopFleet()
	wg.Wait()
	if fleetErr != nil && !errors.Is(fleetErr, context.Canceled) {
		err = errors.Join(err, fmt.Errorf("camera fleet: %w", fleetErr))
	}
	return err
}

// cam is a paired simulated camera in a home of its own.
type cam struct {
	owner       person // whose session the viewers use
	home        string
	device      string
	deviceToken string
	sim         *camera.Camera
}

type bench struct {
	cfg     config
	api     *client
	ws      *http.Client // for the viewers' WebSockets
	video   *camera.Video
	fleet   *camera.Fleet
	cameras []cam
}

// setup makes n cameras, each in a home of its own with its owner, and
// keeps them warm when warm.
func (b *bench) setup(ctx context.Context, n int, warm bool) error {
	b.cameras = make([]cam, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			errs[i] = b.setupOne(ctx, i, warm)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for i, c := range b.cameras {
		sim, err := b.fleet.Add(fmt.Sprintf("camera %d", i), camera.Credentials{DeviceID: c.device, Token: c.deviceToken})
		if err != nil {
			return err
		}
		b.cameras[i].sim = sim
	}
	return nil
}

func (b *bench) setupOne(ctx context.Context, i int, warm bool) error {
	owner, err := b.api.signup(ctx)
	if err != nil {
		return err
	}
	home, err := b.api.home(ctx, owner)
	if err != nil {
		return err
	}
	p, err := b.api.pair(ctx, owner, home)
	if err != nil {
		return err
	}
	if warm {
		if err := b.api.keepWarm(ctx, owner, p.DeviceID, true); err != nil {
			return err
		}
	}
	b.cameras[i] = cam{owner: owner, home: home, device: p.DeviceID, deviceToken: p.DeviceToken}
	return nil
}
