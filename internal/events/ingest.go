package events

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"time"

	"github.com/camvault/camvault/internal/apperr"
	"github.com/camvault/camvault/internal/authz"
	"github.com/camvault/camvault/internal/blob"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/keys"
	"github.com/camvault/camvault/internal/media"
)

// Meta is what a camera says about an event.
type Meta struct {
	EventID   string           `json:"event_id"`
	StartedAt time.Time        `json:"started_at"`
	Kind      domain.EventKind `json:"kind"`
}

var deviceEventID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

func (s *Service) checkMeta(m Meta) error {
	if !deviceEventID.MatchString(m.EventID) {
		return apperr.New(apperr.Invalid, "event_id must be 1 to 64 of A-Z a-z 0-9 _ -")
	}
	if _, err := domain.ParseEventKind(string(m.Kind)); err != nil {
		return apperr.New(apperr.Invalid, "%v", err)
	}
	if m.StartedAt.IsZero() {
		return apperr.New(apperr.Invalid, "started_at must be an RFC 3339 time")
	}
	return nil
}

// Camera clocks are trusted only within these bounds of the time the
// server receives the event: a camera queues events offline for at most
// maxQueuedAge (tombstoneTTL is longer), and a clock a day ahead is
// already wrong.
const (
	maxQueuedAge = 14 * 24 * time.Hour
	maxAhead     = 24 * time.Hour
)

// cameraTime is the time an event is shown at: the camera's, unless its
// clock is clearly wrong (reset to 2000 after a power cut, or far ahead),
// when it is the time the server received the event. Either way the event
// is kept; retention counts from receipt (Event.CreatedAt), so a wrong
// clock can neither expire an event early nor keep it past its time.
func (s *Service) cameraTime(p authz.Principal, started, received time.Time) time.Time {
	if started.Before(received.Add(-maxQueuedAge)) || started.After(received.Add(maxAhead)) {
		s.log.Info("a camera's clock is off; the event is dated by its receipt", "device", p.DeviceID,
			"camera_time", started.UTC().Format(time.RFC3339), "received", received.Format(time.RFC3339))
		return received
	}
	return started
}

// Upload is one event upload in progress. The handler feeds it the parts
// in order; nothing is visible until Commit.
type Upload struct {
	svc      *Service
	device   authz.Principal
	meta     Meta
	eventID  string
	dk       keys.DataKey
	existing string // a retry: the ID of the event already stored
	thumb    int64
	clip     int64
	hasThumb bool
	hasClip  bool
	clipInfo media.ClipInfo
	put      []string // blob keys written, to remove on abort
}

// Begin starts an upload by device p. The device, and so the home, come
// from the authenticated principal only (invariant 2).
func (s *Service) Begin(ctx context.Context, p authz.Principal, m Meta) (*Upload, error) {
	if !p.IsDevice() {
		return nil, apperr.New(apperr.Unauthorized, "a device token is required")
	}
	if err := s.checkMeta(m); err != nil {
		return nil, err
	}
	m.StartedAt = s.cameraTime(p, m.StartedAt, s.now()).UTC().Truncate(time.Microsecond)
	u := &Upload{svc: s, device: p, meta: m}
	// The retry check and the home's key in one read.
	wrapped, existing, err := s.store.UploadTarget(ctx, p.HomeID, p.DeviceID, m.EventID)
	if err != nil {
		return nil, fmt.Errorf("look up event and home %s: %w", p.HomeID, err)
	}
	if existing != "" {
		u.existing = existing
		return u, nil
	}
	u.eventID = id.New()
	if u.dk, err = s.keys.UnwrapDataKey(wrapped, p.HomeID); err != nil {
		return nil, fmt.Errorf("unwrap data key of home %s: %w", p.HomeID, err)
	}
	return u, nil
}

// Existing returns the stored event's ID when this upload is a retry of an
// event already stored; the parts need not be read then.
func (u *Upload) Existing() (string, bool) {
	return u.existing, u.existing != ""
}

func (u *Upload) label(kind media.Kind) media.Label {
	return media.Label{Home: u.device.HomeID, Device: u.device.DeviceID, Event: u.eventID, Kind: kind}
}

// Thumbnail reads, checks and stores the thumbnail.
func (u *Upload) Thumbnail(ctx context.Context, r io.Reader) error {
	if u.hasThumb {
		return apperr.New(apperr.Invalid, "only one thumbnail part is allowed")
	}
	max := u.svc.cfg.MaxThumbnail
	buf := u.svc.readBuf()
	defer u.svc.putReadBuf(buf)
	if _, err := buf.ReadFrom(io.LimitReader(r, max+1)); err != nil {
		return fmt.Errorf("read thumbnail: %w", err)
	}
	b := buf.Bytes()
	if int64(len(b)) > max {
		return apperr.New(apperr.TooLarge, "thumbnail is larger than %d bytes", max)
	}
	if err := u.svc.checkJPEG(ctx, b); err != nil {
		return err
	}
	// In memory already: sealed whole, and written in one go.
	kind := media.KindThumbnail
	if err := u.store(ctx, kind, bytes.NewReader(media.SealBytes(u.dk, u.label(kind), b))); err != nil {
		return err
	}
	u.hasThumb, u.thumb = true, int64(len(b))
	return nil
}

// Thumbnails are read into buffers kept for the next upload: most are
// some tens of KiB, and growing a new buffer to that size for every
// upload was a good part of ingest's garbage. A buffer that grew past
// keptReadBuf (a larger thumbnail) is left to the collector.
const (
	initialReadBuf = 64 << 10
	keptReadBuf    = 256 << 10
)

