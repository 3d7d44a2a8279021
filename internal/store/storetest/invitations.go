package storetest

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/store"
)

// normInvitation is normMember's rule for the camera list (sorted; nil
// every camera, empty none), with bytes and times normalized.
func normInvitation(inv domain.Invitation) domain.Invitation {
	if inv.Devices != nil {
		inv.Devices = slices.Sorted(slices.Values(inv.Devices))
		if inv.Devices == nil {
			inv.Devices = []string{}
		}
	}
	inv.EmailIndex, inv.EmailSealed = normBytes(inv.EmailIndex), normBytes(inv.EmailSealed)
	inv.CreatedAt, inv.ExpiresAt = normTime(inv.CreatedAt), normTime(inv.ExpiresAt)
	return inv
}

func invitationID(inv domain.Invitation) string { return inv.ID }

// invitationValue is an invitation to index made at at(created), expiring
// a week later.
func invitationValue(homeID, inviter string, index []byte, role domain.Role, created time.Duration, devices ...string) domain.Invitation {
	inv := domain.Invitation{ID: id.New(), HomeID: homeID, EmailIndex: index, EmailGen: 2, EmailSealed: random("sealed email"), Role: role,
		InvitedBy: inviter, CreatedAt: at(created), ExpiresAt: at(created + 7*24*time.Hour)}
	if devices != nil {
		inv.Devices = devices
	}
	return inv
}

const roomy = 1000 // a bound no test here reaches

func invite(t *testing.T, s store.Store, inv domain.Invitation) domain.Invitation {
	t.Helper()
	check(t, "create invitation", s.CreateInvitation(t.Context(), inv, roomy, roomy))
	return inv
}

// invitationIDs are the IDs of list, in order.
func invitationIDs(list []domain.Invitation) []string { return ids(list, invitationID) }

func sameIDs(t *testing.T, what string, got []domain.Invitation, want ...string) {
	t.Helper()
	sameList(t, what, invitationIDs(got), want, func(s string) string { return s })
}

