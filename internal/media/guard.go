package media

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/camvault/camvault/internal/audit"
	"github.com/camvault/camvault/internal/authz"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/id"
)

// Response is media about to be sent. Its label comes from the blob itself
// (authenticated by every segment), not from the request or the record that
// pointed at it.
type Response struct {
	Blob        *Blob
	ContentType string
	ETag        string
	Modified    time.Time
}

// Incidents records what the guard refused.
type Incidents interface {
	RecordIncident(ctx context.Context, in domain.Incident) error
}

// Counter is the one metric the guard needs.
type Counter interface{ Inc() }

// Guard is the last step before media bytes leave the server
// (invariant 5). Serve is the only function that writes media bytes.
type Guard struct {
	audit     *audit.Log
	incidents Incidents
	blocked   Counter
	log       *slog.Logger
	now       func() time.Time
}

// NewGuard returns the guard.
func NewGuard(a *audit.Log, in Incidents, blocked Counter, log *slog.Logger, now func() time.Time) *Guard {
	if now == nil {
		now = time.Now
	}
	return &Guard{audit: a, incidents: in, blocked: blocked, log: log, now: now}
}

// ErrBlocked is returned when the guard refused to send a response.
var ErrBlocked = fmt.Errorf("media response blocked by the last-step check")

// Serve compares the response's label with what the requester asked for
// and may see: the grant (computed from the store for this request) must be
// for the label's home and cover its camera, and the label must name the
// requested event and kind. On a match it records the look in the home's
// audit log and sends the bytes (with Range support); on a mismatch it
// sends nothing, counts, records an incident naming who would have
// received what, and returns ErrBlocked.
func (g *Guard) Serve(w http.ResponseWriter, r *http.Request, p authz.Principal, grant authz.Grant, eventID string, kind Kind, resp Response) error {
	l := resp.Blob.Label
	if !covers(grant, l.Home, l.Device) || l.Event != eventID || l.Kind != kind {
		g.block(r.Context(), p, grant, eventID, l)
		return ErrBlocked
	}
	action := audit.ViewThumbnail
	if kind == KindClip {
		action = audit.ViewClip
	}
	if err := g.audit.Record(r.Context(), l.Home, audit.Entry{ActorKind: p.Kind, ActorID: actorID(p),
		Action: action, DeviceID: l.Device, EventID: l.Event, Result: audit.ResultOK}); err != nil {
		return err // not on record: not sent
	}
	h := w.Header()
	h.Set("Content-Type", resp.ContentType)
	// Private: no shared cache may keep another household's media. No-cache:
	// the browser that was allowed to see it asks again (If-None-Match)
	// before each display, so an unshare is seen there too at the next
	// look, and every look is authorized and on record; an unchanged blob
	// then costs a 304, not its bytes.
	h.Set("Cache-Control", "private, no-cache")
	h.Set("ETag", resp.ETag)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	if resp.Blob.whole != nil && plainGet(r) {
		// The whole plaintext is in memory and the request asks for all of
		// it, unconditionally: the answer http.ServeContent would give,
		// written at once.
		if !resp.Modified.IsZero() {
			h.Set("Last-Modified", resp.Modified.UTC().Format(http.TimeFormat))
		}
		h.Set("Accept-Ranges", "bytes")
		h.Set("Content-Length", strconv.FormatInt(resp.Blob.size, 10))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(resp.Blob.whole) // a client gone mid-answer has no one to tell
		return nil
	}
	if rangeCount(r.Header.Get("Range")) > MaxRanges {
		// Each range of a sealed blob opens at least one 64 KiB segment:
		// thousands of one-byte ranges would cost a segment each for a
		// byte each. RFC 9110 (14.2) lets a server ignore Range; the whole
		// blob is then the answer, its cost bounded by its size.
		r = r.Clone(r.Context())
		r.Header.Del("Range")
	}
	http.ServeContent(w, r, "", resp.Modified, io.NewSectionReader(resp.Blob, 0, resp.Blob.Size()))
	return nil
}

// plainGet reports whether r is a GET for the whole resource with no
// condition: no range and no validator to compare.
func plainGet(r *http.Request) bool {
	if r.Method != http.MethodGet {
		return false
	}
	for _, k := range []string{"Range", "If-Range", "If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since"} {
		if _, ok := r.Header[k]; ok {
			return false
		}
	}
	return true
}

