package audit_test

import (
	"slices"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/apperr"
	"github.com/camvault/camvault/internal/audit"
	"github.com/camvault/camvault/internal/authz"
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
		// The camera: a pairing code, then the camera that used it.
		{"device " + cam.DeviceID, homes.AuditPair, audit.ResultOK},
		{ann.Email, homes.AuditPairingCode, audit.ResultOK},
	}
	const looks = 4 // the entries about the event, newest
	for _, reader := range []servicetest.Person{ann, cat} {
		list, err := readLog(e, reader.Principal, home, 0, 0)
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
	first, err := readLog(e, ann.Principal, home, 0, 3)
	if err != nil || len(first) != 3 {
		t.Fatalf("three entries: %d %v", len(first), err)
	}
	rest, err := readLog(e, ann.Principal, home, first[2].Seq, 3)
	if err != nil || len(rest) != 3 || rest[0].Action != audit.ViewEvent || rest[2].Action != homes.AuditInvite {
		t.Fatalf("the entries before seq %d: %+v %v", first[2].Seq, rest, err)
	}
	for _, limit := range []int{-1, 1001} {
		_, err := readLog(e, ann.Principal, home, 0, limit)
		servicetest.WantCode(t, "a limit out of range", err, apperr.Invalid)
	}

	_, err = readLog(e, bob.Principal, home, 0, 0)
	servicetest.WantCode(t, "a viewer reads the log", err, apperr.Forbidden)
	_, err = readLog(e, mallory.Principal, home, 0, 0)
	_, missing := readLog(e, mallory.Principal, id.New(), 0, 0)
	if apperr.CodeOf(err) != apperr.NotFound || err.Error() != missing.Error() {
		t.Errorf("a stranger reads the log: %v; a missing home: %v", err, missing)
	}
}

// readLog reads a home's log as p, a page of limit before seq before.
func readLog(e *servicetest.Env, p authz.Principal, home string, before int64, limit int) ([]audit.View, error) {
	list, _, err := e.Reader.List(e.Ctx(), p, home, audit.Query{Before: before, Limit: limit})
	return list, err
}

// TestActivityRecordsChangesFiltersAndGroups: what owners and admins change
// is on the home's chain, with whom and from which device; a scroll through
// the timeline reads as one line; filters find a person's, a camera's or a
// kind of action's entries; and another home's activity never shows.
func TestActivityRecordsChangesFiltersAndGroups(t *testing.T) {
	t.Parallel()
	e := servicetest.New(t)
	ctx := audit.WithUserAgent(e.Ctx(), "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0")
	ann, bob, zed := e.Person("ann"), e.Person("bob"), e.Person("zed")
	home, other := e.Home(ann, "Home"), e.Home(zed, "Other")
	cam, otherCam := e.Camera(ann, home), e.Camera(zed, other)
	e.Share(ann, home, bob, domain.RoleViewer)
	if _, err := e.Homes.UpdateMember(ctx, ann.Principal, home, bob.AccountID, domain.RoleViewer, []string{cam.DeviceID}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Homes.RenameDevice(ctx, ann.Principal, cam.DeviceID, "Porch"); err != nil {
		t.Fatal(err)
	}
	ev := e.Upload(cam, "ev-1", e.Clock.Now().Add(-time.Minute), 0)
	look := func(who servicetest.Person, homeID string, device, event string) {
		t.Helper()
		if err := e.Audit.Record(ctx, homeID, audit.Entry{ActorKind: domain.PrincipalPerson, ActorID: who.AccountID,
			Action: audit.ViewThumbnail, DeviceID: device, EventID: event, Result: audit.ResultOK}); err != nil {
			t.Fatal(err)
		}
	}
	for range 5 { // a scroll through the timeline
		look(bob, home, cam.DeviceID, ev.ID)
	}
	if _, err := e.Homes.Change(ctx, ann.Principal, home, homes.Settings{RetentionDays: new(7)}); err != nil {
		t.Fatal(err)
	}
	if err := e.Homes.RemoveMember(ctx, ann.Principal, home, bob.AccountID); err != nil {
		t.Fatal(err)
	}
	otherEv := e.Upload(otherCam, "ev-z", e.Clock.Now().Add(-time.Minute), 0)
	look(zed, other, otherCam.DeviceID, otherEv.ID)

	read := func(q audit.Query) []audit.View {
		t.Helper()
		list, _, err := e.Reader.List(e.Ctx(), ann.Principal, home, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range list {
			if v.DeviceID == otherCam.DeviceID || v.ActorID == zed.AccountID {
				t.Fatalf("another home's activity: %+v", v)
			}
		}
		return list
	}
	grouped := read(audit.Query{Group: true})
	type row struct {
		action, detail, subject string
		count                   int
	}
	var got []row
	for _, v := range grouped {
		got = append(got, row{v.Action, v.Detail, v.Subject, v.Count})
	}
	want := []row{
		{homes.AuditMemberRemove, "", bob.Email, 1},
		{homes.AuditSettings, "retention 7 days", "", 1},
		{audit.ViewThumbnail, "", "", 5},
		{homes.AuditRename, "", "", 1},
		{homes.AuditMemberUpdate, "role viewer; 1 camera", bob.Email, 1},
		{homes.AuditAccept, "", "", 1},
		{homes.AuditInvite, "", "", 1},
		{homes.AuditPair, "model CV-1", "", 1},
		{homes.AuditPairingCode, "", "", 1},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("grouped activity:\n got %v\nwant %v", got, want)
	}
	if v := grouped[2]; v.Actor != bob.Email || v.Client != "Firefox on Linux" || v.FirstAt == nil || v.EventID != ev.ID {
		t.Errorf("the scroll: %+v", v)
	}
	if v := grouped[0]; v.Actor != ann.Email || v.Client != "Firefox on Linux" {
		t.Errorf("the removal: %+v", v)
	}
	if n := len(read(audit.Query{})); n != len(want)+4 {
		t.Errorf("ungrouped: %d entries, want %d", n, len(want)+4)
	}
	if list := read(audit.Query{Action: "device."}); len(list) != 3 {
		t.Errorf("a camera's changes: %+v", list)
	}
	if list := read(audit.Query{Actor: bob.AccountID, Group: true}); len(list) != 2 || list[0].Count != 5 {
		t.Errorf("bob's activity: %+v", list)
	}
	if list := read(audit.Query{Device: cam.DeviceID, Action: homes.AuditRename}); len(list) != 1 || list[0].Actor != ann.Email {
		t.Errorf("the camera's renames: %+v", list)
	}
	// Pages of a filtered read go on where the last one stopped.
	first, next, err := e.Reader.List(e.Ctx(), ann.Principal, home, audit.Query{Action: audit.ViewThumbnail, Limit: 3})
	if err != nil || len(first) != 3 || next == 0 {
		t.Fatalf("first page: %d, next %d, %v", len(first), next, err)
	}
	rest, next, err := e.Reader.List(e.Ctx(), ann.Principal, home, audit.Query{Action: audit.ViewThumbnail, Limit: 3, Before: next})
	if err != nil || len(rest) != 2 || next != 0 {
		t.Fatalf("second page: %d, next %d, %v", len(rest), next, err)
	}
}