func testInvitations(t *testing.T, s store.Store) {
	ctx := t.Context()
	owner, other := newAccount(t, s), newAccount(t, s)
	h, elsewhere := newHome(t, s, owner.ID), newHome(t, s, other.ID)
	front, back := newDevice(t, s, owner.ID, h.ID), newDevice(t, s, owner.ID, h.ID)
	foreign := newDevice(t, s, other.ID, elsewhere.ID)
	bob, cat := random("bob's email index"), random("cat's email index")

	// A limited viewer invitation, read back whole; then another home's
	// and a later one to the same email.
	first := invite(t, s, invitationValue(h.ID, owner.ID, bob, domain.RoleViewer, 0, back.ID, front.ID, front.ID))
	got, err := s.Invitation(ctx, first.ID)
	check(t, "read invitation", err)
	want := first
	want.Devices = []string{back.ID, front.ID}
	same(t, "invitation", got, want, normInvitation)
	_, err = s.Invitation(ctx, id.New())
	mustNotFound(t, "missing invitation", err)
	second := invite(t, s, invitationValue(elsewhere.ID, other.ID, bob, domain.RoleAdmin, time.Minute))
	toCat := invite(t, s, invitationValue(h.ID, owner.ID, cat, domain.RoleAdmin, 2*time.Minute))

	list, err := s.InvitationsTo(ctx, bob, at(time.Hour), 10)
	check(t, "invitations to bob", err)
	sameList(t, "invitations to bob, newest first", list, []domain.Invitation{second, want}, normInvitation)
	list, err = s.InvitationsTo(ctx, bob, at(time.Hour), 1)
	check(t, "invitations to bob, one", err)
	sameIDs(t, "invitations to bob, at most one", list, second.ID)
	list, err = s.HomeInvitations(ctx, h.ID, at(time.Hour))
	check(t, "home's invitations", err)
	sameIDs(t, "home's invitations, newest first", list, toCat.ID, first.ID)

	// Not listed once expired.
	list, err = s.InvitationsTo(ctx, bob, first.ExpiresAt, 10)
	check(t, "invitations to bob a week later", err)
	sameIDs(t, "invitations to bob a week later", list, second.ID)

	// Inviting the same email to the same home again replaces the
	// invitation: the old one is gone.
	again := invite(t, s, invitationValue(h.ID, owner.ID, bob, domain.RoleAdmin, 3*time.Minute))
	_, err = s.Invitation(ctx, first.ID)
	mustNotFound(t, "replaced invitation", err)
	list, err = s.HomeInvitations(ctx, h.ID, at(time.Hour))
	check(t, "home's invitations after inviting again", err)
	sameIDs(t, "home's invitations after inviting again", list, again.ID, toCat.ID)

	// A camera of another home, a missing home or a missing inviter is
	// refused, and nothing changes (the pending invitation stays).
	for what, inv := range map[string]domain.Invitation{
		"a camera of another home": invitationValue(h.ID, owner.ID, bob, domain.RoleViewer, 4*time.Minute, front.ID, foreign.ID),
		"a missing home":           invitationValue(id.New(), owner.ID, bob, domain.RoleViewer, 4*time.Minute),
		"a missing inviter":        invitationValue(h.ID, id.New(), bob, domain.RoleViewer, 4*time.Minute),
	} {
		mustNotFound(t, "invitation naming "+what, s.CreateInvitation(ctx, inv, roomy, roomy))
		if _, err := s.Invitation(ctx, inv.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("invitation naming %s was stored: %v", what, err)
		}
	}
	got, err = s.Invitation(ctx, again.ID)
	check(t, "invitation after refused ones", err)
	same(t, "invitation after refused ones", got, again, normInvitation)

	// A removed camera leaves a limited invitation, which stays limited
	// (to none), never "every camera".
	limited := invite(t, s, invitationValue(h.ID, owner.ID, random("dan"), domain.RoleViewer, 5*time.Minute, back.ID))
	check(t, "delete camera", s.DeleteDevice(ctx, back.ID))
	got, err = s.Invitation(ctx, limited.ID)
	check(t, "invitation after its camera was removed", err)
	if got.Devices == nil || len(got.Devices) != 0 {
		t.Fatalf("invitation limited to a removed camera offers %v, want none (an empty, non-nil list)", got.Devices)
	}

	// An invitation from someone who no longer manages the home is not
	// pending: a viewer's, or a removed admin's.
	admin := newAccount(t, s)
	check(t, "add admin", s.PutMember(ctx, domain.Member{HomeID: h.ID, AccountID: admin.ID, Role: domain.RoleAdmin, AddedAt: at(0)}))
	fromAdmin := invite(t, s, invitationValue(h.ID, admin.ID, random("eve"), domain.RoleViewer, 6*time.Minute))
	list, err = s.HomeInvitations(ctx, h.ID, at(time.Hour))
	check(t, "home's invitations", err)
	if !slices.Contains(invitationIDs(list), fromAdmin.ID) {
		t.Fatal("an admin's invitation is not listed")
	}
	check(t, "demote admin", s.PutMember(ctx, domain.Member{HomeID: h.ID, AccountID: admin.ID, Role: domain.RoleViewer, AddedAt: at(0)}))
	list, err = s.HomeInvitations(ctx, h.ID, at(time.Hour))
	check(t, "home's invitations", err)
	if slices.Contains(invitationIDs(list), fromAdmin.ID) {
		t.Fatal("the invitation of an admin made a viewer is still pending")
	}
	list, err = s.InvitationsTo(ctx, fromAdmin.EmailIndex, at(time.Hour), 10)
	check(t, "invitations from a former admin", err)
	if len(list) != 0 {
		t.Fatalf("the invitee lists %d invitations of a former admin", len(list))
	}

	// Delete one; delete the expired ones.
	check(t, "delete invitation", s.DeleteInvitation(ctx, toCat.ID))
	mustNotFound(t, "delete it again", s.DeleteInvitation(ctx, toCat.ID))
	_, err = s.Invitation(ctx, toCat.ID)
	mustNotFound(t, "deleted invitation", err)
	n, err := s.DeleteExpiredInvitations(ctx, at(7*24*time.Hour+time.Minute))
	check(t, "delete expired invitations", err)
	if n != 1 { // second's, made a minute in, expired exactly then
		t.Fatalf("swept %d expired invitations, want 1", n)
	}
	if _, err := s.Invitation(ctx, second.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("an expired invitation is still there after the sweep: %v", err)
	}
	for _, inv := range []domain.Invitation{again, limited, fromAdmin} {
		if _, err := s.Invitation(ctx, inv.ID); err != nil {
			t.Fatalf("an unexpired invitation was swept: %v", err)
		}
	}
}

