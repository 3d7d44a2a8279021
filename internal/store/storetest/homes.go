package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/store"
)

func normHome(h domain.Home) domain.Home {
	h.NameSealed, h.WrappedDataKey, h.CreatedAt = normBytes(h.NameSealed), normBytes(h.WrappedDataKey), normTime(h.CreatedAt)
	return h
}

// normMember sorts the camera list (its order is not part of the
// contract) and keeps whether it is nil: nil is every camera, empty none.
func normMember(m domain.Member) domain.Member {
	if m.Devices != nil {
		m.Devices = slices.Sorted(slices.Values(m.Devices))
		if m.Devices == nil {
			m.Devices = []string{}
		}
	}
	m.AddedAt = normTime(m.AddedAt)
	return m
}

func normMembership(m domain.Membership) domain.Membership {
	return domain.Membership{Home: normHome(m.Home), Member: normMember(m.Member)}
}

func newHome(t *testing.T, s store.Store, owner string) domain.Home {
	t.Helper()
	h := domain.Home{ID: id.New(), NameSealed: random("name"), WrappedDataKey: random("key"), RetentionDays: 30, CreatedAt: at(0), GrantsVersion: 1}
	check(t, "create home", s.CreateHome(t.Context(), h, ownerOf(h, owner)))
	return h
}

func ownerOf(h domain.Home, accountID string) domain.Member {
	return domain.Member{HomeID: h.ID, AccountID: accountID, Role: domain.RoleOwner, AddedAt: h.CreatedAt}
}

// version reads a home's grants version.
func version(t *testing.T, s store.Store, homeID string) int64 {
	t.Helper()
	h, err := s.HomeByID(t.Context(), homeID)
	check(t, "read home", err)
	return h.GrantsVersion
}

func testHomes(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := newAccount(t, s), newAccount(t, s)
	h1, h2 := newHome(t, s, a.ID), newHome(t, s, b.ID)

	got, err := s.HomeByID(ctx, h1.ID)
	check(t, "home by id", err)
	same(t, "home by id", got, h1, normHome)
	_, err = s.HomeByID(ctx, id.New())
	mustNotFound(t, "missing home", err)

	m, err := s.Member(ctx, h1.ID, a.ID)
	check(t, "owner's membership", err)
	same(t, "owner's membership", m, domain.Membership{Home: h1, Member: ownerOf(h1, a.ID)}, normMembership)
	_, err = s.Member(ctx, h2.ID, a.ID)
	mustNotFound(t, "membership of another's home", err)
	_, err = s.Member(ctx, h1.ID, id.New())
	mustNotFound(t, "membership of a missing account", err)
	_, err = s.Member(ctx, id.New(), a.ID)
	mustNotFound(t, "membership of a missing home", err)

	dup := h1
	dup.NameSealed = random("other name")
	if err := s.CreateHome(ctx, dup, ownerOf(dup, b.ID)); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second home with one ID: %v, want ErrConflict", err)
	}
	got, _ = s.HomeByID(ctx, h1.ID)
	same(t, "home after a refused duplicate", got, h1, normHome)
	_, err = s.Member(ctx, h1.ID, b.ID)
	mustNotFound(t, "owner of a refused duplicate home", err)
}

// testCreateHomeAtomic: a home whose owner cannot be added is not created.
func testCreateHomeAtomic(t *testing.T, s store.Store) {
	ctx := t.Context()
	h := domain.Home{ID: id.New(), NameSealed: random("name"), WrappedDataKey: random("key"), RetentionDays: 30, CreatedAt: at(0), GrantsVersion: 1}
	err := s.CreateHome(ctx, h, ownerOf(h, id.New()))
	mustNotFound(t, "home with a missing owner account", err)
	_, err = s.HomeByID(ctx, h.ID)
	mustNotFound(t, "home whose owner was refused", err)

	a := newAccount(t, s)
	err = s.PutMember(ctx, domain.Member{HomeID: id.New(), AccountID: a.ID, Role: domain.RoleViewer, AddedAt: at(0)})
	mustNotFound(t, "member of a missing home", err)
	ms, err := s.Memberships(ctx, a.ID)
	check(t, "memberships", err)
	if len(ms) != 0 {
		t.Fatalf("memberships after refused puts: %+v", ms)
	}
}

