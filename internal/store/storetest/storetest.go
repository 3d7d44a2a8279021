// Package storetest is the conformance suite every store backend must pass.
// A backend's test calls Run with a function that opens a fresh, empty
// store; the suite knows nothing of the backend behind it.
package storetest

import (
	"bytes"

	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/store"
)

// Run runs the suite. open must return a fresh, empty store each call.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Accounts", testAccounts},
		{"Sessions", testSessions},
		{"SessionExpiry", testSessionExpiry},
		{"Homes", testHomes},
		{"Members", testMembers},
		{"MemberDevicesOfHomeOnly", testMemberDevicesOfHomeOnly},
		{"Pairing", testPairing},
		{"PairingRace", testPairingRace},
		{"Devices", testDevices},
		{"DeleteDevice", testDeleteDevice},
		{"Throttle", testThrottle},
		{"Ping", func(t *testing.T, s store.Store) {
			if err := s.Ping(t.Context()); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { s.Close() })
			tc.fn(t, s)
		})
	}
}

// base is a fixed time with microseconds, which every backend must keep.
var base = time.Date(2026, 11, 23, 10, 30, 0, 123456000, time.UTC)

func bytesOf(s string) []byte { return []byte(s) }

func mustNotFound(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("%s: %v, want ErrNotFound", what, err)
	}
}

func check(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func newAccount(t *testing.T, s store.Store) store.Account {
	t.Helper()
	a := store.Account{ID: id.New(), EmailIndex: bytesOf("idx-" + id.New()), EmailSealed: []byte{0, 1, 2, 255},
		PasswordHash: "$argon2id$v=19$m=1,t=1,p=1$c2FsdA$aGFzaA", CreatedAt: base}
	check(t, "create account", s.CreateAccount(t.Context(), a))
	return a
}

func testAccounts(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := newAccount(t, s)
	got, err := s.AccountByID(ctx, a.ID)
	check(t, "by id", err)
	if got.ID != a.ID || !bytes.Equal(got.EmailIndex, a.EmailIndex) || !bytes.Equal(got.EmailSealed, a.EmailSealed) ||
		got.PasswordHash != a.PasswordHash || !got.CreatedAt.Equal(a.CreatedAt) {
		t.Fatalf("read %+v, wrote %+v", got, a)
	}
	got, err = s.AccountByEmailIndex(ctx, a.EmailIndex)
	check(t, "by email index", err)
	if got.ID != a.ID {
		t.Fatalf("by email index: %s", got.ID)
	}
	dup := a
	dup.ID = id.New()
	if err := s.CreateAccount(ctx, dup); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate email index: %v, want ErrConflict", err)
	}
	_, err = s.AccountByID(ctx, id.New())
	mustNotFound(t, "missing account", err)
	_, err = s.AccountByEmailIndex(ctx, bytesOf("nope"))
	mustNotFound(t, "missing email index", err)
}

func newSession(t *testing.T, s store.Store, accountID string, at time.Time) store.Session {
	t.Helper()
	sess := store.Session{ID: id.New(), AccountID: accountID, TokenHash: bytesOf("hash-" + id.New()), ClientSealed: []byte{9, 8, 7},
		CreatedAt: at, LastSeenAt: at, ExpiresAt: at.Add(24 * time.Hour)}
	check(t, "create session", s.CreateSession(t.Context(), sess))
	return sess
}

