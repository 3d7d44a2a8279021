package storm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/camvault/camvault/internal/sim/camera"
)

// The hostile storm (issue 15, invariant 13): one household of its own,
// with an account signed up, a home and two cameras paired with codes the
// normal way, attacks the server from the end of the warm-up's first
// quarter to the end of the run with every kind of denial of service
// camvault bounds, all at once, from a few addresses of its own and with
// about seventy connections (most of them idle, holding stalled uploads):
// what one attacker on a home connection can afford. Meanwhile the other
// households' uploads, views and logins are measured (hostile_measure.go)
// and must stay within the bounds of hostile_report.go
// (docs/design/hostile.md).
//
// The attack, each kind on connections of its own:
//
//   - camera 0 opens uploads on 48 connections and stalls or trickles
//     their bodies (httpmw.Deadlines, the per-camera and per-home upload
//     slots);
//   - camera 1 uploads crafted thumbnails: a progressive JPEG of 2,001
//     scans in 380 KB (media.MaxJPEGScans; minutes of a core for a full
//     decoder), and two the check lets through and reads in its pool
//     (events.Config.CheckSlots): about the costliest file there is for
//     it, twelve scans over 8192 pixels a side, and 400 KB of noise;
//   - wrong passwords against the household's own account, emails nobody
//     has and the very households whose logins are measured
//     (throttle.Limiter.Attempt, identity.Config.HashSlots);
//   - sign-ups without end (--signups-per-address);
//   - requests whose method is 16 KiB of random letters (httpmw's method
//     label);
//   - clip requests of its own events with 2,000 byte ranges
//     (media.MaxRanges);
//   - camera 1's device connection sending command results of 16 KiB as
//     fast as a camera's connection may (the gateway's result log).

// hostileAddresses is how many client addresses the household has: it
// sends from 127.0.66.1 to 127.0.66.4, which reach a server on loopback
// like 127.0.0.1, where the other households are.
const hostileAddresses = 4

func hostileAddr(i int) net.IP { return net.IPv4(127, 0, 66, byte(1+i%hostileAddresses)) }

// The attack's connections, by kind.
const (
	// Camera 0's stalled and trickling uploads: idle connections cost an
	// attacker nothing, and 48 would hold most of a node's 64 upload
	// slots without the camera's and the home's limits.
	hostileStallConns  = 48
	hostileJPEGConns   = 4 // camera 1's crafted thumbnails
	hostileGuessConns  = 8 // wrong passwords
	hostileSignupConns = 2
	hostileMethodConns = 4
	hostileRangeConns  = 4
	hostileResultConns = 1 // camera 1's device connection
	hostileConns       = hostileStallConns + hostileJPEGConns + hostileGuessConns + hostileSignupConns +
		hostileMethodConns + hostileRangeConns + hostileResultConns
	hostileCameras = 2
)

// How often each connection sends, at most: the server's answers (most
// of them refusals) set the pace below that.
const (
	guessEvery  = 20 * time.Millisecond  // 50/s a connection
	signupEvery = 100 * time.Millisecond // 10/s
	methodEvery = 50 * time.Millisecond
	rangeEvery  = 100 * time.Millisecond
	jpegEvery   = 50 * time.Millisecond
	resultEvery = 10 * time.Millisecond // 100 command results a second
	refusedWait = 200 * time.Millisecond
	stallWait   = time.Second // before a refused stalled upload tries again
)

// stallGiveUp is how long a stalled upload waits for the server to cut
// it off; one still held then, or held past boundStalledHoldMs when the
// run ends, counts as never cut.
const stallGiveUp = 30 * time.Second

// hostileCounters are what the hostile household sent and how the server
// answered.
type hostileCounters struct {
	requests   atomic.Int64 // HTTP requests answered (any status) and device messages sent
	unanswered atomic.Int64 // requests without an answer (the outage, connections cut)
	unexpected atomic.Int64 // answers of a status the attack did not expect

	stalled        atomic.Int64 // uploads whose body stalled or trickled
	stalledRefused atomic.Int64 // of them refused at once (503: the camera's slots were taken)
	stalledCut     atomic.Int64 // admitted, then cut off by the server
	stalledUncut   atomic.Int64 // admitted and still held after stallGiveUp (or past the bound when the run ended)
	stalledHold    Histogram    // ms from admission (100 Continue) to the cut

	jpegs       atomic.Int64 // crafted thumbnails uploaded
	jpegRefused atomic.Int64 // 400: refused (the scan bomb)
	jpegBusy    atomic.Int64 // 503: no upload or check slot
	jpegStored  atomic.Int64 // 201: checked in the pool and stored

	guesses         atomic.Int64 // wrong passwords sent
	guessChecked    atomic.Int64 // 401: verified (a hash computed)
	guessThrottled  atomic.Int64 // 429
	guessBusy       atomic.Int64 // 503: no hashing slot
	signups         atomic.Int64
	signupsMade     atomic.Int64 // 201
	signupThrottled atomic.Int64 // 429
	signupBusy      atomic.Int64 // 503

	methods     atomic.Int64 // requests with a 16 KiB method
	ranges      atomic.Int64 // clip requests of 2,000 ranges
	rangesWhole atomic.Int64 // answered 200, whole
	rangesParts atomic.Int64 // answered 206, in parts: the bound failed

	results     atomic.Int64 // oversized command results sent
	resultBytes atomic.Int64
}

