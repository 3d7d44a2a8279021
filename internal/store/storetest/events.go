package storetest

import (
	"cmp"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/store"
)

const day = 24 * time.Hour

func normEvent(e domain.Event) domain.Event {
	e.StartedAt, e.CreatedAt = normTime(e.StartedAt), normTime(e.CreatedAt)
	return e
}

func eventID(e domain.Event) string { return e.ID }

func eventValue(homeID, deviceID string, kind domain.EventKind, started time.Time) domain.Event {
	e := domain.Event{ID: id.New(), HomeID: homeID, DeviceID: deviceID, DeviceEventID: "cam-" + id.New(), Kind: kind,
		StartedAt: started, CreatedAt: started.Add(time.Second), ThumbSize: 12345, ClipSize: 6 << 20,
		ClipCodec: "h265", ClipDurationMS: 8_123, ClipWidth: 3840, ClipHeight: 2160}
	e.ThumbKey = "h/" + homeID + "/" + deviceID + "/" + e.ID + "/thumb"
	e.ClipKey = "h/" + homeID + "/" + deviceID + "/" + e.ID + "/clip"
	return e
}

func newEvent(t *testing.T, s store.Store, homeID, deviceID string, kind domain.EventKind, started time.Time) domain.Event {
	t.Helper()
	e := eventValue(homeID, deviceID, kind, started)
	_, created, err := s.CreateEvent(t.Context(), e)
	check(t, "create event", err)
	if !created {
		t.Fatalf("a new event was not created")
	}
	return e
}

// newestFirst sorts events as ListEvents returns them.
func newestFirst(list []domain.Event) []domain.Event {
	out := slices.Clone(list)
	slices.SortFunc(out, func(a, b domain.Event) int {
		if c := normTime(b.StartedAt).Compare(normTime(a.StartedAt)); c != 0 {
			return c
		}
		return cmp.Compare(b.ID, a.ID)
	})
	return out
}

func filter(list []domain.Event, keep func(domain.Event) bool) []domain.Event {
	var out []domain.Event
	for _, e := range list {
		if keep(e) {
			out = append(out, e)
		}
	}
	return out
}

func testEvents(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := newAccount(t, s)
	h := newHome(t, s, a.ID)
	d, d2 := newDevice(t, s, a.ID, h.ID), newDevice(t, s, a.ID, h.ID)

	e := eventValue(h.ID, d.ID, "motion", at(0))
	stored, created, err := s.CreateEvent(ctx, e)
	check(t, "create event", err)
	if !created {
		t.Fatalf("a new event was not created")
	}
	same(t, "created event", stored, e, normEvent)
	got, err := s.EventByID(ctx, e.ID)
	check(t, "event by id", err)
	same(t, "event by id", got, e, normEvent)
	got, err = s.EventByDeviceEventID(ctx, d.ID, e.DeviceEventID)
	check(t, "event by device event id", err)
	same(t, "event by device event id", got, e, normEvent)

	// A retry (same camera, same camera event ID) stores nothing and
	// answers with the first event.
	retry := eventValue(h.ID, d.ID, "person", at(time.Minute))
	retry.DeviceEventID = e.DeviceEventID
	stored, created, err = s.CreateEvent(ctx, retry)
	check(t, "retry", err)
	if created {
		t.Fatalf("a retry created a second event")
	}
	same(t, "event returned to a retry", stored, e, normEvent)
	_, err = s.EventByID(ctx, retry.ID)
	mustNotFound(t, "the retry's own ID", err)
	if ok, err := s.EventRecordExists(ctx, retry.ID); err != nil || ok {
		t.Fatalf("record of the retry's own ID: %v, %v", ok, err)
	}
	if ok, err := s.EventRecordExists(ctx, e.ID); err != nil || !ok {
		t.Fatalf("record of the event: %v, %v", ok, err)
	}

	// Camera event IDs are per camera.
	other := eventValue(h.ID, d2.ID, "motion", at(0))
	other.DeviceEventID = e.DeviceEventID
	other.ClipKey, other.ClipSize = "", 0 // an event without a clip
	other.ClipCodec, other.ClipDurationMS, other.ClipWidth, other.ClipHeight = "", 0, 0, 0
	stored, created, err = s.CreateEvent(ctx, other)
	check(t, "same camera event ID on another camera", err)
	if !created {
		t.Fatalf("another camera's event with the same camera event ID was not created")
	}
	same(t, "event without a clip", stored, other, normEvent)
	got, err = s.EventByDeviceEventID(ctx, d2.ID, e.DeviceEventID)
	check(t, "event by device event id", err)
	same(t, "other camera's event", got, other, normEvent)

	// A server-chosen ID used twice is a bug, never a retry.
	clash := eventValue(h.ID, d2.ID, "motion", at(0))
	clash.ID = e.ID
	if _, _, err := s.CreateEvent(ctx, clash); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second event with one ID: %v, want ErrConflict", err)
	}
	got, _ = s.EventByID(ctx, e.ID)
	same(t, "event after a refused ID clash", got, e, normEvent)

	_, err = s.EventByID(ctx, id.New())
	mustNotFound(t, "missing event", err)
	_, err = s.EventByDeviceEventID(ctx, d.ID, "cam-"+id.New())
	mustNotFound(t, "missing camera event ID", err)
	_, err = s.EventByDeviceEventID(ctx, id.New(), e.DeviceEventID)
	mustNotFound(t, "camera event ID of another camera", err)
}

