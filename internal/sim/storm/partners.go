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
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/coder/websocket"
	"golang.org/x/oauth2"

	"github.com/camvault/camvault/internal/live/mse"
	"github.com/camvault/camvault/internal/media/h264"
	"github.com/camvault/camvault/internal/sim/camera"
	"github.com/camvault/camvault/internal/sim/partnerlink"
	"github.com/camvault/camvault/internal/websession"
)

// The Nest Hub storm (issue 12, invariant 12): simulated smart displays,
// each linked to one account through the real OAuth 2.0 flow with consent
// to some of its cameras, show the latest event stills and live video of
// those cameras the whole run, through a poor network of their own. Mid-run
// some are unlinked by their person and one partner is disabled by the
// operator; from then on they must receive nothing.

// partnerCounters are what the displays did and found.
type partnerCounters struct {
	media       atomic.Int64 // stills and live frames received, each checked
	foreign     atomic.Int64 // with a bad watermark, or of another household
	unconsented atomic.Int64 // of the household, but of a camera the display was not given (listed, or media)
	afterRevoke atomic.Int64 // answers or frames received after the link was stopped
	errors      atomic.Int64 // requests and streams that failed (outages, faults)
	revocations atomic.Int64 // links stopped mid-run
	// ms from a stop to when the newest live frame that display received
	// was taken (the server forwarded frames that new), or to the end of
	// a stream that did not end by itself
	cutoff Histogram
	// ms from a stop to the end of that display's live stream as the
	// display saw it: the cut-off plus the delivery lag of what the
	// server had already sent
	streamEnd Histogram
}

// display is one linked smart display.
type display struct {
	index     int
	ac        *account
	partner   string // the partner's name
	consented map[string]bool
	devices   []string // consented, in order
	tokens    oauth2.TokenSource
	client    *http.Client // API requests with the partner's token (refreshed as needed)
	ws        *http.Client // live stream dials
	base      string       // http:// through the displays' proxy
	key       []byte
	c         *partnerCounters
	log       *slog.Logger

	stopped atomic.Int64 // unix ns when the link was stopped; 0 while it works
	streams atomic.Int64 // live streams open now
}

// The storm's two partners: displays alternate between them, and the
// second is the one disabled mid-run.
const (
	partnerA = "Storm display A"
	partnerB = "Storm display B"
)

func partnerName(i int) string {
	if i%2 == 0 {
		return partnerA
	}
	return partnerB
}

const partnerRedirect = "http://127.0.0.1:1/callback"

// registerPartners registers the storm's partners as an operator does,
// with `camvault admin partners add` on the first node's data.
func (r *runner) registerPartners(ctx context.Context) ([2]partnerlink.Partner, error) {
	var ps [2]partnerlink.Partner
	for i := range ps {
		name := partnerName(i)
		out, err := r.admin(ctx, "partners", "add", "--name", name, "--redirect-uri", partnerRedirect)
		if err != nil {
			return ps, err
		}
		p := partnerlink.Partner{Server: r.serverBase, RedirectURI: partnerRedirect}
		for _, line := range strings.Split(out, "\n") {
			if v, ok := strings.CutPrefix(line, "client_id:"); ok {
				p.ClientID = strings.TrimSpace(v)
			}
			if v, ok := strings.CutPrefix(line, "client_secret:"); ok {
				p.ClientSecret = strings.TrimSpace(v)
			}
		}
		if p.ClientID == "" || p.ClientSecret == "" {
			return ps, fmt.Errorf("partners add printed no client ID and secret: %q", out)
		}
		ps[i] = p
	}
	return ps, nil
}

// admin runs `camvault admin` on the first node's data, with the nodes'
// backends and key in its environment.
func (r *runner) admin(ctx context.Context, args ...string) (string, error) {
	n := r.srv.nodes[0]
	cmd := exec.CommandContext(ctx, r.cfg.Binary, append([]string{"admin", "--data", n.dataDir()}, args...)...)
	cmd.Env = append(cmd.Environ(), n.env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("camvault admin %s: %w: %s", strings.Join(args, " "), err, out.String())
	}
	return out.String(), nil
}