func testUpdateHome(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := newAccount(t, s)
	h := newHome(t, s, a.ID)
	other := newHome(t, s, a.ID)

	h.NameSealed = random("new name")
	check(t, "rename home", s.UpdateHome(ctx, h.ID, h.NameSealed, nil))
	got, err := s.HomeByID(ctx, h.ID)
	check(t, "home after rename", err)
	same(t, "home after rename (retention kept)", got, h, normHome)

	h.RetentionDays = 7
	check(t, "change retention", s.UpdateHome(ctx, h.ID, nil, &h.RetentionDays))
	got, _ = s.HomeByID(ctx, h.ID)
	same(t, "home after retention change (name kept)", got, h, normHome)

	h.NameSealed, h.RetentionDays = random("third name"), 365
	check(t, "change both", s.UpdateHome(ctx, h.ID, h.NameSealed, &h.RetentionDays))
	got, _ = s.HomeByID(ctx, h.ID)
	same(t, "home after changing both (grants version kept)", got, h, normHome)

	check(t, "change nothing", s.UpdateHome(ctx, h.ID, nil, nil))
	got, _ = s.HomeByID(ctx, h.ID)
	same(t, "home after changing nothing", got, h, normHome)

	got, _ = s.HomeByID(ctx, other.ID)
	same(t, "another home", got, other, normHome)
	mustNotFound(t, "update a missing home", s.UpdateHome(ctx, id.New(), random("name"), nil))
}

func testMemberships(t *testing.T, s store.Store) {
	ctx := t.Context()
	o1, o2, o3, v := newAccount(t, s), newAccount(t, s), newAccount(t, s), newAccount(t, s)
	hA, hB, hC, hV := newHome(t, s, o1.ID), newHome(t, s, o2.ID), newHome(t, s, o3.ID), newHome(t, s, v.ID)
	inB := domain.Member{HomeID: hB.ID, AccountID: v.ID, Role: domain.RoleViewer, AddedAt: at(2 * time.Hour)}
	inC := domain.Member{HomeID: hC.ID, AccountID: v.ID, Role: domain.RoleAdmin, AddedAt: at(time.Hour)}
	check(t, "put member in B", s.PutMember(ctx, inB))
	check(t, "put member in C", s.PutMember(ctx, inC))
	hB.GrantsVersion, hC.GrantsVersion = 2, 2

	ms, err := s.Memberships(ctx, v.ID)
	check(t, "memberships", err)
	sameList(t, "memberships, oldest first, with current grants versions", ms, []domain.Membership{
		{Home: hV, Member: ownerOf(hV, v.ID)},
		{Home: hC, Member: inC},
		{Home: hB, Member: inB},
	}, normMembership)

	ms, err = s.Memberships(ctx, o1.ID)
	check(t, "memberships of o1", err)
	sameList(t, "memberships of o1", ms, []domain.Membership{{Home: hA, Member: ownerOf(hA, o1.ID)}}, normMembership)
	ms, err = s.Memberships(ctx, id.New())
	check(t, "memberships of nobody", err)
	sameList(t, "memberships of nobody", ms, nil, normMembership)
}

