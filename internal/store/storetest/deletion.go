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

func mustConflict(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("%s: want ErrConflict, got %v", what, err)
	}
}

// dueRemovals lists every queued blob due at t, sorted.
func dueRemovals(t *testing.T, s store.Store, now time.Time) []string {
	t.Helper()
	keys, err := s.DueBlobRemovals(t.Context(), now, 1000)
	check(t, "due blob removals", err)
	slices.Sort(keys)
	return keys
}

// testDeleteAccount: deleting an account removes the homes it owns alone
// with every row of theirs, wrapped data key first of all, queues their
// blobs, leaves the homes it was only a member of (bumping their grants),
// ends its sessions and invitations, and frees its email index; a home it
// owns with other members refuses the whole deletion.
func testDeleteAccount(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := newAccount(t, s), newAccount(t, s)
	sess := newSession(t, s, a.ID, at(0))
	alone := newHome(t, s, a.ID)
	dev := newDevice(t, s, a.ID, alone.ID)
	e1, e2 := newEvent(t, s, alone.ID, dev.ID, "motion", at(0)), newEvent(t, s, alone.ID, dev.ID, "person", at(time.Minute))
	appendAudit(t, s, alone.ID, 0, nil)
	// b's home, of which a is an admin; a invited someone to it.
	theirs := newHome(t, s, b.ID)
	check(t, "a joins b's home", s.PutMember(ctx, domain.Member{HomeID: theirs.ID, AccountID: a.ID, Role: domain.RoleAdmin, AddedAt: at(0)}))
	byA := invite(t, s, invitationValue(theirs.ID, a.ID, random("invitee"), domain.RoleViewer, 0))
	toA := invite(t, s, invitationValue(theirs.ID, b.ID, a.EmailIndex, domain.RoleViewer, 0))
	theirVersion := version(t, s, theirs.ID)
	check(t, "export", s.CreateExport(ctx, domain.Export{ID: id.New(), AccountID: a.ID, CreatedAt: at(0), ExpiresAt: at(24 * time.Hour)}))

	// A home a owns that has another member refuses everything.
	shared := newHome(t, s, a.ID)
	check(t, "b joins a's home", s.PutMember(ctx, domain.Member{HomeID: shared.ID, AccountID: b.ID, Role: domain.RoleViewer, AddedAt: at(0)}))
	_, err := s.DeleteAccount(ctx, a.ID, [][]byte{a.EmailIndex}, at(time.Hour))
	mustConflict(t, "delete an account owning a shared home", err)
	if _, err := s.HomeByID(ctx, alone.ID); err != nil {
		t.Fatalf("a refused deletion removed a home: %v", err)
	}
	if got := dueRemovals(t, s, at(2*time.Hour)); len(got) != 0 {
		t.Fatalf("a refused deletion queued blobs: %v", got)
	}
	check(t, "b leaves", s.DeleteMember(ctx, shared.ID, b.ID))

	seq, _ := changesAfter(t, s, 0)
	del, err := s.DeleteAccount(ctx, a.ID, [][]byte{a.EmailIndex}, at(time.Hour))
	check(t, "delete account", err)
	slices.Sort(del.Homes)
	wantHomes := []string{alone.ID, shared.ID}
	slices.Sort(wantHomes)
	if !slices.Equal(del.Homes, wantHomes) || !slices.Equal(del.Devices, []string{dev.ID}) {
		t.Fatalf("deletion = %+v, want homes %v and device %s", del, wantHomes, dev.ID)
	}
	for _, h := range wantHomes {
		_, err := s.HomeByID(ctx, h)
		mustNotFound(t, "home of a deleted account (its wrapped key)", err)
		_, err = s.GrantVersion(ctx, h, "")
		mustNotFound(t, "grant version of a deleted home", err)
	}
	_, err = s.AccountByID(ctx, a.ID)
	mustNotFound(t, "deleted account", err)
	_, err = s.AccountByEmailIndex(ctx, a.EmailIndex)
	mustNotFound(t, "deleted account's email index", err)
	_, err = s.SessionByTokenHash(ctx, sess.TokenHash)
	mustNotFound(t, "deleted account's session", err)
	_, err = s.DeviceByTokenHash(ctx, dev.TokenHash)
	mustNotFound(t, "camera of a deleted home", err)
	_, err = s.EventByID(ctx, e1.ID)
	mustNotFound(t, "event of a deleted home", err)
	if ok, err := s.EventRecordExists(ctx, e2.ID); err != nil || ok {
		t.Fatalf("record of an event of a deleted home: %v, %v", ok, err)
	}
	if entries, err := s.ListAudit(ctx, alone.ID, 0, 10); err != nil || len(entries) != 0 {
		t.Fatalf("audit of a deleted home: %v, %v", entries, err)
	}
	for _, inv := range []domain.Invitation{byA, toA} {
		_, err = s.Invitation(ctx, inv.ID)
		mustNotFound(t, "invitation from or to a deleted account", err)
	}
	if m, err := s.ListMembers(ctx, theirs.ID); err != nil || len(m) != 1 || m[0].AccountID != b.ID {
		t.Fatalf("members of a home the deleted account was in: %v, %v", m, err)
	}
	if v := version(t, s, theirs.ID); v <= theirVersion {
		t.Fatalf("grants version of a home the deleted account left: %d, was %d", v, theirVersion)
	}
	_, changes := changesAfter(t, s, seq)
	logged := map[string]bool{}
	for _, c := range changes {
		logged[c.HomeID+"/"+c.AccountID] = true
	}
	for _, want := range []string{alone.ID + "/", shared.ID + "/", theirs.ID + "/", "/" + a.ID} {
		if !logged[want] {
			t.Errorf("change log after the deletion lacks %q: %+v", want, changes)
		}
	}
	want := []string{e1.ThumbKey, e1.ClipKey, e2.ThumbKey, e2.ClipKey}
	slices.Sort(want)
	if got := dueRemovals(t, s, at(time.Hour)); !slices.Equal(got, want) {
		t.Fatalf("queued blobs = %v, want %v", got, want)
	}
	if got := dueRemovals(t, s, at(time.Hour-time.Second)); len(got) != 0 {
		t.Fatalf("blobs due before the deletion: %v", got)
	}
	check(t, "drop removals", s.DropBlobRemovals(ctx, want[:2]))
	if got := dueRemovals(t, s, at(time.Hour)); !slices.Equal(got, want[2:]) {
		t.Fatalf("queued blobs after dropping two = %v, want %v", got, want[2:])
	}

	// The email is free again.
	again := a
	again.ID = id.New()
	check(t, "sign up again with the same email", s.CreateAccount(ctx, again))
	_, err = s.DeleteAccount(ctx, id.New(), nil, at(time.Hour))
	mustNotFound(t, "delete a missing account", err)
}

