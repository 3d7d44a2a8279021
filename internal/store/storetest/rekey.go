package storetest

import (
	"bytes"
	"encoding/binary"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/store"
)

// sealedUnder is a value shaped as the keyring seals: a version byte, the
// generation (4 bytes, big endian), then anything.
func sealedUnder(gen uint32) []byte {
	return append(binary.BigEndian.AppendUint32([]byte{1}, gen), random("sealed")...)
}

// testKeyGenerations: recorded generations are listed oldest first,
// retiring marks one and keeps its audit check, and a generation never
// recorded cannot be retired.
func testKeyGenerations(t *testing.T, s store.Store) {
	ctx := t.Context()
	gens, err := s.KeyGenerations(ctx)
	check(t, "key generations of a fresh store", err)
	if len(gens) != 0 {
		t.Fatalf("key generations of a fresh store: %+v", gens)
	}
	for _, g := range []uint32{3, 1, 2} {
		_, err := s.KeyCheck(ctx, g, random("check"))
		check(t, "key check", err)
	}
	auditCheck := random("audit-check")
	check(t, "retire generation 1", s.RetireKeyGeneration(ctx, 1, auditCheck))
	mustNotFound(t, "retire a generation never recorded", s.RetireKeyGeneration(ctx, 9, auditCheck))
	gens, err = s.KeyGenerations(ctx)
	check(t, "key generations", err)
	norm := func(g domain.KeyGeneration) domain.KeyGeneration {
		g.AuditCheck = normBytes(g.AuditCheck)
		return g
	}
	sameList(t, "key generations", gens, []domain.KeyGeneration{
		{Generation: 1, Retired: true, AuditCheck: auditCheck}, {Generation: 2}, {Generation: 3},
	}, norm)
	again := random("audit-check")
	check(t, "retire generation 1 again", s.RetireKeyGeneration(ctx, 1, again))
	gens, _ = s.KeyGenerations(ctx)
	same(t, "generation 1 retired again", gens[0], domain.KeyGeneration{Generation: 1, Retired: true, AuditCheck: again}, norm)
}