// linkDisplays links display i to account (i / 2) mod accounts with
// partner i mod 2 (one link per partner and account; half the displays on
// each partner), consenting to about half of the account's cameras (at
// least one) with live view.
func (r *runner) linkDisplays(ctx context.Context, partners [2]partnerlink.Partner, apiClient, wsClient *http.Client, base string) error {
	n := r.cfg.PartnerDisplays
	r.displays = make([]*display, n)
	return parallel(ctx, n, 4, func(ctx context.Context, i int) error {
		ac := r.accts[(i/2)%len(r.accts)]
		pi := i % 2
		sess, err := login(ctx, r.setupAPI, ac)
		if err != nil {
			return fmt.Errorf("display %d: %w", i, err)
		}
		d := &display{index: i, ac: ac, partner: partnerName(pi), consented: map[string]bool{}, ws: wsClient, base: base,
			key: r.key, c: &r.pc, log: r.log}
		for j, c := range ac.creds {
			if j%2 == (i/2)%2 || len(ac.creds) == 1 {
				d.consented[c.DeviceID] = true
				d.devices = append(d.devices, c.DeviceID)
			}
		}
		if len(d.devices) == 0 {
			d.consented[ac.creds[0].DeviceID] = true
			d.devices = append(d.devices, ac.creds[0].DeviceID)
		}
		// The flow goes to the server directly (setup); the display's own
		// requests then go through its poor network.
		lctx := context.WithValue(ctx, oauth2.HTTPClient, r.setupAPI.client)
		var tok *oauth2.Token
		if err := retry(ctx, 5, func() error {
			var err error
			tok, err = partnerlink.Link(lctx, r.setupAPI.client, partners[pi],
				partnerlink.Consent{SessionToken: sess, Devices: d.devices, Live: true}, "cameras", "live")
			return err
		}); err != nil {
			return fmt.Errorf("display %d: link: %w", i, err)
		}
		// Refreshes go through the display's network too.
		pctx := context.WithValue(context.WithoutCancel(ctx), oauth2.HTTPClient, apiClient)
		cfg := partners[pi].Config("cameras", "live")
		cfg.Endpoint.TokenURL = base + "/oauth2/token"
		d.tokens = cfg.TokenSource(pctx, tok)
		d.client = &http.Client{Transport: &oauth2.Transport{Source: d.tokens, Base: apiClient.Transport}, Timeout: time.Minute}
		r.displays[i] = d
		return nil
	})
}

// run shows stills and live video until ctx ends or the link is stopped.
func (d *display) run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { d.watchLive(ctx) })
	wg.Go(func() { d.showStills(ctx) })
	wg.Wait()
}

// stop records that the display's link was stopped at t.
func (d *display) stop(t time.Time) { d.stopped.CompareAndSwap(0, t.UnixNano()) }

// after reports whether something received at t came after the link was
// stopped (plus grace).
func (d *display) after(t time.Time, grace time.Duration) bool {
	s := d.stopped.Load()
	return s != 0 && t.UnixNano() > s+int64(grace)
}

// showStills lists the display's cameras and their latest events and
// fetches a still, about every second and a half, checking each answer.
func (d *display) showStills(ctx context.Context) {
	for ctx.Err() == nil {
		if err := sleep(ctx, time.Second+time.Duration(rand.Int64N(int64(time.Second)))); err != nil {
			return
		}
		started := time.Now()
		if err := d.still(ctx, started); err != nil && ctx.Err() == nil {
			if d.stopped.Load() != 0 {
				return // refused after the stop, as it must be
			}
			d.c.errors.Add(1)
			d.log.Debug("display: stills", "display", d.index, "err", err)
		}
	}
}

// errStopped is a refusal of a stopped link.
var errStopped = errors.New("the link is stopped")

