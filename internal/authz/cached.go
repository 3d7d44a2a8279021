package authz

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/camvault/camvault/internal/apperr"
	"github.com/camvault/camvault/internal/cache"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/keys"
	"github.com/camvault/camvault/internal/lease"
	"github.com/camvault/camvault/internal/store"
)

// Cache is the cache a Decider may keep grants in; *cache.Cache is one.
// Entries are sealed with their key and tenant: a value that comes back
// for another key is a miss, never another person's grant.
type Cache interface {
	Get(ctx context.Context, key cache.Key, tenant string) (value []byte, version uint64, hit bool, err error)
	Put(ctx context.Context, key cache.Key, tenant string, version uint64, value []byte) error
}

// Kinds of cache entry the Decider writes.
const (
	// KindGrant is a person's membership of a home; tenant: the home,
	// part: the account.
	KindGrant cache.EntryKind = "grant"
	// KindDeviceGrant is a camera's home and a person's membership of it;
	// tenant: the account, part: the device.
	KindDeviceGrant cache.EntryKind = "device-grant"
)

// NewCached returns a Decider that keeps grants in c, each with the grant
// version it was computed from (invariant 3). Every decision not answered
// from memory (WithLease) reads the store's current grant version for the
// person and home, one indexed read, and uses a cached grant only when its
// version is that one: a revocation committed on any node is seen by the
// very next request. While bypass reports true (the breaker is open) the
// cache is not used.
//
// A grant answered from the cache holds the membership and the home's ID,
// not the home's other fields; Device answers with the camera's ID and
// home only. Services that show a home's or camera's details read them
// from the store, or use a Decider made by New.
func NewCached(s Store, c Cache, bypass func() bool) *Decider {
	return &Decider{store: s, cache: c, bypass: bypass}
}

func (d *Decider) bypassed() bool { return d.bypass != nil && d.bypass() }

func (d *Decider) caching() bool { return d.cache != nil && !d.bypassed() }

// memberKey names a person's grant in a home (home, account), or a
// person's grant for a camera (account, device).
type memberKey struct{ a, b string }

// deviceGrant is a camera's home and a person's membership of it.
type deviceGrant struct {
	dev domain.Device // ID and home only
	m   domain.Membership
}

// How many decisions a node keeps in memory, of each kind.
const (
	maxMembers = 1 << 16
	maxDevices = 1 << 16
)

// WithLease makes d keep decisions in process memory while the node's
// lease holds (docs/design/leases.md): a membership is used from memory
// only while no change to its home or account has been applied since it
// was read, and a change is acknowledged only once every node holding a
// lease has applied it. So a revocation is seen by the very next request
// on every node, without a store read per decision. While the breaker is
// open, nothing is used from memory. Call it before deciding.
func (d *Decider) WithLease(l lease.Holder) *Decider {
	d.members = lease.NewTable[memberKey, domain.Membership](l, maxMembers)
	d.devices = lease.NewTable[memberKey, deviceGrant](l, maxDevices)
	return d
}

// A grant as the cache holds it is keys.Encode of
//
//	format, home, home's grants version (8 bytes), account, device ("" for
//	KindGrant), role, limited ("1" or ""), added at (Unix ns, 8 bytes),
//	second factor (one byte: 1 the home requires one, 2 the account has
//	one), then the cameras of a limited viewer, one part each
//
// a length-prefixed binary form: decoding it is a fraction of the cost of
// JSON on the cached path, and no part can spill into another.
const grantFormat = "grant/v2"

const grantFixedParts = 9

func encodeGrant(m domain.Membership, deviceID string) []byte {
	var hv, at [8]byte
	binary.BigEndian.PutUint64(hv[:], uint64(m.Home.GrantsVersion))
	binary.BigEndian.PutUint64(at[:], uint64(m.Member.AddedAt.UnixNano()))
	limited := ""
	if m.Member.Devices != nil {
		limited = "1"
	}
	parts := make([][]byte, 0, grantFixedParts+len(m.Member.Devices))
	var factor byte
	if m.Home.RequireSecondFactor {
		factor |= 1
	}
	if m.Member.SecondFactor {
		factor |= 2
	}
	parts = append(parts, []byte(grantFormat), []byte(m.Home.ID), hv[:], []byte(m.Member.AccountID), []byte(deviceID),
		[]byte(m.Member.Role), []byte(limited), at[:], []byte{factor})
	for _, d := range m.Member.Devices {
		parts = append(parts, []byte(d))
	}
	return keys.Encode(parts...)
}