func testEventRetryRace(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := newAccount(t, s)
	h := newHome(t, s, a.ID)
	d := newDevice(t, s, a.ID, h.ID)
	deviceEventID := "cam-" + id.New()
	const n = 16
	type result struct {
		stored  domain.Event
		created bool
		err     error
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			e := eventValue(h.ID, d.ID, "motion", at(0))
			e.DeviceEventID = deviceEventID
			var r result
			r.stored, r.created, r.err = s.CreateEvent(ctx, e)
			results[i] = r
		})
	}
	wg.Wait()
	var winner string
	for _, r := range results {
		check(t, "racing retry", r.err)
		if r.created {
			if winner != "" {
				t.Fatalf("two racing retries both created an event")
			}
			winner = r.stored.ID
		}
	}
	if winner == "" {
		t.Fatalf("no racing retry created the event")
	}
	for _, r := range results {
		if r.stored.ID != winner {
			t.Fatalf("a racing retry answered with event %s, the stored one is %s", r.stored.ID, winner)
		}
	}
	got, err := s.EventByDeviceEventID(ctx, d.ID, deviceEventID)
	check(t, "event by device event id", err)
	if got.ID != winner {
		t.Fatalf("stored event %s, winner %s", got.ID, winner)
	}
}

// testEventKinds stores an event of every kind: each reads back as the
// kind it was, and a filter on kinds finds exactly its events.
func testEventKinds(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := newAccount(t, s)
	h := newHome(t, s, a.ID)
	d := newDevice(t, s, a.ID, h.ID)
	var all []domain.Event
	for i, k := range domain.EventKinds() {
		e := newEvent(t, s, h.ID, d.ID, k, at(time.Duration(i)*time.Minute))
		got, err := s.EventByID(ctx, e.ID)
		check(t, "event by id", err)
		same(t, "event of kind "+string(k), got, e, normEvent)
		list, err := s.ListEvents(ctx, store.EventQuery{Scopes: []store.EventScope{{HomeID: h.ID}}, Kinds: []domain.EventKind{k}, Limit: 100})
		check(t, "list "+string(k), err)
		sameList(t, "events of kind "+string(k), list, []domain.Event{e}, normEvent)
		all = append(all, e)
	}
	list, err := s.ListEvents(ctx, store.EventQuery{Scopes: []store.EventScope{{HomeID: h.ID}}, Kinds: domain.EventKinds(), Limit: 100})
	check(t, "list every kind", err)
	sameList(t, "events of every kind", list, newestFirst(all), normEvent)
}

