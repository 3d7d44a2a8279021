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

func normDevice(d domain.Device) domain.Device {
	d.NameSealed, d.TokenHash = normBytes(d.NameSealed), normBytes(d.TokenHash)
	d.CreatedAt, d.LastSeenAt = normTime(d.CreatedAt), normTime(d.LastSeenAt)
	return d
}

func deviceID(d domain.Device) string { return d.ID }

func newCode(t *testing.T, s store.Store, accountID, homeID string, expires time.Time) []byte {
	t.Helper()
	hash := random("code")
	check(t, "create pairing code", s.CreatePairingCode(t.Context(),
		domain.PairingCode{CodeHash: hash, HomeID: homeID, CreatedBy: accountID, CreatedAt: at(0), ExpiresAt: expires}))
	return hash
}

func deviceValue() domain.Device {
	return domain.Device{ID: id.New(), NameSealed: random("camera name"), Model: "CV-1", Firmware: "1.0.3", TokenHash: random("device token"), CreatedAt: at(0)}
}

// newDevice pairs a camera into homeID with a fresh code.
func newDevice(t *testing.T, s store.Store, accountID, homeID string) domain.Device {
	t.Helper()
	code := newCode(t, s, accountID, homeID, at(10*time.Minute))
	d, err := s.PairDevice(t.Context(), code, at(0), deviceValue())
	check(t, "pair", err)
	return d
}

func testPairing(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := newAccount(t, s), newAccount(t, s)
	h, other := newHome(t, s, a.ID), newHome(t, s, b.ID)
	code := newCode(t, s, a.ID, h.ID, at(10*time.Minute))

	// The home comes from the code, whatever the device says.
	d := deviceValue()
	d.HomeID = other.ID
	got, err := s.PairDevice(ctx, code, at(time.Minute), d)
	check(t, "pair", err)
	d.HomeID = h.ID
	same(t, "paired device", got, d, normDevice)
	got, err = s.DeviceByID(ctx, d.ID)
	check(t, "read paired device", err)
	same(t, "stored paired device", got, d, normDevice)

	d2 := deviceValue()
	_, err = s.PairDevice(ctx, code, at(time.Minute), d2)
	mustNotFound(t, "second use of a code", err)
	_, err = s.DeviceByID(ctx, d2.ID)
	mustNotFound(t, "device of a refused pairing", err)

	expired := newCode(t, s, a.ID, h.ID, at(time.Minute))
	_, err = s.PairDevice(ctx, expired, at(time.Minute), d2)
	mustNotFound(t, "code expiring at now", err)
	_, err = s.PairDevice(ctx, expired, at(2*time.Minute), d2)
	mustNotFound(t, "expired code", err)
	_, err = s.PairDevice(ctx, random("code"), at(0), d2)
	mustNotFound(t, "unknown code", err)
	_, err = s.PairDevice(ctx, code[:len(code)-1], at(0), d2)
	mustNotFound(t, "prefix of a code", err)
	_, err = s.DeviceByID(ctx, d2.ID)
	mustNotFound(t, "device of refused pairings", err)

	dup := random("code")
	pc := domain.PairingCode{CodeHash: dup, HomeID: h.ID, CreatedBy: a.ID, CreatedAt: at(0), ExpiresAt: at(time.Hour)}
	check(t, "create code", s.CreatePairingCode(ctx, pc))
	pc.HomeID = other.ID
	if err := s.CreatePairingCode(ctx, pc); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second code with one hash: %v, want ErrConflict", err)
	}
	got, err = s.PairDevice(ctx, dup, at(0), d2)
	check(t, "pair with a code whose duplicate was refused", err)
	if got.HomeID != h.ID {
		t.Fatalf("the refused duplicate code changed the home to %s", got.HomeID)
	}
}

// testPairingAtomic: a pairing that fails after consuming the code leaves
// the code unused.
func testPairingAtomic(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := newAccount(t, s)
	h := newHome(t, s, a.ID)
	existing := newDevice(t, s, a.ID, h.ID)
	code := newCode(t, s, a.ID, h.ID, at(10*time.Minute))

	clash := deviceValue()
	clash.TokenHash = existing.TokenHash
	if _, err := s.PairDevice(ctx, code, at(0), clash); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("pairing with a token hash in use: %v, want ErrConflict", err)
	}
	_, err := s.DeviceByID(ctx, clash.ID)
	mustNotFound(t, "device of a failed pairing", err)
	d := deviceValue()
	if _, err := s.PairDevice(ctx, code, at(0), d); err != nil {
		t.Fatalf("code after a failed pairing: %v; the failure must not consume it", err)
	}
}

