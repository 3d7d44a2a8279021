package web

import (
	"net/http"
	"net/url"
	"time"

	"github.com/camvault/camvault/internal/apperr"
	"github.com/camvault/camvault/internal/authz"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/events"
	"github.com/camvault/camvault/internal/homes"
	"github.com/camvault/camvault/internal/id"
)

// pageSize is how many events one load of the timeline shows; the next
// load comes as the person scrolls.
const pageSize = 24

// place is what the pages know about the homes and cameras a person can
// see: names for IDs, and the lists the filters offer.
type place struct {
	Homes   []homes.Home
	Locked  []homes.Home // homes that require a second factor the person has not set up
	Cameras []homes.Device
	camera  map[string]homes.Device
	home    map[string]homes.Home
}

func (p place) CameraName(deviceID string) string {
	if d, ok := p.camera[deviceID]; ok {
		return d.Name
	}
	return "A camera"
}

func (p place) HomeName(homeID string) string { return p.home[homeID].Name }

// places reads the homes and cameras u can see.
func (a *App) places(r *http.Request, u *user) (place, error) {
	hs, locked, err := a.listHomes(r.Context(), u.Principal)
	if err != nil {
		return place{}, err
	}
	pl := place{Homes: hs, Locked: locked, camera: map[string]homes.Device{}, home: map[string]homes.Home{}}
	for _, h := range hs {
		pl.home[h.ID] = h
		ds, err := a.homes.Devices(r.Context(), u.Principal, h.ID)
		if err != nil {
			return place{}, err
		}
		for _, d := range ds {
			pl.camera[d.ID] = d
			pl.Cameras = append(pl.Cameras, d)
		}
	}
	return pl, nil
}

// timelinePage is the Events page.
type timelinePage struct {
	place
	Kinds  []domain.EventKind
	Home   string
	Camera string
	Kind   string
	Date   string
	Events []events.View
	// Items are Events with a heading before the first of each day
	// (Today, Yesterday, Tuesday 1 December), in UTC; the page's script
	// redoes them in the viewer's time zone.
	Items []timelineItem
	More  string // the URL of the next page, or ""
	// Stream is the event stream's URL with the page's filters, on the
	// newest page only (older pages do not grow); "" on others.
	Stream string
	Notice string
	// Invitations wait for the person: the timeline is where logging in
	// lands.
	Invitations invitationsPanel
}

func (timelinePage) pageTitle() (string, string) { return "Events", "events" }

// timeline is GET /events: newest first, filtered by home, camera, kind
// and a day to jump to. With part=1 it answers only the next items, for
// the page's script to append as the person scrolls.
func (a *App) timeline(w http.ResponseWriter, r *http.Request, u *user) error {
	q := r.URL.Query()
	p := timelinePage{Kinds: domain.EventKinds(), Home: q.Get("home"), Camera: q.Get("camera"), Kind: q.Get("kind"), Date: q.Get("date"),
		Notice: noticeText(q.Get("done"))}
	pl, err := a.places(r, u)
	if err != nil {
		return err
	}
	p.place = pl
	lq := events.ListQuery{Home: p.Home, Device: p.Camera, Before: q.Get("before"), Limit: pageSize}
	if p.Kind != "" {
		lq.Kinds = []string{p.Kind}
	}
	if lq.Before == "" && p.Date != "" {
		day, err := time.Parse(time.DateOnly, p.Date)
		if err != nil {
			p.Date = ""
		} else {
			lq.Before = day.AddDate(0, 0, 1).UTC().Format(time.RFC3339)
		}
	}
	page, err := a.events.List(r.Context(), u.Principal, lq)
	if err != nil {
		return err
	}
	p.Events = page.Events
	p.Items = dayItems(page.Events, q.Get("day"), time.Now())
	if page.Next != "" {
		next := url.Values{"before": {page.Next}}
		if n := len(p.Items); n > 0 {
			next.Set("day", dayKey(p.Items[n-1].StartedAt))
		}
		for _, k := range []string{"home", "camera", "kind"} {
			if v := q.Get(k); v != "" {
				next.Set(k, v)
			}
		}
		p.More = "/events?" + next.Encode()
	}
	if q.Get("part") == "1" {
		return a.renderPart(w, r, "events", "items", p)
	}
	if lq.Before == "" {
		sq := url.Values{}
		for k, v := range map[string]string{"home": p.Home, "device": p.Camera, "kind": p.Kind} {
			if v != "" {
				sq.Set(k, v)
			}
		}
		p.Stream = "/api/v1/events/stream"
		if len(sq) > 0 {
			p.Stream += "?" + sq.Encode()
		}
	}
	if p.Invitations, err = a.invitationsFor(r, u); err != nil {
		return err
	}
	a.render(w, r, http.StatusOK, "events", u, p)
	return nil
}

