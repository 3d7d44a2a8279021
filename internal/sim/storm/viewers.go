package storm

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync/atomic"
	"time"
)

// viewerCounters are what the viewers did and found.
type viewerCounters struct {
	listings       atomic.Int64 // event listings received
	mediaResponses atomic.Int64 // thumbnails and clips received whole
	mediaFrames    atomic.Int64 // frames in them, each checked
	foreignMedia   atomic.Int64 // frames with a missing or bad watermark, or of another household
	mislabeled     atomic.Int64 // frames of the viewer's household, but of another camera than the event's
	foreignEvents  atomic.Int64 // listed events that are not of the viewer's home and cameras
	errors         atomic.Int64 // requests that failed (no answer, cut short, unexpected status)
	streamEvents   atomic.Int64 // events offered on the viewers' event streams
	foreignStream  atomic.Int64 // of them, events not of the viewer's home and cameras
	streamBreaks   atomic.Int64 // event streams that failed or were cut (outages included)
}

// viewer is a person looking at their Events timeline, as one of the
// accounts, with a session of their own.
type viewer struct {
	index  int
	ac     *account
	token  string
	client *http.Client // through the shared, counting transport
	base   string
	key    []byte
	every  time.Duration
	perRun int // media fetched per listing
	c      *viewerCounters
	others *others // --hostile: listings and thumbnails, in their window
	log    *slog.Logger
}

// maxMedia bounds a media response a viewer reads (the simulated cameras'
// clips are a few hundred KiB).
const maxMedia = 16 << 20

// run lists events and fetches some of their thumbnails and clips until
// ctx ends.
func (v *viewer) run(ctx context.Context) {
	wait := time.Duration(rand.Int64N(int64(v.every) + 1)) // spread the viewers' starts
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = v.every/2 + time.Duration(rand.Int64N(int64(v.every)+1)) // mean: every
		start := time.Now()
		page, err := v.list(ctx)
		if ctx.Err() == nil {
			v.others.view(start, err == nil)
		}
		if err != nil {
			if ctx.Err() == nil {
				v.c.errors.Add(1)
				v.log.Debug("viewer: list events", "viewer", v.index, "err", err)
			}
			continue
		}
		v.c.listings.Add(1)
		for _, e := range page.Events {
			if e.HomeID != v.ac.home || !v.ac.devices[e.DeviceID] {
				v.c.foreignEvents.Add(1)
				v.log.Error("viewer saw another household's event", "viewer", v.index, "event", e.ID, "home", e.HomeID, "device", e.DeviceID)
			}
		}
		for _, i := range rand.Perm(len(page.Events))[:min(v.perRun, len(page.Events))] {
			e := page.Events[i]
			v.fetch(ctx, e, "thumbnail")
			if e.ClipURL != nil {
				v.fetch(ctx, e, "clip")
			}
		}
	}
}

func (v *viewer) list(ctx context.Context) (eventPage, error) {
	var page eventPage
	err := api{client: v.client, base: v.base}.do(ctx, "GET", "/api/v1/events?limit=20", v.token, nil, &page, http.StatusOK)
	return page, err
}

// fetch gets one event's thumbnail or clip and checks every frame of it.
func (v *viewer) fetch(ctx context.Context, e listedEvent, kind string) {
	start := time.Now()
	err := func() error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.base+"/api/v1/events/"+e.ID+"/"+kind, nil)
		if err != nil {
			return fmt.Errorf("%s: %w", kind, err)
		}
		req.Header.Set("Authorization", "Bearer "+v.token)
		res, err := v.client.Do(req)
		if err != nil {
			return fmt.Errorf("%s: %w", kind, err)
		}
		defer res.Body.Close()
		if res.StatusCode != http.StatusOK {
			_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
			return fmt.Errorf("%s: %s", kind, res.Status)
		}
		body, err := io.ReadAll(io.LimitReader(res.Body, maxMedia+1))
		if err != nil {
			return fmt.Errorf("%s: read: %w", kind, err)
		}
		if len(body) > maxMedia {
			return fmt.Errorf("%s: larger than %d bytes", kind, maxMedia)
		}
		verdict := checkMedia(v.key, v.ac, e.DeviceID, kind, body)
		v.c.mediaResponses.Add(1)
		v.c.mediaFrames.Add(int64(verdict.frames))
		if verdict.foreign > 0 {
			v.c.foreignMedia.Add(int64(verdict.foreign))
			v.log.Error("viewer received media that is not its household's", "viewer", v.index, "event", e.ID, "kind", kind, "frames", verdict.foreign)
		}
		if verdict.mislabeled > 0 {
			v.c.mislabeled.Add(int64(verdict.mislabeled))
			v.log.Error("viewer received another camera's media for an event", "viewer", v.index, "event", e.ID, "kind", kind, "device", e.DeviceID)
		}
		return nil
	}()
	if kind == "thumbnail" && ctx.Err() == nil {
		v.others.view(start, err == nil)
	}
	if err != nil && ctx.Err() == nil {
		v.c.errors.Add(1)
		v.log.Debug("viewer: fetch media", "viewer", v.index, "event", e.ID, "err", err)
	}
}