// hostile is the hostile household and its attack.
type hostile struct {
	email, password string
	token, home     string
	victims         []string // the emails of the households whose logins are measured
	cams            []camera.Credentials
	clips           []string       // its own events with a clip
	clients         []*http.Client // one per address
	targets         []string       // every node, directly: the server sees the household's own addresses
	ws              *http.Client   // camera 1's device connection, from the first address
	key             []byte         // the storm's watermark key

	bomb, dense, progressive []byte // crafted thumbnails
	stallBody                []byte // the stalled uploads' body, never sent whole
	stallType                string // and its Content-Type

	c   hostileCounters
	log *slog.Logger
}

// newHostile makes the household's clients, one per address, to the
// nodes at targets, and its crafted pictures.
func newHostile(targets []string, key []byte, log *slog.Logger) (*hostile, error) {
	run, err := randomToken(5)
	if err != nil {
		return nil, err
	}
	pw, err := randomToken(15)
	if err != nil {
		return nil, err
	}
	h := &hostile{email: fmt.Sprintf("hostile-%s@example.com", run), password: pw, targets: targets, key: key, log: log}
	for i := range hostileAddresses {
		h.clients = append(h.clients, &http.Client{Transport: transportFrom(hostileAddr(i), hostileConns), Timeout: time.Minute})
	}
	ws := newWSTransport()
	ws.DialContext = (&net.Dialer{Timeout: 3 * time.Second, LocalAddr: &net.TCPAddr{IP: hostileAddr(0)}}).DialContext
	h.ws = &http.Client{Transport: ws}
	h.bomb, h.progressive = craftedJPEG(8192, 2000), craftedJPEG(8192, 11)
	if h.dense, err = densePicture(); err != nil {
		return nil, err
	}
	body, ctype, err := eventForm("stalled", h.dense, nil)
	if err != nil {
		return nil, err
	}
	h.stallBody, h.stallType = body, ctype
	return h, nil
}

// api is the household's API client from address i, to node i.
func (h *hostile) api(i int) api {
	return api{client: h.clients[i%len(h.clients)], base: h.targets[i%len(h.targets)]}
}

// setup signs the household up, makes its home, pairs its cameras with
// codes its owner makes, and has camera 1 upload two ordinary events with
// clips for the range requests: all of it the normal way, from its
// addresses.
func (h *hostile) setup(ctx context.Context) error {
	a := h.api(0)
	if err := a.do(ctx, "POST", "/api/v1/accounts", "", map[string]string{"email": h.email, "password": h.password}, nil, http.StatusCreated); err != nil {
		return fmt.Errorf("hostile household: sign up: %w", err)
	}
	var s struct {
		Token string `json:"token"`
	}
	if err := a.do(ctx, "POST", "/api/v1/sessions", "", map[string]string{"email": h.email, "password": h.password}, &s, http.StatusCreated); err != nil {
		return fmt.Errorf("hostile household: log in: %w", err)
	}
	h.token = s.Token
	var home struct {
		ID string `json:"id"`
	}
	if err := a.do(ctx, "POST", "/api/v1/homes", h.token, map[string]string{"name": "Hostile home"}, &home, http.StatusCreated); err != nil {
		return fmt.Errorf("hostile household: home: %w", err)
	}
	h.home = home.ID
	for i := range hostileCameras {
		var code struct {
			Code string `json:"code"`
		}
		if err := a.do(ctx, "POST", "/api/v1/homes/"+h.home+"/pairing-codes", h.token, nil, &code, http.StatusCreated); err != nil {
			return fmt.Errorf("hostile household: pairing code: %w", err)
		}
		creds, err := camera.Pair(ctx, h.api(i).client, h.api(i).base, code.Code, "CV-Hostile", "6.6.6")
		if err != nil {
			return fmt.Errorf("hostile household: pair camera %d: %w", i, err)
		}
		h.cams = append(h.cams, creds)
	}
	renderer, err := camera.NewRenderer(camera.DefaultQuality)
	if err != nil {
		return fmt.Errorf("hostile household: %w", err)
	}
	video, err := camera.LoadVideo(camera.Video360p)
	if err != nil {
		return fmt.Errorf("hostile household: %w", err)
	}
	cam := h.cams[1]
	for seq := range uint64(2) {
		wm, err := camera.Watermark(h.key, cam.DeviceID, h.home, seq)
		if err != nil {
			return err
		}
		thumb, err := renderer.Render(camera.Frame{Name: "hostile", DeviceID: cam.DeviceID, Time: time.Now(), Seq: seq}, wm)
		if err != nil {
			return fmt.Errorf("hostile household: thumbnail: %w", err)
		}
		frames, err := video.Frames(h.key, cam.DeviceID, h.home, 0, 44)
		if err != nil {
			return fmt.Errorf("hostile household: clip: %w", err)
		}
		clip, err := camera.BuildClip(frames)
		if err != nil {
			return fmt.Errorf("hostile household: clip: %w", err)
		}
		status, id, err := h.upload(ctx, 1, thumb, clip)
		if err != nil || status != http.StatusCreated {
			return fmt.Errorf("hostile household: an ordinary event: %d %w", status, err)
		}
		h.clips = append(h.clips, id)
	}
	h.log.Info("hostile household ready", "home", h.home, "cameras", len(h.cams), "addresses", hostileAddresses)
	return nil
}

