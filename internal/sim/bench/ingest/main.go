// Command ingest measures event ingest against a running camvault, or the
// same disk work done by hand as a baseline.
//
// Against a server (it starts nothing; the server must be running):
//
//	go run ./bench/ingest --target http://127.0.0.1:18080 --n 1000 --c 4
//
// creates an account, a session, --homes homes (default 1) and --cameras
// paired cameras over the API, spread over the homes, then uploads --n events (each one real JPEG thumbnail of about
// --size bytes, no clip) from --c concurrent workers, each worker uploading
// as its own camera, and prints events/s and latency percentiles.
//
// Baseline (no server):
//
//	go run ./bench/ingest --baseline /tmp/cvbench/baseline --n 1000 --c 4
//
// does, for the same JPEGs at the same concurrency, what the server's disk
// blob store does per blob: write a new temp file, fsync it, link it into
// place, remove the temp name, fsync the directory. It does not do the
// SQLite commit the server adds per event.
//
// With --pid P1,P2,... it reports the CPU time those server processes used
// per event while uploading (several nodes summed), with --cpu NAME=PIDS
// the same for other processes (a cluster's backends), and with --verify it
// lists the account's events through the API afterwards and fails unless
// each acknowledged event is listed exactly once.
//
// With --seed DIR the uploaded events are also written out for the
// thumbnail benchmark: DIR/token (a session token of the owner), DIR/ids
// (one event ID a line) and DIR/jpeg/ID.jpg (the plaintext JPEG).
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"math"
	mrand "math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type config struct {
	target   string
	baseline string
	dirs     bool
	n        int
	c        int
	cameras  int
	homes    int
	size     int
	seed     string
	timeout  time.Duration
	pids     []int
	others   []cpuGroup
	verify   bool
}

// cpuGroup is a named set of processes whose CPU time per event is
// reported beside the server's (--cpu postgres=1,2,3).
type cpuGroup struct {
	name string
	pids []int
}

type cpuGroups []cpuGroup

func (g *cpuGroups) String() string { return "" }

func (g *cpuGroups) Set(v string) error {
	name, list, ok := strings.Cut(v, "=")
	if !ok || name == "" {
		return fmt.Errorf("%q is not NAME=PIDS, PIDS comma-separated", v)
	}
	pids, err := parsePIDs(list)
	if err != nil {
		return err
	}
	*g = append(*g, cpuGroup{name: name, pids: pids})
	return nil
}

// parsePIDs parses a comma-separated list of process IDs.
func parsePIDs(list string) ([]int, error) {
	var pids []int
	for f := range strings.SplitSeq(list, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		pid, err := strconv.Atoi(f)
		if err != nil || pid < 1 {
			return nil, fmt.Errorf("%q is not a process ID", f)
		}
		pids = append(pids, pid)
	}
	return pids, nil
}