func (d *display) get(ctx context.Context, path string, started time.Time) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.base+path, nil)
	if err != nil {
		return nil, err
	}
	res, err := d.client.Do(req)
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && d.stopped.Load() != 0 {
			return nil, errStopped
		}
		return nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxMedia+1))
	if err != nil {
		return nil, err
	}
	if res.StatusCode == http.StatusOK && d.after(started, 0) {
		d.c.afterRevoke.Add(1)
		d.log.Error("a display got an answer after its link was stopped", "display", d.index, "path", path)
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", path, res.Status)
	}
	return body, nil
}

func (d *display) still(ctx context.Context, started time.Time) error {
	raw, err := d.get(ctx, "/api/v1/partner/devices", started)
	if err != nil {
		return err
	}
	var devs struct {
		Devices []struct {
			ID     string `json:"id"`
			HomeID string `json:"home_id"`
		} `json:"devices"`
	}
	if err := json.Unmarshal(raw, &devs); err != nil {
		return fmt.Errorf("devices: %w", err)
	}
	for _, dv := range devs.Devices {
		if !d.consented[dv.ID] {
			d.c.unconsented.Add(1)
			d.log.Error("a display was listed a camera it was not given", "display", d.index, "device", dv.ID)
		}
	}
	device := d.devices[rand.IntN(len(d.devices))]
	raw, err = d.get(ctx, "/api/v1/events?limit=5&device="+url.QueryEscape(device), started)
	if err != nil {
		return err
	}
	var page eventPage
	if err := json.Unmarshal(raw, &page); err != nil {
		return fmt.Errorf("events: %w", err)
	}
	for _, e := range page.Events {
		if e.HomeID != d.ac.home {
			d.c.foreign.Add(1)
			d.log.Error("a display was listed another household's event", "display", d.index, "event", e.ID)
		} else if !d.consented[e.DeviceID] {
			d.c.unconsented.Add(1)
			d.log.Error("a display was listed an event of a camera it was not given", "display", d.index, "event", e.ID)
		}
	}
	if len(page.Events) == 0 {
		return nil
	}
	e := page.Events[0]
	body, err := d.get(ctx, "/api/v1/events/"+e.ID+"/thumbnail", started)
	if err != nil {
		return err
	}
	d.c.media.Add(1)
	v := checkMedia(d.key, d.ac, e.DeviceID, "thumbnail", body)
	switch {
	case v.foreign > 0:
		d.c.foreign.Add(1)
		d.log.Error("a display received a still that is not its household's", "display", d.index, "event", e.ID)
	case v.mislabeled > 0 || !d.consented[e.DeviceID]:
		d.c.unconsented.Add(1)
		d.log.Error("a display received a still of a camera it was not given", "display", d.index, "event", e.ID)
	}
	return nil
}

// watchLive keeps a live stream of one of the display's cameras open,
// switching now and then, and reconnecting after failures, until the link
// is stopped and its stream has ended.
func (d *display) watchLive(ctx context.Context) {
	for ctx.Err() == nil {
		if d.stopped.Load() != 0 {
			return
		}
		device := d.devices[rand.IntN(len(d.devices))]
		if err := d.stream(ctx, device, 10*time.Second); err != nil && ctx.Err() == nil && d.stopped.Load() == 0 {
			d.c.errors.Add(1)
			d.log.Debug("display: live", "display", d.index, "device", device, "err", err)
			_ = sleep(ctx, 500*time.Millisecond+time.Duration(rand.Int64N(int64(time.Second))))
		}
	}
}

