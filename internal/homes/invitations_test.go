package homes_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/apperr"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/homes"
	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/identity"
	"github.com/camvault/camvault/internal/servicetest"
)

var identityClient = identity.Client{Address: "192.0.2.7", UserAgent: "test"}

// TestInviteAnswersAlike: inviting an email that has an account and one
// that has none answer alike, so sharing no longer tells anyone which
// emails have accounts (before, the second was "no account has this
// email"). Both are invitations that wait, with the same expiry.
func TestInviteAnswersAlike(t *testing.T) {
	t.Parallel()
	e := servicetest.New(t)
	ctx := e.Ctx()
	ann, bob := e.Person("ann"), e.Person("bob")
	home := e.Home(ann, "Home")

	known, err := e.Homes.Invite(ctx, ann.Principal, home, bob.Email, domain.RoleViewer, nil)
	if err != nil {
		t.Fatalf("invite an email with an account: %v", err)
	}
	unknown, err := e.Homes.Invite(ctx, ann.Principal, home, "nobody-"+id.New()+"@example.com", domain.RoleViewer, nil)
	if err != nil {
		t.Fatalf("invite an email without an account: %v", err)
	}
	if !id.Valid(known.ID) || !id.Valid(unknown.ID) || !known.ExpiresAt.Equal(unknown.ExpiresAt) ||
		!known.ExpiresAt.Equal(e.Clock.Now().Add(7*24*time.Hour)) {
		t.Fatalf("invitations answered %+v and %+v; want the same shape, both a week", known, unknown)
	}
	pending, err := e.Homes.HomeInvitations(ctx, ann.Principal, home)
	if err != nil || len(pending) != 2 {
		t.Fatalf("the home's pending invitations: %+v %v", pending, err)
	}
}

// TestNothingSharedUntilAccepted: an invitation gives nothing; only its
// invitee lists, accepts or declines it, and to anyone else it is not
// there.
func TestNothingSharedUntilAccepted(t *testing.T) {
	t.Parallel()
	e := servicetest.New(t)
	ctx := e.Ctx()
	ann, bob, mallory, cat := e.Person("ann"), e.Person("bob"), e.Person("mallory"), e.Person("cat")
	home := e.Home(ann, "Ann's flat")
	front := e.Camera(ann, home)
	e.Share(ann, home, cat, domain.RoleViewer)

	inv, err := e.Homes.Invite(ctx, ann.Principal, home, " "+strings.ToUpper(bob.Email), domain.RoleViewer, []string{front.DeviceID})
	if err != nil {
		t.Fatal(err)
	}
	// Invited, bob sees nothing of the home yet.
	_, err = e.Homes.Get(ctx, bob.Principal, home)
	servicetest.WantCode(t, "the home before accepting", err, apperr.NotFound)
	_, err = e.Homes.Device(ctx, bob.Principal, front.DeviceID)
	servicetest.WantCode(t, "its camera before accepting", err, apperr.NotFound)
	if hs, err := e.Homes.List(ctx, bob.Principal); err != nil || len(hs) != 0 {
		t.Fatalf("bob's homes before accepting: %+v %v", hs, err)
	}

	// Only bob lists it, with the home's name and who invited him.
	got, err := e.Homes.Invitations(ctx, bob.Principal)
	want := []homes.ReceivedInvitation{{ID: inv.ID, HomeName: "Ann's flat", Role: domain.RoleViewer, InvitedBy: ann.Email, ExpiresAt: inv.ExpiresAt}}
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("bob's invitations: %+v %v; want %+v", got, err, want)
	}
	for _, other := range []servicetest.Person{mallory, cat, ann} {
		if list, err := e.Homes.Invitations(ctx, other.Principal); err != nil || len(list) != 0 {
			t.Fatalf("%s lists %+v %v", other.Email, list, err)
		}
	}
	// A viewer of the home cannot see the home's invitations.
	_, err = e.Homes.HomeInvitations(ctx, cat.Principal, home)
	servicetest.WantCode(t, "a viewer lists the home's invitations", err, apperr.Forbidden)
	_, err = e.Homes.HomeInvitations(ctx, mallory.Principal, home)
	servicetest.WantCode(t, "a stranger lists the home's invitations", err, apperr.NotFound)

	// Anyone else, even the inviter and a member of the home, accepting
	// or declining finds nothing: exactly a missing invitation.
	missing := id.New()
	for _, other := range []servicetest.Person{mallory, cat, ann} {
		notFoundAlike(t, other.Email+" accepts bob's invitation",
			e.Homes.AcceptInvitation(ctx, other.Principal, inv.ID), e.Homes.AcceptInvitation(ctx, other.Principal, missing))
	}
	for _, other := range []servicetest.Person{mallory, cat} {
		notFoundAlike(t, other.Email+" deletes bob's invitation",
			e.Homes.DeleteInvitation(ctx, other.Principal, inv.ID), e.Homes.DeleteInvitation(ctx, other.Principal, missing))
	}
	if _, err := e.Homes.Get(ctx, mallory.Principal, home); apperr.CodeOf(err) != apperr.NotFound {
		t.Fatalf("mallory after trying to accept: %v", err)
	}

	// Bob accepts: a member, limited to the camera offered; once only.
	if err := e.Homes.AcceptInvitation(ctx, bob.Principal, inv.ID); err != nil {
		t.Fatalf("accept: %v", err)
	}
	if h, err := e.Homes.Get(ctx, bob.Principal, home); err != nil || h.Role != domain.RoleViewer {
		t.Fatalf("the home after accepting: %+v %v", h, err)
	}
	if d, err := e.Homes.Device(ctx, bob.Principal, front.DeviceID); err != nil || d.ID != front.DeviceID {
		t.Fatalf("the camera after accepting: %+v %v", d, err)
	}
	notFoundAlike(t, "accept again", e.Homes.AcceptInvitation(ctx, bob.Principal, inv.ID), e.Homes.AcceptInvitation(ctx, bob.Principal, missing))
	if list, err := e.Homes.Invitations(ctx, bob.Principal); err != nil || len(list) != 0 {
		t.Fatalf("bob's invitations after accepting: %+v %v", list, err)
	}

	// The owner cannot take another role by accepting an invitation to
	// their own home; they may decline it.
	if _, err := e.Homes.UpdateMember(ctx, ann.Principal, home, bob.AccountID, domain.RoleAdmin, nil); err != nil {
		t.Fatal(err)
	}
	toOwner, err := e.Homes.Invite(ctx, bob.Principal, home, ann.Email, domain.RoleViewer, nil)
	if err != nil {
		t.Fatal(err)
	}
	servicetest.WantCode(t, "the owner accepts a viewer's place", e.Homes.AcceptInvitation(ctx, ann.Principal, toOwner.ID), apperr.Conflict)
	if h, err := e.Homes.Get(ctx, ann.Principal, home); err != nil || h.Role != domain.RoleOwner {
		t.Fatalf("the owner after a refused accept: %+v %v", h, err)
	}
	if err := e.Homes.DeleteInvitation(ctx, ann.Principal, toOwner.ID); err != nil {
		t.Fatalf("the owner declines: %v", err)
	}
}

