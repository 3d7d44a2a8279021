package storm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"syscall"
	"time"

	"github.com/camvault/camvault/internal/sim/camera"
)

// sampleEvery is how often the monitor samples the run.
const sampleEvery = 250 * time.Millisecond

// monitor samples the run for the chart and the connect rate, and shows
// the progress line, until ctx ends.
func (r *runner) monitor(ctx context.Context) {
	t := time.NewTicker(sampleEvery)
	defer t.Stop()
	for n := 0; ; n++ {
		s := r.sample()
		if r.cfg.Progress != nil && n%2 == 0 {
			r.progress(s)
		}
		select {
		case <-ctx.Done():
			if r.cfg.Progress != nil {
				fmt.Fprintln(r.cfg.Progress)
			}
			return
		case <-t.C:
		}
	}
}

func (r *runner) sample() Sample {
	s := Sample{T: time.Since(r.started).Seconds(), Requests: r.c.requests.Load(), Connects: r.c.connects.Load(),
		LiveOpen: r.lc.open.Load(), LiveFrames: r.lc.frames.Load()}
	for _, c := range r.cams {
		st := c.Stats()
		if st.Online.Load() {
			s.Online++
		}
		s.Queued += st.Queued.Load()
	}
	if r.srv != nil {
		s.RSS = r.srv.rss()
	}
	r.mu.Lock()
	r.timeline = append(r.timeline, s)
	r.mu.Unlock()
	return s
}

// progress rewrites the terminal's progress line.
func (r *runner) progress(s Sample) {
	r.mu.Lock()
	phase := r.phase
	r.mu.Unlock()
	var generated int64
	for _, c := range r.cams {
		generated += c.Stats().Generated.Load()
	}
	line := fmt.Sprintf("%-8s %5.0fs  online %d/%d  events %d  queued %d  acked %d  503s %d  media %d  foreign %d",
		phase, s.T, s.Online, len(r.cams), generated, s.Queued, r.c.uploads.Load(), r.c.shed503.Load(),
		r.vc.mediaResponses.Load(), r.vc.foreignMedia.Load())
	if len(r.liveViewers) > 0 {
		line += fmt.Sprintf("  live %d (frames %d, foreign %d)", s.LiveOpen, s.LiveFrames, r.lc.foreign.Load())
	}
	if s.RSS > 0 {
		line += "  server " + humanBytes(s.RSS)
	}
	fmt.Fprintf(r.cfg.Progress, "\r\x1b[K%s", line)
}

// generate makes each camera record a motion event every interval (the
// cameras' first events spread over the first interval) until ctx ends.
// Cameras that are offline queue them.
func generate(ctx context.Context, cams []*camera.Camera, interval time.Duration) {
	now := time.Now()
	next := make([]time.Time, len(cams))
	for i := range next {
		next[i] = now.Add(time.Duration(rand.Int64N(int64(interval) + 1)))
	}
	t := time.NewTicker(min(50*time.Millisecond, interval))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now = <-t.C:
		}
		for i, c := range cams {
			if now.Before(next[i]) {
				continue
			}
			c.Trigger()
			next[i] = next[i].Add(interval)
			if next[i].Before(now) {
				next[i] = now.Add(interval)
			}
		}
	}
}

// minLevel drops records below min: the fleet logs every connection of
// every camera at info, too much for thousands.
type minLevel struct {
	slog.Handler
	min slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return minLevel{Handler: h.Handler.WithAttrs(as), min: h.min}
}

func (h minLevel) WithGroup(name string) slog.Handler {
	return minLevel{Handler: h.Handler.WithGroup(name), min: h.min}
}

// raiseFDLimit makes sure this process may open need file descriptors,
// raising its limit (the hard one too, when allowed) if it must.
func raiseFDLimit(need uint64) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("file descriptor limit: %w", err)
	}
	if lim.Cur >= need {
		return nil
	}
	want := lim
	want.Cur = max(need, min(lim.Max, 1<<20))
	want.Max = max(lim.Max, want.Cur)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
		if lim.Max >= need {
			want.Cur, want.Max = lim.Max, lim.Max
			if err2 := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err2 == nil {
				return nil
			}
		}
		return errors.Join(fmt.Errorf("storm needs about %d file descriptors, the limit is %d (hard %d): raise it (ulimit -n) or run fewer cameras", need, lim.Cur, lim.Max), err)
	}
	return nil
}
