package homes

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/camvault/camvault/internal/apperr"
	"github.com/camvault/camvault/internal/audit"
	"github.com/camvault/camvault/internal/authz"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/keys"
	"github.com/camvault/camvault/internal/store"
	"github.com/camvault/camvault/internal/throttle"
	"github.com/camvault/camvault/internal/token"
)

// Device is a camera as its home's members see it.
type Device struct {
	ID       string     `json:"id"`
	HomeID   string     `json:"home_id"`
	Name     string     `json:"name"`
	Model    string     `json:"model"`
	Firmware string     `json:"firmware"`
	Online   bool       `json:"online"`
	LastSeen *time.Time `json:"last_seen"`
	// KeepWarm: the camera streams live whenever it is connected, so a
	// viewer's first frame comes at once (docs/design/live.md).
	KeepWarm bool `json:"keep_warm"`
}

func deviceNameAD(homeID, deviceID string) []byte {
	return keys.AD("device-name", homeID, deviceID)
}

// PairingCode is a freshly made pairing code. It is shown once.
type PairingCode struct {
	Code      string    `json:"code"`
	ExpiresAt time.Time `json:"expires_at"`
}

// crockford is Crockford's base32 alphabet: no I, L, O or U, so a code read
// aloud or typed from a screen is hard to get wrong.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

const pairingCodeChars = 12 // 60 random bits

// CreatePairingCode makes a single-use code that pairs one camera into the
// home. Owners and admins only.
func (s *Service) CreatePairingCode(ctx context.Context, p authz.Principal, homeID string) (PairingCode, error) {
	if _, err := s.authz.Home(ctx, p, homeID, authz.ManageDevices); err != nil {
		return PairingCode{}, err
	}
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return PairingCode{}, fmt.Errorf("random pairing code: %w", err)
	}
	v := binary.BigEndian.Uint64(b[:])
	raw := make([]byte, pairingCodeChars)
	for i := range raw {
		raw[i] = crockford[v&31]
		v >>= 5
	}
	code := string(raw)
	now := s.now()
	pc := domain.PairingCode{
		CodeHash:  s.pairingCodeHash(code),
		HomeID:    homeID,
		CreatedBy: p.AccountID,
		CreatedAt: now,
		ExpiresAt: now.Add(s.cfg.PairingCodeTTL),
	}
	if err := s.store.CreatePairingCode(ctx, pc); err != nil {
		return PairingCode{}, fmt.Errorf("create pairing code: %w", err)
	}
	if err := s.note(ctx, homeID, personEntry(p, AuditPairingCode)); err != nil {
		return PairingCode{}, err
	}
	return PairingCode{Code: code[0:4] + "-" + code[4:8] + "-" + code[8:12], ExpiresAt: pc.ExpiresAt}, nil
}

// pairingCodePurpose keys pairing code hashes, so a copy of the store does
// not let anyone test codes offline.
const pairingCodePurpose = "pairing-code"

func (s *Service) pairingCodeHash(code string) []byte {
	return s.keys.BlindIndex(pairingCodePurpose, code)
}

// normalizePairingCode accepts the code as a person may type it: any case,
// with or without dashes and spaces, O for 0 and I or L for 1.
func normalizePairingCode(in string) (string, bool) {
	r := strings.NewReplacer("-", "", " ", "", "O", "0", "I", "1", "L", "1")
	code := r.Replace(strings.ToUpper(strings.TrimSpace(in)))
	if len(code) != pairingCodeChars || strings.Trim(code, crockford) != "" {
		return "", false
	}
	return code, true
}

// Paired is what a newly paired camera receives. The token is shown only
// here; the store keeps its hash.
type Paired struct {
	DeviceID    string `json:"device_id"`
	DeviceToken string `json:"device_token"`
}

var errBadPairingCode = apperr.New(apperr.NotFound, "pairing code is not valid or has expired")

const maxModelLen = 64