func testListEvents(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := newAccount(t, s), newAccount(t, s)
	h, other := newHome(t, s, a.ID), newHome(t, s, b.ID)
	d1, d2 := newDevice(t, s, a.ID, h.ID), newDevice(t, s, a.ID, h.ID)
	do := newDevice(t, s, b.ID, other.ID)

	var inH, inOther []domain.Event
	for i := range 5 {
		m := time.Duration(i) * time.Minute
		inH = append(inH, newEvent(t, s, h.ID, d1.ID, "motion", at(m)), newEvent(t, s, h.ID, d2.ID, "person", at(m+30*time.Second)))
		inOther = append(inOther, newEvent(t, s, other.ID, do.ID, "motion", at(m)))
	}
	// Events started at the same instant: the ID orders them.
	for range 3 {
		inH = append(inH, newEvent(t, s, h.ID, d1.ID, "sound", at(10*time.Minute)))
	}
	gone := newEvent(t, s, h.ID, d1.ID, "motion", at(20*time.Minute))
	_, err := s.MarkEventDeleted(ctx, gone.ID, at(time.Hour))
	check(t, "mark deleted", err)
	inH = newestFirst(inH)

	query := func(what string, q store.EventQuery, want []domain.Event) {
		t.Helper()
		got, err := s.ListEvents(ctx, q)
		check(t, what, err)
		sameList(t, what, got, want, normEvent)
	}
	whole := func(homeID string) []store.EventScope { return []store.EventScope{{HomeID: homeID}} }
	onDevice := func(id string) func(domain.Event) bool { return func(e domain.Event) bool { return e.DeviceID == id } }

	query("a whole home", store.EventQuery{Scopes: whole(h.ID), Limit: 100}, inH)
	query("the other home", store.EventQuery{Scopes: whole(other.ID), Limit: 100}, newestFirst(inOther))
	query("one camera", store.EventQuery{Scopes: []store.EventScope{{HomeID: h.ID, Devices: []string{d2.ID}}}, Limit: 100},
		filter(inH, onDevice(d2.ID)))
	query("an empty camera list reads nothing", store.EventQuery{Scopes: []store.EventScope{{HomeID: h.ID, Devices: []string{}}}, Limit: 100}, nil)
	query("no scope reads nothing", store.EventQuery{Limit: 100}, nil)
	query("another home's camera under this home", store.EventQuery{Scopes: []store.EventScope{{HomeID: h.ID, Devices: []string{do.ID}}}, Limit: 100}, nil)
	query("two scopes", store.EventQuery{Scopes: []store.EventScope{{HomeID: h.ID, Devices: []string{d1.ID}}, {HomeID: other.ID}}, Limit: 100},
		newestFirst(append(filter(inH, onDevice(d1.ID)), inOther...)))
	query("one kind", store.EventQuery{Scopes: whole(h.ID), Kinds: []domain.EventKind{"person"}, Limit: 100},
		filter(inH, func(e domain.Event) bool { return e.Kind == "person" }))
	query("two kinds", store.EventQuery{Scopes: whole(h.ID), Kinds: []domain.EventKind{"person", "sound"}, Limit: 100},
		filter(inH, func(e domain.Event) bool { return e.Kind != "motion" }))
	query("limit", store.EventQuery{Scopes: whole(h.ID), Limit: 4}, inH[:4])
	query("limit 0", store.EventQuery{Scopes: whole(h.ID), Limit: 0}, nil)
	before := at(2 * time.Minute)
	query("before a time", store.EventQuery{Scopes: whole(h.ID), BeforeTime: before, Limit: 100},
		filter(inH, func(e domain.Event) bool { return normTime(e.StartedAt).Before(normTime(before)) }))

	// Paging with the (started, ID) cursor of the last event seen walks
	// the whole list, ties included, once.
	var walked []domain.Event
	q := store.EventQuery{Scopes: whole(h.ID), Limit: 3}
	for range len(inH) + 1 {
		page, err := s.ListEvents(ctx, q)
		check(t, "page", err)
		if len(page) == 0 {
			break
		}
		walked = append(walked, page...)
		last := page[len(page)-1]
		q.BeforeTime, q.BeforeID = last.StartedAt, last.ID
	}
	sameList(t, "pages", walked, inH, normEvent)

	// Reading after an event walks the other way, oldest first, ties
	// included: from the oldest event, the rest in reverse.
	oldestFirst := slices.Clone(inH)
	slices.Reverse(oldestFirst)
	walked = oldestFirst[:1]
	q = store.EventQuery{Scopes: whole(h.ID), Limit: 3}
	for range len(inH) + 1 {
		last := walked[len(walked)-1]
		q.AfterTime, q.AfterID = last.StartedAt, last.ID
		page, err := s.ListEvents(ctx, q)
		check(t, "page after", err)
		if len(page) == 0 {
			break
		}
		walked = append(walked, page...)
	}
	sameList(t, "pages after", walked, oldestFirst, normEvent)
	query("after a time", store.EventQuery{Scopes: whole(h.ID), AfterTime: before, Limit: 100},
		filter(oldestFirst, func(e domain.Event) bool { return normTime(e.StartedAt).After(normTime(before)) }))
	query("after the newest", store.EventQuery{Scopes: whole(h.ID), AfterTime: inH[0].StartedAt, AfterID: inH[0].ID, Limit: 100}, nil)

	// The same across several homes, cameras and kinds, which the stores
	// read as separate streams and merge: every page in order, ties
	// included, each event once, even with a kind named twice.
	wide := store.EventQuery{
		Scopes: []store.EventScope{{HomeID: h.ID, Devices: []string{d2.ID, d1.ID}}, {HomeID: other.ID}},
		Kinds:  []domain.EventKind{"sound", "motion", "sound"},
		Limit:  3,
	}
	want := newestFirst(filter(append(slices.Clone(inH), inOther...), func(e domain.Event) bool { return e.Kind != "person" }))
	query("several streams, one page", wide, want[:3])
	walked = nil
	for range len(want) + 1 {
		page, err := s.ListEvents(ctx, wide)
		check(t, "page of several streams", err)
		if len(page) == 0 {
			break
		}
		walked = append(walked, page...)
		last := page[len(page)-1]
		wide.BeforeTime, wide.BeforeID = last.StartedAt, last.ID
	}
	sameList(t, "pages of several streams", walked, want, normEvent)
	// And after an event, across the same streams: the next ones up,
	// oldest first, never another scope's.
	mid := want[len(want)/2]
	wide.BeforeTime, wide.BeforeID = time.Time{}, ""
	wide.AfterTime, wide.AfterID = mid.StartedAt, mid.ID
	newer := slices.Clone(want[:len(want)/2])
	slices.Reverse(newer)
	query("several streams, after an event", wide, newer[:min(3, len(newer))])
	wide.AfterTime, wide.AfterID = time.Time{}, ""
	wide.BeforeTime, wide.BeforeID, wide.Kinds = time.Time{}, "", nil
	wide.Scopes = append(wide.Scopes, store.EventScope{HomeID: h.ID})
	wide.Limit = 100
	query("a home also named whole", wide, newestFirst(append(slices.Clone(inH), inOther...)))
}