func (s *Service) readBuf() *bytes.Buffer {
	if b, ok := s.bufs.Get().(*bytes.Buffer); ok {
		return b
	}
	return bytes.NewBuffer(make([]byte, 0, initialReadBuf))
}

func (s *Service) putReadBuf(b *bytes.Buffer) {
	if b.Cap() <= keptReadBuf {
		b.Reset()
		s.bufs.Put(b)
	}
}

// checkJPEG runs the thumbnail check in the node's pool of check slots,
// waiting at most CheckWait for one (then 503, as admission answers).
func (s *Service) checkJPEG(ctx context.Context, b []byte) error {
	wait := time.NewTimer(s.cfg.CheckWait)
	defer wait.Stop()
	select {
	case s.checks <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-wait.C:
		e := apperr.New(apperr.Unavailable, "the server is busy checking pictures; retry after the time in Retry-After")
		e.RetryAfter = time.Second
		return e
	}
	defer func() { <-s.checks }()
	if err := media.CheckJPEG(b); err != nil {
		return apperr.New(apperr.Invalid, "thumbnail: %v", err)
	}
	return nil
}

// Clip streams, checks and stores the clip, never holding it whole.
func (u *Upload) Clip(ctx context.Context, r io.Reader) error {
	if u.hasClip {
		return apperr.New(apperr.Invalid, "only one clip part is allowed")
	}
	max := u.svc.cfg.MaxClip
	var check media.MP4Checker
	counted := &countingReader{r: io.TeeReader(io.LimitReader(r, max+1), &check)}
	err := u.store(ctx, media.KindClip, media.Seal(u.dk, u.label(media.KindClip), &limitedReader{counted, max}))
	var e *apperr.Error
	switch {
	case errors.As(err, &e):
		return err
	case err != nil && check.Close() != nil:
		return clipRefused(check.Close())
	case err != nil:
		return err
	}
	if err := check.Close(); err != nil {
		u.removeLast(ctx)
		return clipRefused(err)
	}
	u.hasClip, u.clip, u.clipInfo = true, counted.n, check.Info()
	return nil
}

// clipRefused is the answer to a clip the check refused.
func clipRefused(err error) error {
	if errors.Is(err, media.ErrClipCodec) {
		return apperr.New(apperr.Invalid, "%v", err)
	}
	return apperr.New(apperr.Invalid, "clip: %v", err)
}

// store puts sealed bytes under the kind's key.
func (u *Upload) store(ctx context.Context, kind media.Kind, sealed io.Reader) error {
	key := blobKey(u.device.HomeID, u.device.DeviceID, u.eventID, kind)
	if _, err := u.svc.blobs.Put(ctx, key, sealed); err != nil {
		if e, ok := apperr.As(err); ok {
			return e
		}
		return fmt.Errorf("store %s: %w", kind, err)
	}
	u.put = append(u.put, key)
	return nil
}

func (u *Upload) removeLast(ctx context.Context) {
	key := u.put[len(u.put)-1]
	u.put = u.put[:len(u.put)-1]
	if err := u.svc.blobs.Delete(context.WithoutCancel(ctx), key); err != nil && !errors.Is(err, blob.ErrNotFound) {
		u.svc.log.Warn("removing refused clip", "err", err) // the orphan sweep will take it
	}
}

// Commit records the event. It returns the event's ID, and whether this
// upload created it (false: a concurrent retry won, and this upload's
// blobs were removed).
func (u *Upload) Commit(ctx context.Context) (string, bool, error) {
	if !u.hasThumb {
		return "", false, apperr.New(apperr.Invalid, "a thumbnail part is required")
	}
	e := domain.Event{
		ID: u.eventID, HomeID: u.device.HomeID, DeviceID: u.device.DeviceID, DeviceEventID: u.meta.EventID,
		Kind: u.meta.Kind, StartedAt: u.meta.StartedAt, CreatedAt: u.svc.now(),
		ThumbKey: blobKey(u.device.HomeID, u.device.DeviceID, u.eventID, media.KindThumbnail), ThumbSize: u.thumb,
	}
	if u.hasClip {
		e.ClipKey, e.ClipSize = blobKey(u.device.HomeID, u.device.DeviceID, u.eventID, media.KindClip), u.clip
		e.ClipCodec, e.ClipDurationMS = u.clipInfo.Codec, u.clipInfo.DurationMS
		e.ClipWidth, e.ClipHeight = u.clipInfo.Width, u.clipInfo.Height
	}
	stored, created, err := u.svc.store.CreateEvent(ctx, e)
	if err != nil {
		return "", false, fmt.Errorf("record event: %w", err)
	}
	if !created {
		u.Abort(ctx)
	} else if u.svc.announce != nil {
		u.svc.announce.EventCreated(ctx, stored.HomeID, stored.ID)
	}
	u.put = nil
	return stored.ID, created, nil
}

// Abort removes whatever the upload stored. Blobs it cannot remove now are
// orphans, which the sweep at start removes.
func (u *Upload) Abort(ctx context.Context) {
	for _, key := range u.put {
		if err := u.svc.blobs.Delete(context.WithoutCancel(ctx), key); err != nil && !errors.Is(err, blob.ErrNotFound) {
			u.svc.log.Warn("removing blob of an aborted upload", "err", err)
		}
	}
	u.put = nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// limitedReader fails, rather than ends, once more than max bytes came.
type limitedReader struct {
	c   *countingReader
	max int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	n, err := l.c.Read(p)
	if l.c.n > l.max {
		return 0, apperr.New(apperr.TooLarge, "clip is larger than %d bytes", l.max)
	}
	return n, err
}