func testAcceptInvitation(t *testing.T, s store.Store) {
	ctx := t.Context()
	owner, bob, mallory := newAccount(t, s), newAccount(t, s), newAccount(t, s)
	h := newHome(t, s, owner.ID)
	front, back := newDevice(t, s, owner.ID, h.ID), newDevice(t, s, owner.ID, h.ID)
	inv := invite(t, s, invitationValue(h.ID, owner.ID, bob.EmailIndex, domain.RoleViewer, 0, front.ID, back.ID))
	now := at(time.Hour)

	// Nobody else's index, no missing ID, and nothing after it expired:
	// each is not found and changes nothing.
	_, err := s.AcceptInvitation(ctx, inv.ID, mallory.EmailIndex, mallory.ID, now)
	mustNotFound(t, "accept with another email's index", err)
	_, err = s.AcceptInvitation(ctx, id.New(), bob.EmailIndex, bob.ID, now)
	mustNotFound(t, "accept a missing invitation", err)
	_, err = s.AcceptInvitation(ctx, inv.ID, bob.EmailIndex, bob.ID, inv.ExpiresAt)
	mustNotFound(t, "accept when it expires", err)
	for _, who := range []string{bob.ID, mallory.ID} {
		_, err := s.Member(ctx, h.ID, who)
		mustNotFound(t, "membership before accepting", err)
	}

	// Accepting makes the member, with the cameras still in the home,
	// bumps the grants version, and uses the invitation up.
	check(t, "remove a camera", s.DeleteDevice(ctx, back.ID))
	before := version(t, s, h.ID)
	m, err := s.AcceptInvitation(ctx, inv.ID, bob.EmailIndex, bob.ID, now)
	check(t, "accept", err)
	wantMember := domain.Member{HomeID: h.ID, AccountID: bob.ID, Role: domain.RoleViewer, Devices: []string{front.ID}, AddedAt: now}
	same(t, "accepted membership", m, wantMember, normMember)
	got, err := s.Member(ctx, h.ID, bob.ID)
	check(t, "membership after accepting", err)
	same(t, "membership after accepting", got.Member, wantMember, normMember)
	if v := version(t, s, h.ID); v <= before {
		t.Fatalf("grants version %d after accepting, was %d", v, before)
	}
	_, err = s.AcceptInvitation(ctx, inv.ID, bob.EmailIndex, bob.ID, now)
	mustNotFound(t, "accept twice", err)
	_, err = s.Invitation(ctx, inv.ID)
	mustNotFound(t, "the accepted invitation", err)

	// A member accepting a new invitation takes its role and cameras
	// (every camera: nil) and keeps the time they joined.
	promote := invite(t, s, invitationValue(h.ID, owner.ID, bob.EmailIndex, domain.RoleAdmin, 2*time.Hour))
	m, err = s.AcceptInvitation(ctx, promote.ID, bob.EmailIndex, bob.ID, at(3*time.Hour))
	check(t, "accept as a member", err)
	wantMember = domain.Member{HomeID: h.ID, AccountID: bob.ID, Role: domain.RoleAdmin, AddedAt: now}
	got, err = s.Member(ctx, h.ID, bob.ID)
	check(t, "membership after accepting again", err)
	same(t, "membership after accepting again", got.Member, wantMember, normMember)
	if m.Role != domain.RoleAdmin || m.Devices != nil {
		t.Fatalf("accepted membership %+v, want an admin of every camera", m)
	}

	// The owner cannot be made anything else: refused, and the
	// invitation stays for them to decline.
	toOwner := invite(t, s, invitationValue(h.ID, bob.ID, owner.EmailIndex, domain.RoleViewer, 4*time.Hour))
	before = version(t, s, h.ID)
	if _, err := s.AcceptInvitation(ctx, toOwner.ID, owner.EmailIndex, owner.ID, at(5*time.Hour)); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("the owner accepting an invitation to their home: %v, want ErrConflict", err)
	}
	got, err = s.Member(ctx, h.ID, owner.ID)
	check(t, "owner's membership", err)
	if got.Member.Role != domain.RoleOwner || version(t, s, h.ID) != before {
		t.Fatalf("a refused accept changed the owner's membership (%s) or the grants version", got.Member.Role)
	}
	_, err = s.Invitation(ctx, toOwner.ID)
	check(t, "a refused accept leaves the invitation", err)

	// An invitation whose inviter no longer manages the home cannot be
	// accepted.
	carol := newAccount(t, s)
	fromBob := invite(t, s, invitationValue(h.ID, bob.ID, carol.EmailIndex, domain.RoleViewer, 4*time.Hour))
	check(t, "remove bob", s.DeleteMember(ctx, h.ID, bob.ID))
	_, err = s.AcceptInvitation(ctx, fromBob.ID, carol.EmailIndex, carol.ID, at(5*time.Hour))
	mustNotFound(t, "accept the invitation of a removed admin", err)
	_, err = s.Member(ctx, h.ID, carol.ID)
	mustNotFound(t, "membership from a removed admin's invitation", err)
}