func main() {
	var cfg config
	flag.StringVar(&cfg.target, "target", "", "camvault API base URL, e.g. http://127.0.0.1:18080")
	flag.StringVar(&cfg.baseline, "baseline", "", "instead of a server: run the write+fsync baseline in this directory (created; emptied first)")
	flag.BoolVar(&cfg.dirs, "baseline-dirs", false, "baseline: also create a new directory per event (mkdir + fsync of its parent), as the server's blob layout does")
	flag.IntVar(&cfg.n, "n", 1000, "events to upload (or files to write)")
	flag.IntVar(&cfg.c, "c", 4, "concurrent uploads (workers)")
	flag.IntVar(&cfg.cameras, "cameras", 0, "cameras to pair (default: --c); worker i uploads as camera i mod cameras")
	flag.IntVar(&cfg.homes, "homes", 1, "homes the cameras belong to: camera i is in home i mod homes (the disk blob store keeps a directory per home)")
	flag.IntVar(&cfg.size, "size", 30<<10, "thumbnail size in bytes")
	flag.StringVar(&cfg.seed, "seed", "", "write the session token, event IDs and JPEGs to this directory")
	flag.DurationVar(&cfg.timeout, "timeout", 30*time.Second, "per-request timeout")
	pids := flag.String("pid", "", "the server's process IDs, comma-separated (several nodes): report the CPU time they used per event while uploading")
	flag.BoolVar(&cfg.verify, "verify", false, "after uploading, list the account's events through the API and fail unless every acknowledged event is listed")
	var others cpuGroups
	flag.Var(&others, "cpu", "NAME=PID,PID,...: also report the CPU time these processes used per event while uploading, as NAME_cpu/event (repeatable; e.g. the backends of several nodes)")
	flag.Parse()
	var err error
	if cfg.pids, err = parsePIDs(*pids); err != nil {
		fmt.Fprintln(os.Stderr, "ingest: --pid:", err)
		os.Exit(2)
	}
	cfg.others = others
	if err := run(context.Background(), cfg); err != nil {
		fmt.Fprintln(os.Stderr, "ingest:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg config) error {
	if (cfg.target == "") == (cfg.baseline == "") {
		return errors.New("give exactly one of --target and --baseline")
	}
	if cfg.n < 1 || cfg.c < 1 || cfg.homes < 1 || cfg.size < 1024 {
		return errors.New("--n, --c and --homes must be at least 1, --size at least 1024")
	}
	if cfg.cameras == 0 {
		cfg.cameras = cfg.c
	}
	jpegs, err := makeJPEGs(cfg.n, cfg.size)
	if err != nil {
		return err
	}
	var res result
	if cfg.baseline != "" {
		res, err = runBaseline(cfg, jpegs)
	} else {
		res, err = runServer(ctx, cfg, jpegs)
	}
	if err != nil {
		return err
	}
	mode := "camvault"
	if cfg.baseline != "" {
		mode = "baseline"
		if cfg.dirs {
			mode = "baseline-dirs"
		}
	}
	fmt.Printf("mode=%s n=%d c=%d bytes=%d elapsed=%.3fs events/s=%.1f p50=%s p90=%s p99=%s max=%s",
		mode, cfg.n, cfg.c, cfg.size, res.elapsed.Seconds(), float64(cfg.n)/res.elapsed.Seconds(),
		ms(res.pct(50)), ms(res.pct(90)), ms(res.pct(99)), ms(res.pct(100)))
	if cfg.target != "" && cfg.homes > 1 {
		fmt.Printf(" homes=%d", cfg.homes)
	}
	fmt.Printf(" self_cpu/event=%s", ms(res.selfCPU/time.Duration(cfg.n)))
	if res.serverCPU > 0 {
		fmt.Printf(" server_cpu/event=%s", ms(res.serverCPU/time.Duration(cfg.n)))
	}
	for i, g := range cfg.others {
		fmt.Printf(" %s_cpu/event=%s", g.name, ms(res.otherCPU[i]/time.Duration(cfg.n)))
	}
	if cfg.verify {
		fmt.Printf(" listed=%d", res.listed)
	}
	fmt.Println()
	return nil
}

// result is one run: wall time and each operation's latency.
type result struct {
	elapsed   time.Duration
	lat       []time.Duration // sorted
	serverCPU time.Duration   // with --pid: the server's CPU time during the run
	selfCPU   time.Duration   // this process's CPU time during the run
	otherCPU  []time.Duration // with --cpu: each group's CPU time during the run
	listed    int             // with --verify: the events the API lists afterwards
}

// selfCPU returns this process's user plus system CPU time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// processesCPU returns the summed user plus system CPU time of processes.
func processesCPU(pids []int) (time.Duration, error) {
	var total time.Duration
	for _, pid := range pids {
		d, err := processCPU(pid)
		if err != nil {
			return 0, err
		}
		total += d
	}
	return total, nil
}

// processCPU returns the user plus system CPU time of a process, from
// /proc/PID/stat (in USER_HZ ticks, 100 a second on Linux).
func processCPU(pid int) (time.Duration, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("server CPU time: %w", err)
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	_, after, ok := strings.Cut(string(raw), ") ")
	f := strings.Fields(after)
	if !ok || len(f) < 13 {
		return 0, fmt.Errorf("server CPU time: unexpected /proc/%d/stat", pid)
	}
	var utime, stime int64
	if _, err := fmt.Sscan(f[11], &utime); err != nil {
		return 0, fmt.Errorf("server CPU time: utime: %w", err)
	}
	if _, err := fmt.Sscan(f[12], &stime); err != nil {
		return 0, fmt.Errorf("server CPU time: stime: %w", err)
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}

func (r result) pct(p float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(r.lat)))) - 1
	return r.lat[max(0, min(i, len(r.lat)-1))]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond)) }

// parallel runs op(i) for i in [0, n) on c workers and times each call.
func parallel(n, c int, op func(worker, i int) error) (result, error) {
	lat := make([]time.Duration, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, c)
	cpu0 := selfCPU()
	start := time.Now()
	for w := range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				t := time.Now()
				if err := op(w, i); err != nil {
					errs[w] = fmt.Errorf("operation %d: %w", i, err)
					next.Store(int64(n)) // stop the others
					return
				}
				lat[i] = time.Since(t)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := selfCPU() - cpu0
	if err := errors.Join(errs...); err != nil {
		return result{}, err
	}
	slices.Sort(lat)
	return result{elapsed: elapsed, lat: lat, selfCPU: cpu}, nil
}

