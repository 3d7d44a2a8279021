package homes_test

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/apperr"
	"github.com/camvault/camvault/internal/authz"
	"github.com/camvault/camvault/internal/deviceproto"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/homes"
	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/servicetest"
)

func ptr[T any](v T) *T { return &v }

// notFoundAlike fails t unless err is exactly the not-found a missing
// object of the same kind gets.
func notFoundAlike(t *testing.T, what string, err, missing error) {
	t.Helper()
	if apperr.CodeOf(err) != apperr.NotFound || apperr.CodeOf(missing) != apperr.NotFound || err.Error() != missing.Error() {
		t.Errorf("%s: %v; a missing one: %v; want the same not-found", what, err, missing)
	}
}

func TestCreateListGetUpdate(t *testing.T) {
	t.Parallel()
	e := servicetest.New(t)
	ctx := e.Ctx()
	ann, bob, mallory := e.Person("ann"), e.Person("bob"), e.Person("mallory")
	h, err := e.Homes.Create(ctx, ann.Principal, "  Lake house ")
	if err != nil {
		t.Fatal(err)
	}
	if h.Name != "Lake house" || h.Role != domain.RoleOwner || h.RetentionDays != 30 || !id.Valid(h.ID) {
		t.Fatalf("created %+v", h)
	}
	e.Share(ann, h.ID, bob, domain.RoleViewer)

	list, err := e.Homes.List(ctx, bob.Principal)
	if err != nil || len(list) != 1 || list[0].ID != h.ID || list[0].Role != domain.RoleViewer || list[0].Name != "Lake house" {
		t.Fatalf("bob's homes: %+v %v", list, err)
	}
	if list, err := e.Homes.List(ctx, mallory.Principal); err != nil || len(list) != 0 {
		t.Fatalf("a stranger's homes: %+v %v", list, err)
	}

	got, err := e.Homes.Update(ctx, ann.Principal, h.ID, ptr("Cabin"), ptr(7))
	if err != nil || got.Name != "Cabin" || got.RetentionDays != 7 {
		t.Fatalf("update: %+v %v", got, err)
	}
	if got, err := e.Homes.Get(ctx, bob.Principal, h.ID); err != nil || got.Name != "Cabin" {
		t.Fatalf("bob reads the renamed home: %+v %v", got, err)
	}
	for _, c := range []struct {
		name      *string
		retention *int
	}{{nil, nil}, {nil, ptr(0)}, {nil, ptr(3651)}, {ptr(""), nil}, {ptr(strings.Repeat("x", 65)), nil}} {
		_, err := e.Homes.Update(ctx, ann.Principal, h.ID, c.name, c.retention)
		servicetest.WantCode(t, "update with bad input", err, apperr.Invalid)
	}
	_, err = e.Homes.Update(ctx, bob.Principal, h.ID, ptr("Mine"), nil)
	servicetest.WantCode(t, "a viewer renames the home", err, apperr.Forbidden)

	_, err = e.Homes.Get(ctx, mallory.Principal, h.ID)
	_, missing := e.Homes.Get(ctx, mallory.Principal, id.New())
	notFoundAlike(t, "a stranger reads the home", err, missing)
	_, err = e.Homes.Update(ctx, mallory.Principal, h.ID, ptr("Mine"), nil)
	_, missing = e.Homes.Update(ctx, mallory.Principal, id.New(), ptr("Mine"), nil)
	notFoundAlike(t, "a stranger renames the home", err, missing)

	_, err = e.Homes.Create(ctx, ann.Principal, "\x00")
	servicetest.WantCode(t, "a name with a control character", err, apperr.Invalid)
	_, err = e.Homes.Create(ctx, authz.Principal{Kind: domain.PrincipalDevice, DeviceID: id.New()}, "Home")
	servicetest.WantCode(t, "a camera creates a home", err, apperr.Unauthorized)
}

