package storm

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// What the other households get while the hostile one attacks: their
// uploads (as their cameras saw them), their views (event listings and
// thumbnails) and their logins, each counted in the window it fell in:
// before the attack (the baseline, the first quarter of the warm-up) or
// during it (the rest of the warm-up, while the server is up and nothing
// else disturbs it).

// measured counts one kind of request: how many, how many failed
// (refused, cut off, no answer), and the latency of those that succeeded.
type measured struct {
	n, failed atomic.Int64
	ms        Histogram
}

func (m *measured) add(took time.Duration, ok bool) {
	m.n.Add(1)
	if !ok {
		m.failed.Add(1)
		return
	}
	m.ms.Add(float64(took) / float64(time.Millisecond))
}

// othersWindow is the window a measurement falls in.
type othersWindow int32

const (
	windowNone othersWindow = iota
	windowBaseline
	windowAttack
)

// othersSet is one window's measurements.
type othersSet struct {
	uploads, views, logins measured
}

// others measures the other households. A nil *others measures nothing.
type others struct {
	window             atomic.Int32
	baseline, attacked othersSet
}

func (o *others) set() *othersSet {
	if o == nil {
		return nil
	}
	switch othersWindow(o.window.Load()) {
	case windowBaseline:
		return &o.baseline
	case windowAttack:
		return &o.attacked
	}
	return nil
}

// upload records a camera upload that started at start.
func (o *others) upload(start time.Time, ok bool) {
	if s := o.set(); s != nil {
		s.uploads.add(time.Since(start), ok)
	}
}

// view records an event listing or thumbnail a viewer asked for at start.
func (o *others) view(start time.Time, ok bool) {
	if s := o.set(); s != nil {
		s.views.add(time.Since(start), ok)
	}
}

func (o *others) login(start time.Time, ok bool) {
	if s := o.set(); s != nil {
		s.logins.add(time.Since(start), ok)
	}
}

// loginProbes is how many of the other households log in again and
// again, about once a second each: the first ones, whose emails the
// hostile household guesses at.
const loginProbes = 3

// probeLogins has account ac log in (and out again, so sessions do not
// pile up) about every second until ctx ends, timing each login.
func probeLogins(ctx context.Context, a api, ac *account, o *others) {
	if sleep(ctx, time.Duration(rand.Int64N(int64(time.Second)))) != nil {
		return
	}
	for ctx.Err() == nil {
		start := time.Now()
		var s struct {
			Token string `json:"token"`
		}
		err := a.do(ctx, "POST", "/api/v1/sessions", "", map[string]string{"email": ac.email, "password": ac.password}, &s, http.StatusCreated)
		if ctx.Err() != nil {
			return
		}
		o.login(start, err == nil)
		if err == nil {
			_ = a.do(ctx, "DELETE", "/api/v1/sessions/current", s.Token, nil, nil, http.StatusNoContent)
		}
		if sleep(ctx, 500*time.Millisecond+time.Duration(rand.Int64N(int64(time.Second)))) != nil {
			return
		}
	}
}

// serverProbe is the state of the servers at one moment: what a client
// cannot make grow without bound.
type serverProbe struct {
	rss      int64
	metrics  int64 // bytes of every node's /metrics
	logBytes int64 // of every node's log
	requests int64 // answered so far: the other households' and the hostile one's requests and device messages
}

// metricsSize is the size of every running node's /metrics, read whole.
func (c *cluster) metricsSize(ctx context.Context) (int64, error) {
	client := &http.Client{Timeout: 30 * time.Second}
	var sum int64
	for _, n := range c.nodes {
		if !n.running() {
			continue
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+n.adminAddr+"/metrics", nil)
		if err != nil {
			return 0, fmt.Errorf("%s metrics: %w", n.name, err)
		}
		res, err := client.Do(req)
		if err != nil {
			return 0, fmt.Errorf("%s metrics: %w", n.name, err)
		}
		k, err := io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if err != nil {
			return 0, fmt.Errorf("%s metrics: %w", n.name, err)
		}
		sum += k
	}
	return sum, nil
}

// logSizes is the size of each node's log now.
func (c *cluster) logSizes() []int64 {
	out := make([]int64, len(c.nodes))
	for i, n := range c.nodes {
		if fi, err := os.Stat(n.logPath); err == nil {
			out[i] = fi.Size()
		}
	}
	return out
}

// longestLogLine is the longest line each node wrote after the offsets
// from, in bytes.
func (c *cluster) longestLogLine(from []int64) (int64, error) {
	var longest int64
	for i, n := range c.nodes {
		f, err := os.Open(n.logPath)
		if err != nil {
			return 0, fmt.Errorf("server log: %w", err)
		}
		if _, err := f.Seek(from[i], io.SeekStart); err != nil {
			f.Close()
			return 0, fmt.Errorf("server log: %w", err)
		}
		rd := bufio.NewReaderSize(f, 64<<10)
		var line int64
		for {
			chunk, isPrefix, err := rd.ReadLine()
			if err != nil {
				break
			}
			line += int64(len(chunk))
			if !isPrefix {
				longest = max(longest, line)
				line = 0
			}
		}
		longest = max(longest, line)
		f.Close()
	}
	return longest, nil
}