// stream watches device for about dwell, checking every frame. A stream
// that ends because the link was stopped records the cut-off.
func (d *display) stream(ctx context.Context, device string, dwell time.Duration) error {
	tok, err := d.tokens.Token()
	if err != nil {
		return fmt.Errorf("token: %w", err)
	}
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	conn, res, err := websocket.Dial(dctx, "ws"+strings.TrimPrefix(d.base, "http")+"/api/v1/devices/"+device+"/live/mse", &websocket.DialOptions{
		HTTPClient: d.ws, HTTPHeader: http.Header{"Authorization": {"Bearer " + tok.AccessToken}}, Subprotocols: []string{mse.Subprotocol},
	})
	cancel()
	if err != nil {
		if res != nil {
			return fmt.Errorf("open live stream: %s", res.Status)
		}
		return fmt.Errorf("open live stream: %w", err)
	}
	defer conn.CloseNow()
	conn.SetReadLimit(8 << 20)
	d.streams.Add(1)
	defer d.streams.Add(-1)
	wctx, stop := context.WithTimeout(ctx, dwell)
	defer stop()
	first := true
	var newest int64 // Unix ns when the newest frame received was taken
	for {
		rctx := wctx
		if d.stopped.Load() != 0 {
			// The link is stopped: the stream must end by itself.
			var c context.CancelFunc
			rctx, c = context.WithTimeout(ctx, liveCutoffWait)
			defer c()
		}
		_, msg, err := conn.Read(rctx)
		now := time.Now()
		if err != nil {
			if s := d.stopped.Load(); s != 0 && ctx.Err() == nil {
				d.recordCutoff(s, newest, now, rctx.Err() != nil)
				return nil
			}
			if wctx.Err() != nil && ctx.Err() == nil {
				conn.Close(websocket.StatusNormalClosure, "switching")
				return nil
			}
			return fmt.Errorf("live stream: %w", err)
		}
		if first {
			first = false
			var init fmp4.Init
			if err := init.Unmarshal(bytes.NewReader(msg)); err != nil {
				return fmt.Errorf("live stream: init segment: %w", err)
			}
			continue
		}
		late := 0
		n, err := eachFrame(d.key, msg, func(wm camera.VideoWatermark, err error) {
			switch {
			case err != nil || wm.HomeID != d.ac.home || !d.ac.devices[wm.DeviceID]:
				d.c.foreign.Add(1)
				d.log.Error("a display received a live frame that is not its household's", "display", d.index, "device", device, "err", err)
			case wm.DeviceID != device || !d.consented[wm.DeviceID]:
				d.c.unconsented.Add(1)
				d.log.Error("a display received a live frame of a camera it was not given", "display", d.index, "frame_device", wm.DeviceID)
			default:
				taken := takenAt(wm).UnixNano()
				newest = max(newest, taken)
				// Frames the server sent before the stop may arrive late
				// (a loaded display reads behind); one taken more than a
				// second after the stop was forwarded after it.
				if d.after(time.Unix(0, taken), time.Second) {
					late++
				}
			}
		})
		if err != nil {
			return err
		}
		d.c.media.Add(int64(n))
		if late > 0 {
			d.c.afterRevoke.Add(int64(late))
			d.log.Error("a display received live frames taken more than a second after its link was stopped", "display", d.index, "device", device, "frames", late)
		}
	}
}

// recordCutoff records how a stopped display's live stream ended: stop
// and newest (when the newest frame received was taken) in Unix ns, end
// when the display saw the end, waited whether it had to stop waiting
// for the end (the stream did not end by itself).
func (d *display) recordCutoff(stop, newest int64, end time.Time, waited bool) {
	ms := func(ns int64) float64 { return float64(ns) / float64(time.Millisecond) }
	seen := end.UnixNano() - stop
	d.c.streamEnd.Add(ms(seen))
	cut := max(newest-stop, 0)
	if waited {
		cut = seen
	}
	d.c.cutoff.Add(ms(cut))
}

// takenAt is when a frame was taken, from its watermark (the simulated
// cameras run on this machine's clock).
func takenAt(wm camera.VideoWatermark) time.Time {
	sec, rem := wm.PTS/h264.Timescale, wm.PTS%h264.Timescale
	return time.Unix(sec, rem*int64(time.Second)/h264.Timescale)
}

// eachFrame verifies the watermark of every frame of a media segment and
// hands it to each; it returns the number of frames.
func eachFrame(key, segment []byte, each func(camera.VideoWatermark, error)) (int, error) {
	var parts fmp4.Parts
	if err := parts.Unmarshal(segment); err != nil {
		return 0, fmt.Errorf("live stream: media segment: %w", err)
	}
	n := 0
	for _, p := range parts {
		for _, tr := range p.Tracks {
			for _, s := range tr.Samples {
				n++
				nalus, err := h264.SplitAVCC(s.Payload)
				var wm camera.VideoWatermark
				if err == nil {
					wm, err = camera.VerifyVideoWatermark(key, nalus)
				}
				each(wm, err)
			}
		}
	}
	return n, nil
}