func TestPairing(t *testing.T) {
	t.Parallel()
	e := servicetest.New(t, func(o *servicetest.Options) { o.Homes.PairFailures = 3 })
	ctx := e.Ctx()
	ann, bob := e.Person("ann"), e.Person("bob")
	home := e.Home(ann, "Home")
	e.Share(ann, home, bob, domain.RoleViewer)

	code, err := e.Homes.CreatePairingCode(ctx, ann.Principal, home)
	if err != nil {
		t.Fatal(err)
	}
	if len(code.Code) != 14 || code.Code[4] != '-' || code.Code[9] != '-' || !code.ExpiresAt.Equal(e.Clock.Now().Add(10*time.Minute)) {
		t.Fatalf("pairing code %+v", code)
	}
	// Typed as a person may: lower case, without dashes.
	paired, err := e.Homes.Pair(ctx, strings.ToLower(strings.ReplaceAll(code.Code, "-", "")), "CV-1", "1.0", "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.Homes.AuthenticateDevice(ctx, paired.DeviceToken)
	if err != nil || p != (authz.Principal{Kind: domain.PrincipalDevice, DeviceID: paired.DeviceID, HomeID: home}) {
		t.Fatalf("the new camera authenticates as %+v %v", p, err)
	}
	if d, err := e.Homes.Device(ctx, ann.Principal, paired.DeviceID); err != nil || d.Name != "CV-1" || d.HomeID != home || d.Online {
		t.Fatalf("the new camera: %+v %v", d, err)
	}
	_, err = e.Homes.Pair(ctx, code.Code, "CV-1", "1.0", "192.0.2.1")
	servicetest.WantCode(t, "a used code", err, apperr.NotFound)

	expiring, err := e.Homes.CreatePairingCode(ctx, ann.Principal, home)
	if err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(10*time.Minute + time.Second)
	_, err = e.Homes.Pair(ctx, expiring.Code, "CV-1", "1.0", "192.0.2.2")
	servicetest.WantCode(t, "an expired code", err, apperr.NotFound)

	_, err = e.Homes.CreatePairingCode(ctx, bob.Principal, home)
	servicetest.WantCode(t, "a viewer makes a code", err, apperr.Forbidden)
	fresh, err := e.Homes.CreatePairingCode(ctx, ann.Principal, home)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.Homes.Pair(ctx, fresh.Code, "", "1.0", "192.0.2.3")
	servicetest.WantCode(t, "no model", err, apperr.Invalid)

	// Wrong codes are throttled per client address; the right code from
	// that address then waits too, another address does not.
	for i := range 3 {
		_, err := e.Homes.Pair(ctx, "0000-0000-000"+string(rune('0'+i)), "CV-1", "1.0", "198.51.100.7")
		servicetest.WantCode(t, "a wrong code", err, apperr.NotFound)
	}
	_, err = e.Homes.Pair(ctx, fresh.Code, "CV-1", "1.0", "198.51.100.7")
	servicetest.WantCode(t, "a code from a throttled address", err, apperr.Throttled)
	if _, err := e.Homes.Pair(ctx, fresh.Code, "CV-1", "1.0", "198.51.100.8"); err != nil {
		t.Fatalf("another address is throttled too: %v", err)
	}

	for _, tok := range []string{"", "cvd_nope", paired.DeviceToken + "x", ann.Token} {
		_, err := e.Homes.AuthenticateDevice(ctx, tok)
		servicetest.WantCode(t, "a device token that is not one", err, apperr.Unauthorized)
	}
}

// TestParallelWrongCodesCountedBeforeChecking: 40 wrong pairing codes
// sent at once from one address are each counted before the code is
// looked up, so no more than the limit of them are checked (answered not
// found); the rest are throttled. Counted after checking, every one read
// a count from before the others were added, and most were checked. A
// right code gives its attempt back, so pairing many cameras at once
// from one address never uses up the allowance.
func TestParallelWrongCodesCountedBeforeChecking(t *testing.T) {
	t.Parallel()
	e := servicetest.New(t, func(o *servicetest.Options) { o.Homes.PairFailures = 10 })
	ctx := e.Ctx()
	ann := e.Person("ann")
	home := e.Home(ann, "Home")
	const addr = "198.51.100.9"

	// As many right codes as the limit, in parallel, then more one after
	// another: each gives its attempt back.
	codes := make([]string, 10)
	for i := range codes {
		c, err := e.Homes.CreatePairingCode(ctx, ann.Principal, home)
		if err != nil {
			t.Fatal(err)
		}
		codes[i] = c.Code
	}
	var wg sync.WaitGroup
	for _, code := range codes {
		wg.Go(func() {
			if _, err := e.Homes.Pair(ctx, code, "CV-1", "1.0", addr); err != nil {
				t.Errorf("a right code: %v", err)
			}
		})
	}
	wg.Wait()
	for range 8 {
		c, err := e.Homes.CreatePairingCode(ctx, ann.Principal, home)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Homes.Pair(ctx, c.Code, "CV-1", "1.0", addr); err != nil {
			t.Fatalf("a right code after %d others: %v", len(codes), err)
		}
	}

	var checked, throttled atomic.Int64
	start := make(chan struct{})
	for i := range 40 {
		wg.Go(func() {
			<-start
			_, err := e.Homes.Pair(ctx, fmt.Sprintf("0000-0000-%04d", i), "CV-1", "1.0", addr)
			switch apperr.CodeOf(err) {
			case apperr.NotFound:
				checked.Add(1)
			case apperr.Throttled:
				throttled.Add(1)
			default:
				t.Errorf("a wrong code: %v", err)
			}
		})
	}
	close(start)
	wg.Wait()
	if checked.Load() > 10 || checked.Load()+throttled.Load() != 40 {
		t.Fatalf("40 parallel wrong codes: %d checked, %d throttled; want at most 10 checked", checked.Load(), throttled.Load())
	}
}

func TestDevices(t *testing.T) {
	t.Parallel()
	e := servicetest.New(t, func(o *servicetest.Options) { o.Homes.PresenceTTL = time.Minute })
	ctx := e.Ctx()
	ann, bob, mallory := e.Person("ann"), e.Person("bob"), e.Person("mallory")
	home := e.Home(ann, "Home")
	front, back := e.Camera(ann, home), e.Camera(ann, home)
	e.Share(ann, home, bob, domain.RoleViewer)

	d, err := e.Homes.RenameDevice(ctx, ann.Principal, front.DeviceID, " Front door ")
	if err != nil || d.Name != "Front door" {
		t.Fatalf("rename: %+v %v", d, err)
	}
	list, err := e.Homes.Devices(ctx, bob.Principal, home)
	if err != nil || len(list) != 2 {
		t.Fatalf("bob's cameras: %+v %v", list, err)
	}
	names := map[string]string{}
	for _, d := range list {
		names[d.ID] = d.Name
	}
	if names[front.DeviceID] != "Front door" || names[back.DeviceID] != "CV-1" {
		t.Fatalf("names %v: want the new name, and the model for a camera never named", names)
	}
	_, err = e.Homes.RenameDevice(ctx, bob.Principal, front.DeviceID, "Mine")
	servicetest.WantCode(t, "a viewer renames a camera", err, apperr.Forbidden)
	_, err = e.Homes.RenameDevice(ctx, ann.Principal, front.DeviceID, " ")
	servicetest.WantCode(t, "an empty name", err, apperr.Invalid)
	_, err = e.Homes.Device(ctx, mallory.Principal, front.DeviceID)
	_, missing := e.Homes.Device(ctx, mallory.Principal, id.New())
	notFoundAlike(t, "a stranger reads a camera", err, missing)
	_, err = e.Homes.Devices(ctx, mallory.Principal, home)
	_, missing = e.Homes.Devices(ctx, mallory.Principal, id.New())
	notFoundAlike(t, "a stranger lists the cameras", err, missing)

	// Online only while its last seen is recent: a node that died never
	// wrote "offline".
	if err := e.Store.SetPresence(ctx, []domain.Presence{{DeviceID: back.DeviceID, Online: true, LastSeen: e.Clock.Now()}}); err != nil {
		t.Fatal(err)
	}
	if d, err := e.Homes.Device(ctx, ann.Principal, back.DeviceID); err != nil || !d.Online || d.LastSeen == nil {
		t.Fatalf("a camera just seen: %+v %v", d, err)
	}
	e.Clock.Advance(2 * time.Minute)
	if d, err := e.Homes.Device(ctx, ann.Principal, back.DeviceID); err != nil || d.Online {
		t.Fatalf("a camera not seen for longer than the presence TTL: %+v %v", d, err)
	}
}

func TestSharing(t *testing.T) {
	t.Parallel()
	e := servicetest.New(t)
	ctx := e.Ctx()
	ann, bob, cat, dan := e.Person("ann"), e.Person("bob"), e.Person("cat"), e.Person("dan")
	home, other := e.Home(ann, "Home"), e.Home(ann, "Other")
	front, back, elsewhere := e.Camera(ann, home), e.Camera(ann, home), e.Camera(ann, other)

	// Cat, an admin, invites Bob, a viewer limited to the front door, who
	// accepts.
	e.Share(ann, home, cat, domain.RoleAdmin)
	inv, err := e.Homes.Invite(ctx, cat.Principal, home, strings.ToUpper(bob.Email), domain.RoleViewer, []string{front.DeviceID, front.DeviceID})
	if err != nil {
		t.Fatalf("invite with a limit: %v", err)
	}
	if err := e.Homes.AcceptInvitation(ctx, bob.Principal, inv.ID); err != nil {
		t.Fatalf("accept: %v", err)
	}
	members, err := e.Homes.Members(ctx, bob.Principal, home)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range members {
		if m.AccountID == bob.AccountID && (m.Email != bob.Email || !m.Limited || len(m.Devices) != 1 || m.Devices[0] != front.DeviceID) {
			t.Fatalf("bob, limited to one camera, as listed: %+v", m)
		}
	}
	list, err := e.Homes.Devices(ctx, bob.Principal, home)
	if err != nil || len(list) != 1 || list[0].ID != front.DeviceID {
		t.Fatalf("a limited viewer's cameras: %+v %v", list, err)
	}
	_, err = e.Homes.Device(ctx, bob.Principal, back.DeviceID)
	_, missing := e.Homes.Device(ctx, bob.Principal, id.New())
	notFoundAlike(t, "a limited viewer reads another camera", err, missing)

	members, err = e.Homes.Members(ctx, bob.Principal, home)
	if err != nil || len(members) != 3 {
		t.Fatalf("members: %+v %v", members, err)
	}
	for _, m := range members {
		if m.AccountID == ann.AccountID && (m.Role != domain.RoleOwner || m.Limited || m.Devices == nil) {
			t.Errorf("the owner as listed: %+v", m)
		}
	}

	for _, c := range []struct {
		what    string
		as      servicetest.Person
		email   string
		role    domain.Role
		devices []string
		code    apperr.Code
	}{
		{"a viewer invites", bob, dan.Email, domain.RoleViewer, nil, apperr.Forbidden},
		{"invite as owner", ann, dan.Email, domain.RoleOwner, nil, apperr.Invalid},
		{"an admin limited to cameras", ann, dan.Email, domain.RoleAdmin, []string{front.DeviceID}, apperr.Invalid},
		{"a camera that is not an ID", ann, dan.Email, domain.RoleViewer, []string{"front"}, apperr.Invalid},
		{"another home's camera", ann, dan.Email, domain.RoleViewer, []string{elsewhere.DeviceID}, apperr.Invalid},
		{"not an email", ann, "dan", domain.RoleViewer, nil, apperr.Invalid},
	} {
		_, err := e.Homes.Invite(ctx, c.as.Principal, home, c.email, c.role, c.devices)
		servicetest.WantCode(t, c.what, err, c.code)
	}
	for _, c := range []struct {
		what    string
		as      servicetest.Person
		account string
		role    domain.Role
		devices []string
		code    apperr.Code
	}{
		{"a viewer changes a member", bob, cat.AccountID, domain.RoleViewer, nil, apperr.Forbidden},
		{"the owner's role changed", cat, ann.AccountID, domain.RoleViewer, nil, apperr.Forbidden},
		{"someone who is not a member", ann, dan.AccountID, domain.RoleViewer, nil, apperr.NotFound},
		{"made owner", ann, bob.AccountID, domain.RoleOwner, nil, apperr.Invalid},
		{"another home's camera", ann, bob.AccountID, domain.RoleViewer, []string{elsewhere.DeviceID}, apperr.Invalid},
	} {
		_, err := e.Homes.UpdateMember(ctx, c.as.Principal, home, c.account, c.role, c.devices)
		servicetest.WantCode(t, c.what, err, c.code)
	}
	if _, err := e.Homes.Get(ctx, dan.Principal, home); apperr.CodeOf(err) != apperr.NotFound {
		t.Fatalf("dan, never a member, reads the home: %v", err)
	}

	// A member's role and cameras change at once, without an invitation.
	if m, err := e.Homes.UpdateMember(ctx, ann.Principal, home, bob.AccountID, domain.RoleViewer, nil); err != nil || m.Limited || m.AccountID != bob.AccountID {
		t.Fatalf("give bob every camera: %+v %v", m, err)
	}
	if list, err := e.Homes.Devices(ctx, bob.Principal, home); err != nil || len(list) != 2 {
		t.Fatalf("bob's cameras after the limit went: %+v %v", list, err)
	}

	err = e.Homes.RemoveMember(ctx, bob.Principal, home, cat.AccountID)
	servicetest.WantCode(t, "a viewer removes an admin", err, apperr.Forbidden)
	err = e.Homes.RemoveMember(ctx, cat.Principal, home, ann.AccountID)
	servicetest.WantCode(t, "an admin removes the owner", err, apperr.Forbidden)
	err = e.Homes.RemoveMember(ctx, ann.Principal, home, ann.AccountID)
	servicetest.WantCode(t, "the owner leaves", err, apperr.Forbidden)
	err = e.Homes.RemoveMember(ctx, ann.Principal, home, dan.AccountID)
	servicetest.WantCode(t, "remove someone who is not a member", err, apperr.NotFound)

	// Bob leaves; the admin removes nobody else. Access ends at once.
	if err := e.Homes.RemoveMember(ctx, bob.Principal, home, bob.AccountID); err != nil {
		t.Fatalf("a viewer leaves: %v", err)
	}
	_, err = e.Homes.Get(ctx, bob.Principal, home)
	servicetest.WantCode(t, "the home after leaving", err, apperr.NotFound)
	if err := e.Homes.RemoveMember(ctx, ann.Principal, home, cat.AccountID); err != nil {
		t.Fatalf("the owner removes an admin: %v", err)
	}
	_, err = e.Homes.Devices(ctx, cat.Principal, home)
	servicetest.WantCode(t, "the cameras after removal", err, apperr.NotFound)
}

// TestUnpairingClosesTheConnection: unpairing is one use case, whoever
// asks for it; the camera's token stops working and its live connection
// is closed with 4001.
func TestUnpairingClosesTheConnection(t *testing.T) {
	t.Parallel()
	e := servicetest.New(t)
	ctx := e.Ctx()
	ann, bob := e.Person("ann"), e.Person("bob")
	home := e.Home(ann, "Home")
	cam := e.Camera(ann, home)
	e.Share(ann, home, bob, domain.RoleViewer)
	conn := e.Connect(cam)

	err := e.Homes.DeleteDevice(ctx, bob.Principal, cam.DeviceID)
	servicetest.WantCode(t, "a viewer unpairs", err, apperr.Forbidden)
	if _, err := e.Homes.AuthenticateDevice(ctx, cam.Token); err != nil {
		t.Fatalf("a refused unpairing changed the camera: %v", err)
	}

	if err := e.Homes.DeleteDevice(ctx, ann.Principal, cam.DeviceID); err != nil {
		t.Fatal(err)
	}
	if code := conn.Closed(); code != deviceproto.CloseRevoked {
		t.Fatalf("the unpaired camera's connection closed with %d, want %d", code, deviceproto.CloseRevoked)
	}
	_, err = e.Homes.AuthenticateDevice(ctx, cam.Token)
	servicetest.WantCode(t, "the unpaired camera's token", err, apperr.Unauthorized)
	_, err = e.Homes.Device(ctx, ann.Principal, cam.DeviceID)
	servicetest.WantCode(t, "the unpaired camera", err, apperr.NotFound)
	err = e.Homes.DeleteDevice(ctx, ann.Principal, cam.DeviceID)
	servicetest.WantCode(t, "unpair twice", err, apperr.NotFound)
}

func TestCheckName(t *testing.T) {
	for _, c := range []struct {
		in, want string
		ok       bool
	}{
		{"Home", "Home", true},
		{"  Lake house\t", "Lake house", true},
		{"Maison d'été 🏡", "Maison d'été 🏡", true},
		{strings.Repeat("é", 64), strings.Repeat("é", 64), true}, // 64 characters, 128 bytes
		{strings.Repeat("é", 65), "", false},
		{"", "", false},
		{"   ", "", false},
		{"a\nb", "", false},
		{"a\x00b", "", false},
		{"a\u0085b", "", false}, // a C1 control character
		{"\xff\xfe", "", false}, // not UTF-8
	} {
		got, err := homes.CheckName("name", c.in)
		if c.ok && (err != nil || got != c.want) {
			t.Errorf("CheckName(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
		if !c.ok && apperr.CodeOf(err) != apperr.Invalid {
			t.Errorf("CheckName(%q) = %q, %v; want invalid", c.in, got, err)
		}
	}
}

// TestMembersAViewerSees: a viewer sees themselves and who manages the
// home, not the other viewers, their emails or the cameras they were
// limited to; owners and admins see every member.
func TestMembersAViewerSees(t *testing.T) {
	t.Parallel()
	e := servicetest.New(t)
	ctx := e.Ctx()
	ann, bob, cat, dan := e.Person("ann"), e.Person("bob"), e.Person("cat"), e.Person("dan")
	home := e.Home(ann, "Home")
	front, back := e.Camera(ann, home), e.Camera(ann, home)
	e.Share(ann, home, cat, domain.RoleAdmin)
	for _, v := range []struct {
		who    servicetest.Person
		camera string
	}{{bob, front.DeviceID}, {dan, back.DeviceID}} {
		e.Share(ann, home, v.who, domain.RoleViewer, v.camera)
	}
	listed := func(as servicetest.Person) map[string]homes.Member {
		t.Helper()
		ms, err := e.Homes.Members(ctx, as.Principal, home)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]homes.Member{}
		for _, m := range ms {
			out[m.AccountID] = m
		}
		return out
	}
	bobSees := listed(bob)
	if len(bobSees) != 3 || bobSees[ann.AccountID].Role != domain.RoleOwner || bobSees[cat.AccountID].Role != domain.RoleAdmin {
		t.Errorf("a limited viewer sees %+v; want themselves, the owner and the admin", bobSees)
	}
	if _, ok := bobSees[dan.AccountID]; ok {
		t.Error("a viewer sees another viewer")
	}
	if me := bobSees[bob.AccountID]; me.Email != bob.Email || len(me.Devices) != 1 || me.Devices[0] != front.DeviceID {
		t.Errorf("a viewer as they see themselves: %+v", me)
	}
	for _, manager := range []servicetest.Person{ann, cat} {
		if sees := listed(manager); len(sees) != 4 || sees[dan.AccountID].Devices[0] != back.DeviceID {
			t.Errorf("%s, who manages the home, sees %+v; want all four members", manager.Email, sees)
		}
	}
}
