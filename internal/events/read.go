package events

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/camvault/camvault/internal/apperr"
	"github.com/camvault/camvault/internal/audit"
	"github.com/camvault/camvault/internal/authz"
	"github.com/camvault/camvault/internal/blob"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/keys"
	"github.com/camvault/camvault/internal/media"
	"github.com/camvault/camvault/internal/store"
)

// ListQuery is a person's query of the Events timeline.
type ListQuery struct {
	Home   string   // optional: one home
	Device string   // optional: one camera
	Kinds  []string // optional; each must be one of domain.EventKinds
	Before string   // optional: a cursor from Page.Next, or an RFC 3339 time
	Limit  int      // default 50, at most 200
}

// Page is one page of the timeline, newest first.
type Page struct {
	Events []View `json:"events"`
	Next   string `json:"next"` // empty on the last page
}

const (
	defaultLimit = 50
	maxLimit     = 200
)

// List returns the events p may see, newest first. A home or camera p may
// not see answers exactly as a missing one.
func (s *Service) List(ctx context.Context, p authz.Principal, q ListQuery) (Page, error) {
	if q.Limit == 0 {
		q.Limit = defaultLimit
	}
	if q.Limit < 1 || q.Limit > maxLimit {
		return Page{}, apperr.New(apperr.Invalid, "limit must be 1 to %d", maxLimit)
	}
	sq := store.EventQuery{Limit: q.Limit}
	for _, raw := range q.Kinds {
		k, err := domain.ParseEventKind(raw)
		if err != nil {
			return Page{}, apperr.New(apperr.Invalid, "%v", err)
		}
		sq.Kinds = append(sq.Kinds, k)
	}
	var err error
	if sq.BeforeTime, sq.BeforeID, err = parseBefore(q.Before); err != nil {
		return Page{}, err
	}
	if sq.Scopes, err = s.scopes(ctx, p, q.Home, q.Device); err != nil {
		return Page{}, err
	}
	list, err := s.store.ListEvents(ctx, sq)
	if err != nil {
		return Page{}, fmt.Errorf("list events: %w", err)
	}
	page := Page{Events: make([]View, 0, len(list))}
	for _, e := range list {
		page.Events = append(page.Events, view(e))
	}
	if len(list) == q.Limit {
		last := list[len(list)-1]
		page.Next = cursor(last.StartedAt, last.ID)
	}
	return page, nil
}

// Neighbours are the events next to one in the timeline: Older started
// just before it, Newer just after; nil at either end.
type Neighbours struct {
	Older *View
	Newer *View
}

// Neighbours returns the events next to eventID among those p may see,
// in the timeline q filters (its Before and Limit are not used): the
// same scopes as List, so a viewer limited to some cameras never gets a
// link to another camera's event, nor anyone to another home's. An
// event p may not see answers exactly as a missing one. Like List, it
// records no look.
func (s *Service) Neighbours(ctx context.Context, p authz.Principal, eventID string, q ListQuery) (Neighbours, error) {
	e, _, err := s.visibleEvent(ctx, p, eventID, authz.ViewHome)
	if err != nil {
		return Neighbours{}, err
	}
	sq := store.EventQuery{Limit: 1}
	for _, raw := range q.Kinds {
		k, err := domain.ParseEventKind(raw)
		if err != nil {
			return Neighbours{}, apperr.New(apperr.Invalid, "%v", err)
		}
		sq.Kinds = append(sq.Kinds, k)
	}
	if sq.Scopes, err = s.scopes(ctx, p, q.Home, q.Device); err != nil {
		return Neighbours{}, err
	}
	var out Neighbours
	older, newer := sq, sq
	older.BeforeTime, older.BeforeID = e.StartedAt, e.ID
	newer.AfterTime, newer.AfterID = e.StartedAt, e.ID
	for _, n := range []struct {
		q   store.EventQuery
		out **View
	}{{older, &out.Older}, {newer, &out.Newer}} {
		list, err := s.store.ListEvents(ctx, n.q)
		if err != nil {
			return Neighbours{}, fmt.Errorf("list events next to %s: %w", e.ID, err)
		}
		if len(list) > 0 {
			v := view(list[0])
			*n.out = &v
		}
	}
	return out, nil
}

