// Command bridge measures `camvault bridge run` (docs/benchmarks.md, "The
// bridge"): its CPU and memory per camera while it bridges N stand-in
// 1080p H.264 cameras (internal/bridge/bridgetest: RTSP at 15 fps, 1080p
// snapshots compared twice a second), and the time from motion in front
// of a camera to its event being listed by the server. The server and
// the cameras run in this process; the bridge is a process of its own,
// measured from /proc.
//
//	go build -o /tmp/camvault ./cmd/camvault
//	go run ./internal/sim/bench/bridge -camvault /tmp/camvault -cameras 4
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/camvault/camvault/internal/bridge"
	"github.com/camvault/camvault/internal/bridge/bridgetest"
	"github.com/camvault/camvault/internal/server"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bridge bench:", err)
		os.Exit(1)
	}
}

func run() error {
	bin := flag.String("camvault", "", "the camvault binary to run the bridge with")
	cameras := flag.Int("cameras", 4, "stand-in cameras")
	video := flag.String("video", "internal/bridge/testdata/1920x1080.h264", "the cameras' stream (Annex-B H.264)")
	warmup := flag.Duration("warmup", 10*time.Second, "time before measuring")
	duration := flag.Duration("duration", 60*time.Second, "time the CPU and memory are measured over")
	trials := flag.Int("motion-trials", 12, "motion-to-listed trials, spread over the cameras")
	sensitivity := flag.Int("sensitivity", 50, "the cameras' motion sensitivity; 0 turns motion off (no snapshots are fetched), to measure the streams alone")
	flag.Parse()
	if *bin == "" {
		return errors.New("-camvault is required")
	}
	ctx := context.Background()
	tmp, err := os.MkdirTemp("", "cvbridge")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	app, err := server.Open(ctx, server.Config{DataDir: filepath.Join(tmp, "server"), Addr: "127.0.0.1:0", AdminAddr: "127.0.0.1:1"}, server.DefaultOptions(), log)
	if err != nil {
		return err
	}
	defer app.Close()
	public := httptest.NewServer(app.Public())
	defer public.Close()
	bgCtx, stopBG := context.WithCancel(ctx)
	defer stopBG()
	waitBG := app.Background(bgCtx)
	defer waitBG()

	c := &client{base: public.URL}
	creds := map[string]string{"email": "bench@example.com", "password": "correct horse battery staple"}
	if err := c.do("POST", "/api/v1/accounts", creds, nil); err != nil {
		return err
	}
	var sess struct{ Token string }
	if err := c.do("POST", "/api/v1/sessions", creds, &sess); err != nil {
		return err
	}
	c.token = sess.Token
	var home struct{ ID string }
	if err := c.do("POST", "/api/v1/homes", map[string]string{"name": "Bench"}, &home); err != nil {
		return err
	}

	stateDir := filepath.Join(tmp, "bridge")
	st, err := bridge.OpenState(stateDir, "", true)
	if err != nil {
		return err
	}
	var cams []*bridgetest.Camera
	var devices []string
	for i := range *cameras {
		cam, err := bridgetest.New(bridgetest.Config{Video: *video, User: "admin", Password: "pw", SnapshotW: 1920, SnapshotH: 1080})
		if err != nil {
			return err
		}
		defer cam.Close()
		var code struct{ Code string }
		if err := c.do("POST", "/api/v1/homes/"+home.ID+"/pairing-codes", nil, &code); err != nil {
			return err
		}
		cfg, err := bridge.Pair(ctx, st, bridge.PairRequest{
			Server: public.URL, PairingCode: code.Code, Name: "cam" + strconv.Itoa(i),
			StreamURL: cam.URL(), SnapshotURL: cam.SnapshotURL(), Username: "admin", Password: "pw",
			Motion: bridge.MotionConfig{Sensitivity: *sensitivity},
		}, http.DefaultClient, log)
		if err != nil {
			return err
		}
		cams = append(cams, cam)
		devices = append(devices, cfg.DeviceID)
	}

	logFile, err := os.Create(filepath.Join(tmp, "bridge.log"))
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.Command(*bin, "bridge", "--state", stateDir, "run")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	pid := cmd.Process.Pid

	deadline := time.Now().Add(time.Minute)
	for _, d := range devices {
		for !c.online(d) {
			if time.Now().After(deadline) {
				return fmt.Errorf("camera %s not online within a minute (log %s)", d, logFile.Name())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	fmt.Printf("cameras: %d x %s, bridge pid %d\n", *cameras, filepath.Base(*video), pid)
	time.Sleep(*warmup)

	cpu0, t0 := cpuTicks(pid), time.Now()
	var rss []int
	for time.Since(t0) < *duration {
		time.Sleep(time.Second)
		rss = append(rss, rssKiB(pid))
	}
	cpu1, t1 := cpuTicks(pid), time.Now()
	share := float64(cpu1-cpu0) / 100 / t1.Sub(t0).Seconds() // CLK_TCK is 100 on Linux
	slices.Sort(rss)
	fmt.Printf("bridge CPU: %.1f%% of a core in all, %.2f%% per camera (%d cameras, %v)\n",
		share*100, share*100/float64(*cameras), *cameras, t1.Sub(t0).Round(time.Second))
	fmt.Printf("bridge RSS: median %.1f MiB, max %.1f MiB; %.1f MiB per camera\n",
		float64(rss[len(rss)/2])/1024, float64(rss[len(rss)-1])/1024, float64(rss[len(rss)/2])/1024/float64(*cameras))

	if *sensitivity == 0 {
		*trials = 0
	}
	var lat []time.Duration
	for i := range *trials {
		k := i % len(cams)
		before := len(c.events(devices[k]))
		start := time.Now()
		cams[k].SetMotion(true)
		for len(c.events(devices[k])) == before {
			if time.Since(start) > time.Minute {
				return fmt.Errorf("trial %d: no event within a minute", i)
			}
			time.Sleep(10 * time.Millisecond)
		}
		lat = append(lat, time.Since(start))
		cams[k].SetMotion(false)
		if k == len(cams)-1 {
			time.Sleep(11 * time.Second) // the bridge's least time between a camera's events
		}
	}
	slices.Sort(lat)
	if len(lat) > 0 {
		fmt.Printf("motion to event listed (%d trials; includes the 4 s post-roll the clip waits for): p50 %v, max %v\n",
			len(lat), lat[len(lat)/2].Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond))
	}
	fmt.Printf("load: %s\n", loadavg())
	return nil
}

type client struct {
	base, token string
}

func (c *client) do(method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", method, path, res.Status, raw)
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

func (c *client) online(device string) bool {
	var d struct {
		Online bool `json:"online"`
	}
	return c.do("GET", "/api/v1/devices/"+device, nil, &d) == nil && d.Online
}

func (c *client) events(device string) []json.RawMessage {
	var page struct {
		Events []json.RawMessage `json:"events"`
	}
	_ = c.do("GET", "/api/v1/events?device="+device+"&limit=200", nil, &page)
	return page.Events
}

// cpuTicks is the user and system time of a process, in clock ticks.
func cpuTicks(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	u, _ := strconv.ParseInt(f[11], 10, 64)
	k, _ := strconv.ParseInt(f[12], 10, 64)
	return u + k
}

// rssKiB is a process's resident memory.
func rssKiB(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.Fields(v)[0])
			return n
		}
	}
	return 0
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	return strings.Join(strings.Fields(string(b))[:3], " ")
}
