package events_test

import (
	"bytes"
	"fmt"
	"io"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/apperr"
	"github.com/camvault/camvault/internal/audit"
	"github.com/camvault/camvault/internal/authz"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/events"
	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/media"
	"github.com/camvault/camvault/internal/servicetest"
)

// open reads an event's media as p would receive it, and its label.
func open(t *testing.T, e *servicetest.Env, p authz.Principal, eventID string, kind media.Kind) ([]byte, media.Label, error) {
	t.Helper()
	m, err := e.Events.Open(e.Ctx(), p, eventID, kind)
	if err != nil {
		return nil, media.Label{}, err
	}
	defer m.Close()
	b := m.Response.Blob
	raw, err := io.ReadAll(io.NewSectionReader(b, 0, b.Size()))
	if err != nil {
		t.Fatalf("read %s of %s: %v", kind, eventID, err)
	}
	if m.Grant.HomeID() != b.Label.Home {
		t.Errorf("%s of %s: granted for home %s, labelled %s", kind, eventID, m.Grant.HomeID(), b.Label.Home)
	}
	return raw, b.Label, nil
}

// blobs counts the blobs in the blob store.
func blobs(t *testing.T, e *servicetest.Env) int {
	t.Helper()
	n := 0
	if err := e.Blobs.List(e.Ctx(), "h/", func(string, time.Time) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

// ids lists the IDs of what p sees in the timeline for q.
func ids(t *testing.T, e *servicetest.Env, p authz.Principal, q events.ListQuery) []string {
	t.Helper()
	page, err := e.Events.List(e.Ctx(), p, q)
	if err != nil {
		t.Fatalf("list %+v: %v", q, err)
	}
	var out []string
	for _, v := range page.Events {
		out = append(out, v.ID)
	}
	return out
}

// notFoundAlike fails t unless err is exactly the not-found a missing
// object of the same kind gets.
func notFoundAlike(t *testing.T, what string, err, missing error) {
	t.Helper()
	if apperr.CodeOf(err) != apperr.NotFound || apperr.CodeOf(missing) != apperr.NotFound || err.Error() != missing.Error() {
		t.Errorf("%s: %v; a missing one: %v; want the same not-found", what, err, missing)
	}
}

func TestUploadViewAndDelete(t *testing.T) {
	t.Parallel()
	e := servicetest.New(t)
	ctx := e.Ctx()
	ann, bob := e.Person("ann"), e.Person("bob")
	home := e.Home(ann, "Home")
	cam := e.Camera(ann, home)
	e.Share(ann, home, bob, domain.RoleViewer)
	started := e.Clock.Now().Add(-5 * time.Minute)
	ev := e.Upload(cam, "ev-1", started, 100<<10)
	still := e.Upload(cam, "ev-2", started.Add(time.Second), 0)

	page, err := e.Events.List(ctx, bob.Principal, events.ListQuery{})
	if err != nil || len(page.Events) != 2 || page.Next != "" {
		t.Fatalf("timeline: %+v %v", page, err)
	}
	v := page.Events[1]
	if v.ID != ev.ID || v.HomeID != home || v.DeviceID != cam.DeviceID || v.Kind != "motion" || !v.StartedAt.Equal(started) ||
		v.ThumbnailURL != "/api/v1/events/"+ev.ID+"/thumbnail" || v.ClipURL == nil || page.Events[0].ClipURL != nil {
		t.Fatalf("event as listed: %+v", page.Events)
	}
	if got, err := e.Events.Get(ctx, bob.Principal, ev.ID); err != nil || !reflect.DeepEqual(got, v) {
		t.Fatalf("get: %+v %v; listed %+v", got, err, v)
	}

	for kind, want := range map[media.Kind][]byte{media.KindThumbnail: ev.Thumb, media.KindClip: ev.Clip} {
		raw, l, err := open(t, e, bob.Principal, ev.ID, kind)
		if err != nil || !bytes.Equal(raw, want) {
			t.Fatalf("%s: %d bytes, %v; want the %d bytes sent", kind, len(raw), err, len(want))
		}
		if l != (media.Label{Home: home, Device: cam.DeviceID, Event: ev.ID, Kind: kind}) {
			t.Errorf("%s labelled %+v", kind, l)
		}
	}
	_, _, err = open(t, e, bob.Principal, still.ID, media.KindClip)
	servicetest.WantCode(t, "the clip of an event without one", err, apperr.NotFound)

	// A thumbnail once read is served from the cache, the same bytes, even
	// with its blob gone (blobs are written once: the cache never needs to
	// ask the blob store again).
	if _, _, err := open(t, e, ann.Principal, still.ID, media.KindThumbnail); err != nil {
		t.Fatal(err)
	}
	if err := e.Blobs.Delete(ctx, "h/"+home+"/"+cam.DeviceID+"/"+still.ID+"/thumbnail"); err != nil {
		t.Fatal(err)
	}
	if raw, _, err := open(t, e, ann.Principal, still.ID, media.KindThumbnail); err != nil || !bytes.Equal(raw, still.Thumb) {
		t.Fatalf("a cached thumbnail: %v", err)
	}

	err = e.Events.Delete(ctx, bob.Principal, ev.ID)
	servicetest.WantCode(t, "a viewer deletes", err, apperr.Forbidden)
	if n := blobs(t, e); n != 2 {
		t.Fatalf("%d blobs, want 2 (a thumbnail and a clip)", n)
	}
	if err := e.Events.Delete(ctx, ann.Principal, ev.ID); err != nil {
		t.Fatal(err)
	}
	if n := blobs(t, e); n != 0 {
		t.Errorf("%d blobs after deleting the event, want none", n)
	}
	_, err = e.Events.Get(ctx, ann.Principal, ev.ID)
	servicetest.WantCode(t, "a deleted event", err, apperr.NotFound)
	_, _, err = open(t, e, ann.Principal, ev.ID, media.KindThumbnail)
	servicetest.WantCode(t, "the cached thumbnail of a deleted event", err, apperr.NotFound)
	if got := ids(t, e, ann.Principal, events.ListQuery{}); !slices.Equal(got, []string{still.ID}) {
		t.Errorf("timeline after the deletion: %v", got)
	}

	// Every look and the deletion are on record, newest first.
	entries, err := e.Audit.List(ctx, home, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, en := range entries {
		if en.EventID != "" { // not the sharing before it
			actions = append(actions, en.Action)
		}
	}
	want := []string{audit.DeleteEvent, audit.ViewEvent}
	if len(actions) < 2 || !slices.Equal(actions[:2], want) || actions[len(actions)-1] != audit.ViewEvent {
		t.Errorf("audit actions %v: want the deletion, then the look, first, and the first look last", actions)
	}
}

func TestUploadIsIdempotent(t *testing.T) {
	t.Parallel()
	e := servicetest.New(t)
	ctx := e.Ctx()
	ann := e.Person("ann")
	home := e.Home(ann, "Home")
	cam, other := e.Camera(ann, home), e.Camera(ann, home)
	started := e.Clock.Now().Add(-time.Minute)
	first := e.Upload(cam, "ev-1", started, 10<<10)

	// A retry stores nothing and answers with the same ID; the same event
	// ID from another camera is another event.
	if again := e.Upload(cam, "ev-1", started, 10<<10); again.ID != first.ID {
		t.Fatalf("a retry made event %s; the first was %s", again.ID, first.ID)
	}
	if elsewhere := e.Upload(other, "ev-1", started, 0); elsewhere.ID == first.ID {
		t.Fatal("two cameras' events with one event_id are one event")
	}
	if n := blobs(t, e); n != 3 {
		t.Fatalf("%d blobs, want 3: a retry stores nothing", n)
	}

	// A retry of a deleted event stays deleted.
	if err := e.Events.Delete(ctx, ann.Principal, first.ID); err != nil {
		t.Fatal(err)
	}
	if again := e.Upload(cam, "ev-1", started, 10<<10); again.ID != first.ID {
		t.Fatalf("a retry after deletion made event %s", again.ID)
	}
	if got := ids(t, e, ann.Principal, events.ListQuery{Device: cam.DeviceID}); len(got) != 0 {
		t.Errorf("a deleted event came back: %v", got)
	}

	// Only a camera uploads, into its own home.
	_, err := e.Events.Begin(ctx, ann.Principal, events.Meta{EventID: "ev-9", StartedAt: started, Kind: "motion"})
	servicetest.WantCode(t, "a person uploads", err, apperr.Unauthorized)
	u, err := e.Events.Begin(ctx, cam.Principal, events.Meta{EventID: "ev-9", StartedAt: started, Kind: "motion"})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = u.Commit(ctx)
	servicetest.WantCode(t, "an upload without a thumbnail", err, apperr.Invalid)
	err = u.Thumbnail(ctx, bytes.NewReader([]byte("not a jpeg")))
	servicetest.WantCode(t, "a thumbnail that is not a JPEG", err, apperr.Invalid)
	if err := u.Thumbnail(ctx, bytes.NewReader(servicetest.JPEG(t))); err != nil {
		t.Fatal(err)
	}
	err = u.Clip(ctx, bytes.NewReader([]byte("not an mp4 at all")))
	servicetest.WantCode(t, "a clip that is not an MP4", err, apperr.Invalid)
	u.Abort(ctx)
	if n := blobs(t, e); n != 1 {
		t.Errorf("%d blobs after an aborted upload, want 1 (the other camera's event)", n)
	}
}

func TestOtherHouseholdsSeeNotFound(t *testing.T) {
	t.Parallel()
	e := servicetest.New(t)
	ctx := e.Ctx()
	ann, mallory := e.Person("ann"), e.Person("mallory")
	home := e.Home(ann, "Home")
	e.Home(mallory, "Mine")
	cam := e.Camera(ann, home)
	ev := e.Upload(cam, "ev-1", e.Clock.Now().Add(-time.Minute), 0)
	nobody := id.New()

	_, err := e.Events.Get(ctx, mallory.Principal, ev.ID)
	_, missing := e.Events.Get(ctx, mallory.Principal, nobody)
	notFoundAlike(t, "get another home's event", err, missing)
	_, err = e.Events.Open(ctx, mallory.Principal, ev.ID, media.KindThumbnail)
	_, missing = e.Events.Open(ctx, mallory.Principal, nobody, media.KindThumbnail)
	notFoundAlike(t, "open another home's thumbnail", err, missing)
	err = e.Events.Delete(ctx, mallory.Principal, ev.ID)
	missing = e.Events.Delete(ctx, mallory.Principal, nobody)
	notFoundAlike(t, "delete another home's event", err, missing)
	_, err = e.Events.List(ctx, mallory.Principal, events.ListQuery{Home: home})
	_, missing = e.Events.List(ctx, mallory.Principal, events.ListQuery{Home: nobody})
	notFoundAlike(t, "list another home", err, missing)
	_, err = e.Events.List(ctx, mallory.Principal, events.ListQuery{Device: cam.DeviceID})
	_, missing = e.Events.List(ctx, mallory.Principal, events.ListQuery{Device: nobody})
	notFoundAlike(t, "list another home's camera", err, missing)
	if got := ids(t, e, mallory.Principal, events.ListQuery{}); len(got) != 0 {
		t.Errorf("a stranger's timeline shows %v", got)
	}
	// Malformed IDs answer as missing ones, before any lookup.
	_, err = e.Events.List(ctx, mallory.Principal, events.ListQuery{Home: "../x"})
	_, missing = e.Events.List(ctx, mallory.Principal, events.ListQuery{Home: nobody})
	notFoundAlike(t, "list a home that cannot be an ID", err, missing)
}

// TestViewerLimitedToCamera: a viewer given one camera sees its events
// only, and an unshare is seen by the next request through the cached
// grants.
func TestViewerLimitedToCamera(t *testing.T) {
	t.Parallel()
	e := servicetest.New(t)
	ctx := e.Ctx()
	ann, bob := e.Person("ann"), e.Person("bob")
	home := e.Home(ann, "Home")
	front, back := e.Camera(ann, home), e.Camera(ann, home)
	now := e.Clock.Now()
	seen := e.Upload(front, "f-1", now.Add(-2*time.Minute), 0)
	hidden := e.Upload(back, "b-1", now.Add(-time.Minute), 0)
	e.Share(ann, home, bob, domain.RoleViewer, front.DeviceID)

	for _, q := range []events.ListQuery{{}, {Home: home}, {Device: front.DeviceID}, {Home: home, Device: front.DeviceID}} {
		if got := ids(t, e, bob.Principal, q); !slices.Equal(got, []string{seen.ID}) {
			t.Errorf("bob lists %+v: %v, want only the front door's", q, got)
		}
	}
	_, err := e.Events.List(ctx, bob.Principal, events.ListQuery{Device: back.DeviceID})
	servicetest.WantCode(t, "list a camera not given", err, apperr.NotFound)
	_, err = e.Events.Get(ctx, bob.Principal, hidden.ID)
	servicetest.WantCode(t, "get an event of a camera not given", err, apperr.NotFound)
	_, err = e.Events.Open(ctx, bob.Principal, hidden.ID, media.KindThumbnail)
	servicetest.WantCode(t, "open an event of a camera not given", err, apperr.NotFound)

	// Warm in the cache, then revoked: the very next request is refused.
	if _, err := e.Events.Get(ctx, bob.Principal, seen.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.Homes.RemoveMember(ctx, ann.Principal, home, bob.AccountID); err != nil {
		t.Fatal(err)
	}
	_, err = e.Events.Get(ctx, bob.Principal, seen.ID)
	servicetest.WantCode(t, "an event after the unshare", err, apperr.NotFound)
	if got := ids(t, e, bob.Principal, events.ListQuery{}); len(got) != 0 {
		t.Errorf("bob's timeline after the unshare: %v", got)
	}
}

func TestTimelinePages(t *testing.T) {
	t.Parallel()
	e := servicetest.New(t)
	ctx := e.Ctx()
	ann := e.Person("ann")
	home := e.Home(ann, "Home")
	cam := e.Camera(ann, home)
	base := e.Clock.Now().Add(-time.Hour)
	var newestFirst []string
	for i := range 7 {
		ev := e.Upload(cam, "ev-"+string(rune('a'+i)), base.Add(time.Duration(i)*time.Minute), 0)
		newestFirst = append([]string{ev.ID}, newestFirst...)
	}

	var got []string
	q := events.ListQuery{Limit: 3}
	for pages := 0; ; pages++ {
		if pages > 3 {
			t.Fatal("the pages do not end")
		}
		page, err := e.Events.List(ctx, ann.Principal, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range page.Events {
			got = append(got, v.ID)
		}
		if page.Next == "" {
			break
		}
		q.Before = page.Next
	}
	if !slices.Equal(got, newestFirst) {
		t.Errorf("pages gave %v, want %v", got, newestFirst)
	}

	// A time is a cursor too: what started before it.
	before := base.Add(2 * time.Minute).Format(time.RFC3339)
	if got := ids(t, e, ann.Principal, events.ListQuery{Before: before}); !slices.Equal(got, newestFirst[5:]) {
		t.Errorf("before %s: %v, want %v", before, got, newestFirst[5:])
	}
	if got := ids(t, e, ann.Principal, events.ListQuery{Kinds: []string{"person", "sound"}}); len(got) != 0 {
		t.Errorf("kinds that were not sent: %v", got)
	}
	for _, q := range []events.ListQuery{{Limit: -1}, {Limit: 201}, {Kinds: []string{"cat"}}, {Before: "yesterday"}} {
		_, err := e.Events.List(ctx, ann.Principal, q)
		servicetest.WantCode(t, "a bad query", err, apperr.Invalid)
	}
}

func TestRetention(t *testing.T) {
	t.Parallel()
	e := servicetest.New(t)
	ctx := e.Ctx()
	ann := e.Person("ann")
	home := e.Home(ann, "Home")
	cam := e.Camera(ann, home)
	one := 1
	if _, err := e.Homes.Update(ctx, ann.Principal, home, nil, &one); err != nil {
		t.Fatal(err)
	}
	old := e.Upload(cam, "old", e.Clock.Now().Add(-time.Hour), 10<<10)
	e.Clock.Advance(23 * time.Hour)
	young := e.Upload(cam, "young", e.Clock.Now(), 0)

	if n, err := e.Events.Sweep(ctx); err != nil || n != 0 {
		t.Fatalf("sweep within retention: %d %v", n, err)
	}
	e.Clock.Advance(2 * time.Hour) // the old event is 26 hours old, the young one 2
	if n, err := e.Events.Sweep(ctx); err != nil || n != 1 {
		t.Fatalf("sweep: %d %v, want the old event removed", n, err)
	}
	if got := ids(t, e, ann.Principal, events.ListQuery{}); !slices.Equal(got, []string{young.ID}) {
		t.Errorf("timeline after the sweep: %v", got)
	}
	if n := blobs(t, e); n != 1 {
		t.Errorf("%d blobs after the sweep, want the young event's thumbnail", n)
	}
	if again := e.Upload(cam, "old", e.Clock.Now().Add(-26*time.Hour), 0); again.ID != old.ID {
		t.Errorf("a retry of an expired event made %s", again.ID)
	}
}

// TestCameraClockOff: retention counts from the server's receipt, not the
// camera's clock. A camera whose clock reset to 2000 after a power cut, or
// ran a year ahead, loses nothing: its events are kept, dated by their
// receipt; a camera a few days behind keeps its own times, and its events
// still live their home's whole retention from when they arrived.
func TestCameraClockOff(t *testing.T) {
	t.Parallel()
	e := servicetest.New(t)
	ctx := e.Ctx()
	ann := e.Person("ann")
	home := e.Home(ann, "Home")
	cam := e.Camera(ann, home)
	one := 1
	if _, err := e.Homes.Update(ctx, ann.Principal, home, nil, &one); err != nil {
		t.Fatal(err)
	}
	now := e.Clock.Now()
	reset := e.Upload(cam, "reset", time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), 0)
	ahead := e.Upload(cam, "ahead", now.AddDate(1, 0, 0), 0)
	behind := e.Upload(cam, "behind", now.Add(-72*time.Hour), 0)
	if n, err := e.Events.Sweep(ctx); err != nil || n != 0 {
		t.Fatalf("sweep just after receipt: %d removed, %v; want none", n, err)
	}
	for _, c := range []struct {
		what string
		id   string
		want time.Time
	}{{"a clock reset to 2000", reset.ID, now}, {"a clock a year ahead", ahead.ID, now}, {"a clock three days behind", behind.ID, now.Add(-72 * time.Hour)}} {
		v, err := e.Events.Get(ctx, ann.Principal, c.id)
		if err != nil {
			t.Fatalf("%s: %v", c.what, err)
		}
		if !v.StartedAt.Equal(c.want.UTC().Truncate(time.Microsecond)) {
			t.Errorf("%s: dated %v, want %v", c.what, v.StartedAt, c.want)
		}
	}
	e.Clock.Advance(25 * time.Hour)
	if n, err := e.Events.Sweep(ctx); err != nil || n != 3 {
		t.Fatalf("sweep a retention after receipt: %d removed, %v; want all 3", n, err)
	}
}

func TestRemoveOrphans(t *testing.T) {
	t.Parallel()
	e := servicetest.New(t)
	ctx := e.Ctx()
	ann := e.Person("ann")
	home := e.Home(ann, "Home")
	cam := e.Camera(ann, home)
	kept := e.Upload(cam, "ev-1", e.Clock.Now().Add(-time.Minute), 0)
	// What a crash between storing a blob and committing its record
	// leaves: a blob no record names, and one not even shaped as ours.
	for _, key := range []string{"h/" + home + "/" + cam.DeviceID + "/" + id.New() + "/thumbnail", "h/stray"} {
		if _, err := e.Blobs.Put(ctx, key, bytes.NewReader([]byte("orphan"))); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := e.Events.RemoveOrphans(ctx, time.Hour); err != nil || n != 0 {
		t.Fatalf("young orphans removed with a minimum age: %d %v", n, err)
	}
	if n, err := e.Events.RemoveOrphans(ctx, 0); err != nil || n != 2 {
		t.Fatalf("orphans removed: %d %v, want 2", n, err)
	}
	if raw, _, err := open(t, e, ann.Principal, kept.ID, media.KindThumbnail); err != nil || !bytes.Equal(raw, kept.Thumb) {
		t.Fatalf("an event's thumbnail after the orphan sweep: %v", err)
	}
}

// TestNeighboursStayInScope checks the links between an event and the
// ones next to it: for each person, walking them gives exactly that
// person's timeline, never an event of another home or of a camera a
// limited viewer was not given, and an event a person may not see has no
// neighbours for them, exactly as a missing one.
func TestNeighboursStayInScope(t *testing.T) {
	t.Parallel()
	e := servicetest.New(t)
	ctx := e.Ctx()
	ann, bob, carol := e.Person("ann"), e.Person("bob"), e.Person("carol")
	home, other := e.Home(ann, "Ann's"), e.Home(carol, "Carol's")
	front, back := e.Camera(ann, home), e.Camera(ann, home)
	garden := e.Camera(carol, other)
	e.Share(ann, home, bob, domain.RoleViewer, front.DeviceID)

	// Interleaved in time, two at the same instant.
	base := e.Clock.Now().Add(-time.Hour)
	byID := map[string]string{}
	for i, cam := range []servicetest.Camera{front, back, garden, front, back, garden, front, garden, back, front} {
		started := base.Add(time.Duration(i) * time.Minute)
		if i == 8 {
			started = base.Add(7 * time.Minute)
		}
		ev := e.Upload(cam, fmt.Sprintf("n-%d", i), started, 0)
		byID[ev.ID] = cam.DeviceID
	}

	walk := func(who string, p authz.Principal, q events.ListQuery) {
		t.Helper()
		want := ids(t, e, p, q)
		if len(want) < 2 {
			t.Fatalf("%s sees %d events: too few to test", who, len(want))
		}
		for i, evID := range want {
			n, err := e.Events.Neighbours(ctx, p, evID, q)
			if err != nil {
				t.Fatalf("%s: neighbours of %s: %v", who, evID, err)
			}
			var older, newer string
			if n.Older != nil {
				older = n.Older.ID
			}
			if n.Newer != nil {
				newer = n.Newer.ID
			}
			var wantOlder, wantNewer string
			if i+1 < len(want) {
				wantOlder = want[i+1]
			}
			if i > 0 {
				wantNewer = want[i-1]
			}
			if older != wantOlder || newer != wantNewer {
				t.Errorf("%s: neighbours of event %d of %d: older %q newer %q, want %q and %q", who, i, len(want), older, newer, wantOlder, wantNewer)
			}
		}
	}
	walk("ann", ann.Principal, events.ListQuery{})
	walk("ann, front camera", ann.Principal, events.ListQuery{Device: front.DeviceID})
	walk("ann, motion", ann.Principal, events.ListQuery{Kinds: []string{"motion"}})
	walk("bob, limited to the front camera", bob.Principal, events.ListQuery{})
	walk("carol", carol.Principal, events.ListQuery{})
	for _, evID := range ids(t, e, bob.Principal, events.ListQuery{}) {
		if byID[evID] != front.DeviceID {
			t.Errorf("bob's timeline has an event of camera %s", byID[evID])
		}
	}

	_, missing := e.Events.Neighbours(ctx, bob.Principal, id.New(), events.ListQuery{})
	for evID, cam := range byID {
		_, err := e.Events.Neighbours(ctx, bob.Principal, evID, events.ListQuery{})
		switch cam {
		case front.DeviceID:
			if err != nil {
				t.Errorf("bob, an event of his camera: %v", err)
			}
		default:
			notFoundAlike(t, "bob, an event of another camera or home", err, missing)
		}
		if cam != garden.DeviceID {
			_, err := e.Events.Neighbours(ctx, carol.Principal, evID, events.ListQuery{})
			notFoundAlike(t, "carol, an event of Ann's home", err, missing)
		}
	}
}