// scopes turns a query's home and camera into what the store may read,
// each decided by authz.
func (s *Service) scopes(ctx context.Context, p authz.Principal, homeID, deviceID string) ([]store.EventScope, error) {
	if homeID != "" && !id.Valid(homeID) {
		return nil, apperr.NotFoundf("home")
	}
	if deviceID != "" {
		if !id.Valid(deviceID) {
			return nil, apperr.NotFoundf("device")
		}
		dev, _, err := s.authz.Device(ctx, p, deviceID, authz.ViewHome)
		if err != nil {
			return nil, err
		}
		if homeID != "" && dev.HomeID != homeID {
			return nil, apperr.NotFoundf("device")
		}
		return []store.EventScope{{HomeID: dev.HomeID, Devices: []string{dev.ID}}}, nil
	}
	if homeID != "" {
		g, err := s.authz.Home(ctx, p, homeID, authz.ViewHome)
		if err != nil {
			return nil, err
		}
		return []store.EventScope{scopeOf(g.Membership)}, nil
	}
	if p.IsPartner() {
		return s.partnerScopes(ctx, p)
	}
	if !p.IsPerson() {
		return nil, nil
	}
	ms, err := s.store.Memberships(ctx, p.AccountID)
	if err != nil {
		return nil, fmt.Errorf("list memberships: %w", err)
	}
	out := make([]store.EventScope, 0, len(ms))
	for _, m := range ms {
		if m.SecondFactorMissing() {
			continue // that home's events wait for the member's second factor
		}
		out = append(out, scopeOf(m))
	}
	return out, nil
}

// partnerScopes are the cameras a partner may see now, by home: those its
// link names that the person still sees.
func (s *Service) partnerScopes(ctx context.Context, p authz.Principal) ([]store.EventScope, error) {
	dgs, err := s.authz.PartnerDevices(ctx, p)
	if err != nil {
		return nil, err
	}
	var out []store.EventScope
	at := map[string]int{}
	for _, dg := range dgs {
		i, ok := at[dg.Device.HomeID]
		if !ok {
			i = len(out)
			at[dg.Device.HomeID] = i
			out = append(out, store.EventScope{HomeID: dg.Device.HomeID, Devices: []string{}})
		}
		out[i].Devices = append(out[i].Devices, dg.Device.ID)
	}
	return out, nil
}

func scopeOf(m domain.Membership) store.EventScope {
	sc := store.EventScope{HomeID: m.Home.ID}
	if m.Member.Role == domain.RoleViewer && m.Member.Devices != nil {
		sc.Devices = append([]string{}, m.Member.Devices...)
	}
	return sc
}

// A cursor is the (started_at, id) of the last event of a page.
func cursor(t time.Time, eventID string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(t.UnixMicro(), 10) + "." + eventID))
}

func parseBefore(s string) (time.Time, string, error) {
	if s == "" {
		return time.Time{}, "", nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), "", nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		us, eventID, ok := strings.Cut(string(raw), ".")
		if n, err := strconv.ParseInt(us, 10, 64); ok && err == nil && id.Valid(eventID) {
			return time.UnixMicro(n).UTC(), eventID, nil
		}
	}
	return time.Time{}, "", apperr.New(apperr.Invalid, "before must be a cursor from next, or an RFC 3339 time")
}

// Listed returns one event as the timeline lists it, if p may see it now,
// without recording a look: listing an event is not looking at it (its
// picture is, and is recorded when fetched). A live stream of new events
// decides each one with it.
func (s *Service) Listed(ctx context.Context, p authz.Principal, eventID string) (View, error) {
	e, _, err := s.visibleEvent(ctx, p, eventID, authz.ViewHome)
	if err != nil {
		return View{}, err
	}
	return view(e), nil
}

// Get returns one event, recording the look.
func (s *Service) Get(ctx context.Context, p authz.Principal, eventID string) (View, error) {
	e, _, err := s.visibleEvent(ctx, p, eventID, authz.ViewHome)
	if err != nil {
		return View{}, err
	}
	if err := s.audit.Record(ctx, e.HomeID, audit.Entry{ActorKind: p.Kind, ActorID: actorID(p),
		Action: audit.ViewEvent, DeviceID: e.DeviceID, EventID: e.ID, Result: audit.ResultOK}); err != nil {
		return View{}, err
	}
	return view(e), nil
}

// Media is an opened media blob ready for the guard, with the grant the
// request was decided on. Close it when done.
type Media struct {
	Response media.Response
	Grant    authz.Grant
	obj      blob.Object
}

// Close releases the blob.
func (m *Media) Close() error {
	if m.obj == nil {
		return nil // read whole, from the cache or to fill it
	}
	return m.obj.Close()
}