func testSessions(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := newAccount(t, s), newAccount(t, s)
	s1 := newSession(t, s, a.ID, base)
	s2 := newSession(t, s, a.ID, base.Add(time.Second))
	sb := newSession(t, s, b.ID, base)

	got, err := s.SessionByTokenHash(ctx, s1.TokenHash)
	check(t, "by token hash", err)
	if got.ID != s1.ID || got.AccountID != a.ID || !bytes.Equal(got.ClientSealed, s1.ClientSealed) ||
		!got.CreatedAt.Equal(s1.CreatedAt) || !got.ExpiresAt.Equal(s1.ExpiresAt) {
		t.Fatalf("read %+v, wrote %+v", got, s1)
	}
	check(t, "touch", s.TouchSession(ctx, s1.ID, base.Add(time.Hour)))
	got, _ = s.SessionByTokenHash(ctx, s1.TokenHash)
	if !got.LastSeenAt.Equal(base.Add(time.Hour)) {
		t.Fatalf("last seen %v after touch", got.LastSeenAt)
	}
	mustNotFound(t, "touch missing", s.TouchSession(ctx, id.New(), base))

	list, err := s.ListSessions(ctx, a.ID)
	check(t, "list", err)
	if len(list) != 2 || list[0].ID != s1.ID || list[1].ID != s2.ID {
		t.Fatalf("list = %+v", list)
	}
	// One account cannot delete another's session.
	mustNotFound(t, "delete other's session", s.DeleteSession(ctx, b.ID, s1.ID))
	check(t, "delete", s.DeleteSession(ctx, a.ID, s1.ID))
	_, err = s.SessionByTokenHash(ctx, s1.TokenHash)
	mustNotFound(t, "deleted session", err)
	mustNotFound(t, "delete twice", s.DeleteSession(ctx, a.ID, s1.ID))

	check(t, "delete all", s.DeleteAccountSessions(ctx, a.ID))
	_, err = s.SessionByTokenHash(ctx, s2.TokenHash)
	mustNotFound(t, "session after delete all", err)
	if _, err := s.SessionByTokenHash(ctx, sb.TokenHash); err != nil {
		t.Fatalf("another account's session went with delete all: %v", err)
	}
}

func testSessionExpiry(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := newAccount(t, s)
	live := newSession(t, s, a.ID, base)
	expired := store.Session{ID: id.New(), AccountID: a.ID, TokenHash: bytesOf("e"), CreatedAt: base, LastSeenAt: base, ExpiresAt: base.Add(time.Minute)}
	idle := store.Session{ID: id.New(), AccountID: a.ID, TokenHash: bytesOf("i"), CreatedAt: base.Add(-48 * time.Hour), LastSeenAt: base.Add(-48 * time.Hour), ExpiresAt: base.Add(time.Hour)}
	check(t, "create expired", s.CreateSession(ctx, expired))
	check(t, "create idle", s.CreateSession(ctx, idle))
	n, err := s.DeleteExpiredSessions(ctx, base.Add(2*time.Minute), base.Add(-24*time.Hour))
	check(t, "delete expired", err)
	if n != 2 {
		t.Fatalf("deleted %d, want 2", n)
	}
	if _, err := s.SessionByTokenHash(ctx, live.TokenHash); err != nil {
		t.Fatalf("live session deleted: %v", err)
	}
}

func newHome(t *testing.T, s store.Store, owner string) store.Home {
	t.Helper()
	h := store.Home{ID: id.New(), NameSealed: []byte{1, 2}, WrappedDataKey: []byte{3, 4, 0}, RetentionDays: 30, CreatedAt: base, GrantsVersion: 1}
	check(t, "create home", s.CreateHome(t.Context(), h, store.Member{AccountID: owner, Role: store.RoleOwner, AddedAt: base}))
	return h
}

func testHomes(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := newAccount(t, s), newAccount(t, s)
	h1 := newHome(t, s, a.ID)
	h2 := newHome(t, s, b.ID)

	got, err := s.HomeByID(ctx, h1.ID)
	check(t, "home by id", err)
	if got.ID != h1.ID || !bytes.Equal(got.NameSealed, h1.NameSealed) || !bytes.Equal(got.WrappedDataKey, h1.WrappedDataKey) ||
		got.RetentionDays != 30 || got.GrantsVersion != 1 || !got.CreatedAt.Equal(base) {
		t.Fatalf("read %+v, wrote %+v", got, h1)
	}
	_, err = s.HomeByID(ctx, id.New())
	mustNotFound(t, "missing home", err)

	ms, err := s.Memberships(ctx, a.ID)
	check(t, "memberships", err)
	if len(ms) != 1 || ms[0].Home.ID != h1.ID || ms[0].Member.Role != store.RoleOwner {
		t.Fatalf("memberships of a = %+v", ms)
	}
	m, err := s.Member(ctx, h1.ID, a.ID)
	check(t, "member", err)
	if m.Member.Role != store.RoleOwner || m.Home.ID != h1.ID || m.Home.GrantsVersion != 1 {
		t.Fatalf("owner membership = %+v", m)
	}
	_, err = s.Member(ctx, h2.ID, a.ID)
	mustNotFound(t, "member of another's home", err)
}