// unlinkRE finds a partner's Unlink form on the Account page.
func unlinkRE(partnerName string) *regexp.Regexp {
	return regexp.MustCompile(`data-partner="` + regexp.QuoteMeta(partnerName) + `"[\s\S]*?action="/account/partners/([A-Za-z0-9]+)/unlink"`)
}

// stopLinks stops links mid-run: every fourth display's person unlinks it
// on the Account page, then the operator disables the second partner,
// which stops the rest of its displays.
func (r *runner) stopLinks(ctx context.Context) {
	// Side by side: each needs a login or a run of the admin command, and
	// a short run on a loaded cluster ends before a few of them one after
	// another would. The unlinked displays are of the first partner, the
	// disabled partner is the second: no display is stopped twice.
	var wg sync.WaitGroup
	for _, d := range r.displays {
		if d.index%4 != 0 {
			continue
		}
		wg.Go(func() {
			if err := r.unlink(ctx, d); err != nil {
				r.log.Warn("storm: unlinking a display", "display", d.index, "err", err)
				return
			}
			d.stop(time.Now())
			r.pc.revocations.Add(1)
		})
	}
	wg.Go(func() { r.disablePartner(ctx) })
	wg.Wait()
}

// disablePartner has the operator disable the second partner, which stops
// every display linked through it.
func (r *runner) disablePartner(ctx context.Context) {
	out, err := r.admin(ctx, "partners", "list")
	if err != nil {
		r.log.Warn("storm: listing partners", "err", err)
		return
	}
	id := ""
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, partnerB) {
			if f := strings.Fields(line); len(f) > 0 {
				id = f[0]
			}
		}
	}
	if id == "" {
		r.log.Warn("storm: the second partner is not listed", "list", out)
		return
	}
	if _, err := r.admin(ctx, "partners", "disable", id); err != nil {
		r.log.Warn("storm: disabling a partner", "err", err)
		return
	}
	at := time.Now()
	for _, d := range r.displays {
		if d.partner == partnerB && d.stopped.Load() == 0 {
			d.stop(at)
			r.pc.revocations.Add(1)
		}
	}
	r.mark("partner-disabled")
}

// unlink is the display's person unlinking it on the Account page.
func (r *runner) unlink(ctx context.Context, d *display) error {
	sess, err := login(ctx, r.setupAPI, d.ac)
	if err != nil {
		return err
	}
	cookie := &http.Cookie{Name: websession.CookieName, Value: sess}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.serverBase+"/account", nil)
	if err != nil {
		return err
	}
	req.AddCookie(cookie)
	req.Header.Set("Accept", "text/html")
	res, err := r.setupAPI.client.Do(req)
	if err != nil {
		return err
	}
	page, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	res.Body.Close()
	if err != nil {
		return err
	}
	m := unlinkRE(d.partner).FindSubmatch(page)
	if m == nil {
		return fmt.Errorf("no Unlink for %s on the Account page", d.partner)
	}
	form := url.Values{"csrf": {websession.CSRFToken(sess)}}
	req, err = http.NewRequestWithContext(ctx, http.MethodPost, r.serverBase+"/account/partners/"+string(m[1])+"/unlink", strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.AddCookie(cookie)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", r.serverBase)
	noRedirect := *r.setupAPI.client
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res, err = noRedirect.Do(req)
	if err != nil {
		return err
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		return fmt.Errorf("unlink: %s", res.Status)
	}
	return nil
}

// dataDir is the node's --data.
func (s *serverProc) dataDir() string {
	for i, a := range s.args {
		if a == "--data" && i+1 < len(s.args) {
			return s.args[i+1]
		}
	}
	return filepath.Join(filepath.Dir(s.logPath), s.name+"-data")
}
