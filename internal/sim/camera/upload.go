package camera

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/camvault/camvault/internal/deviceclient"
)

// The outcomes of an upload attempt (deviceclient.Outcome).
const (
	outcomeStored    = deviceclient.Stored
	outcomeDuplicate = deviceclient.Duplicate
	outcomeRetry     = deviceclient.Retry
	outcomeRejected  = deviceclient.Rejected
	outcomeUnpaired  = deviceclient.Unpaired
)

type uploadResult struct {
	outcome    deviceclient.Outcome
	serverID   string
	retryAfter time.Duration
	err        error
}

// requestFlush hands the camera to an upload worker if it has events to
// send and is not waiting out a backoff. A camera is with at most one
// worker at a time.
func (c *Camera) requestFlush() {
	work := c.f.work.Load()
	if work == nil || !c.shouldFlush() || !c.inPool.CompareAndSwap(false, true) {
		return
	}
	select {
	case *work <- c: // never blocks: room for every camera
	default:
		c.inPool.Store(false)
	}
}

func (c *Camera) shouldFlush() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.stopped && c.queue.len() > 0 && !c.f.cfg.Now().Before(c.retryAt) && !c.f.closing.Load()
}

// flushBatch uploads queued events, oldest first, up to a batch; then the
// camera goes to the back of the line if it has more.
func (c *Camera) flushBatch(ctx context.Context) {
	defer func() {
		c.inPool.Store(false)
		c.requestFlush()
	}()
	for range c.f.cfg.UploadBatch {
		if ctx.Err() != nil || c.f.closing.Load() {
			return
		}
		c.mu.Lock()
		ev, ok := c.queue.peek()
		if c.stopped || c.f.cfg.Now().Before(c.retryAt) {
			ok = false
		}
		c.mu.Unlock()
		if !ok {
			return
		}
		res := c.upload(ctx, ev)
		if ctx.Err() != nil {
			return
		}
		if !c.settle(ev, res) {
			return
		}
	}
}

// settle records an upload attempt's outcome and says whether to go on
// with the next event.
func (c *Camera) settle(ev queuedEvent, res uploadResult) bool {
	switch res.outcome {
	case outcomeStored, outcomeDuplicate:
		c.mu.Lock()
		if !c.queue.remove(ev.seq) {
			// The full queue dropped it while it was on its way; it
			// arrived after all.
			c.stats.Dropped.Add(-1)
		}
		c.stats.Queued.Store(int64(c.queue.len()))
		c.uploadAttempt, c.uploadFailSince = 0, time.Time{}
		c.mu.Unlock()
		c.acked(ev, res)
		return true
	case outcomeRejected:
		c.mu.Lock()
		c.queue.remove(ev.seq)
		c.stats.Queued.Store(int64(c.queue.len()))
		c.mu.Unlock()
		c.stats.Rejected.Add(1)
		c.f.log.Error("server refused an event; dropped it", c.logAttrs("event_id", c.EventID(ev.seq), "err", res.err)...)
		return true
	case outcomeUnpaired:
		c.stop(ErrUnpaired)
		return false
	}
	c.stats.UploadErrors.Add(1)
	c.mu.Lock()
	now := c.f.cfg.Now()
	if c.uploadAttempt == 0 {
		c.uploadFailSince = now
	}
	d := c.f.cfg.Backoff.Delay(c.uploadAttempt, now.Sub(c.uploadFailSince), res.retryAfter, c.f.cfg.RandN)
	c.uploadAttempt++
	attempt := c.uploadAttempt
	c.retryAt = now.Add(d)
	when := c.retryAt
	c.mu.Unlock()
	c.f.log.Debug("upload failed; will retry", c.logAttrs("event_id", c.EventID(ev.seq), "err", res.err, "attempt", attempt, "in", d)...)
	c.f.sched.add(timerEntry{when: when, cam: c, kind: timerFlush})
	return false
}

func (c *Camera) acked(ev queuedEvent, res uploadResult) {
	c.stats.Uploaded.Add(1)
	if res.outcome == outcomeDuplicate {
		c.stats.Duplicates.Add(1)
	}
	if c.f.cfg.OnAck != nil {
		c.f.cfg.OnAck(Ack{DeviceID: c.creds.DeviceID, EventID: c.EventID(ev.seq), ServerID: res.serverID,
			Seq: ev.seq, Created: res.outcome == outcomeStored, Snapshot: ev.snapshot})
	}
}

// snapshot takes a picture now and uploads it straight away, ahead of any
// backlog. If the upload fails the event is queued like any other, so it
// is not lost, and the command reports the failure.
func (c *Camera) snapshot(ctx context.Context) (string, error) {
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		return "", errors.New("camera stopped")
	}
	ev := c.newEventLocked(true)
	c.mu.Unlock()
	eventID := c.EventID(ev.seq)
	res := c.upload(ctx, ev)
	switch res.outcome {
	case outcomeStored, outcomeDuplicate:
		c.acked(ev, res)
		return eventID, nil
	case outcomeUnpaired:
		c.stop(ErrUnpaired)
		return eventID, res.err
	case outcomeRejected:
		c.stats.Rejected.Add(1)
		return eventID, res.err
	}
	c.stats.UploadErrors.Add(1)
	c.mu.Lock()
	c.enqueueLocked(ev)
	c.mu.Unlock()
	c.requestFlush()
	return eventID, fmt.Errorf("%w; the snapshot is queued", res.err)
}