func testDeleteEvent(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := newAccount(t, s)
	h := newHome(t, s, a.ID)
	d := newDevice(t, s, a.ID, h.ID)
	e1, e2, e3 := newEvent(t, s, h.ID, d.ID, "motion", at(0)), newEvent(t, s, h.ID, d.ID, "motion", at(time.Minute)), newEvent(t, s, h.ID, d.ID, "motion", at(2*time.Minute))

	got, err := s.MarkEventDeleted(ctx, e1.ID, at(time.Hour))
	check(t, "mark deleted", err)
	same(t, "event marked deleted", got, e1, normEvent)
	_, err = s.EventByID(ctx, e1.ID)
	mustNotFound(t, "event marked deleted, by ID", err)
	got, err = s.EventByDeviceEventID(ctx, d.ID, e1.DeviceEventID)
	check(t, "event marked deleted, by camera event ID", err)
	same(t, "event marked deleted, by camera event ID", got, e1, normEvent)
	if ok, err := s.EventRecordExists(ctx, e1.ID); err != nil || !ok {
		t.Fatalf("record of an event marked deleted: %v, %v", ok, err)
	}
	list, err := s.ListEvents(ctx, store.EventQuery{Scopes: []store.EventScope{{HomeID: h.ID}}, Limit: 10})
	check(t, "list", err)
	sameList(t, "live events", list, []domain.Event{e3, e2}, normEvent)
	_, err = s.MarkEventDeleted(ctx, e1.ID, at(time.Hour))
	mustNotFound(t, "mark deleted twice", err)
	_, err = s.MarkEventDeleted(ctx, id.New(), at(time.Hour))
	mustNotFound(t, "mark a missing event deleted", err)

	// A camera retrying an event being deleted does not bring it back.
	retry := eventValue(h.ID, d.ID, "motion", at(0))
	retry.DeviceEventID = e1.DeviceEventID
	stored, created, err := s.CreateEvent(ctx, retry)
	check(t, "retry of an event marked deleted", err)
	if created || stored.ID != e1.ID {
		t.Fatalf("retry of an event marked deleted: created %v, event %s", created, stored.ID)
	}
	_, err = s.EventByID(ctx, e1.ID)
	mustNotFound(t, "event marked deleted, after a retry", err)

	deleted, err := s.DeletedEvents(ctx, 10)
	check(t, "deleted events", err)
	sameList(t, "deleted events", deleted, []domain.Event{e1}, normEvent)

	mustNotFound(t, "purge a live event", s.PurgeEvent(ctx, e2.ID, at(time.Hour)))
	got, err = s.EventByID(ctx, e2.ID)
	check(t, "live event after a refused purge", err)
	same(t, "live event after a refused purge", got, e2, normEvent)

	check(t, "purge", s.PurgeEvent(ctx, e1.ID, at(time.Hour)))
	// The purged row stays as a tombstone: a camera retrying the event
	// finds it, and gets it back as not created, until the tombstone goes.
	if ok, err := s.EventRecordExists(ctx, e1.ID); err != nil || !ok {
		t.Fatalf("tombstone of a purged event: %v, %v", ok, err)
	}
	tomb, err := s.EventByDeviceEventID(ctx, d.ID, e1.DeviceEventID)
	check(t, "purged event by camera event ID", err)
	if tomb.ID != e1.ID {
		t.Fatalf("tombstone has ID %s, want %s", tomb.ID, e1.ID)
	}
	if stored, created, err := s.CreateEvent(ctx, retry); err != nil || created || stored.ID != e1.ID {
		t.Fatalf("retry of a purged event: created %v, %s, %v", created, stored.ID, err)
	}
	_, err = s.EventByID(ctx, e1.ID)
	mustNotFound(t, "purged event", err)
	mustNotFound(t, "purge twice", s.PurgeEvent(ctx, e1.ID, at(time.Hour)))
	if n, err := s.DropTombstones(ctx, at(time.Hour)); err != nil || n != 0 {
		t.Fatalf("drop tombstones purged before the purge: %d, %v", n, err)
	}
	if n, err := s.DropTombstones(ctx, at(2*time.Hour)); err != nil || n != 1 {
		t.Fatalf("drop tombstones: %d, %v", n, err)
	}
	if ok, err := s.EventRecordExists(ctx, e1.ID); err != nil || ok {
		t.Fatalf("record after its tombstone was dropped: %v, %v", ok, err)
	}
	_, err = s.EventByDeviceEventID(ctx, d.ID, e1.DeviceEventID)
	mustNotFound(t, "dropped tombstone by camera event ID", err)
	deleted, err = s.DeletedEvents(ctx, 10)
	check(t, "deleted events after purge", err)
	sameList(t, "deleted events after purge", deleted, nil, normEvent)

	for _, e := range []domain.Event{e2, e3} {
		_, err := s.MarkEventDeleted(ctx, e.ID, at(time.Hour))
		check(t, "mark deleted", err)
	}
	if deleted, err := s.DeletedEvents(ctx, 1); err != nil || len(deleted) != 1 {
		t.Fatalf("deleted events, limit 1: %d, %v", len(deleted), err)
	}
	if deleted, err := s.DeletedEvents(ctx, 0); err != nil || len(deleted) != 0 {
		t.Fatalf("deleted events, limit 0: %d, %v", len(deleted), err)
	}
}