// upload sends one event as camera cam, from one of the addresses, and
// returns the answer's status and event ID.
func (h *hostile) upload(ctx context.Context, cam int, thumb, clip []byte) (int, string, error) {
	eventID, err := randomToken(10)
	if err != nil {
		return 0, "", err
	}
	body, ctype, err := eventForm(eventID, thumb, clip)
	if err != nil {
		return 0, "", err
	}
	a := h.api(cam)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.base+"/api/v1/device/events", bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Authorization", "Bearer "+h.cams[cam].Token)
	req.Header.Set("Content-Type", ctype)
	res, err := a.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	var ans struct {
		ID string `json:"id"`
	}
	raw, err := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	if err != nil {
		return res.StatusCode, "", err
	}
	if res.StatusCode == http.StatusCreated {
		if err := json.Unmarshal(raw, &ans); err != nil {
			return res.StatusCode, "", fmt.Errorf("upload answer: %w", err)
		}
	}
	return res.StatusCode, ans.ID, nil
}

// attack runs every kind of attack at once until ctx ends.
func (h *hostile) attack(ctx context.Context) {
	var wg sync.WaitGroup
	spawn := func(n int, every time.Duration, fn func(ctx context.Context, i int)) {
		for i := range n {
			wg.Go(func() {
				for ctx.Err() == nil {
					start := time.Now()
					fn(ctx, i)
					if sleep(ctx, every-time.Since(start)) != nil {
						return
					}
				}
			})
		}
	}
	spawn(hostileStallConns, 0, h.stall)
	spawn(hostileJPEGConns, jpegEvery, h.jpeg)
	spawn(hostileGuessConns, guessEvery, h.guess)
	spawn(hostileSignupConns, signupEvery, h.signup)
	spawn(hostileMethodConns, methodEvery, h.method)
	spawn(hostileRangeConns, rangeEvery, h.ranges)
	spawn(hostileResultConns, time.Second, h.commandResults)
	wg.Wait()
}

// answered counts an HTTP exchange and says whether it got an answer.
func (h *hostile) answered(ctx context.Context, status int, err error) bool {
	if err != nil {
		if ctx.Err() == nil {
			h.c.unanswered.Add(1)
			h.log.Debug("hostile: no answer", "err", err)
		}
		return false
	}
	h.c.requests.Add(1)
	return true
}

// tally counts an exchange: unanswered, or answered with a status
// outcomes has a counter for, or unexpected. It returns the status (0
// for none).
func (h *hostile) tally(ctx context.Context, what string, status int, err error, outcomes map[int]*atomic.Int64) int {
	if !h.answered(ctx, status, err) {
		return 0
	}
	if c := outcomes[status]; c != nil {
		c.Add(1)
	} else {
		h.unexpectedAnswer(what, status)
	}
	return status
}

// unexpectedAnswer counts an answer the attack did not expect.
func (h *hostile) unexpectedAnswer(what string, status int) {
	h.c.unexpected.Add(1)
	h.log.Debug("hostile: unexpected answer", "attack", what, "status", status)
}