// testKeyUse: each kind of value is counted under the generation that
// made it.
func testKeyUse(t *testing.T, s store.Store) {
	ctx := t.Context()
	use, err := s.KeyUse(ctx)
	check(t, "key use of a fresh store", err)
	for _, m := range []map[uint32]int64{use.DataKeys, use.Emails, use.EmailIndexes, use.SessionClients, use.TOTPSecrets, use.AuditEntries, use.AuditHeads} {
		if len(m) != 0 {
			t.Fatalf("key use of a fresh store: %+v", use)
		}
	}
	mkAccount := func(sealedGen, indexGen uint32) domain.Account {
		a := newAccountValue()
		a.EmailSealed, a.EmailGen = sealedUnder(sealedGen), indexGen
		check(t, "create account", s.CreateAccount(ctx, a))
		return a
	}
	a := mkAccount(1, 1)
	mkAccount(2, 1)
	mkAccount(2, 0)
	for _, gen := range []uint32{1, 2, 2} {
		h := domain.Home{ID: id.New(), NameSealed: random("name"), WrappedDataKey: sealedUnder(gen), RetentionDays: 30, CreatedAt: at(0)}
		check(t, "create home", s.CreateHome(ctx, h, ownerOf(h, a.ID)))
		e := auditEntry(h.ID, 0, nil)
		e.KeyGen = gen + 4
		check(t, "append audit", s.AppendAudit(ctx, h.ID, func(domain.AuditTip) (domain.AuditEntry, *domain.AuditHead) {
			hd := headOf(e)
			hd.KeyGen = gen + 8
			return e, hd
		}))
	}
	noClient := domain.Session{ID: id.New(), AccountID: a.ID, TokenHash: random("token"), CreatedAt: at(0), LastSeenAt: at(0), ExpiresAt: at(time.Hour)}
	check(t, "session without client details", s.CreateSession(ctx, noClient))
	s2 := domain.Session{ID: id.New(), AccountID: a.ID, TokenHash: random("token"), ClientSealed: sealedUnder(3), CreatedAt: at(0), LastSeenAt: at(0), ExpiresAt: at(time.Hour)}
	check(t, "create session", s.CreateSession(ctx, s2))
	h := domain.Home{ID: id.New(), NameSealed: random("name"), WrappedDataKey: sealedUnder(3), RetentionDays: 30, CreatedAt: at(0)}
	check(t, "create home", s.CreateHome(ctx, h, ownerOf(h, a.ID)))
	check(t, "put totp", s.PutTOTP(ctx, domain.TOTP{AccountID: a.ID, SecretSealed: sealedUnder(7), CreatedAt: at(0)}, nil))
	for _, gen := range []uint32{0, 4, 4} {
		inv := invitationValue(h.ID, a.ID, random("index"), domain.RoleViewer, 0)
		inv.EmailGen = gen
		invite(t, s, inv)
	}

	use, err = s.KeyUse(ctx)
	check(t, "key use", err)
	for what, c := range map[string]struct{ got, want map[uint32]int64 }{
		"data keys":       {use.DataKeys, map[uint32]int64{1: 1, 2: 2, 3: 1}},
		"emails":          {use.Emails, map[uint32]int64{1: 1, 2: 2}},
		"email indexes":   {use.EmailIndexes, map[uint32]int64{0: 1, 1: 2}},
		"session clients": {use.SessionClients, map[uint32]int64{3: 1}},
		"totp secrets":    {use.TOTPSecrets, map[uint32]int64{7: 1}},
		"invitations":     {use.Invitations, map[uint32]int64{0: 1, 4: 2}},
		"audit entries":   {use.AuditEntries, map[uint32]int64{5: 1, 6: 2}},
		"audit heads":     {use.AuditHeads, map[uint32]int64{9: 1, 10: 2}},
	} {
		if !maps.Equal(c.got, c.want) {
			t.Errorf("%s by generation: %v, want %v", what, c.got, c.want)
		}
	}
}