func testRetention(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := newAccount(t, s)
	h1, h2 := newHome(t, s, a.ID), newHome(t, s, a.ID) // 30 days
	week := 7
	check(t, "set retention", s.UpdateHome(ctx, h2.ID, nil, &week))
	d1, d2 := newDevice(t, s, a.ID, h1.ID), newDevice(t, s, a.ID, h2.ID)
	now := at(0)
	expired := []domain.Event{
		newEvent(t, s, h1.ID, d1.ID, "motion", now.Add(-40*day)),
		newEvent(t, s, h1.ID, d1.ID, "motion", now.Add(-31*day)),
		newEvent(t, s, h2.ID, d2.ID, "motion", now.Add(-8*day)),
	}
	// Received just now, dated weeks ago by a camera whose clock is wrong
	// (or that kept it queued): retention counts from receipt.
	late := eventValue(h2.ID, d2.ID, "motion", now.Add(-40*day))
	late.CreatedAt = now.Add(-time.Minute)
	_, created, err := s.CreateEvent(ctx, late)
	check(t, "create event", err)
	if !created {
		t.Fatal("a new event was not created")
	}
	kept := []domain.Event{
		newEvent(t, s, h1.ID, d1.ID, "motion", now.Add(-29*day)),
		newEvent(t, s, h2.ID, d2.ID, "motion", now.Add(-6*day)),
		newEvent(t, s, h2.ID, d2.ID, "motion", now),
		late,
	}

	if n, err := s.MarkExpiredEvents(ctx, now, 0); err != nil || n != 0 {
		t.Fatalf("mark expired, limit 0: %d, %v", n, err)
	}
	total := 0
	for _, limit := range []int{2, 100, 100} {
		n, err := s.MarkExpiredEvents(ctx, now, limit)
		check(t, "mark expired", err)
		if n > limit {
			t.Fatalf("marked %d events, limit %d", n, limit)
		}
		total += n
	}
	if total != len(expired) {
		t.Fatalf("marked %d expired events, want %d", total, len(expired))
	}
	deleted, err := s.DeletedEvents(ctx, 100)
	check(t, "deleted events", err)
	if got, want := sortedIDs(deleted, eventID), sortedIDs(expired, eventID); !slices.Equal(got, want) {
		t.Fatalf("events marked expired %v, want %v", got, want)
	}
	for _, e := range kept {
		if _, err := s.EventByID(ctx, e.ID); err != nil {
			t.Fatalf("event within retention: %v", err)
		}
	}
}