// makeJPEGs returns n distinct baseline JPEGs of exactly size bytes: a
// noisy gradient encoded at the highest quality that fits, padded with a
// comment segment.
func makeJPEGs(n, size int) ([][]byte, error) {
	out := make([][]byte, n)
	q := 95
	for i := range out {
		b, fit, err := makeJPEG(uint64(i), size, q)
		if err != nil {
			return nil, fmt.Errorf("make JPEG %d: %w", i, err)
		}
		out[i], q = b, fit // the images are alike: start at the last fit
	}
	return out, nil
}

// makeJPEG tries qualities from startQ down; it returns the JPEG and the
// quality that fitted.
func makeJPEG(seed uint64, size, startQ int) ([]byte, int, error) {
	const w, h = 320, 240
	rng := mrand.New(mrand.NewPCG(seed, 0x63616d7661756c74))
	img := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	base := uint8(rng.IntN(256))
	for y := range h {
		for x := range w {
			v := int(base) + x/3 + y/4 + rng.IntN(48) - 24
			img.Y[y*img.YStride+x] = uint8(max(0, min(255, v)))
		}
	}
	for i := range img.Cb {
		img.Cb[i] = uint8(112 + rng.IntN(32))
		img.Cr[i] = uint8(112 + rng.IntN(32))
	}
	for q := startQ; q >= 10; q -= 5 {
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: q}); err != nil {
			return nil, 0, fmt.Errorf("encode: %w", err)
		}
		if buf.Len() <= size-4 { // room for a COM segment header
			return padJPEG(buf.Bytes(), size), q, nil
		}
	}
	return nil, 0, fmt.Errorf("cannot fit a %dx%d JPEG in %d bytes", w, h, size)
}

// padJPEG inserts COM segments after the SOI marker until b is size bytes.
func padJPEG(b []byte, size int) []byte {
	out := make([]byte, 0, size)
	out = append(out, b[:2]...) // SOI
	pad := size - len(b)
	for pad > 0 {
		// A segment is FF FE, a 2-byte length (counting itself), payload.
		seg := min(pad, 0xFFFF+2)
		if seg < 4 {
			// Too small for its own segment: grow the previous one. Only
			// reachable when pad was < 4 at the start, which makeJPEG
			// rules out.
			break
		}
		if rest := pad - seg; rest > 0 && rest < 4 {
			seg -= 4 // leave room for a last segment of at least 4
		}
		out = append(out, 0xFF, 0xFE)
		out = binary.BigEndian.AppendUint16(out, uint16(seg-2))
		for range seg - 4 {
			out = append(out, 'x')
		}
		pad -= seg
	}
	return append(out, b[2:]...)
}

// runBaseline writes the JPEGs as the disk blob store writes a blob.
func runBaseline(cfg config, jpegs [][]byte) (result, error) {
	if err := os.RemoveAll(cfg.baseline); err != nil {
		return result{}, fmt.Errorf("empty baseline directory: %w", err)
	}
	objects, tmp := filepath.Join(cfg.baseline, "objects"), filepath.Join(cfg.baseline, "tmp")
	for _, d := range []string{objects, tmp} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return result{}, fmt.Errorf("create baseline directory: %w", err)
		}
	}
	if err := syncDir(cfg.baseline); err != nil {
		return result{}, err
	}
	return parallel(cfg.n, cfg.c, func(_, i int) error {
		dir := objects
		if cfg.dirs {
			dir = filepath.Join(objects, fmt.Sprintf("e%07d", i))
			if err := os.Mkdir(dir, 0o700); err != nil {
				return fmt.Errorf("create directory: %w", err)
			}
			if err := syncDir(objects); err != nil {
				return err
			}
		}
		return writeDurably(tmp, filepath.Join(dir, fmt.Sprintf("%07d.jpg", i)), jpegs[i])
	})
}

// writeDurably is the blob store's Put: temp file, fsync, link, fsync dir.
func writeDurably(tmpDir, final string, b []byte) error {
	var rnd [12]byte
	_, _ = rand.Read(rnd[:])
	tmpPath := filepath.Join(tmpDir, hex.EncodeToString(rnd[:]))
	f, err := os.OpenFile(tmpPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create temp file: %w", err)
	}
	defer os.Remove(tmpPath)
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("write: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	if err := os.Link(tmpPath, final); err != nil {
		return fmt.Errorf("link into place: %w", err)
	}
	return syncDir(filepath.Dir(final))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory: %w", err)
	}
	return nil
}