// jpeg uploads one crafted thumbnail from camera 1: in turn the scan
// bomb, the dense picture and the twelve-scan progressive one.
func (h *hostile) jpeg(ctx context.Context, i int) {
	n := h.c.jpegs.Add(1)
	thumb := [...][]byte{h.bomb, h.dense, h.progressive}[n%3]
	status, _, err := h.upload(ctx, 1, thumb, nil)
	if h.tally(ctx, "jpeg", status, err, map[int]*atomic.Int64{
		http.StatusCreated: &h.c.jpegStored, http.StatusBadRequest: &h.c.jpegRefused, http.StatusServiceUnavailable: &h.c.jpegBusy,
	}) == http.StatusServiceUnavailable {
		_ = sleep(ctx, refusedWait)
	}
}

// guessTarget is the email the n-th wrong password goes to: in turn its
// own account, an email nobody has, and one of the victims, the other
// households whose logins are measured. A lockout is per account and
// client address, so the victims' own logins must go on while their
// emails are guessed at (docs/design/authorization.md); were it per
// account, those guesses would lock them out, and the victims would have
// to go.
func (h *hostile) guessTarget(n int64) string {
	switch {
	case n%3 == 0:
		return h.email
	case n%3 == 1 || len(h.victims) == 0:
		return fmt.Sprintf("nobody-%d-%d@example.com", n, rand.Int64())
	}
	return h.victims[int(n/3)%len(h.victims)]
}

func (h *hostile) guess(ctx context.Context, i int) {
	n := h.c.guesses.Add(1)
	err := h.api(i).do(ctx, "POST", "/api/v1/sessions", "",
		map[string]string{"email": h.guessTarget(n), "password": fmt.Sprintf("wrong guess %d", rand.Int64())}, nil, http.StatusCreated)
	status, err := statusOf(err)
	h.tally(ctx, "guess", status, err, map[int]*atomic.Int64{
		http.StatusUnauthorized: &h.c.guessChecked, http.StatusTooManyRequests: &h.c.guessThrottled, http.StatusServiceUnavailable: &h.c.guessBusy,
	})
}

func (h *hostile) signup(ctx context.Context, i int) {
	h.c.signups.Add(1)
	email := fmt.Sprintf("sybil-%d@example.com", rand.Int64())
	err := h.api(i).do(ctx, "POST", "/api/v1/accounts", "", map[string]string{"email": email, "password": fmt.Sprintf("sybil pass %d", rand.Int64())}, nil, http.StatusCreated)
	status, err := statusOf(err)
	h.tally(ctx, "signup", status, err, map[int]*atomic.Int64{
		http.StatusCreated: &h.c.signupsMade, http.StatusTooManyRequests: &h.c.signupThrottled, http.StatusServiceUnavailable: &h.c.signupBusy,
	})
}

// method sends a request whose method is 16 KiB of random capital
// letters, a new one each time: were methods metric labels or logged as
// sent, each would add a time series and 16 KiB of log.
func (h *hostile) method(ctx context.Context, i int) {
	h.c.methods.Add(1)
	m := make([]byte, 16<<10)
	for j := range m {
		m[j] = 'A' + byte(rand.IntN(26))
	}
	// Routes that exist, with and without a token, and one that does not.
	paths := [...]string{"/api/v1/events", "/api/v1/sessions", "/api/v1/device/events", "/no/such/route"}
	a := h.api(i)
	req, err := http.NewRequestWithContext(ctx, string(m), a.base+paths[rand.IntN(len(paths))], nil)
	if err != nil {
		h.c.unexpected.Add(1)
		return
	}
	req.Header.Set("Authorization", "Bearer "+h.token)
	res, err := a.client.Do(req)
	status := 0
	if err == nil {
		status = res.StatusCode
		_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
		res.Body.Close()
	}
	h.answered(ctx, status, err)
}

// ranges asks for one of the household's own clips in 2,000 ranges.
func (h *hostile) ranges(ctx context.Context, i int) {
	h.c.ranges.Add(1)
	a := h.api(i)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base+"/api/v1/events/"+h.clips[i%len(h.clips)]+"/clip", nil)
	if err != nil {
		h.c.unexpected.Add(1)
		return
	}
	req.Header.Set("Authorization", "Bearer "+h.token)
	req.Header.Set("Range", manyRanges())
	res, err := a.client.Do(req)
	status := 0
	if err == nil {
		status = res.StatusCode
		_, err = io.Copy(io.Discard, io.LimitReader(res.Body, maxMedia))
		res.Body.Close()
	}
	if h.tally(ctx, "ranges", status, err, map[int]*atomic.Int64{
		http.StatusOK: &h.c.rangesWhole, http.StatusPartialContent: &h.c.rangesParts,
	}) == http.StatusPartialContent {
		h.log.Error("hostile: a request of 2,000 ranges was answered in parts")
	}
}

// statusOf is the status of an api.do error (0 and the error when there
// was no answer).
func statusOf(err error) (int, error) {
	if err == nil {
		return http.StatusCreated, nil
	}
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.Status, nil
	}
	return 0, err
}