func testMembers(t *testing.T, s store.Store) {
	ctx := t.Context()
	owner, viewer := newAccount(t, s), newAccount(t, s)
	h := newHome(t, s, owner.ID)
	d1, d2 := newDevice(t, s, owner.ID, h.ID), newDevice(t, s, owner.ID, h.ID)

	check(t, "put viewer", s.PutMember(ctx, store.Member{HomeID: h.ID, AccountID: viewer.ID, Role: store.RoleViewer, Devices: []string{d1.ID}, AddedAt: base.Add(time.Second)}))
	m, err := s.Member(ctx, h.ID, viewer.ID)
	check(t, "read viewer", err)
	if m.Member.Role != store.RoleViewer || !slices.Equal(m.Member.Devices, []string{d1.ID}) || m.Home.GrantsVersion != 2 {
		t.Fatalf("viewer = %+v, want viewer of d1 at grants version 2", m)
	}
	// Replacing: role and devices change, the version moves again.
	check(t, "replace", s.PutMember(ctx, store.Member{HomeID: h.ID, AccountID: viewer.ID, Role: store.RoleViewer, Devices: []string{d1.ID, d2.ID}, AddedAt: base}))
	m, _ = s.Member(ctx, h.ID, viewer.ID)
	want := []string{d1.ID, d2.ID}
	slices.Sort(want)
	got := slices.Clone(m.Member.Devices)
	slices.Sort(got)
	if !slices.Equal(got, want) || m.Home.GrantsVersion != 3 {
		t.Fatalf("after replace: %+v", m)
	}
	check(t, "make admin", s.PutMember(ctx, store.Member{HomeID: h.ID, AccountID: viewer.ID, Role: store.RoleAdmin, AddedAt: base}))
	m, _ = s.Member(ctx, h.ID, viewer.ID)
	if m.Member.Role != store.RoleAdmin || m.Member.Devices != nil {
		t.Fatalf("after making admin: %+v", m)
	}
	list, err := s.ListMembers(ctx, h.ID)
	check(t, "list members", err)
	if len(list) != 2 {
		t.Fatalf("members = %+v", list)
	}
	ms, err := s.Memberships(ctx, viewer.ID)
	check(t, "memberships of member", err)
	if len(ms) != 1 || ms[0].Member.Role != store.RoleAdmin {
		t.Fatalf("memberships = %+v", ms)
	}

	before, _ := s.HomeByID(ctx, h.ID)
	check(t, "delete member", s.DeleteMember(ctx, h.ID, viewer.ID))
	_, err = s.Member(ctx, h.ID, viewer.ID)
	mustNotFound(t, "deleted member", err)
	after, _ := s.HomeByID(ctx, h.ID)
	if after.GrantsVersion <= before.GrantsVersion {
		t.Fatalf("grants version %d after delete, was %d", after.GrantsVersion, before.GrantsVersion)
	}
	mustNotFound(t, "delete member twice", s.DeleteMember(ctx, h.ID, viewer.ID))
}

func testMemberDevicesOfHomeOnly(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b, viewer := newAccount(t, s), newAccount(t, s), newAccount(t, s)
	ha, hb := newHome(t, s, a.ID), newHome(t, s, b.ID)
	foreign := newDevice(t, s, b.ID, hb.ID)
	err := s.PutMember(ctx, store.Member{HomeID: ha.ID, AccountID: viewer.ID, Role: store.RoleViewer, Devices: []string{foreign.ID}, AddedAt: base})
	mustNotFound(t, "limit to a camera of another home", err)
	_, err = s.Member(ctx, ha.ID, viewer.ID)
	mustNotFound(t, "membership after refused put", err)
	h, _ := s.HomeByID(ctx, ha.ID)
	if h.GrantsVersion != 1 {
		t.Fatalf("refused put moved the grants version to %d", h.GrantsVersion)
	}
}

func newCode(t *testing.T, s store.Store, accountID, homeID string, expires time.Time) []byte {
	t.Helper()
	hash := bytesOf("code-" + id.New())
	check(t, "create code", s.CreatePairingCode(t.Context(), store.PairingCode{CodeHash: hash, HomeID: homeID, CreatedBy: accountID, CreatedAt: base, ExpiresAt: expires}))
	return hash
}

func newDevice(t *testing.T, s store.Store, accountID, homeID string) store.Device {
	t.Helper()
	code := newCode(t, s, accountID, homeID, base.Add(10*time.Minute))
	d, err := s.PairDevice(t.Context(), code, base, store.Device{ID: id.New(), Model: "CV-1", Firmware: "1.0", TokenHash: bytesOf("tok-" + id.New()), CreatedAt: base})
	check(t, "pair", err)
	return d
}