// client talks to the API.
type client struct {
	base    string
	http    *http.Client
	timeout time.Duration
}

// call sends a JSON request and decodes a JSON answer into out (if not nil).
func (c *client) call(ctx context.Context, method, path, token string, in, out any, want int) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("%s %s: encode: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return c.do(req, path, out, want)
}

func (c *client) do(req *http.Request, path string, out any, want int) error {
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", req.Method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", req.Method, path, err)
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: status %d, want %d: %s", req.Method, path, resp.StatusCode, want, strings.TrimSpace(string(raw)))
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("%s %s: decode answer: %w", req.Method, path, err)
		}
	}
	return nil
}

// setup creates an account, a session, homes and cameras (camera i in
// home i mod homes); it returns the session token and the device tokens.
func (c *client) setup(ctx context.Context, homes, cameras int) (string, []string, error) {
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	email := "bench-" + hex.EncodeToString(rnd[:]) + "@example.com"
	password := "bench passphrase " + hex.EncodeToString(rnd[:])
	creds := map[string]string{"email": email, "password": password}
	if err := c.call(ctx, "POST", "/api/v1/accounts", "", creds, nil, http.StatusCreated); err != nil {
		return "", nil, fmt.Errorf("create account: %w", err)
	}
	var sess struct{ Token string }
	if err := c.call(ctx, "POST", "/api/v1/sessions", "", creds, &sess, http.StatusCreated); err != nil {
		return "", nil, fmt.Errorf("log in: %w", err)
	}
	homeIDs := make([]string, homes)
	for i := range homeIDs {
		var home struct{ ID string }
		if err := c.call(ctx, "POST", "/api/v1/homes", sess.Token, map[string]string{"name": fmt.Sprintf("bench %d", i)}, &home, http.StatusCreated); err != nil {
			return "", nil, fmt.Errorf("create home: %w", err)
		}
		homeIDs[i] = home.ID
	}
	devices := make([]string, 0, cameras)
	for i := range cameras {
		var code struct{ Code string }
		if err := c.call(ctx, "POST", "/api/v1/homes/"+homeIDs[i%homes]+"/pairing-codes", sess.Token, nil, &code, http.StatusCreated); err != nil {
			return "", nil, fmt.Errorf("pairing code %d: %w", i, err)
		}
		var dev struct {
			DeviceToken string `json:"device_token"`
		}
		pair := map[string]string{"code": code.Code, "model": "CV-BENCH", "firmware": "1.0.0"}
		if err := c.call(ctx, "POST", "/api/v1/devices/pair", "", pair, &dev, http.StatusCreated); err != nil {
			return "", nil, fmt.Errorf("pair camera %d: %w", i, err)
		}
		devices = append(devices, dev.DeviceToken)
	}
	return sess.Token, devices, nil
}

// uploadBody is one event's multipart body.
type uploadBody struct {
	contentType string
	body        []byte
}

func makeUpload(eventID string, startedAt time.Time, thumb []byte) (uploadBody, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	meta, err := json.Marshal(map[string]string{"event_id": eventID, "started_at": startedAt.Format(time.RFC3339Nano), "kind": "motion"})
	if err != nil {
		return uploadBody{}, fmt.Errorf("encode meta: %w", err)
	}
	for _, p := range []struct {
		name, file, ctype string
		b                 []byte
	}{{"meta", "", "application/json", meta}, {"thumbnail", "thumb.jpg", "image/jpeg", thumb}} {
		h := textproto.MIMEHeader{}
		disp := `form-data; name="` + p.name + `"`
		if p.file != "" {
			disp += `; filename="` + p.file + `"`
		}
		h.Set("Content-Disposition", disp)
		h.Set("Content-Type", p.ctype)
		w, err := mw.CreatePart(h)
		if err != nil {
			return uploadBody{}, fmt.Errorf("multipart: %w", err)
		}
		if _, err := w.Write(p.b); err != nil {
			return uploadBody{}, fmt.Errorf("multipart: %w", err)
		}
	}
	if err := mw.Close(); err != nil {
		return uploadBody{}, fmt.Errorf("multipart: %w", err)
	}
	return uploadBody{contentType: mw.FormDataContentType(), body: buf.Bytes()}, nil
}

