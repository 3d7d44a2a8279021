package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coder/websocket"
)

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// until polls cond every 50 ms for at most limit.
func until(ctx context.Context, limit time.Duration, what string, cond func() bool) error {
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not after %s", what, limit)
		}
		if err := sleep(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
	return nil
}

// waitOnline waits until the server says every camera is online.
func (b *bench) waitOnline(ctx context.Context) error {
	for i, c := range b.cameras {
		if err := until(ctx, time.Minute, fmt.Sprintf("camera %d online", i), func() bool {
			ok, err := b.api.online(ctx, c.owner, c.device)
			return err == nil && ok
		}); err != nil {
			return err
		}
	}
	return nil
}

// waitWarm waits until every camera streams, then long enough for the
// fast-start cache to hold a group of pictures.
func (b *bench) waitWarm(ctx context.Context) error {
	for i, c := range b.cameras {
		if err := until(ctx, 30*time.Second, fmt.Sprintf("camera %d streaming", i), func() bool { return c.sim.Streaming() != 0 }); err != nil {
			return err
		}
	}
	return sleep(ctx, 2500*time.Millisecond)
}

func (b *bench) dialCamvault(ctx context.Context, c cam) (*websocket.Conn, error) {
	return dialCamvault(ctx, b.api.liveURL(c.device), c.owner.token, b.ws)
}

// firstFrame dials c's stream and reads until the first decodable frame
// (the init segment and a keyframe's fragment): the time to first frame,
// and the part of it the WebSocket upgrade took.
func (b *bench) firstFrame(ctx context.Context, c cam) (total, upgrade time.Duration, err error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	t0 := time.Now()
	ws, err := b.dialCamvault(ctx, c)
	if err != nil {
		return 0, 0, err
	}
	defer ws.CloseNow()
	upgrade = time.Since(t0)
	s := &stream{ws: ws, key: watermarkKey, device: c.device, home: c.home}
	f, err := s.next(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("first frame: %w", err)
	}
	if !f.keyframe {
		return 0, 0, errors.New("the stream does not start with a keyframe")
	}
	return f.at.Sub(t0), upgrade, nil
}

// ttff measures the time to first frame, trial after trial, each on the
// next camera. A camera started on demand is used only once it stopped
// streaming since its last trial.
func (b *bench) ttff(ctx context.Context) error {
	if b.cfg.warm {
		if err := b.waitWarm(ctx); err != nil {
			return err
		}
	}
	var total, upgrade []time.Duration
	for i := range b.cfg.trials {
		c := b.cameras[i%len(b.cameras)]
		if b.cfg.warm {
			// Join at any point of the group of pictures.
			if err := sleep(ctx, rand.N(700*time.Millisecond)); err != nil {
				return err
			}
		} else if err := until(ctx, time.Minute, "camera stopped streaming", func() bool { return c.sim.Streaming() == 0 }); err != nil {
			return err
		}
		t, u, err := b.firstFrame(ctx, c)
		if err != nil {
			return fmt.Errorf("trial %d: %w", i, err)
		}
		total, upgrade = append(total, t), append(upgrade, u)
	}
	how := "on_demand"
	if b.cfg.warm {
		how = "warm"
	}
	fmt.Printf("mode=ttff camera=%s transport=mse trials=%d cameras=%d ttff_p50=%s ttff_p90=%s ttff_p99=%s ttff_max=%s upgrade_p50=%s upgrade_p99=%s\n",
		how, len(total), len(b.cameras), ms(pct(total, 50)), ms(pct(total, 90)), ms(pct(total, 99)), ms(pct(total, 100)),
		ms(pct(upgrade, 50)), ms(pct(upgrade, 99)))
	return nil
}

// viewerStats is what one viewer saw while measuring.
type viewerStats struct {
	mu      sync.Mutex
	frames  int
	missed  uint64 // frames skipped (a gap in the watermarks' sequence)
	foreign int
	stalls  int
	maxGap  time.Duration
	lat     []time.Duration // receive − capture, of frames captured after the viewer joined
	err     error
}

// watch is one viewer: it reads frames until ctx ends, and records them
// while measuring.
func (b *bench) watch(ctx context.Context, dial func(context.Context) (*websocket.Conn, error), c cam, st *viewerStats, measuring *atomic.Bool) {
	joined := time.Now()
	ws, err := dial(ctx)
	if err != nil {
		st.mu.Lock()
		st.err = err
		st.mu.Unlock()
		return
	}
	defer ws.CloseNow()
	s := &stream{ws: ws, key: watermarkKey, device: c.device, home: c.home}
	var last frame
	for {
		f, err := s.next(ctx)
		if errors.Is(err, errForeign) {
			st.mu.Lock()
			st.foreign++
			st.mu.Unlock()
			continue
		}
		if err != nil {
			if ctx.Err() == nil {
				st.mu.Lock()
				st.err = err
				st.mu.Unlock()
			}
			return
		}
		if measuring.Load() && !last.at.IsZero() {
			st.mu.Lock()
			st.frames++
			gap := f.at.Sub(last.at)
			st.maxGap = max(st.maxGap, gap)
			if gap >= b.cfg.stall {
				st.stalls++
			}
			if f.seq > last.seq+1 {
				st.missed += f.seq - last.seq - 1
			}
			if taken := f.captured(); taken.After(joined) {
				st.lat = append(st.lat, f.at.Sub(taken))
			}
			st.mu.Unlock()
		}
		last = f
	}
}