// hostileWatch follows the servers while the attack is measured: the
// state when it began, the highest RSS and /metrics since, and the logs'
// offsets then, to measure what was written since.
type hostileWatch struct {
	began      time.Time
	start      serverProbe
	logOffsets []int64
	rssPeak    atomic.Int64
	metricsMax atomic.Int64
}

// requestsSoFar is every request answered so far, the other households'
// and the hostile one's.
func (r *runner) requestsSoFar() int64 {
	return r.c.requests.Load() + r.hostile.c.requests.Load()
}

// beginHostileWatch takes the servers' state as the attack begins.
func (r *runner) beginHostileWatch(ctx context.Context) *hostileWatch {
	w := &hostileWatch{began: time.Now(), logOffsets: r.srv.logSizes()}
	w.start.rss = r.srv.rss()
	for _, s := range w.logOffsets {
		w.start.logBytes += s
	}
	w.start.requests = r.requestsSoFar()
	m, err := r.srv.metricsSize(ctx)
	if err != nil {
		r.log.Warn("reading /metrics", "err", err)
	}
	w.start.metrics = m
	w.rssPeak.Store(w.start.rss)
	w.metricsMax.Store(m)
	return w
}

// watch samples RSS every sampleEvery and /metrics every second until
// ctx ends.
func (r *runner) watchHostile(ctx context.Context, w *hostileWatch) {
	t := time.NewTicker(sampleEvery)
	defer t.Stop()
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		storeMax(&w.rssPeak, r.srv.rss())
		if n%int(time.Second/sampleEvery) == 0 {
			if m, err := r.srv.metricsSize(ctx); err == nil {
				storeMax(&w.metricsMax, m)
			} else if ctx.Err() == nil {
				r.log.Warn("reading /metrics", "err", err)
			}
		}
	}
}

// startHostile starts measuring the other households (the baseline at
// once), their login probes and, after the warm-up's first quarter, the
// attack and the watch of the servers; all of them belong to views. The
// attack ends with ctx; the rest with the measured window, which the
// returned function ends at the end of the warm-up.
func (r *runner) startHostile(ctx context.Context, views *sync.WaitGroup) (end func()) {
	baselineStart := time.Now()
	r.others.window.Store(int32(windowBaseline))
	// The logins are probed, and the servers watched, only while they are
	// measured.
	watchCtx, stopWatch := context.WithCancel(ctx)
	probe := api{client: &http.Client{Transport: counting{next: newAPITransport(2 * loginProbes), c: &r.c}, Timeout: time.Minute}, base: r.clientBase}
	for i := range min(loginProbes, len(r.accts)) {
		views.Go(func() { probeLogins(watchCtx, probe, r.accts[i], r.others) })
	}
	views.Go(func() {
		if sleep(ctx, r.cfg.Warmup/4) != nil {
			return
		}
		w := r.beginHostileWatch(ctx)
		r.mu.Lock()
		r.hwatch = w
		r.mu.Unlock()
		r.others.window.Store(int32(windowAttack))
		r.mark("hostile")
		var wg sync.WaitGroup
		wg.Go(func() { r.watchHostile(watchCtx, w) })
		r.hostile.attack(ctx)
		wg.Wait()
	})
	return func() {
		stopWatch()
		r.others.window.Store(int32(windowNone))
		r.endHostile(baselineStart)
	}
}

// hostileResult is the result's hostile part, with its bounds.
func (r *runner) hostileResult() *Hostile {
	if r.res.Hostile == nil {
		r.res.Hostile = &Hostile{HostileAddresses: hostileAddresses, HostileCameras: hostileCameras, HostileConnections: hostileConns,
			HostileBoundFailedRatio: boundFailedRatio, HostileBoundP99FloorMs: boundP99FloorMs, HostileBoundP99OverBaseline: boundP99OverBaseline,
			HostileBoundStalledHoldMs: boundStalledHoldMs, HostileBoundRSSGrowth: boundRSSGrowth(),
			HostileBoundMetricsGrowth: boundMetricsGrowth, HostileBoundLogPerRequest: boundLogPerRequest, HostileBoundLogLineMaxBytes: boundLogLineMaxSize}
	}
	return r.res.Hostile
}