// testReseal: sealed values are listed by row ID, in pages, and each is
// replaced only while it still holds what was read.
func testReseal(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := newAccount(t, s)
	var homes []domain.Home
	for range 5 {
		homes = append(homes, newHome(t, s, a.ID))
	}
	slices.SortFunc(homes, func(x, y domain.Home) int { return bytes.Compare([]byte(x.ID), []byte(y.ID)) })
	var listed []store.SealedValue
	after := ""
	for {
		page, err := s.SealedValues(ctx, store.HomeDataKeys, after, 2)
		check(t, "list wrapped data keys", err)
		if len(page) == 0 {
			break
		}
		listed = append(listed, page...)
		after = page[len(page)-1].ID
	}
	if len(listed) != len(homes) {
		t.Fatalf("listed %d wrapped keys of %d homes", len(listed), len(homes))
	}
	for i, v := range listed {
		if v.ID != homes[i].ID || !bytes.Equal(v.Value, homes[i].WrappedDataKey) {
			t.Fatalf("wrapped key %d: %s %x, want %s %x", i, v.ID, v.Value, homes[i].ID, homes[i].WrappedDataKey)
		}
	}
	newKey, stale := random("rewrapped"), random("stale")
	n, err := s.Reseal(ctx, store.HomeDataKeys, []store.Reseal{
		{ID: homes[0].ID, Old: homes[0].WrappedDataKey, New: newKey},
		{ID: homes[1].ID, Old: stale, New: random("never")},
	})
	check(t, "rewrap", err)
	if n != 1 {
		t.Fatalf("rewrapped %d, want 1", n)
	}
	for i, want := range [][]byte{newKey, homes[1].WrappedDataKey} {
		h, err := s.HomeByID(ctx, homes[i].ID)
		check(t, "home by id", err)
		if !bytes.Equal(h.WrappedDataKey, want) {
			t.Fatalf("home %d's wrapped key after the rewrap: %x, want %x", i, h.WrappedDataKey, want)
		}
	}

	emails, err := s.SealedValues(ctx, store.AccountEmails, "", 10)
	check(t, "list sealed emails", err)
	if len(emails) != 1 || emails[0].ID != a.ID || !bytes.Equal(emails[0].Value, a.EmailSealed) {
		t.Fatalf("sealed emails: %+v", emails)
	}
	sess := newSession(t, s, a.ID, at(0))
	noClient := domain.Session{ID: id.New(), AccountID: a.ID, TokenHash: random("token"), CreatedAt: at(0), LastSeenAt: at(0), ExpiresAt: at(time.Hour)}
	check(t, "session without client details", s.CreateSession(ctx, noClient))
	clients, err := s.SealedValues(ctx, store.SessionClients, "", 10)
	check(t, "list session clients", err)
	if len(clients) != 1 || clients[0].ID != sess.ID {
		t.Fatalf("session clients (one session has none): %+v", clients)
	}
	resealed := random("resealed")
	n, err = s.Reseal(ctx, store.SessionClients, []store.Reseal{{ID: sess.ID, Old: sess.ClientSealed, New: resealed}})
	check(t, "reseal a session's client", err)
	got, err := s.ListSessions(ctx, a.ID)
	check(t, "list sessions", err)
	if i := slices.IndexFunc(got, func(x domain.Session) bool { return x.ID == sess.ID }); n != 1 || i < 0 || !bytes.Equal(got[i].ClientSealed, resealed) {
		t.Fatalf("session client after reseal (%d set): %+v", n, got)
	}
	secret := sealedUnder(2)
	check(t, "put totp", s.PutTOTP(ctx, domain.TOTP{AccountID: a.ID, SecretSealed: secret, CreatedAt: at(0)}, nil))
	secrets, err := s.SealedValues(ctx, store.TOTPSecrets, "", 10)
	check(t, "list totp secrets", err)
	if len(secrets) != 1 || secrets[0].ID != a.ID || !bytes.Equal(secrets[0].Value, secret) {
		t.Fatalf("totp secrets: %+v", secrets)
	}
	resealed = random("resealed")
	n, err = s.Reseal(ctx, store.TOTPSecrets, []store.Reseal{{ID: a.ID, Old: secret, New: resealed}})
	check(t, "reseal a totp secret", err)
	if tp, err := s.TOTP(ctx, a.ID); err != nil || n != 1 || !bytes.Equal(tp.SecretSealed, resealed) {
		t.Fatalf("totp secret after reseal (%d set): %x, %v", n, tp.SecretSealed, err)
	}
	if _, err := s.SealedValues(ctx, "accounts.password_hash", "", 10); err == nil {
		t.Fatal("a column that is not a sealed one was listed")
	}
}

// testReindexEmails: accounts are listed by ID in pages; an email index is
// set with its generation while the account still has the old one, and
// never onto an index another account holds.
func testReindexEmails(t *testing.T, s store.Store) {
	ctx := t.Context()
	var accounts []domain.Account
	for range 4 {
		accounts = append(accounts, newAccount(t, s))
	}
	slices.SortFunc(accounts, func(x, y domain.Account) int { return bytes.Compare([]byte(x.ID), []byte(y.ID)) })
	page, err := s.AccountsAfter(ctx, "", 3)
	check(t, "first page of accounts", err)
	rest, err := s.AccountsAfter(ctx, page[len(page)-1].ID, 3)
	check(t, "second page of accounts", err)
	sameList(t, "accounts by ID", append(page, rest...), accounts, normAccount)

	a, b, c := accounts[0], accounts[1], accounts[2]
	newA := random("index")
	set, conflicts, err := s.ReindexEmails(ctx, []store.EmailReindex{
		{ID: a.ID, Old: a.EmailIndex, New: newA, Gen: 7},
		{ID: b.ID, Old: random("stale"), New: random("index"), Gen: 7},
		{ID: c.ID, Old: c.EmailIndex, New: accounts[3].EmailIndex, Gen: 7},
	})
	check(t, "reindex emails", err)
	if set != 1 || !slices.Equal(conflicts, []string{c.ID}) {
		t.Fatalf("reindexed %d, conflicts %v; want 1 and %s", set, conflicts, c.ID)
	}
	got, err := s.AccountByEmailIndex(ctx, newA)
	check(t, "account by its new index", err)
	if got.ID != a.ID || got.EmailGen != 7 {
		t.Fatalf("account by its new index: %+v", got)
	}
	_, err = s.AccountByEmailIndex(ctx, a.EmailIndex)
	mustNotFound(t, "account by its old index", err)
	for _, x := range []domain.Account{b, c} {
		got, err := s.AccountByID(ctx, x.ID)
		check(t, "account by id", err)
		same(t, "account left as it was", got, x, normAccount)
	}
}