// phase runs viewers viewers of each of cams at once, dialled by dial,
// spread over a few seconds; after the warm-up it measures for the
// window, with the CPU time of the process pid.
func (b *bench) phase(ctx context.Context, name string, pid int, cams []cam, viewers int,
	dial func(ctx context.Context, c cam, i int) (*websocket.Conn, error)) error {
	n := len(cams) * viewers
	stats := make([]*viewerStats, n)
	var measuring atomic.Bool
	vctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { stop(); wg.Wait() }()
	spread := min(5*time.Second, time.Duration(n)*20*time.Millisecond)
	for v := range n {
		ci := v % len(cams)
		stats[v] = &viewerStats{}
		wg.Go(func() {
			b.watch(vctx, func(ctx context.Context) (*websocket.Conn, error) { return dial(ctx, cams[ci], ci) }, cams[ci], stats[v], &measuring)
		})
		if err := sleep(ctx, spread/time.Duration(n)); err != nil {
			return err
		}
	}
	if err := sleep(ctx, b.cfg.warmup); err != nil {
		return err
	}
	cpu0, err := processCPU(pid)
	if err != nil {
		return err
	}
	self0, t0 := selfCPU(), time.Now()
	measuring.Store(true)
	if err := sleep(ctx, b.cfg.duration); err != nil {
		return err
	}
	measuring.Store(false)
	elapsed, self := time.Since(t0), selfCPU()-self0
	cpu1, err := processCPU(pid)
	if err != nil {
		return err
	}
	stop()
	wg.Wait()

	var frames, foreign, stalls, failed int
	var missed uint64
	var maxGap time.Duration
	var lat []time.Duration
	var firstErr error
	for _, st := range stats {
		frames += st.frames
		foreign += st.foreign
		stalls += st.stalls
		missed += st.missed
		maxGap = max(maxGap, st.maxGap)
		lat = append(lat, st.lat...)
		if st.err != nil {
			failed++
			if firstErr == nil {
				firstErr = st.err
			}
		}
	}
	slices.Sort(lat)
	cpu := cpu1 - cpu0
	perStream := float64(cpu) / float64(time.Millisecond) / (float64(n) * elapsed.Seconds())
	fmt.Printf("mode=%s server=%s cameras=%d viewers=%d streams=%d window=%.1fs frames=%d frames/stream/s=%.2f missed=%d stalls=%d max_gap=%s foreign=%d failed=%d"+
		" latency_p50=%s latency_p90=%s latency_p99=%s latency_max=%s server_cpu=%.2fs server_cpu_per_stream=%.3fms/s (%.3f%% of a core) self_cpu=%.2fs\n",
		b.cfg.mode, name, len(cams), viewers, n, elapsed.Seconds(), frames, float64(frames)/float64(n)/elapsed.Seconds(), missed, stalls, ms(maxGap), foreign, failed,
		ms(pct(lat, 50)), ms(pct(lat, 90)), ms(pct(lat, 99)), ms(pct(lat, 100)), cpu.Seconds(), perStream, perStream/10, self.Seconds())
	if firstErr != nil {
		fmt.Printf("  first viewer error: %v\n", firstErr)
	}
	return nil
}

// latency is many viewers of one warm camera.
func (b *bench) latency(ctx context.Context) error {
	if err := b.waitWarm(ctx); err != nil {
		return err
	}
	return b.phase(ctx, "camvault", b.pidOrSelf(b.cfg.pid), b.cameras[:1], b.cfg.viewers, func(ctx context.Context, c cam, _ int) (*websocket.Conn, error) {
		return b.dialCamvault(ctx, c)
	})
}

// load is many cameras with many viewers each, on camvault and then, the
// same way, on go2rtc fed the same cameras' H.264.
func (b *bench) load(ctx context.Context) error {
	if err := b.phase(ctx, "camvault", b.pidOrSelf(b.cfg.pid), b.cameras, b.cfg.viewers, func(ctx context.Context, c cam, _ int) (*websocket.Conn, error) {
		return b.dialCamvault(ctx, c)
	}); err != nil {
		return err
	}
	if b.cfg.go2rtc == "" {
		return nil
	}
	fd := &feed{video: b.video, key: watermarkKey, cameras: b.cameras}
	if err := fd.serve(b.cfg.feedAddr); err != nil {
		return err
	}
	defer fd.close()
	// Let camvault's streams stop (their grace period) before measuring
	// go2rtc.
	if err := sleep(ctx, 15*time.Second); err != nil {
		return err
	}
	base := strings.TrimRight(b.cfg.go2rtc, "/")
	return b.phase(ctx, "go2rtc", b.pidOrSelf(b.cfg.go2rtcPID), b.cameras, b.cfg.viewers, func(ctx context.Context, _ cam, i int) (*websocket.Conn, error) {
		return dialGo2rtc(ctx, base, fmt.Sprintf("cam%d", i), b.ws)
	})
}