func testPairingRace(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := newAccount(t, s)
	h := newHome(t, s, a.ID)
	code := newCode(t, s, a.ID, h.ID, at(10*time.Minute))
	const n = 16
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			_, errs[i] = s.PairDevice(ctx, code, at(0), deviceValue())
		})
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
	check(t, "list devices", err)
	if ok != 1 || len(list) != 1 {
		t.Fatalf("%d pairings succeeded and %d devices exist; want exactly one", ok, len(list))
	}
}

func testDevices(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := newAccount(t, s), newAccount(t, s)
	h, other := newHome(t, s, a.ID), newHome(t, s, b.ID)
	d := newDevice(t, s, a.ID, h.ID)
	d2 := newDevice(t, s, a.ID, h.ID)
	foreign := newDevice(t, s, b.ID, other.ID)

	got, err := s.DeviceByID(ctx, d.ID)
	check(t, "device by id", err)
	same(t, "device by id (offline, never seen)", got, d, normDevice)
	if got.Online || !got.LastSeenAt.IsZero() {
		t.Fatalf("a new device is online %v, last seen %v", got.Online, got.LastSeenAt)
	}
	got, err = s.DeviceByTokenHash(ctx, d.TokenHash)
	check(t, "device by token hash", err)
	same(t, "device by token hash", got, d, normDevice)
	_, err = s.DeviceByTokenHash(ctx, random("device token"))
	mustNotFound(t, "unknown token hash", err)
	_, err = s.DeviceByID(ctx, id.New())
	mustNotFound(t, "missing device", err)

	list, err := s.ListDevices(ctx, h.ID)
	check(t, "list devices", err)
	if got, want := sortedIDs(list, deviceID), sortedIDs([]domain.Device{d, d2}, deviceID); !slices.Equal(got, want) {
		t.Fatalf("devices of the home: %v, want %v (and not %s)", got, want, foreign.ID)
	}
	list, err = s.ListDevices(ctx, id.New())
	check(t, "list devices of a missing home", err)
	if len(list) != 0 {
		t.Fatalf("devices of a missing home: %+v", list)
	}

	d.NameSealed = random("new camera name")
	check(t, "rename", s.RenameDevice(ctx, d.ID, d.NameSealed))
	got, _ = s.DeviceByID(ctx, d.ID)
	same(t, "renamed device", got, d, normDevice)
	mustNotFound(t, "rename a missing device", s.RenameDevice(ctx, id.New(), random("name")))

	d.Online, d.LastSeenAt = true, at(time.Hour)
	check(t, "presence", s.SetDevicePresence(ctx, d.ID, true, d.LastSeenAt))
	got, _ = s.DeviceByID(ctx, d.ID)
	same(t, "device online", got, d, normDevice)
	d.Online, d.LastSeenAt = false, at(2*time.Hour)
	check(t, "presence", s.SetDevicePresence(ctx, d.ID, false, d.LastSeenAt))
	got, _ = s.DeviceByTokenHash(ctx, d.TokenHash)
	same(t, "device offline", got, d, normDevice)
	mustNotFound(t, "presence of a missing device", s.SetDevicePresence(ctx, id.New(), true, at(0)))

	// In a batch, later updates of a device win and missing devices are
	// skipped.
	check(t, "presence batch", s.SetPresence(ctx, []domain.Presence{
		{DeviceID: d.ID, Online: false, LastSeen: at(time.Hour)},
		{DeviceID: id.New(), Online: true, LastSeen: at(time.Hour)},
		{DeviceID: d.ID, Online: true, LastSeen: at(2 * time.Hour)},
	}))
	got, err = s.DeviceByID(ctx, d.ID)
	check(t, "device after presence batch", err)
	if !got.Online || !got.LastSeenAt.Equal(at(2*time.Hour).Truncate(time.Microsecond)) {
		t.Fatalf("after presence batch: online %v, last seen %v", got.Online, got.LastSeenAt)
	}
	check(t, "empty presence batch", s.SetPresence(ctx, nil))

	got, _ = s.DeviceByID(ctx, d2.ID)
	same(t, "the other device after changes to the first", got, d2, normDevice)
	for _, v := range []int64{version(t, s, h.ID), version(t, s, other.ID)} {
		if v != 1 {
			t.Fatalf("pairing, renaming or presence moved a grants version to %d", v)
		}
	}
}