// testReindexInvitations: invitations are listed by ID in pages; an email
// index is set with its generation while the invitation still has the old
// one, and an invitation another of its home has since replaced (same
// email, invited again under the new index) goes instead.
func testReindexInvitations(t *testing.T, s store.Store) {
	ctx := t.Context()
	owner := newAccount(t, s)
	h, h2 := newHome(t, s, owner.ID), newHome(t, s, owner.ID)
	newA, newC := random("index"), random("index")
	a := invite(t, s, invitationValue(h.ID, owner.ID, random("index"), domain.RoleViewer, 0))
	b := invite(t, s, invitationValue(h.ID, owner.ID, random("index"), domain.RoleAdmin, time.Minute))
	c := invite(t, s, invitationValue(h.ID, owner.ID, random("index"), domain.RoleViewer, 2*time.Minute))
	again := invite(t, s, invitationValue(h.ID, owner.ID, newC, domain.RoleViewer, 3*time.Minute)) // c's email, invited again
	elsewhere := invite(t, s, invitationValue(h2.ID, owner.ID, newA, domain.RoleViewer, 4*time.Minute))

	all := []domain.Invitation{a, b, c, again, elsewhere}
	slices.SortFunc(all, func(x, y domain.Invitation) int { return bytes.Compare([]byte(x.ID), []byte(y.ID)) })
	page, err := s.InvitationsAfter(ctx, "", 3)
	check(t, "first page of invitations", err)
	rest, err := s.InvitationsAfter(ctx, page[len(page)-1].ID, 3)
	check(t, "second page of invitations", err)
	sameList(t, "invitations by ID", append(page, rest...), all, normInvitation)

	set, removed, err := s.ReindexInvitations(ctx, []store.EmailReindex{
		{ID: a.ID, Old: a.EmailIndex, New: newA, Gen: 7}, // another home's invitation has newA: no matter
		{ID: b.ID, Old: random("stale"), New: random("index"), Gen: 7},
		{ID: c.ID, Old: c.EmailIndex, New: newC, Gen: 7},
	})
	check(t, "reindex invitations", err)
	if set != 1 || !slices.Equal(removed, []string{c.ID}) {
		t.Fatalf("reindexed %d, removed %v; want 1 and %s", set, removed, c.ID)
	}
	got, err := s.Invitation(ctx, a.ID)
	check(t, "invitation a", err)
	if !bytes.Equal(got.EmailIndex, newA) || got.EmailGen != 7 {
		t.Fatalf("invitation a after reindexing: %+v", got)
	}
	got, err = s.Invitation(ctx, b.ID)
	check(t, "invitation b", err)
	same(t, "invitation b, left as it was", got, b, normInvitation)
	_, err = s.Invitation(ctx, c.ID)
	mustNotFound(t, "a replaced invitation", err)
	got, err = s.Invitation(ctx, again.ID)
	check(t, "the invitation that replaced it", err)
	same(t, "the invitation that replaced it", got, again, normInvitation)
}