// Pair consumes a pairing code and creates the camera it pairs, with a new
// device token. The code is the only credential; wrong codes are throttled
// per client address.
func (s *Service) Pair(ctx context.Context, code, model, firmware, clientAddr string) (Paired, error) {
	model, firmware = strings.TrimSpace(model), strings.TrimSpace(firmware)
	if !printable(model, maxModelLen) || !printable(firmware, maxModelLen) {
		return Paired{}, apperr.New(apperr.Invalid, "model and firmware must be 1 to %d printable ASCII characters", maxModelLen)
	}
	now := s.now()
	// The attempt is counted before the code is looked up, in one
	// statement that returns the new count: parallel guesses cannot all
	// pass a count read before any of them was added. A right code gives
	// its attempt back below, so only wrong ones stay counted.
	limiter := s.pairLimiter()
	throttleKey := s.keys.BlindIndex("pair-throttle-address", clientAddr)
	if err := limiter.Attempt(ctx, throttleKey, now); err != nil {
		return Paired{}, err
	}
	norm, ok := normalizePairingCode(code)
	if !ok {
		return Paired{}, errBadPairingCode
	}
	tok, tokHash := token.New(token.Device)
	d := domain.Device{
		ID:        id.New(),
		Model:     model,
		Firmware:  firmware,
		TokenHash: tokHash,
		CreatedAt: now,
	}
	// The code names the home only inside PairDevice's transaction, so the
	// camera's name, sealed with that home's key, is written just after;
	// until then (or if a crash comes between) the camera shows its model.
	// A code made before a master key rotation is hashed under an older
	// generation: each is tried, the current one first.
	err := store.ErrNotFound
	for _, hash := range s.keys.BlindIndexes(pairingCodePurpose, norm) {
		var paired domain.Device
		if paired, err = s.store.PairDevice(ctx, hash, now, d); !errors.Is(err, store.ErrNotFound) {
			d = paired
			break
		}
	}
	if errors.Is(err, store.ErrNotFound) {
		return Paired{}, errBadPairingCode
	}
	if err != nil {
		return Paired{}, fmt.Errorf("pair device: %w", err)
	}
	if err := limiter.Undo(ctx, throttleKey, now); err != nil {
		return Paired{}, err
	}
	h, err := s.homeByID(ctx, d.HomeID)
	if err != nil {
		return Paired{}, err
	}
	dk, err := s.dataKey(h)
	if err != nil {
		return Paired{}, err
	}
	if err := s.store.RenameDevice(ctx, d.ID, dk.Seal([]byte(model), deviceNameAD(d.HomeID, d.ID))); err != nil {
		return Paired{}, fmt.Errorf("name new device: %w", err)
	}
	if err := s.note(ctx, d.HomeID, audit.Entry{ActorKind: domain.PrincipalDevice, ActorID: d.ID, DeviceID: d.ID,
		Action: AuditPair, Detail: "model " + model}); err != nil {
		return Paired{}, err
	}
	return Paired{DeviceID: d.ID, DeviceToken: tok}, nil
}

func (s *Service) pairLimiter() throttle.Limiter {
	return throttle.Limiter{Store: s.store, Limit: s.cfg.PairFailures, Window: s.cfg.PairWindow,
		Message: "too many wrong pairing codes; try again later"}
}