func testPairing(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := newAccount(t, s)
	h := newHome(t, s, a.ID)
	code := newCode(t, s, a.ID, h.ID, base.Add(10*time.Minute))
	d := store.Device{ID: id.New(), HomeID: "ignored", Model: "CV-1", Firmware: "1.0", TokenHash: bytesOf("t1"), CreatedAt: base}
	got, err := s.PairDevice(ctx, code, base.Add(time.Minute), d)
	check(t, "pair", err)
	if got.HomeID != h.ID {
		t.Fatalf("paired into %q, want the code's home %q", got.HomeID, h.ID)
	}
	d2 := store.Device{ID: id.New(), Model: "CV-1", Firmware: "1.0", TokenHash: bytesOf("t2"), CreatedAt: base}
	_, err = s.PairDevice(ctx, code, base.Add(time.Minute), d2)
	mustNotFound(t, "second use of a code", err)
	_, err = s.DeviceByID(ctx, d2.ID)
	mustNotFound(t, "device of a refused pairing", err)

	expired := newCode(t, s, a.ID, h.ID, base.Add(time.Minute))
	_, err = s.PairDevice(ctx, expired, base.Add(time.Minute), d2)
	mustNotFound(t, "expired code", err)
	_, err = s.PairDevice(ctx, bytesOf("unknown"), base, d2)
	mustNotFound(t, "unknown code", err)
}

func testPairingRace(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := newAccount(t, s)
	h := newHome(t, s, a.ID)
	code := newCode(t, s, a.ID, h.ID, base.Add(10*time.Minute))
	const n = 16
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.PairDevice(ctx, code, base, store.Device{ID: id.New(), Model: "m", Firmware: "f", TokenHash: bytesOf("race-" + id.New()), CreatedAt: base})
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, store.ErrNotFound):
			t.Fatalf("racing pairing: %v", err)
		}
	}
	list, err := s.ListDevices(ctx, h.ID)
	check(t, "list", err)
	if ok != 1 || len(list) != 1 {
		t.Fatalf("%d pairings succeeded and %d devices exist; want exactly one", ok, len(list))
	}
}

func testDevices(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := newAccount(t, s), newAccount(t, s)
	h, other := newHome(t, s, a.ID), newHome(t, s, b.ID)
	d := newDevice(t, s, a.ID, h.ID)
	newDevice(t, s, b.ID, other.ID)

	got, err := s.DeviceByID(ctx, d.ID)
	check(t, "by id", err)
	if got.HomeID != h.ID || got.Model != "CV-1" || got.Firmware != "1.0" || !bytes.Equal(got.TokenHash, d.TokenHash) ||
		got.Online || !got.LastSeenAt.IsZero() || !got.CreatedAt.Equal(base) {
		t.Fatalf("read %+v", got)
	}
	got, err = s.DeviceByTokenHash(ctx, d.TokenHash)
	check(t, "by token", err)
	if got.ID != d.ID {
		t.Fatalf("by token: %s", got.ID)
	}
	list, err := s.ListDevices(ctx, h.ID)
	check(t, "list", err)
	if len(list) != 1 || list[0].ID != d.ID {
		t.Fatalf("list = %+v", list)
	}
	check(t, "rename", s.RenameDevice(ctx, d.ID, []byte{42, 0, 42}))
	got, _ = s.DeviceByID(ctx, d.ID)
	if !bytes.Equal(got.NameSealed, []byte{42, 0, 42}) {
		t.Fatalf("name %v", got.NameSealed)
	}
	mustNotFound(t, "rename missing", s.RenameDevice(ctx, id.New(), []byte{1}))
	seen := base.Add(time.Hour)
	check(t, "presence", s.SetDevicePresence(ctx, d.ID, true, seen))
	got, _ = s.DeviceByID(ctx, d.ID)
	if !got.Online || !got.LastSeenAt.Equal(seen) {
		t.Fatalf("presence %v %v", got.Online, got.LastSeenAt)
	}
	mustNotFound(t, "presence of missing", s.SetDevicePresence(ctx, id.New(), true, seen))
	_, err = s.DeviceByID(ctx, id.New())
	mustNotFound(t, "missing device", err)
}