// testKeepWarm: a new device is not kept warm; setting it is read back by
// every way a device is read, touches no other device nor the grants
// version, and a missing device is ErrNotFound.
func testKeepWarm(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := newAccount(t, s)
	h := newHome(t, s, a.ID)
	d, d2 := newDevice(t, s, a.ID, h.ID), newDevice(t, s, a.ID, h.ID)
	got, err := s.DeviceByID(ctx, d.ID)
	check(t, "device by id", err)
	if got.KeepWarm {
		t.Fatal("a new device is kept warm")
	}

	d.KeepWarm = true
	check(t, "set keep warm", s.SetKeepWarm(ctx, d.ID, true))
	got, err = s.DeviceByID(ctx, d.ID)
	check(t, "device by id", err)
	same(t, "device kept warm, by id", got, d, normDevice)
	got, err = s.DeviceByTokenHash(ctx, d.TokenHash)
	check(t, "device by token hash", err)
	same(t, "device kept warm, by token hash", got, d, normDevice)
	list, err := s.ListDevices(ctx, h.ID)
	check(t, "list devices", err)
	for _, l := range list {
		if want := l.ID == d.ID; l.KeepWarm != want {
			t.Fatalf("listed device %s kept warm %v, want %v", l.ID, l.KeepWarm, want)
		}
	}
	check(t, "set keep warm again", s.SetKeepWarm(ctx, d.ID, true))
	got, _ = s.DeviceByID(ctx, d2.ID)
	same(t, "the other device", got, d2, normDevice)

	d.KeepWarm = false
	check(t, "unset keep warm", s.SetKeepWarm(ctx, d.ID, false))
	got, _ = s.DeviceByID(ctx, d.ID)
	same(t, "device no longer kept warm", got, d, normDevice)

	mustNotFound(t, "keep warm a missing device", s.SetKeepWarm(ctx, id.New(), true))
	if v := version(t, s, h.ID); v != 1 {
		t.Fatalf("keep warm moved the grants version to %d", v)
	}
}

func testDeleteDevice(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b, viewer := newAccount(t, s), newAccount(t, s), newAccount(t, s)
	h, other := newHome(t, s, a.ID), newHome(t, s, b.ID)
	d1, d2 := newDevice(t, s, a.ID, h.ID), newDevice(t, s, a.ID, h.ID)
	foreign := newDevice(t, s, b.ID, other.ID)
	check(t, "limit viewer", s.PutMember(ctx, domain.Member{HomeID: h.ID, AccountID: viewer.ID, Role: domain.RoleViewer, Devices: []string{d1.ID, d2.ID}, AddedAt: at(0)}))
	before := version(t, s, h.ID)

	check(t, "delete", s.DeleteDevice(ctx, d1.ID))
	_, err := s.DeviceByID(ctx, d1.ID)
	mustNotFound(t, "deleted device", err)
	_, err = s.DeviceByTokenHash(ctx, d1.TokenHash)
	mustNotFound(t, "deleted device's token", err)
	list, err := s.ListDevices(ctx, h.ID)
	check(t, "list devices", err)
	if got := ids(list, deviceID); !slices.Equal(got, []string{d2.ID}) {
		t.Fatalf("devices after delete: %v, want only d2", got)
	}
	m, err := s.Member(ctx, h.ID, viewer.ID)
	check(t, "viewer", err)
	if !slices.Equal(m.Member.Devices, []string{d2.ID}) {
		t.Fatalf("viewer devices after delete: %v, want only d2", m.Member.Devices)
	}
	if m.Home.GrantsVersion != before+1 {
		t.Fatalf("grants version %d after deleting a camera, was %d", m.Home.GrantsVersion, before)
	}
	mustNotFound(t, "delete twice", s.DeleteDevice(ctx, d1.ID))
	mustNotFound(t, "delete a missing device", s.DeleteDevice(ctx, id.New()))
	if v := version(t, s, h.ID); v != before+1 {
		t.Fatalf("refused deletes moved the grants version to %d", v)
	}

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
	if len(ms) != 1 || ms[0].Member.Devices == nil || len(ms[0].Member.Devices) != 0 {
		t.Fatalf("memberships lose the limit: %#v", ms)
	}
	members, err := s.ListMembers(ctx, h.ID)
	check(t, "list members", err)
	for _, lm := range members {
		if lm.AccountID == viewer.ID && (lm.Devices == nil || len(lm.Devices) != 0) {
			t.Fatalf("ListMembers loses the limit: %#v", lm)
		}
		if lm.AccountID == a.ID && lm.Devices != nil {
			t.Fatalf("owner listed as limited: %#v", lm)
		}
	}

	got, err := s.DeviceByID(ctx, foreign.ID)
	check(t, "another home's device", err)
	same(t, "another home's device", got, foreign, normDevice)
	if v := version(t, s, other.ID); v != 1 {
		t.Fatalf("deleting a camera moved another home's grants version to %d", v)
	}
}