// testInvitationBounds: a home and an inviter have at most their bound of
// unexpired invitations; inviting an email again replaces rather than
// adds; a refusal changes nothing.
func testInvitationBounds(t *testing.T, s store.Store) {
	ctx := t.Context()
	owner := newAccount(t, s)
	h1, h2 := newHome(t, s, owner.ID), newHome(t, s, owner.ID)
	const perHome, perInviter = 2, 3
	create := func(inv domain.Invitation) error { return s.CreateInvitation(ctx, inv, perHome, perInviter) }

	a := invitationValue(h1.ID, owner.ID, random("a"), domain.RoleViewer, 0)
	check(t, "first", create(a))
	check(t, "second", create(invitationValue(h1.ID, owner.ID, random("b"), domain.RoleViewer, 0)))
	again := invitationValue(h1.ID, owner.ID, a.EmailIndex, domain.RoleAdmin, time.Minute)
	check(t, "the first email again", create(again))
	over := invitationValue(h1.ID, owner.ID, random("c"), domain.RoleViewer, time.Minute)
	if err := create(over); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("a third pending invitation of a home bounded at 2: %v, want ErrConflict", err)
	}
	_, err := s.Invitation(ctx, over.ID)
	mustNotFound(t, "the refused invitation", err)
	// Re-inviting within a full home is still a replacement.
	check(t, "the first email once more", create(invitationValue(h1.ID, owner.ID, a.EmailIndex, domain.RoleViewer, 2*time.Minute)))

	// The inviter's bound counts every home.
	check(t, "another home", create(invitationValue(h2.ID, owner.ID, random("d"), domain.RoleViewer, 0)))
	if err := create(invitationValue(h2.ID, owner.ID, random("e"), domain.RoleViewer, 0)); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("a fourth pending invitation of an inviter bounded at 3: %v, want ErrConflict", err)
	}

	// Expired invitations count for nothing.
	check(t, "a week later", create(invitationValue(h1.ID, owner.ID, random("f"), domain.RoleViewer, 7*24*time.Hour+time.Minute)))
}

// testInvitationRaces: sixteen accepts of one invitation at once make one
// membership; sixteen invitations to a home bounded at five at once leave
// five.
func testInvitationRaces(t *testing.T, s store.Store) {
	ctx := t.Context()
	owner, bob := newAccount(t, s), newAccount(t, s)
	h := newHome(t, s, owner.ID)
	inv := invite(t, s, invitationValue(h.ID, owner.ID, bob.EmailIndex, domain.RoleViewer, 0))
	const n = 16
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { _, errs[i] = s.AcceptInvitation(ctx, inv.ID, bob.EmailIndex, bob.ID, at(time.Minute)) })
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, store.ErrNotFound):
			t.Fatalf("racing accept: %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d of %d racing accepts of one invitation succeeded, want 1", ok, n)
	}

	const bound = 5
	for i := range n {
		wg.Go(func() {
			errs[i] = s.CreateInvitation(ctx, invitationValue(h.ID, owner.ID, random("racer"), domain.RoleViewer, 0), bound, roomy)
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil && !errors.Is(err, store.ErrConflict) {
			t.Fatalf("racing invitation: %v", err)
		}
	}
	list, err := s.HomeInvitations(ctx, h.ID, at(time.Minute))
	check(t, "home's invitations", err)
	if len(list) != bound {
		t.Fatalf("%d racing invitations to a home bounded at %d left %d pending", n, bound, len(list))
	}
}