func testDeleteDevice(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, viewer := newAccount(t, s), newAccount(t, s)
	h := newHome(t, s, a.ID)
	d1, d2 := newDevice(t, s, a.ID, h.ID), newDevice(t, s, a.ID, h.ID)
	check(t, "limit viewer", s.PutMember(ctx, store.Member{HomeID: h.ID, AccountID: viewer.ID, Role: store.RoleViewer, Devices: []string{d1.ID, d2.ID}, AddedAt: base}))
	before, _ := s.HomeByID(ctx, h.ID)

	check(t, "delete", s.DeleteDevice(ctx, d1.ID))
	_, err := s.DeviceByID(ctx, d1.ID)
	mustNotFound(t, "deleted device", err)
	_, err = s.DeviceByTokenHash(ctx, d1.TokenHash)
	mustNotFound(t, "deleted device's token", err)
	m, err := s.Member(ctx, h.ID, viewer.ID)
	check(t, "viewer", err)
	if !slices.Equal(m.Member.Devices, []string{d2.ID}) {
		t.Fatalf("viewer devices after delete: %v, want only d2", m.Member.Devices)
	}
	if m.Home.GrantsVersion <= before.GrantsVersion {
		t.Fatalf("grants version %d after deleting a camera, was %d", m.Home.GrantsVersion, before.GrantsVersion)
	}
	mustNotFound(t, "delete twice", s.DeleteDevice(ctx, d1.ID))

	// With its last listed camera gone, a limited viewer sees no camera:
	// the limit stays, it does not widen to "all".
	check(t, "delete last", s.DeleteDevice(ctx, d2.ID))
	m, err = s.Member(ctx, h.ID, viewer.ID)
	check(t, "viewer", err)
	if m.Member.Devices == nil || len(m.Member.Devices) != 0 {
		t.Fatalf("viewer devices after deleting every listed camera: %#v, want empty and not nil", m.Member.Devices)
	}
	ms, err := s.Memberships(ctx, viewer.ID)
	check(t, "memberships", err)
	if len(ms) != 1 || ms[0].Member.Devices == nil {
		t.Fatalf("memberships lose the limit: %#v", ms)
	}
	list, err := s.ListMembers(ctx, h.ID)
	check(t, "list members", err)
	for _, lm := range list {
		if lm.AccountID == viewer.ID && lm.Devices == nil {
			t.Fatalf("ListMembers loses the limit")
		}
		if lm.AccountID == a.ID && lm.Devices != nil {
			t.Fatalf("owner listed as limited")
		}
	}
}

func testThrottle(t *testing.T, s store.Store) {
	ctx := t.Context()
	key, other := bytesOf("k"), bytesOf("k2")
	w := 10 * time.Minute
	n, _, err := s.ThrottleCount(ctx, key, base)
	check(t, "count empty", err)
	if n != 0 {
		t.Fatalf("fresh count %d", n)
	}
	for i := 1; i <= 3; i++ {
		n, end, err := s.ThrottleHit(ctx, key, base.Add(time.Duration(i)*time.Minute), w)
		check(t, "hit", err)
		if n != i || !end.Equal(base.Add(time.Minute+w)) {
			t.Fatalf("hit %d: count %d, window end %v", i, n, end)
		}
	}
	if n, _, _ := s.ThrottleCount(ctx, other, base); n != 0 {
		t.Fatalf("another key counts %d", n)
	}
	n, end, err := s.ThrottleCount(ctx, key, base.Add(5*time.Minute))
	check(t, "count", err)
	if n != 3 || !end.Equal(base.Add(time.Minute+w)) {
		t.Fatalf("count %d end %v", n, end)
	}
	// After the window, the count is gone, and a hit starts a new window.
	if n, _, _ := s.ThrottleCount(ctx, key, base.Add(time.Minute+w)); n != 0 {
		t.Fatalf("count after window %d", n)
	}
	later := base.Add(time.Hour)
	n, end, err = s.ThrottleHit(ctx, key, later, w)
	check(t, "hit in new window", err)
	if n != 1 || !end.Equal(later.Add(w)) {
		t.Fatalf("new window: count %d end %v", n, end)
	}
	check(t, "reset", s.ThrottleReset(ctx, key))
	if n, _, _ := s.ThrottleCount(ctx, key, later); n != 0 {
		t.Fatalf("count after reset %d", n)
	}
}