// grantKey is the cache key of a person's grant for a home; its tenant is
// the home. The Decider and the drop on a grant notice (notices.go) both
// build it here, so a change of layout cannot leave a drop that silently
// misses.
func grantKey(homeID, accountID string) cache.Key { return cache.NewKey(KindGrant, homeID, accountID) }

// decodeGrant reads an entry, checking it names what was asked for (the
// sealing already proved it was written for this key; this is the last
// look before it is used). homeID "" accepts any home (KindDeviceGrant).
func decodeGrant(b []byte, homeID, accountID, deviceID string) (domain.Membership, bool) {
	parts, ok := keys.Decode(b)
	if !ok || len(parts) < grantFixedParts || string(parts[0]) != grantFormat || len(parts[2]) != 8 || len(parts[7]) != 8 ||
		len(parts[8]) != 1 || parts[8][0] > 3 {
		return domain.Membership{}, false
	}
	home, role := string(parts[1]), domain.Role(parts[5])
	if home == "" || (homeID != "" && home != homeID) || string(parts[3]) != accountID || string(parts[4]) != deviceID || !role.Valid() {
		return domain.Membership{}, false
	}
	m := domain.Membership{
		Home: domain.Home{ID: home, GrantsVersion: int64(binary.BigEndian.Uint64(parts[2])), RequireSecondFactor: parts[8][0]&1 != 0},
		Member: domain.Member{HomeID: home, AccountID: accountID, Role: role,
			AddedAt: time.Unix(0, int64(binary.BigEndian.Uint64(parts[7]))).UTC(), SecondFactor: parts[8][0]&2 != 0},
	}
	switch string(parts[6]) {
	case "1":
		m.Member.Devices = make([]string, 0, len(parts)-grantFixedParts)
		for _, d := range parts[grantFixedParts:] {
			m.Member.Devices = append(m.Member.Devices, string(d))
		}
	case "":
		if len(parts) != grantFixedParts {
			return domain.Membership{}, false
		}
	default:
		return domain.Membership{}, false
	}
	return m, true
}

// member reads a person's membership of a home: from memory while the
// lease holds, else from the cache when its version is the store's
// current one, else from the store.
func (d *Decider) member(ctx context.Context, homeID, accountID string) (domain.Membership, error) {
	if d.members == nil || d.bypassed() {
		return d.sharedMember(ctx, homeID, accountID)
	}
	k := memberKey{homeID, accountID}
	if m, ok := d.members.Get(k); ok && m.Home.ID == homeID && m.Member.AccountID == accountID {
		return m, nil
	}
	return d.members.Load(k, func() (domain.Membership, error) { return d.sharedMember(ctx, homeID, accountID) },
		func(domain.Membership) (string, string) { return homeID, accountID })
}

// sharedMember reads a membership from the cache or the store.
func (d *Decider) sharedMember(ctx context.Context, homeID, accountID string) (domain.Membership, error) {
	if !d.caching() {
		return d.store.Member(ctx, homeID, accountID)
	}
	// The version is read before the membership: a change committed after
	// this read moves the version, so the entry written below is never used
	// after it.
	v, err := d.store.GrantVersion(ctx, homeID, accountID)
	if err != nil {
		return domain.Membership{}, err
	}
	ctx = cache.WithRequester(ctx, domain.PrincipalPerson, accountID)
	key := grantKey(homeID, accountID)
	if raw, version, hit, err := d.cache.Get(ctx, key, homeID); err == nil && hit && version == uint64(v) {
		if m, ok := decodeGrant(raw, homeID, accountID, ""); ok {
			return m, nil
		}
	}
	m, err := d.store.Member(ctx, homeID, accountID)
	if err != nil {
		return domain.Membership{}, err
	}
	_ = d.cache.Put(ctx, key, homeID, uint64(v), encodeGrant(m, "")) // best effort: a miss next time
	return m, nil
}