func testMembers(t *testing.T, s store.Store) {
	ctx := t.Context()
	owner, viewer := newAccount(t, s), newAccount(t, s)
	h := newHome(t, s, owner.ID)
	d1, d2 := newDevice(t, s, owner.ID, h.ID), newDevice(t, s, owner.ID, h.ID)

	vm := domain.Member{HomeID: h.ID, AccountID: viewer.ID, Role: domain.RoleViewer, Devices: []string{d1.ID}, AddedAt: at(time.Second)}
	check(t, "put viewer", s.PutMember(ctx, vm))
	h.GrantsVersion = 2
	m, err := s.Member(ctx, h.ID, viewer.ID)
	check(t, "read viewer", err)
	same(t, "viewer of d1, grants version bumped", m, domain.Membership{Home: h, Member: vm}, normMembership)

	// Replacing: the camera list changes and the version moves again.
	check(t, "replace", s.PutMember(ctx, domain.Member{HomeID: h.ID, AccountID: viewer.ID, Role: domain.RoleViewer,
		Devices: []string{d2.ID, d1.ID}, AddedAt: at(time.Second)}))
	m, err = s.Member(ctx, h.ID, viewer.ID)
	check(t, "read replaced viewer", err)
	if got := normMember(m.Member); got.Role != domain.RoleViewer || !slices.Equal(got.Devices, normMember(domain.Member{Devices: []string{d1.ID, d2.ID}}).Devices) ||
		m.Home.GrantsVersion != 3 {
		t.Fatalf("after replace: %+v", m)
	}

	// An empty, non-nil list: limited to no camera, never "all cameras".
	check(t, "limit to none", s.PutMember(ctx, domain.Member{HomeID: h.ID, AccountID: viewer.ID, Role: domain.RoleViewer,
		Devices: []string{}, AddedAt: at(time.Second)}))
	m, err = s.Member(ctx, h.ID, viewer.ID)
	check(t, "read viewer limited to none", err)
	if m.Member.Devices == nil || len(m.Member.Devices) != 0 || m.Home.GrantsVersion != 4 {
		t.Fatalf("viewer limited to none: %#v", m)
	}

	check(t, "make admin", s.PutMember(ctx, domain.Member{HomeID: h.ID, AccountID: viewer.ID, Role: domain.RoleAdmin, AddedAt: at(time.Second)}))
	m, err = s.Member(ctx, h.ID, viewer.ID)
	check(t, "read admin", err)
	if m.Member.Role != domain.RoleAdmin || m.Member.Devices != nil || m.Home.GrantsVersion != 5 {
		t.Fatalf("after making admin: %#v", m)
	}

	list, err := s.ListMembers(ctx, h.ID)
	check(t, "list members", err)
	if len(list) != 2 || list[0].AccountID != owner.ID || list[0].Role != domain.RoleOwner || list[0].Devices != nil ||
		list[1].AccountID != viewer.ID || list[1].Role != domain.RoleAdmin || list[1].HomeID != h.ID {
		t.Fatalf("members, oldest first: %+v", list)
	}
	list, err = s.ListMembers(ctx, id.New())
	check(t, "list members of a missing home", err)
	if len(list) != 0 {
		t.Fatalf("members of a missing home: %+v", list)
	}

	check(t, "delete member", s.DeleteMember(ctx, h.ID, viewer.ID))
	if v := version(t, s, h.ID); v != 6 {
		t.Fatalf("grants version %d after deleting a member, want 6", v)
	}
	_, err = s.Member(ctx, h.ID, viewer.ID)
	mustNotFound(t, "deleted member", err)
	ms, err := s.Memberships(ctx, viewer.ID)
	check(t, "memberships of a deleted member", err)
	if len(ms) != 0 {
		t.Fatalf("memberships of a deleted member: %+v", ms)
	}
	list, _ = s.ListMembers(ctx, h.ID)
	if len(list) != 1 || list[0].AccountID != owner.ID {
		t.Fatalf("members after delete: %+v", list)
	}
	mustNotFound(t, "delete a member twice", s.DeleteMember(ctx, h.ID, viewer.ID))
	mustNotFound(t, "delete a member of a missing home", s.DeleteMember(ctx, id.New(), owner.ID))
	if v := version(t, s, h.ID); v != 6 {
		t.Fatalf("grants version %d after refused deletes, want 6", v)
	}
}

// testPutMemberRefusesForeignCamera: a member cannot be limited to a camera
// of another home (which would give them its events), and a refused put
// changes nothing.
func testPutMemberRefusesForeignCamera(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b, viewer := newAccount(t, s), newAccount(t, s), newAccount(t, s)
	ha, hb := newHome(t, s, a.ID), newHome(t, s, b.ID)
	own, foreign := newDevice(t, s, a.ID, ha.ID), newDevice(t, s, b.ID, hb.ID)

	err := s.PutMember(ctx, domain.Member{HomeID: ha.ID, AccountID: viewer.ID, Role: domain.RoleViewer, Devices: []string{foreign.ID}, AddedAt: at(0)})
	mustNotFound(t, "limit to a camera of another home", err)
	_, err = s.Member(ctx, ha.ID, viewer.ID)
	mustNotFound(t, "membership after a refused put", err)
	if v := version(t, s, ha.ID); v != 1 {
		t.Fatalf("a refused put moved the grants version to %d", v)
	}

	vm := domain.Member{HomeID: ha.ID, AccountID: viewer.ID, Role: domain.RoleViewer, Devices: []string{own.ID}, AddedAt: at(0)}
	check(t, "limit to an own camera", s.PutMember(ctx, vm))
	for _, devices := range [][]string{{own.ID, foreign.ID}, {id.New()}} {
		err = s.PutMember(ctx, domain.Member{HomeID: ha.ID, AccountID: viewer.ID, Role: domain.RoleAdmin, Devices: devices, AddedAt: at(0)})
		mustNotFound(t, "replace with a foreign or unknown camera", err)
	}
	m, err := s.Member(ctx, ha.ID, viewer.ID)
	check(t, "membership after refused replacements", err)
	ha.GrantsVersion = 2
	same(t, "membership after refused replacements", m, domain.Membership{Home: ha, Member: vm}, normMembership)
	_, err = s.Member(ctx, hb.ID, viewer.ID)
	mustNotFound(t, "membership of the other home", err)
	if v := version(t, s, hb.ID); v != 1 {
		t.Fatalf("the other home's grants version moved to %d", v)
	}
}