// testTransferOwnership: only the owner hands a home over, only to an
// admin; the old owner becomes an admin and the grants version moves.
func testTransferOwnership(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b, c := newAccount(t, s), newAccount(t, s), newAccount(t, s)
	h := newHome(t, s, a.ID)
	check(t, "b admin", s.PutMember(ctx, domain.Member{HomeID: h.ID, AccountID: b.ID, Role: domain.RoleAdmin, AddedAt: at(0)}))
	check(t, "c viewer", s.PutMember(ctx, domain.Member{HomeID: h.ID, AccountID: c.ID, Role: domain.RoleViewer, AddedAt: at(0)}))
	v := version(t, s, h.ID)
	mustNotFound(t, "transfer to a viewer", s.TransferOwnership(ctx, h.ID, a.ID, c.ID))
	mustNotFound(t, "transfer by an admin", s.TransferOwnership(ctx, h.ID, b.ID, b.ID))
	mustNotFound(t, "transfer to a stranger", s.TransferOwnership(ctx, h.ID, a.ID, id.New()))
	if m, err := s.Member(ctx, h.ID, a.ID); err != nil || m.Member.Role != domain.RoleOwner {
		t.Fatalf("a refused transfer changed the owner: %+v, %v", m, err)
	}
	check(t, "transfer", s.TransferOwnership(ctx, h.ID, a.ID, b.ID))
	for acct, role := range map[string]domain.Role{a.ID: domain.RoleAdmin, b.ID: domain.RoleOwner, c.ID: domain.RoleViewer} {
		m, err := s.Member(ctx, h.ID, acct)
		check(t, "member", err)
		if m.Member.Role != role {
			t.Errorf("after the transfer %s is %s, want %s", acct, m.Member.Role, role)
		}
	}
	if nv := version(t, s, h.ID); nv <= v {
		t.Fatalf("grants version after a transfer: %d, was %d", nv, v)
	}
}