// deviceMember finds a camera's home and the person's membership of it.
// ErrNotFound when the camera does not exist or the person is not a member
// of its home. From memory while the lease holds: unpairing a camera is a
// change to its home, so a removed camera is never found there.
func (d *Decider) deviceMember(ctx context.Context, deviceID, accountID string) (domain.Device, domain.Membership, error) {
	if d.devices == nil || d.bypassed() {
		return d.sharedDeviceMember(ctx, deviceID, accountID)
	}
	k := memberKey{accountID, deviceID}
	if g, ok := d.devices.Get(k); ok && g.dev.ID == deviceID && g.m.Member.AccountID == accountID {
		return g.dev, g.m, nil
	}
	g, err := d.devices.Load(k, func() (deviceGrant, error) {
		dev, m, err := d.sharedDeviceMember(ctx, deviceID, accountID)
		return deviceGrant{dev: domain.Device{ID: dev.ID, HomeID: dev.HomeID}, m: m}, err
	}, func(g deviceGrant) (string, string) { return g.dev.HomeID, accountID })
	if err != nil {
		return domain.Device{}, domain.Membership{}, err
	}
	return g.dev, g.m, nil
}

// sharedDeviceMember is deviceMember from the cache or the store.
func (d *Decider) sharedDeviceMember(ctx context.Context, deviceID, accountID string) (domain.Device, domain.Membership, error) {
	if !d.caching() {
		dev, err := d.store.DeviceByID(ctx, deviceID)
		if err != nil {
			return domain.Device{}, domain.Membership{}, fmt.Errorf("read device: %w", err)
		}
		m, err := d.store.Member(ctx, dev.HomeID, accountID)
		return dev, m, err
	}
	ctx = cache.WithRequester(ctx, domain.PrincipalPerson, accountID)
	key := cache.NewKey(KindDeviceGrant, accountID, deviceID)
	if raw, version, hit, err := d.cache.Get(ctx, key, accountID); err == nil && hit {
		// The entry names the camera's home; it is used only if that home's
		// grant version for the person is still the one it was written at.
		// Unpairing moves it, so a removed camera is never found here.
		if m, ok := decodeGrant(raw, "", accountID, deviceID); ok {
			if v, err := d.store.GrantVersion(ctx, m.Home.ID, accountID); err == nil && uint64(v) == version {
				return domain.Device{ID: deviceID, HomeID: m.Home.ID}, m, nil
			}
		}
	}
	first, err := d.store.DeviceByID(ctx, deviceID)
	if err != nil {
		return domain.Device{}, domain.Membership{}, fmt.Errorf("read device: %w", err)
	}
	v, err := d.store.GrantVersion(ctx, first.HomeID, accountID)
	if err != nil {
		return domain.Device{}, domain.Membership{}, err
	}
	// Read again after the version: what is cached is never older than it.
	dev, err := d.store.DeviceByID(ctx, deviceID)
	if err != nil {
		return domain.Device{}, domain.Membership{}, fmt.Errorf("read device: %w", err)
	}
	if dev.HomeID != first.HomeID {
		return domain.Device{}, domain.Membership{}, fmt.Errorf("device %s changed home while read: %w", deviceID, store.ErrNotFound)
	}
	m, err := d.store.Member(ctx, dev.HomeID, accountID)
	if err != nil {
		return domain.Device{}, domain.Membership{}, err
	}
	_ = d.cache.Put(ctx, key, accountID, uint64(v), encodeGrant(m, deviceID))
	return dev, m, nil
}

// notFound maps the store's not-found to the answer for a missing kind.
func notFound(err error, kind, what string) error {
	if errors.Is(err, store.ErrNotFound) {
		return apperr.NotFoundf(kind)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// LabelMismatch fills in, for an incident about a refused cache entry, what
// was asked for when the key is one of the Decider's: the home of a grant.
// A device-grant's tenant is the account and its home is what the refused
// entry would have said, so none is named. It reports whether the key was
// the Decider's.
func LabelMismatch(m cache.Mismatch, in *domain.Incident) bool {
	switch m.Key.Kind() {
	case KindGrant:
		in.RequestedHome = m.Tenant
	case KindDeviceGrant:
	default:
		return false
	}
	return true
}
