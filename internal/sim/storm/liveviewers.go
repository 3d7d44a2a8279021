package storm

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/coder/websocket"

	"github.com/camvault/camvault/internal/live/mse"
	"github.com/camvault/camvault/internal/sim/camera"
)

// liveCounters are what the live viewers did and found.
type liveCounters struct {
	attempts    atomic.Int64 // live sessions asked for
	sessions    atomic.Int64 // of them, sessions that delivered a first frame
	open        atomic.Int64 // sessions delivering frames right now (for the chart)
	frames      atomic.Int64 // frames received, each checked
	foreign     atomic.Int64 // frames with a missing or bad watermark, or of another household
	mislabeled  atomic.Int64 // frames of the viewer's household, but of another camera than the one watched
	errors      atomic.Int64 // sessions refused, cut short or broken (outages included)
	revocations atomic.Int64 // sessions whose viewer logged out mid-stream and which then ended
	ttff        Histogram    // ms from asking for a session to its first frame
	latency     Histogram    // ms from a frame's capture (its watermark's time) to its arrival
	cutoff      Histogram    // ms from a logout's answer to the end of that session's stream
}

// liveViewer is a person watching their own cameras live over the
// fragmented-MP4 WebSocket, zapping from one to another as people do. It
// logs in a session of its own, so that logging it out mid-stream (one
// session in revokeEvery) tests revocation without ending the timeline
// viewers' sessions.
type liveViewer struct {
	index       int
	ac          *account
	api         api          // log in and out, through the clients' path
	ws          *http.Client // the WebSocket dials
	base        string       // ws:// base URL
	key         []byte
	dwell       time.Duration // mean time on one camera
	revokeEvery int
	c           *liveCounters
	log         *slog.Logger
}

// liveCutoffWait is how long a revoked session may go on before the
// viewer stops waiting for its end (and records the wait as its cut-off).
const liveCutoffWait = 10 * time.Second

// run watches until ctx ends.
func (v *liveViewer) run(ctx context.Context) {
	devices := make([]string, 0, len(v.ac.devices))
	for _, c := range v.ac.creds {
		devices = append(devices, c.DeviceID)
	}
	if len(devices) == 0 {
		return
	}
	if err := sleep(ctx, time.Duration(rand.Int64N(int64(v.dwell)+1))); err != nil { // spread the starts
		return
	}
	token := ""
	for n := 0; ctx.Err() == nil; n++ {
		if token == "" {
			tok, err := login(ctx, v.api, v.ac)
			if err != nil {
				if ctx.Err() == nil {
					v.c.errors.Add(1)
					v.log.Debug("live viewer: log in", "viewer", v.index, "err", err)
					_ = sleep(ctx, time.Second)
				}
				continue
			}
			token = tok
		}
		device := devices[rand.IntN(len(devices))]
		dwell := v.dwell/2 + time.Duration(rand.Int64N(int64(v.dwell)+1)) // mean: dwell
		revoke := v.revokeEvery > 0 && n%v.revokeEvery == v.revokeEvery-1
		loggedOut, err := v.watch(ctx, token, device, dwell, revoke)
		if loggedOut {
			token = ""
		}
		if err != nil && ctx.Err() == nil {
			v.c.errors.Add(1)
			v.log.Debug("live viewer: watch", "viewer", v.index, "device", device, "err", err)
			_ = sleep(ctx, 500*time.Millisecond+time.Duration(rand.Int64N(int64(time.Second))))
		}
	}
}