// MaxRanges is the most byte ranges one request is answered in parts; a
// player asks for one at a time.
const MaxRanges = 8

// rangeCount is the number of ranges a Range header asks for (0 without
// one), counted without parsing them.
func rangeCount(h string) int {
	if h == "" {
		return 0
	}
	return strings.Count(h, ",") + 1
}

// covers is the one comparison of a label with a grant, for stored media
// and live segments alike: the grant is for the label's home and covers
// its camera.
func covers(grant authz.Grant, home, device string) bool {
	return home != "" && home == grant.HomeID() && grant.CanSeeDevice(device)
}

// KindLive is the kind an incident names for a live segment.
const KindLive Kind = "live"

// SegmentLabel is the label of a live segment: the home and device of the
// camera connection that produced it, and its stream epoch.
type SegmentLabel struct {
	Home   string
	Device string
	Epoch  uint64
}

// CheckSegment is Serve's check for a live segment, made before each one
// is written to a viewer: the viewer's current grant (re-decided from the
// store) must be for the label's home and cover its camera, and the
// label must name the camera the viewer asked for. A mismatch counts,
// records an incident naming who would have received what, and returns
// ErrBlocked; the caller sends nothing and ends the session. The look
// itself is audited once per session (live.view), not per segment.
func (g *Guard) CheckSegment(ctx context.Context, p authz.Principal, grant authz.Grant, deviceID string, l SegmentLabel) error {
	if covers(grant, l.Home, l.Device) && l.Device == deviceID {
		return nil
	}
	g.record(ctx, p, grant, domain.Incident{RequestedHome: grant.HomeID(),
		LabelHome: l.Home, LabelDevice: l.Device, LabelKind: string(KindLive),
		Detail: fmt.Sprintf("live segment of epoch %d for camera %s does not match the viewer's grant or request", l.Epoch, deviceID)})
	return ErrBlocked
}

func (g *Guard) block(ctx context.Context, p authz.Principal, grant authz.Grant, eventID string, l Label) {
	g.record(ctx, p, grant, domain.Incident{
		RequestedHome: grant.HomeID(), RequestedEvent: eventID,
		LabelHome: l.Home, LabelDevice: l.Device, LabelEvent: l.Event, LabelKind: string(l.Kind),
		Detail: "response label does not match the requester's grant or request",
	})
}

// record counts a refusal, logs it, records the incident and audits it in
// the requester's home.
func (g *Guard) record(ctx context.Context, p authz.Principal, grant authz.Grant, in domain.Incident) {
	g.blocked.Inc()
	in.ID, in.At, in.Kind = id.New(), g.now().UTC(), domain.IncidentEgressBlocked
	in.RequesterKind, in.RequesterID = p.Kind, actorID(p)
	eventID := in.RequestedEvent
	l := Label{Home: in.LabelHome, Device: in.LabelDevice, Event: in.LabelEvent, Kind: Kind(in.LabelKind)}
	g.log.ErrorContext(ctx, "media response blocked at the last step",
		"requester_kind", in.RequesterKind, "requester", in.RequesterID, "requested_home", in.RequestedHome,
		"requested_event", in.RequestedEvent, "label_home", l.Home, "label_device", l.Device, "label_event", l.Event, "label_kind", l.Kind)
	// Recording is best effort: the bytes are already withheld.
	ctx = context.WithoutCancel(ctx)
	if err := g.incidents.RecordIncident(ctx, in); err != nil {
		g.log.ErrorContext(ctx, "recording incident", "err", err)
	}
	if grant.HomeID() != "" {
		if err := g.audit.Record(ctx, grant.HomeID(), audit.Entry{ActorKind: p.Kind, ActorID: actorID(p),
			Action: "media.view", EventID: eventID, Result: audit.ResultBlocked}); err != nil {
			g.log.ErrorContext(ctx, "auditing blocked response", "err", err)
		}
	}
}

func actorID(p authz.Principal) string { return p.ActorID() }

// Kind is the kind of media blob: a label names it, and so does a request
// for an event's media.
type Kind string

// The kinds of media blob.
const (
	KindThumbnail Kind = "thumbnail"
	KindClip      Kind = "clip"
)