// testExports: one busy export per account; claims hand each export to
// one worker, again after its claim ended; finishing keeps its blob out
// of the removals; expired exports go and their blobs are queued.
func testExports(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := newAccount(t, s), newAccount(t, s)
	x := domain.Export{ID: id.New(), AccountID: a.ID, CreatedAt: at(0), ExpiresAt: at(24 * time.Hour)}
	check(t, "create export", s.CreateExport(ctx, x))
	mustConflict(t, "a second export while one is pending",
		s.CreateExport(ctx, domain.Export{ID: id.New(), AccountID: a.ID, CreatedAt: at(time.Second), ExpiresAt: at(24 * time.Hour)}))
	y := domain.Export{ID: id.New(), AccountID: b.ID, HomeID: id.New(), CreatedAt: at(time.Second), ExpiresAt: at(48 * time.Hour)}
	check(t, "another account's export", s.CreateExport(ctx, y))
	got, err := s.ExportByID(ctx, x.ID)
	check(t, "export by id", err)
	if got.Status != domain.ExportPending || got.AccountID != a.ID || got.HomeID != "" || !got.ExpiresAt.Equal(normTime(x.ExpiresAt)) {
		t.Fatalf("export = %+v", got)
	}
	_, err = s.ExportByID(ctx, id.New())
	mustNotFound(t, "missing export", err)

	c1, err := s.ClaimExport(ctx, at(time.Minute), at(time.Hour))
	check(t, "claim", err)
	c2, err := s.ClaimExport(ctx, at(time.Minute), at(time.Hour))
	check(t, "claim", err)
	if c1.ID != x.ID || c2.ID != y.ID || c1.Status != domain.ExportRunning || c2.HomeID != y.HomeID {
		t.Fatalf("claims = %+v, %+v", c1, c2)
	}
	_, err = s.ClaimExport(ctx, at(time.Minute), at(time.Hour))
	mustNotFound(t, "claim with every export claimed", err)
	mustConflict(t, "a second export while one runs",
		s.CreateExport(ctx, domain.Export{ID: id.New(), AccountID: a.ID, CreatedAt: at(time.Second), ExpiresAt: at(24 * time.Hour)}))
	// A claim that ended (its node died) is taken again.
	again, err := s.ClaimExport(ctx, at(2*time.Hour), at(3*time.Hour))
	check(t, "claim again", err)
	if again.ID != x.ID {
		t.Fatalf("claimed again %s, want %s", again.ID, x.ID)
	}

	key := "x/" + x.ID
	check(t, "queue export blob", s.QueueBlobRemoval(ctx, key, at(2*time.Hour), at(3*time.Hour)))
	if got := dueRemovals(t, s, at(2*time.Hour)); len(got) != 0 {
		t.Fatalf("a removal due early: %v", got)
	}
	x.Status, x.BlobKey, x.Size, x.KeyWrapped = domain.ExportReady, key, 1234, random("wrapped")
	check(t, "finish", s.FinishExport(ctx, x))
	mustNotFound(t, "finish twice", s.FinishExport(ctx, x))
	if got := dueRemovals(t, s, at(4*time.Hour)); len(got) != 0 {
		t.Fatalf("a finished export's blob stays queued: %v", got)
	}
	got, err = s.ExportByID(ctx, x.ID)
	check(t, "export by id", err)
	if got.Status != domain.ExportReady || got.BlobKey != key || got.Size != 1234 || string(got.KeyWrapped) != string(x.KeyWrapped) {
		t.Fatalf("finished export = %+v", got)
	}
	check(t, "a new export once the last is ready",
		s.CreateExport(ctx, domain.Export{ID: id.New(), AccountID: a.ID, CreatedAt: at(time.Hour), ExpiresAt: at(72 * time.Hour)}))

	n, err := s.DeleteExpiredExports(ctx, at(25*time.Hour))
	check(t, "delete expired", err)
	if n != 1 {
		t.Fatalf("deleted %d expired exports, want 1", n)
	}
	_, err = s.ExportByID(ctx, x.ID)
	mustNotFound(t, "expired export", err)
	if got := dueRemovals(t, s, at(25*time.Hour)); !slices.Equal(got, []string{key}) {
		t.Fatalf("blob of an expired export queued: %v", got)
	}
}