// TestInvitationLifecycle: declined, taken back, expired or replaced, an
// invitation can no longer be accepted; an email without an account when
// invited can accept once it signs up; each step is in the home's audit
// log.
func TestInvitationLifecycle(t *testing.T) {
	t.Parallel()
	e := servicetest.New(t)
	ctx := e.Ctx()
	ann, bob, cat := e.Person("ann"), e.Person("bob"), e.Person("cat")
	home := e.Home(ann, "Home")
	e.Share(ann, home, cat, domain.RoleAdmin)
	cannotAccept := func(what string, p servicetest.Person, invitationID string) {
		t.Helper()
		notFoundAlike(t, what, e.Homes.AcceptInvitation(ctx, p.Principal, invitationID), e.Homes.AcceptInvitation(ctx, p.Principal, id.New()))
		if _, err := e.Homes.Get(ctx, p.Principal, home); apperr.CodeOf(err) != apperr.NotFound {
			t.Fatalf("%s: %s reads the home: %v", what, p.Email, err)
		}
	}

	// Declined by bob.
	inv, err := e.Homes.Invite(ctx, ann.Principal, home, bob.Email, domain.RoleViewer, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Homes.DeleteInvitation(ctx, bob.Principal, inv.ID); err != nil {
		t.Fatalf("decline: %v", err)
	}
	cannotAccept("a declined invitation", bob, inv.ID)

	// Taken back by an admin (not the inviter).
	inv, err = e.Homes.Invite(ctx, ann.Principal, home, bob.Email, domain.RoleViewer, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Homes.DeleteInvitation(ctx, cat.Principal, inv.ID); err != nil {
		t.Fatalf("cancel: %v", err)
	}
	cannotAccept("a cancelled invitation", bob, inv.ID)

	// Expired.
	inv, err = e.Homes.Invite(ctx, ann.Principal, home, bob.Email, domain.RoleViewer, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(7 * 24 * time.Hour)
	if list, err := e.Homes.Invitations(ctx, bob.Principal); err != nil || len(list) != 0 {
		t.Fatalf("bob lists expired invitations: %+v %v", list, err)
	}
	cannotAccept("an expired invitation", bob, inv.ID)
	notFoundAlike(t, "decline an expired invitation", e.Homes.DeleteInvitation(ctx, bob.Principal, inv.ID), e.Homes.DeleteInvitation(ctx, bob.Principal, id.New()))
	if n, err := e.Homes.SweepInvitations(ctx); err != nil || n != 1 {
		t.Fatalf("sweep: %d %v, want the expired invitation", n, err)
	}

	// Replaced by a second invitation to the same email: the first is
	// gone, the second gives the new role.
	first, err := e.Homes.Invite(ctx, ann.Principal, home, bob.Email, domain.RoleViewer, nil)
	if err != nil {
		t.Fatal(err)
	}
	second, err := e.Homes.Invite(ctx, cat.Principal, home, bob.Email, domain.RoleAdmin, nil)
	if err != nil {
		t.Fatal(err)
	}
	cannotAccept("a replaced invitation", bob, first.ID)
	if err := e.Homes.AcceptInvitation(ctx, bob.Principal, second.ID); err != nil {
		t.Fatalf("accept the second invitation: %v", err)
	}
	if h, err := e.Homes.Get(ctx, bob.Principal, home); err != nil || h.Role != domain.RoleAdmin {
		t.Fatalf("bob after accepting the second invitation: %+v %v", h, err)
	}

	// An email nobody had when invited: its owner signs up with it and
	// accepts.
	newcomer := "newcomer-" + id.New() + "@example.com"
	later, err := e.Homes.Invite(ctx, ann.Principal, home, newcomer, domain.RoleViewer, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Identity.CreateAccount(ctx, strings.ToUpper(newcomer), "a newcomer's long password"); err != nil {
		t.Fatal(err)
	}
	l, err := e.Identity.Login(ctx, newcomer, "a newcomer's long password", identityClient)
	if err != nil {
		t.Fatal(err)
	}
	dan, err := e.Identity.Authenticate(ctx, l.Token)
	if err != nil {
		t.Fatal(err)
	}
	if list, err := e.Homes.Invitations(ctx, dan); err != nil || len(list) != 1 || list[0].ID != later.ID {
		t.Fatalf("the newcomer's invitations: %+v %v", list, err)
	}
	if err := e.Homes.AcceptInvitation(ctx, dan, later.ID); err != nil {
		t.Fatalf("the newcomer accepts: %v", err)
	}
	if _, err := e.Homes.Get(ctx, dan, home); err != nil {
		t.Fatalf("the newcomer reads the home: %v", err)
	}

	// The audit log has every step, with who took it.
	entries, err := e.Audit.List(ctx, home, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var steps []string
	for i := len(entries) - 1; i >= 0; i-- {
		who := map[string]string{ann.AccountID: "ann", bob.AccountID: "bob", cat.AccountID: "cat", dan.AccountID: "dan"}[entries[i].ActorID]
		steps = append(steps, who+" "+entries[i].Action)
	}
	want := []string{
		"ann invitation.create", "cat invitation.accept", // cat, shared with by the fixture
		"ann invitation.create", "bob invitation.decline",
		"ann invitation.create", "cat invitation.cancel",
		"ann invitation.create",
		"ann invitation.create", "cat invitation.create", "bob invitation.accept",
		"ann invitation.create", "dan invitation.accept",
	}
	if !slices.Equal(steps, want) {
		t.Fatalf("audit log:\n got %q\nwant %q", steps, want)
	}
}

// TestInvitationBounds: a home has at most InvitationsPerHome pending
// invitations, and one person at most InvitationsPerInviter over every
// home, so a hostile household cannot flood anyone; inviting the same
// email again replaces, and an answered invitation frees its place.
func TestInvitationBounds(t *testing.T) {
	t.Parallel()
	e := servicetest.New(t, func(o *servicetest.Options) {
		o.Homes.InvitationsPerHome = 2
		o.Homes.InvitationsPerInviter = 3
	})
	ctx := e.Ctx()
	ann, bob := e.Person("ann"), e.Person("bob")
	home, other := e.Home(ann, "Home"), e.Home(ann, "Other")
	invite := func(homeID, email string) error {
		_, err := e.Homes.Invite(ctx, ann.Principal, homeID, email, domain.RoleViewer, nil)
		return err
	}
	for _, email := range []string{bob.Email, "x@example.com", bob.Email} {
		if err := invite(home, email); err != nil {
			t.Fatalf("invite %s: %v", email, err)
		}
	}
	servicetest.WantCode(t, "a third pending invitation of a home", invite(home, "y@example.com"), apperr.Conflict)
	if err := invite(other, "z@example.com"); err != nil {
		t.Fatal(err)
	}
	servicetest.WantCode(t, "a fourth pending invitation of an inviter", invite(other, "w@example.com"), apperr.Conflict)
	list, err := e.Homes.Invitations(ctx, bob.Principal)
	if err != nil || len(list) != 1 {
		t.Fatalf("bob's invitations: %+v %v", list, err)
	}
	if err := e.Homes.AcceptInvitation(ctx, bob.Principal, list[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := invite(home, "y@example.com"); err != nil {
		t.Fatalf("after an invitation was accepted: %v", err)
	}
}