// timelineItem is an event of the timeline, and the heading of its day
// when it is the first of the day shown.
type timelineItem struct {
	events.View
	Day    string // "" when it is not the first of its day
	DayKey string // its day, 2006-01-02
}

// dayItems heads each day's first event with the day's name, in UTC, as
// seen at now. prevDay is the day of the event shown just before the
// first (the previous page's last), which needs no second heading.
func dayItems(list []events.View, prevDay string, now time.Time) []timelineItem {
	out := make([]timelineItem, 0, len(list))
	for _, v := range list {
		it := timelineItem{View: v, DayKey: dayKey(v.StartedAt)}
		if it.DayKey != prevDay {
			it.Day = dayName(v.StartedAt, now)
			prevDay = it.DayKey
		}
		out = append(out, it)
	}
	return out
}

func dayKey(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// dayName is "Today", "Yesterday", or the day's weekday and date, with
// the year when it is not now's.
func dayName(t, now time.Time) string {
	t, now = t.UTC(), now.UTC()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	switch {
	case day.Equal(today):
		return "Today"
	case day.Equal(today.AddDate(0, 0, -1)):
		return "Yesterday"
	case day.Year() == today.Year():
		return day.Format("Monday 2 January")
	}
	return day.Format("Monday 2 January 2006")
}

// eventPage is one event: the picture enlarged and the clip.
type eventPage struct {
	Event events.View
	// Older and Newer are the events next to it in the person's
	// timeline, nil at either end.
	Older  *events.View
	Newer  *events.View
	Camera string
	Home   string
	Live   bool // the camera is still there to watch live
	// CanDelete: the viewer is an owner or admin of the event's home.
	CanDelete bool
}

func (eventPage) pageTitle() (string, string) { return "Event", "events" }

// eventPage is GET /events/{event}. Someone else's event and a missing one
// render the same not-found page.
func (a *App) eventPage(w http.ResponseWriter, r *http.Request, u *user) error {
	eventID := r.PathValue("event")
	if !id.Valid(eventID) {
		a.notFound(w, r, u)
		return nil
	}
	v, err := a.events.Get(r.Context(), u.Principal, eventID)
	if err != nil {
		return err
	}
	n, err := a.events.Neighbours(r.Context(), u.Principal, eventID, events.ListQuery{})
	if err != nil {
		return err
	}
	p := eventPage{Event: v, Older: n.Older, Newer: n.Newer, Camera: "A camera"}
	// The camera may have been unpaired since (then it is "A camera"); any
	// other failure is the page's.
	switch d, err := a.homes.Device(r.Context(), u.Principal, v.DeviceID); {
	case err == nil:
		p.Camera, p.Live = d.Name, true
	case apperr.CodeOf(err) != apperr.NotFound:
		return err
	}
	h, err := a.homes.Get(r.Context(), u.Principal, v.HomeID)
	if err != nil {
		return err
	}
	p.Home = h.Name
	p.CanDelete = authz.Allows(h.Role, authz.DeleteEvents)
	a.render(w, r, http.StatusOK, "event", u, p)
	return nil
}

// deleteEvent is POST /events/{event}/delete: owners and admins delete an
// event (its picture and clip go with it) and return to the timeline.
func (a *App) deleteEvent(w http.ResponseWriter, r *http.Request, u *user) error {
	eventID := r.PathValue("event")
	if !id.Valid(eventID) {
		a.notFound(w, r, u)
		return nil
	}
	if err := a.events.Delete(r.Context(), u.Principal, eventID); err != nil {
		return err
	}
	http.Redirect(w, r, "/events?done=deleted", http.StatusSeeOther)
	return nil
}