func (b *bench) pidOrSelf(pid int) int {
	if pid == 0 {
		return os.Getpid()
	}
	return pid
}

// revoke measures the cut-off: a viewer watches, then the owner removes
// the viewer from the home (even trials) or the viewer logs out (odd
// ones); the time from the revoking request's answer to the stream's
// close with 4403.
func (b *bench) revoke(ctx context.Context) error {
	if err := b.waitWarm(ctx); err != nil {
		return err
	}
	c := b.cameras[0]
	viewer, err := b.api.signup(ctx)
	if err != nil {
		return err
	}
	cut := map[string][]time.Duration{}
	member := false
	for i := range b.cfg.trials {
		kind := "remove_member"
		if i%2 == 1 {
			kind = "logout"
		}
		if !member {
			if err := b.api.addMember(ctx, c.owner, c.home, viewer); err != nil {
				return err
			}
			member = true
		}
		tok, err := b.api.login(ctx, viewer)
		if err != nil {
			return err
		}
		d, err := b.revokeOnce(ctx, c, tok, func() error {
			if kind == "logout" {
				return b.api.logout(ctx, tok)
			}
			member = false
			return b.api.removeMember(ctx, c.owner, c.home, viewer.id)
		})
		if err != nil {
			return fmt.Errorf("trial %d (%s): %w", i, kind, err)
		}
		cut[kind] = append(cut[kind], d)
		cut["all"] = append(cut["all"], d)
		if err := sleep(ctx, rand.N(300*time.Millisecond)); err != nil {
			return err
		}
	}
	for _, kind := range []string{"remove_member", "logout", "all"} {
		d := cut[kind]
		fmt.Printf("mode=revoke revoked_by=%s trials=%d cutoff_p50=%s cutoff_p99=%s cutoff_max=%s\n",
			kind, len(d), ms(pct(d, 50)), ms(pct(d, 99)), ms(pct(d, 100)))
	}
	return nil
}

// revokeOnce watches c as tok until the first frame, revokes, and returns
// the time from the revoking answer to the close, which must be 4403.
func (b *bench) revokeOnce(ctx context.Context, c cam, tok string, revoke func() error) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	ws, err := dialCamvault(ctx, b.api.liveURL(c.device), tok, b.ws)
	if err != nil {
		return 0, err
	}
	defer ws.CloseNow()
	s := &stream{ws: ws, key: watermarkKey, device: c.device, home: c.home}
	if _, err := s.next(ctx); err != nil {
		return 0, fmt.Errorf("first frame: %w", err)
	}
	type end struct {
		at  time.Time
		err error
	}
	ended := make(chan end, 1)
	go func() {
		for {
			if _, err := s.next(ctx); err != nil {
				ended <- end{time.Now(), err}
				return
			}
		}
	}()
	err = revoke()
	answered := time.Now()
	e := <-ended // the reader ends by the close or by ctx
	if err != nil {
		return 0, err
	}
	if code := closeCode(e.err); code != 4403 {
		return 0, fmt.Errorf("the stream ended with %v, want close code 4403", e.err)
	}
	return e.at.Sub(answered), nil
}

// pct is the p-th percentile of d (sorted here).
func pct(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	if !slices.IsSorted(d) {
		slices.Sort(d)
	}
	i := int(math.Ceil(p/100*float64(len(d)))) - 1
	return d[max(0, min(i, len(d)-1))]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond)) }

// selfCPU is this process's user plus system CPU time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// processCPU is a process's user plus system CPU time, from
// /proc/PID/stat (USER_HZ ticks, 100 a second on Linux).
func processCPU(pid int) (time.Duration, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("CPU time of process %d: %w", pid, err)
	}
	_, after, ok := strings.Cut(string(raw), ") ")
	f := strings.Fields(after)
	if !ok || len(f) < 13 {
		return 0, fmt.Errorf("CPU time: unexpected /proc/%d/stat", pid)
	}
	var utime, stime int64
	if _, err := fmt.Sscan(f[11], &utime); err != nil {
		return 0, fmt.Errorf("CPU time: utime: %w", err)
	}
	if _, err := fmt.Sscan(f[12], &stime); err != nil {
		return 0, fmt.Errorf("CPU time: stime: %w", err)
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}