// endHostile records the servers' figures over the measured window.
func (r *runner) endHostile(baselineStart time.Time) {
	r.mu.Lock()
	w := r.hwatch
	r.mu.Unlock()
	h := r.hostileResult()
	if w == nil {
		r.log.Warn("the warm-up ended before the attack began; nothing was measured during it")
		return
	}
	h.HostileBaselineSec = w.began.Sub(baselineStart).Seconds()
	h.HostileSeconds = time.Since(w.began).Seconds()
	h.HostileRSSStart, h.HostileRSSPeak = w.start.rss, w.rssPeak.Load()
	h.HostileMetricsStart, h.HostileMetricsMax = w.start.metrics, w.metricsMax.Load()
	for i, s := range r.srv.logSizes() {
		h.HostileLogGrowth += s - w.logOffsets[i]
	}
	h.HostileLogRequests = r.requestsSoFar() - w.start.requests
	if h.HostileLogRequests > 0 {
		h.HostileLogPerRequest = float64(h.HostileLogGrowth) / float64(h.HostileLogRequests)
	}
	var err error
	if h.HostileLogLineMaxBytes, err = r.srv.longestLogLine(w.logOffsets); err != nil {
		r.log.Warn("reading the server's log", "err", err)
	}
}

// collectHostile copies what the hostile household did and what the
// others got into the result.
func (r *runner) collectHostile() {
	h, c := r.hostileResult(), &r.hostile.c
	h.HostileRequests, h.HostileUnanswered, h.HostileUnexpected = c.requests.Load(), c.unanswered.Load(), c.unexpected.Load()
	h.HostileStalledUploads, h.HostileStalledRefused = c.stalled.Load(), c.stalledRefused.Load()
	h.HostileStalledCut, h.HostileStalledUncut, h.HostileStalledHoldMsMax = c.stalledCut.Load(), c.stalledUncut.Load(), c.stalledHold.Max()
	h.HostileJPEGUploads, h.HostileJPEGRefused, h.HostileJPEGBusy, h.HostileJPEGStored = c.jpegs.Load(), c.jpegRefused.Load(), c.jpegBusy.Load(), c.jpegStored.Load()
	h.HostileLoginGuesses, h.HostileLoginChecked = c.guesses.Load(), c.guessChecked.Load()
	h.HostileLoginThrottled, h.HostileLoginBusy = c.guessThrottled.Load(), c.guessBusy.Load()
	h.HostileSignups, h.HostileSignupsMade = c.signups.Load(), c.signupsMade.Load()
	h.HostileSignupsThrottled, h.HostileSignupsBusy = c.signupThrottled.Load(), c.signupBusy.Load()
	h.HostileMethods = c.methods.Load()
	h.HostileRangeRequests, h.HostileRangeWhole, h.HostileRangeParts = c.ranges.Load(), c.rangesWhole.Load(), c.rangesParts.Load()
	h.HostileCommandResults, h.HostileCommandBytes = c.results.Load(), c.resultBytes.Load()

	b, o := &r.others.baseline, &r.others.attacked
	h.HostileBaselineUploads, h.HostileBaselineUploadFails, h.HostileBaselineUploadMsP99 = b.uploads.n.Load(), b.uploads.failed.Load(), b.uploads.ms.Percentile(99)
	h.HostileBaselineViews, h.HostileBaselineViewFails, h.HostileBaselineViewMsP99 = b.views.n.Load(), b.views.failed.Load(), b.views.ms.Percentile(99)
	h.HostileBaselineLogins, h.HostileBaselineLoginFails, h.HostileBaselineLoginMsP99 = b.logins.n.Load(), b.logins.failed.Load(), b.logins.ms.Percentile(99)
	h.HostileOthersUploads, h.HostileOthersUploadFails = o.uploads.n.Load(), o.uploads.failed.Load()
	h.HostileOthersUploadMsP50, h.HostileOthersUploadMsP99 = o.uploads.ms.Percentile(50), o.uploads.ms.Percentile(99)
	h.HostileOthersViews, h.HostileOthersViewFails = o.views.n.Load(), o.views.failed.Load()
	h.HostileOthersViewMsP50, h.HostileOthersViewMsP99 = o.views.ms.Percentile(50), o.views.ms.Percentile(99)
	h.HostileOthersLogins, h.HostileOthersLoginFails = o.logins.n.Load(), o.logins.failed.Load()
	h.HostileOthersLoginMsP50, h.HostileOthersLoginMsP99 = o.logins.ms.Percentile(50), o.logins.ms.Percentile(99)
	bound := func(baseline float64) float64 {
		return max(h.HostileBoundP99FloorMs, h.HostileBoundP99OverBaseline*baseline)
	}
	h.HostileBoundUploadMsP99 = bound(h.HostileBaselineUploadMsP99)
	h.HostileBoundViewMsP99 = bound(h.HostileBaselineViewMsP99)
	h.HostileBoundLoginMsP99 = bound(h.HostileBaselineLoginMsP99)
}
