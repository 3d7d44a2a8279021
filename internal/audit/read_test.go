package audit_test

import (
	"slices"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/apperr"
	"github.com/camvault/camvault/internal/audit"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/homes"
	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/servicetest"
)

func TestReaderListsForOwnerAndAdmins(t *testing.T) {
	t.Parallel()
	e := servicetest.New(t)
	ctx := e.Ctx()
	ann, bob, cat, mallory := e.Person("ann"), e.Person("bob"), e.Person("cat"), e.Person("mallory")
	home := e.Home(ann, "Home")
	cam := e.Camera(ann, home)
	e.Share(ann, home, bob, domain.RoleViewer)
	e.Share(ann, home, cat, domain.RoleAdmin)
	ev := e.Upload(cam, "ev-1", e.Clock.Now().Add(-time.Minute), 0)

	if _, err := e.Events.Get(ctx, bob.Principal, ev.ID); err != nil {
		t.Fatal(err)
	}
	gone := id.New() // an account the store does not have (any more)
	for _, en := range []audit.Entry{
		{ActorKind: "device", ActorID: cam.DeviceID, Action: audit.ViewThumbnail, DeviceID: cam.DeviceID, EventID: ev.ID, Result: audit.ResultOK},
		{ActorKind: "person", ActorID: gone, Action: audit.ViewClip, DeviceID: cam.DeviceID, EventID: ev.ID, Result: audit.ResultBlocked},
	} {
		if err := e.Audit.Record(ctx, home, en); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Events.Delete(ctx, cat.Principal, ev.ID); err != nil {
		t.Fatal(err)
	}

	type row struct{ actor, action, result string }
	want := []row{
		{cat.Email, audit.DeleteEvent, audit.ResultOK},
		{"a former account", audit.ViewClip, audit.ResultBlocked},
		{"device " + cam.DeviceID, audit.ViewThumbnail, audit.ResultOK},
		{bob.Email, audit.ViewEvent, audit.ResultOK},
		// Sharing: each invitation and its acceptance.
		{cat.Email, homes.AuditAccept, audit.ResultOK},
		{ann.Email, homes.AuditInvite, audit.ResultOK},
		{bob.Email, homes.AuditAccept, audit.ResultOK},
		{ann.Email, homes.AuditInvite, audit.ResultOK},
	}
	const looks = 4 // the entries about the event, newest
	for _, reader := range []servicetest.Person{ann, cat} {
		list, err := e.Reader.List(ctx, reader.Principal, home, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		var got []row
		for i, v := range list {
			got = append(got, row{v.Actor, v.Action, v.Result})
			if v.Seq != int64(len(list)-i) || v.At.IsZero() || (i < looks) != (v.EventID == ev.ID && v.DeviceID == cam.DeviceID) {
				t.Errorf("entry %d: %+v", i, v)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s reads %v, want %v", reader.Email, got, want)
		}
	}

	// Pages: a limit, then what is before the last entry seen.
	first, err := e.Reader.List(ctx, ann.Principal, home, 0, 3)
	if err != nil || len(first) != 3 {
		t.Fatalf("three entries: %d %v", len(first), err)
	}
	rest, err := e.Reader.List(ctx, ann.Principal, home, first[2].Seq, 3)
	if err != nil || len(rest) != 3 || rest[0].Action != audit.ViewEvent || rest[2].Action != homes.AuditInvite {
		t.Fatalf("the entries before seq %d: %+v %v", first[2].Seq, rest, err)
	}
	for _, limit := range []int{-1, 1001} {
		_, err := e.Reader.List(ctx, ann.Principal, home, 0, limit)
		servicetest.WantCode(t, "a limit out of range", err, apperr.Invalid)
	}

	_, err = e.Reader.List(ctx, bob.Principal, home, 0, 0)
	servicetest.WantCode(t, "a viewer reads the log", err, apperr.Forbidden)
	_, err = e.Reader.List(ctx, mallory.Principal, home, 0, 0)
	_, missing := e.Reader.List(ctx, mallory.Principal, id.New(), 0, 0)
	if apperr.CodeOf(err) != apperr.NotFound || err.Error() != missing.Error() {
		t.Errorf("a stranger reads the log: %v; a missing home: %v", err, missing)
	}
}