// upload makes one attempt at uploading ev (POST /api/v1/device/events).
func (c *Camera) upload(ctx context.Context, ev queuedEvent) uploadResult {
	home := c.HomeID()
	if home == "" {
		var res uploadResult
		if home, res = c.whoami(ctx); home == "" {
			return res
		}
	}
	body, ctype, err := c.eventBody(ev, home)
	if err != nil {
		return uploadResult{outcome: outcomeRejected, err: err}
	}
	uctx, cancel := context.WithTimeout(ctx, c.f.cfg.UploadTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(uctx, http.MethodPost, c.base()+"/api/v1/device/events", bytes.NewReader(body))
	if err != nil {
		return uploadResult{outcome: outcomeRejected, err: fmt.Errorf("upload: %w", err)}
	}
	req.Header.Set("Authorization", "Bearer "+c.creds.Token)
	req.Header.Set("Content-Type", ctype)
	res, err := c.f.cfg.HTTPClient.Do(req)
	if err != nil {
		return uploadResult{outcome: outcomeRetry, err: fmt.Errorf("upload: %w", err)}
	}
	defer res.Body.Close()
	r := classify(res, c.f.cfg.Now())
	if r.outcome == outcomeStored || r.outcome == outcomeDuplicate {
		var ans struct {
			ID string `json:"id"`
		}
		if err := json.NewDecoder(io.LimitReader(res.Body, 4<<10)).Decode(&ans); err != nil || ans.ID == "" {
			// Stored, but the answer was lost: the retry will get 200.
			return uploadResult{outcome: outcomeRetry, err: fmt.Errorf("upload: unreadable answer: %v", err)}
		}
		r.serverID = ans.ID
		return r
	}
	r.err = deviceclient.Describe("upload", res)
	return r
}

// classify maps an answer's status to an outcome.
func classify(res *http.Response, now time.Time) uploadResult {
	o := deviceclient.Classify(res.StatusCode)
	if o == outcomeRetry {
		return uploadResult{outcome: o, retryAfter: deviceclient.RetryAfter(res.Header, now)}
	}
	return uploadResult{outcome: o}
}

// whoami asks the server which home the camera is in (GET /api/v1/device),
// for the watermark, when no hello has said it yet.
func (c *Camera) whoami(ctx context.Context) (string, uploadResult) {
	wctx, cancel := context.WithTimeout(ctx, c.f.cfg.UploadTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(wctx, http.MethodGet, c.base()+"/api/v1/device", nil)
	if err != nil {
		return "", uploadResult{outcome: outcomeRejected, err: fmt.Errorf("who am I: %w", err)}
	}
	req.Header.Set("Authorization", "Bearer "+c.creds.Token)
	res, err := c.f.cfg.HTTPClient.Do(req)
	if err != nil {
		return "", uploadResult{outcome: outcomeRetry, err: fmt.Errorf("who am I: %w", err)}
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		r := classify(res, c.f.cfg.Now())
		if r.outcome == outcomeRejected {
			r.outcome = outcomeRetry // the event is fine; the server is not
		}
		r.err = deviceclient.Describe("who am I", res)
		return "", r
	}
	var ans struct {
		DeviceID string `json:"device_id"`
		HomeID   string `json:"home_id"`
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 4<<10)).Decode(&ans); err != nil || !validID(ans.HomeID) {
		return "", uploadResult{outcome: outcomeRetry, err: fmt.Errorf("who am I: unreadable answer: %v", err)}
	}
	c.mu.Lock()
	c.homeID = ans.HomeID
	c.mu.Unlock()
	return ans.HomeID, uploadResult{}
}

// renderEvent renders a camera's event ev for home: the thumbnail, a
// JPEG with the event's watermark, and the clip (nil when clips are off),
// H.264 with every frame's watermark. The same arguments give the same
// bytes, so an event can be rendered again for each attempt instead of
// being kept.
func (c *Camera) renderEvent(ev queuedEvent, home string) (thumb, clip []byte, err error) {
	cfg := &c.f.cfg
	wm, err := Watermark(cfg.WatermarkKey, c.creds.DeviceID, home, ev.seq)
	if err != nil {
		return nil, nil, err
	}
	thumb, err = cfg.Renderer.Render(Frame{Name: c.name, DeviceID: c.creds.DeviceID, Time: ev.at, Seq: ev.seq}, wm)
	if err != nil || cfg.ClipFrames < 0 {
		return thumb, nil, err
	}
	clip, err = c.eventClip(ev.at, home)
	return thumb, clip, err
}

// eventBody is the multipart body of an upload: meta, thumbnail, clip.
func (c *Camera) eventBody(ev queuedEvent, home string) ([]byte, string, error) {
	thumb, clip, err := c.renderEvent(ev, home)
	if err != nil {
		return nil, "", fmt.Errorf("render event: %w", err)
	}
	meta, err := json.Marshal(map[string]any{"event_id": c.EventID(ev.seq), "started_at": ev.at.UTC(), "kind": ev.kind})
	if err != nil {
		return nil, "", fmt.Errorf("encode meta: %w", err)
	}
	return deviceclient.EventForm(meta, thumb, clip)
}