func runServer(ctx context.Context, cfg config, jpegs [][]byte) (result, error) {
	c := &client{
		base:    strings.TrimRight(cfg.target, "/"),
		http:    &http.Client{Transport: &http.Transport{MaxIdleConns: cfg.c + 4, MaxIdleConnsPerHost: cfg.c + 4}},
		timeout: cfg.timeout,
	}
	session, devices, err := c.setup(ctx, cfg.homes, cfg.cameras)
	if err != nil {
		return result{}, err
	}
	// Bodies are built before the clock starts, so the client spends its
	// share of the two cores on sending only.
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	run := hex.EncodeToString(rnd[:])
	started := time.Now().Add(-time.Hour).UTC()
	bodies := make([]uploadBody, cfg.n)
	for i := range bodies {
		eventID := fmt.Sprintf("bench-%s-%07d", run, i)
		if bodies[i], err = makeUpload(eventID, started.Add(time.Duration(i)*time.Millisecond), jpegs[i]); err != nil {
			return result{}, err
		}
	}
	ids := make([]string, cfg.n)
	var cpu0 time.Duration
	if len(cfg.pids) > 0 {
		if cpu0, err = processesCPU(cfg.pids); err != nil {
			return result{}, err
		}
	}
	others0 := make([]time.Duration, len(cfg.others))
	for i, g := range cfg.others {
		if others0[i], err = processesCPU(g.pids); err != nil {
			return result{}, err
		}
	}
	res, err := parallel(cfg.n, cfg.c, func(w, i int) error {
		rctx, cancel := context.WithTimeout(ctx, cfg.timeout)
		defer cancel()
		req, err := http.NewRequestWithContext(rctx, "POST", c.base+"/api/v1/device/events", bytes.NewReader(bodies[i].body))
		if err != nil {
			return fmt.Errorf("upload: %w", err)
		}
		req.Header.Set("Content-Type", bodies[i].contentType)
		req.Header.Set("Authorization", "Bearer "+devices[w%len(devices)])
		var out struct{ ID string }
		if err := c.do(req, "/api/v1/device/events", &out, http.StatusCreated); err != nil {
			return err
		}
		ids[i] = out.ID
		return nil
	})
	if err != nil {
		return result{}, err
	}
	if len(cfg.pids) > 0 {
		cpu1, err := processesCPU(cfg.pids)
		if err != nil {
			return result{}, err
		}
		res.serverCPU = cpu1 - cpu0
	}
	for i, g := range cfg.others {
		cpu1, err := processesCPU(g.pids)
		if err != nil {
			return result{}, err
		}
		res.otherCPU = append(res.otherCPU, cpu1-others0[i])
	}
	if cfg.verify {
		if res.listed, err = c.verify(ctx, session, ids); err != nil {
			return result{}, err
		}
	}
	if cfg.seed != "" {
		if err := writeSeed(cfg.seed, session, ids, jpegs); err != nil {
			return result{}, err
		}
	}
	return res, nil
}

// verify lists every event the session's account may see, page by page,
// and checks that each acknowledged event is among them, once. Through a
// balancer the listing may come from another node than the uploads did.
func (c *client) verify(ctx context.Context, session string, acked []string) (int, error) {
	seen := make(map[string]int, len(acked))
	before := ""
	for {
		path := "/api/v1/events?limit=100"
		if before != "" {
			path += "&before=" + url.QueryEscape(before)
		}
		var page struct {
			Events []struct{ ID string }
			Next   string
		}
		if err := c.call(ctx, "GET", path, session, nil, &page, http.StatusOK); err != nil {
			return 0, fmt.Errorf("verify: %w", err)
		}
		for _, e := range page.Events {
			seen[e.ID]++
		}
		if page.Next == "" || len(page.Events) == 0 {
			break
		}
		before = page.Next
	}
	var missing, twice int
	for _, id := range acked {
		switch seen[id] {
		case 0:
			missing++
		case 1:
		default:
			twice++
		}
	}
	listed := 0
	for _, n := range seen {
		listed += n
	}
	if missing > 0 || twice > 0 || listed != len(acked) {
		return listed, fmt.Errorf("verify: %d events acknowledged, %d listed: %d missing, %d listed more than once", len(acked), listed, missing, twice)
	}
	return listed, nil
}

// writeSeed writes what the thumbnail benchmark needs.
func writeSeed(dir, session string, ids []string, jpegs [][]byte) error {
	if err := os.MkdirAll(filepath.Join(dir, "jpeg"), 0o755); err != nil {
		return fmt.Errorf("seed directory: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "token"), []byte(session+"\n"), 0o600); err != nil {
		return fmt.Errorf("write token: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ids"), []byte(strings.Join(ids, "\n")+"\n"), 0o644); err != nil {
		return fmt.Errorf("write ids: %w", err)
	}
	for i, eventID := range ids {
		if err := os.WriteFile(filepath.Join(dir, "jpeg", eventID+".jpg"), jpegs[i], 0o644); err != nil {
			return fmt.Errorf("write JPEG: %w", err)
		}
	}
	return nil
}