func printable(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

var errNoDevice = apperr.New(apperr.Unauthorized, "a valid device token is required")

// AuthenticateDevice turns a device token into the device it was issued to.
// This is the only source of a device's identity (invariant 2).
func (s *Service) AuthenticateDevice(ctx context.Context, tok string) (authz.Principal, error) {
	if !token.Parse(tok, token.Device) {
		return authz.Principal{}, errNoDevice
	}
	d, err := s.store.DeviceByTokenHash(ctx, token.Hash(tok))
	if errors.Is(err, store.ErrNotFound) {
		return authz.Principal{}, errNoDevice
	}
	if err != nil {
		return authz.Principal{}, fmt.Errorf("look up device: %w", err)
	}
	return authz.Principal{Kind: domain.PrincipalDevice, DeviceID: d.ID, HomeID: d.HomeID}, nil
}

// Devices lists the cameras of a home that p may see.
func (s *Service) Devices(ctx context.Context, p authz.Principal, homeID string) ([]Device, error) {
	g, err := s.authz.Home(ctx, p, homeID, authz.ViewHome)
	if err != nil {
		return nil, err
	}
	list, err := s.store.ListDevices(ctx, homeID)
	if err != nil {
		return nil, fmt.Errorf("list devices: %w", err)
	}
	dk, err := s.dataKey(g.Membership.Home)
	if err != nil {
		return nil, err
	}
	out := make([]Device, 0, len(list))
	for _, d := range list {
		if !g.CanSeeDevice(d.ID) {
			continue
		}
		v, err := s.deviceView(dk, d)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// Device returns one camera p may see.
func (s *Service) Device(ctx context.Context, p authz.Principal, deviceID string) (Device, error) {
	d, g, err := s.authz.Device(ctx, p, deviceID, authz.ViewHome)
	if err != nil {
		return Device{}, err
	}
	dk, err := s.dataKey(g.Membership.Home)
	if err != nil {
		return Device{}, err
	}
	return s.deviceView(dk, d)
}

// RenameDevice changes a camera's name. Owners and admins only.
func (s *Service) RenameDevice(ctx context.Context, p authz.Principal, deviceID, name string) (Device, error) {
	return s.UpdateDevice(ctx, p, deviceID, DeviceUpdate{Name: &name})
}

// SetKeepWarm sets whether a camera is kept warm: streaming live whenever
// it is connected, not only while someone watches. Owners and admins only.
func (s *Service) SetKeepWarm(ctx context.Context, p authz.Principal, deviceID string, warm bool) (Device, error) {
	return s.UpdateDevice(ctx, p, deviceID, DeviceUpdate{KeepWarm: &warm})
}

// DeviceUpdate is a change to a camera's settings; nil leaves a field as
// it is.
type DeviceUpdate struct {
	Name     *string
	KeepWarm *bool
}

// UpdateDevice renames a camera and/or sets whether it is kept warm; at
// least one must be given. Owners and admins only. The name is checked
// before anything is written. A change of keep warm is passed on to the
// camera's connection, wherever it is, once stored.
func (s *Service) UpdateDevice(ctx context.Context, p authz.Principal, deviceID string, u DeviceUpdate) (Device, error) {
	d, g, err := s.authz.Device(ctx, p, deviceID, authz.ManageDevices)
	if err != nil {
		return Device{}, err
	}
	if u.Name == nil && u.KeepWarm == nil {
		return Device{}, apperr.New(apperr.Invalid, `at least one of "name" and "keep_warm" is required`)
	}
	var name string
	if u.Name != nil {
		if name, err = CheckName("name", *u.Name); err != nil {
			return Device{}, err
		}
	}
	dk, err := s.dataKey(g.Membership.Home)
	if err != nil {
		return Device{}, err
	}
	notFound := func(what string, err error) error {
		if errors.Is(err, store.ErrNotFound) {
			return apperr.NotFoundf("device")
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	if u.Name != nil {
		d.NameSealed = dk.Seal([]byte(name), deviceNameAD(d.HomeID, d.ID))
		if err := s.store.RenameDevice(ctx, d.ID, d.NameSealed); err != nil {
			return Device{}, notFound("rename device", err)
		}
	}
	if u.KeepWarm != nil {
		d.KeepWarm = *u.KeepWarm
		if err := s.store.SetKeepWarm(ctx, d.ID, d.KeepWarm); err != nil {
			return Device{}, notFound("set keep warm", err)
		}
		// After the write: a camera connecting meanwhile reads it.
		s.conns.SetWarm(ctx, d, d.KeepWarm)
	}
	if u.Name != nil {
		e := personEntry(p, AuditRename)
		e.DeviceID = d.ID
		if err := s.note(ctx, d.HomeID, e); err != nil {
			return Device{}, err
		}
	}
	if u.KeepWarm != nil {
		e := personEntry(p, AuditDeviceUpdate)
		e.DeviceID, e.Detail = d.ID, "keep warm off"
		if d.KeepWarm {
			e.Detail = "keep warm on"
		}
		if err := s.note(ctx, d.HomeID, e); err != nil {
			return Device{}, err
		}
	}
	return s.deviceView(dk, d)
}

// DeleteDevice unpairs a camera: its token stops working at once, and its
// open connection, on whichever node holds it, is closed. Owners and admins
// only.
func (s *Service) DeleteDevice(ctx context.Context, p authz.Principal, deviceID string) error {
	d, _, err := s.authz.Device(ctx, p, deviceID, authz.ManageDevices)
	if err != nil {
		return err
	}
	if err := s.store.DeleteDevice(ctx, d.ID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return apperr.NotFoundf("device")
		}
		return fmt.Errorf("delete device: %w", err)
	}
	// After the commit: a node told of it finds the camera gone in the store.
	s.conns.Revoke(ctx, d.ID)
	e := personEntry(p, AuditUnpair)
	e.DeviceID = d.ID
	return s.note(ctx, d.HomeID, e)
}

// deviceView is what a person sees of a camera. The stored online flag is
// believed only while the camera's last seen is recent: a node that was
// killed never wrote "offline" for the cameras it held, and those that
// did not come back to another node must not look online forever.
func (s *Service) deviceView(dk keys.DataKey, d domain.Device) (Device, error) {
	online := d.Online && (s.cfg.PresenceTTL <= 0 || s.cfg.Now().Sub(d.LastSeenAt) <= s.cfg.PresenceTTL)
	v := Device{ID: d.ID, HomeID: d.HomeID, Model: d.Model, Firmware: d.Firmware, Online: online, KeepWarm: d.KeepWarm}
	if !d.LastSeenAt.IsZero() {
		t := d.LastSeenAt.UTC()
		v.LastSeen = &t
	}
	if len(d.NameSealed) > 0 {
		name, err := dk.Open(d.NameSealed, deviceNameAD(d.HomeID, d.ID))
		if err != nil {
			return Device{}, fmt.Errorf("open name of device %s: %w", d.ID, err)
		}
		v.Name = string(name)
	} else {
		v.Name = d.Model
	}
	return v, nil
}

// PartnerDevices lists the cameras a partner may see now, in the order the
// person chose them: those of its link the person still sees.
func (s *Service) PartnerDevices(ctx context.Context, p authz.Principal) ([]Device, error) {
	dgs, err := s.authz.PartnerDevices(ctx, p)
	if err != nil {
		return nil, err
	}
	out := make([]Device, 0, len(dgs))
	for _, dg := range dgs {
		dk, err := s.dataKey(dg.Grant.Membership.Home)
		if err != nil {
			return nil, err
		}
		v, err := s.deviceView(dk, dg.Device)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}