// Open opens an event's thumbnail or clip for p. The response is labelled
// from the blob itself; media.Guard compares that label with the grant.
func (s *Service) Open(ctx context.Context, p authz.Principal, eventID string, kind media.Kind) (*Media, error) {
	e, g, err := s.visibleEvent(ctx, p, eventID, authz.ViewHome)
	if err != nil {
		return nil, err
	}
	key, contentType := e.ThumbKey, "image/jpeg"
	if kind == media.KindClip {
		key, contentType = e.ClipKey, "video/mp4"
		if key == "" {
			return nil, apperr.New(apperr.NotFound, "this event has no clip")
		}
	}
	var b *media.Blob
	var obj blob.Object
	if kind == media.KindThumbnail {
		b, obj, err = s.openThumbnail(ctx, p, e)
	} else {
		b, obj, err = s.openBlob(ctx, key, func(homeID string) (keys.DataKey, error) { return s.dataKey(ctx, homeID) })
	}
	if err != nil {
		return nil, fmt.Errorf("open %s of event %s: %w", kind, e.ID, err)
	}
	return &Media{
		Response: media.Response{Blob: b, ContentType: contentType, ETag: `"` + e.ID + "-" + string(kind) + `"`, Modified: e.CreatedAt},
		Grant:    g,
		obj:      obj,
	}, nil
}

// Delete deletes an event: the record is hidden at once, then its blobs
// and the record are removed. Owners and admins only.
func (s *Service) Delete(ctx context.Context, p authz.Principal, eventID string) error {
	e, _, err := s.visibleEvent(ctx, p, eventID, authz.DeleteEvents)
	if err != nil {
		return err
	}
	if e, err = s.store.MarkEventDeleted(ctx, e.ID, s.now()); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return errNoEvent
		}
		return fmt.Errorf("mark event deleted: %w", err)
	}
	if err := s.audit.Record(ctx, e.HomeID, audit.Entry{ActorKind: p.Kind, ActorID: actorID(p),
		Action: audit.DeleteEvent, DeviceID: e.DeviceID, EventID: e.ID, Result: audit.ResultOK}); err != nil {
		return err
	}
	if err := s.purge(ctx, e); err != nil {
		s.log.Warn("removing a deleted event's blobs; the sweeper will retry", "err", err)
	}
	return nil
}

// purge removes a deleted event's blobs, then its record.
func (s *Service) purge(ctx context.Context, e domain.Event) error {
	for _, key := range []string{e.ThumbKey, e.ClipKey} {
		if key == "" {
			continue
		}
		if err := s.blobs.Delete(ctx, key); err != nil && !errors.Is(err, blob.ErrNotFound) {
			return fmt.Errorf("delete blob: %w", err)
		}
	}
	if err := s.store.PurgeEvent(ctx, e.ID, s.now()); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("purge event: %w", err)
	}
	return nil
}

// maxIntegrationThumbnail bounds a thumbnail handed to a home's own
// integration.
const maxIntegrationThumbnail = 8 << 20

// ThumbnailForHome opens an event's thumbnail for a home's own
// integration (its MQTT broker, which its owners or admins configured):
// the event must be of homeID, the blob's label must name that home,
// camera and event, and the look is on the home's audit record, with the
// integration as its actor, before the bytes are returned.
func (s *Service) ThumbnailForHome(ctx context.Context, homeID, eventID, integration string) ([]byte, error) {
	e, err := s.event(ctx, eventID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && e.HomeID != homeID) {
		return nil, errNoEvent
	}
	if err != nil {
		return nil, fmt.Errorf("read event: %w", err)
	}
	b, obj, err := s.openBlob(ctx, e.ThumbKey, func(homeID string) (keys.DataKey, error) { return s.dataKey(ctx, homeID) })
	if err != nil {
		return nil, fmt.Errorf("open thumbnail of event %s: %w", e.ID, err)
	}
	defer obj.Close()
	want := media.Label{Home: homeID, Device: e.DeviceID, Event: e.ID, Kind: media.KindThumbnail}
	if b.Label != want {
		return nil, fmt.Errorf("thumbnail of event %s is labelled for another: refused", e.ID)
	}
	if b.Size() > maxIntegrationThumbnail {
		return nil, fmt.Errorf("thumbnail of event %s: %d bytes, past %d", e.ID, b.Size(), maxIntegrationThumbnail)
	}
	if err := s.audit.Record(ctx, homeID, audit.Entry{ActorKind: domain.PrincipalIntegration, ActorID: integration,
		Action: audit.ViewThumbnail, DeviceID: e.DeviceID, EventID: e.ID, Result: audit.ResultOK}); err != nil {
		return nil, err
	}
	whole, err := b.Whole()
	if err != nil {
		return nil, err
	}
	out := make([]byte, whole.Size())
	if _, err := whole.ReadAt(out, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return out, nil
}