// testUploadTarget: what an upload reads before storing anything, in one
// query: the home's wrapped data key, and the camera's event with the
// camera's event ID (a retry), live or marked deleted, and no other
// camera's.
func testUploadTarget(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := newAccount(t, s)
	h, other := newHome(t, s, a.ID), newHome(t, s, a.ID)
	d, d2 := newDevice(t, s, a.ID, h.ID), newDevice(t, s, a.ID, h.ID)
	e := eventValue(h.ID, d.ID, "motion", at(0))

	key, existing, err := s.UploadTarget(ctx, h.ID, d.ID, e.DeviceEventID)
	check(t, "upload target, no event yet", err)
	if string(key) != string(h.WrappedDataKey) || existing != "" {
		t.Fatalf("upload target before the event: key %q, existing %q", key, existing)
	}
	if key, _, err := s.UploadTarget(ctx, other.ID, d.ID, e.DeviceEventID); err != nil || string(key) != string(other.WrappedDataKey) {
		t.Fatalf("upload target of another home: key %q, %v", key, err)
	}
	_, _, err = s.UploadTarget(ctx, id.New(), d.ID, e.DeviceEventID)
	mustNotFound(t, "upload target of a missing home", err)

	_, _, err = s.CreateEvent(ctx, e)
	check(t, "create event", err)
	for _, tc := range []struct {
		what, device, deviceEvent, want string
	}{
		{"the retry", d.ID, e.DeviceEventID, e.ID},
		{"another camera, same event ID", d2.ID, e.DeviceEventID, ""},
		{"the camera, another event ID", d.ID, "cam-" + id.New(), ""},
	} {
		_, existing, err := s.UploadTarget(ctx, h.ID, tc.device, tc.deviceEvent)
		check(t, tc.what, err)
		if existing != tc.want {
			t.Errorf("%s: existing %q, want %q", tc.what, existing, tc.want)
		}
	}
	_, err = s.MarkEventDeleted(ctx, e.ID, at(time.Hour))
	check(t, "mark deleted", err)
	if _, existing, err := s.UploadTarget(ctx, h.ID, d.ID, e.DeviceEventID); err != nil || existing != e.ID {
		t.Fatalf("a retry of an event marked deleted: existing %q, %v; want %q", existing, err, e.ID)
	}
}