// watch opens a live session of device, checks every frame, and leaves
// after dwell; with revoke, it logs its session out halfway instead and
// measures how long the stream goes on. It reports whether the session's
// token was logged out.
func (v *liveViewer) watch(ctx context.Context, token, device string, dwell time.Duration, revoke bool) (loggedOut bool, err error) {
	v.c.attempts.Add(1)
	start := time.Now()
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	conn, res, err := websocket.Dial(dctx, v.base+"/api/v1/devices/"+device+"/live/mse", &websocket.DialOptions{
		HTTPClient:   v.ws,
		HTTPHeader:   http.Header{"Authorization": {"Bearer " + token}},
		Subprotocols: []string{mse.Subprotocol},
	})
	cancel()
	if err != nil {
		if res != nil {
			return false, fmt.Errorf("open live session: %s", res.Status)
		}
		return false, fmt.Errorf("open live session: %w", err)
	}
	defer conn.CloseNow()
	conn.SetReadLimit(8 << 20)

	watchCtx, stopWatching := context.WithTimeout(ctx, dwell)
	defer stopWatching()
	var (
		first     = true
		frames    int
		revokedAt time.Time
		opened    bool
	)
	defer func() {
		if opened {
			v.c.open.Add(-1)
		}
	}()
	readCtx := watchCtx
	for {
		if revoke && revokedAt.IsZero() && frames > 0 && time.Since(start) > dwell/2 {
			if err := v.api.do(ctx, "DELETE", "/api/v1/sessions/current", token, nil, nil, http.StatusNoContent); err != nil {
				return false, fmt.Errorf("log out mid-stream: %w", err)
			}
			revokedAt, loggedOut = time.Now(), true
			// From now on the stream must end by itself: wait for it
			// longer than it may take.
			var cancelRead context.CancelFunc
			readCtx, cancelRead = context.WithTimeout(ctx, liveCutoffWait)
			defer cancelRead()
		}
		typ, msg, err := conn.Read(readCtx)
		if err != nil {
			switch {
			case !revokedAt.IsZero() && ctx.Err() == nil:
				cut := time.Since(revokedAt)
				v.c.cutoff.Add(float64(cut) / float64(time.Millisecond))
				v.c.revocations.Add(1)
				if code := websocket.CloseStatus(err); code != 4403 && readCtx.Err() == nil {
					v.log.Warn("live viewer: a revoked session ended without 4403", "viewer", v.index, "device", device, "err", err)
				}
				if cut >= time.Second {
					v.log.Error("live viewer: a revoked session went on too long", "viewer", v.index, "device", device, "cutoff", cut)
				}
				return true, nil
			case watchCtx.Err() != nil && ctx.Err() == nil && frames > 0:
				conn.Close(websocket.StatusNormalClosure, "zapping")
				return loggedOut, nil
			case ctx.Err() != nil:
				return loggedOut, nil
			}
			return loggedOut, fmt.Errorf("live stream after %d frames: %w", frames, err)
		}
		if typ != websocket.MessageBinary {
			return loggedOut, fmt.Errorf("live stream: a %v message", typ)
		}
		now := time.Now()
		if first {
			first = false
			var init fmp4.Init
			if err := init.Unmarshal(bytes.NewReader(msg)); err != nil {
				return loggedOut, fmt.Errorf("live stream: init segment: %w", err)
			}
			continue
		}
		n, err := v.check(msg, device, start, now)
		if err != nil {
			return loggedOut, err
		}
		if frames == 0 && n > 0 {
			opened = true
			v.c.open.Add(1)
			v.c.sessions.Add(1)
			v.c.ttff.Add(float64(now.Sub(start)) / float64(time.Millisecond))
		}
		frames += n
	}
}

// check verifies every frame of one media segment: its watermark must be
// valid and of the camera watched. Frames taken after the session began
// (not the cached ones a session starts with) count toward the latency.
func (v *liveViewer) check(segment []byte, device string, start, now time.Time) (int, error) {
	n, err := eachFrame(v.key, segment, func(wm camera.VideoWatermark, err error) {
		switch {
		case err != nil || wm.HomeID != v.ac.home || !v.ac.devices[wm.DeviceID]:
			v.c.foreign.Add(1)
			v.log.Error("live viewer received a frame that is not its household's", "viewer", v.index,
				"device", device, "frame_home", wm.HomeID, "frame_device", wm.DeviceID, "err", err)
		case wm.DeviceID != device:
			v.c.mislabeled.Add(1)
			v.log.Error("live viewer received another camera's frame", "viewer", v.index, "device", device, "frame_device", wm.DeviceID)
		default:
			if taken := takenAt(wm); taken.After(start) {
				v.c.latency.Add(float64(now.Sub(taken)) / float64(time.Millisecond))
			}
		}
	})
	v.c.frames.Add(int64(n))
	return n, err
}

// newLiveViewers makes n live viewers, viewer i of account i mod
// accounts, talking to base (http:// or https://) through apiClient for
// logins and wsClient for streams.
func (r *runner) newLiveViewers(n int, apiClient, wsClient *http.Client, base string) {
	wsBase := "ws" + strings.TrimPrefix(base, "http")
	for i := range n {
		r.liveViewers = append(r.liveViewers, &liveViewer{
			index: i, ac: r.accts[i%len(r.accts)], api: api{client: apiClient, base: base}, ws: wsClient, base: wsBase,
			key: r.key, dwell: r.cfg.LiveDwell, revokeEvery: r.cfg.LiveRevokeEvery, c: &r.lc, log: r.log,
		})
	}
}
