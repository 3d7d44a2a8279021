package authz_test

import (
	"testing"
	"time"

	"github.com/camvault/camvault/internal/apperr"
	"github.com/camvault/camvault/internal/authz"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/servicetest"
)

// TestPartnerDecisions is invariant 12: a partner is decided as the
// intersection of the person's consent and the person's current grant,
// read from the store on every decision. A camera outside either, a link
// that is gone, another partner's or account's link and a disabled
// partner all answer as a missing camera, with both deciders; the grant a
// partner gets covers only the consented cameras, so the last step
// refuses any other label.
func TestPartnerDecisions(t *testing.T) {
	t.Parallel()
	e := servicetest.New(t)
	ctx := e.Ctx()
	ann, bob := e.Person("ann"), e.Person("bob")
	home := e.Home(ann, "Home")
	front, back, side := e.Camera(ann, home), e.Camera(ann, home), e.Camera(ann, home)
	e.Share(ann, home, bob, domain.RoleViewer, front.DeviceID, back.DeviceID)

	p := domain.Partner{ID: id.New(), Name: "Display", RedirectURI: "https://display.example/cb", SecretHash: []byte("h"), CreatedAt: time.Now()}
	if err := e.Store.CreatePartner(ctx, p); err != nil {
		t.Fatal(err)
	}
	link := func(who servicetest.Person, live bool, devices ...string) authz.Principal {
		t.Helper()
		r := domain.PartnerRequest{ID: id.New(), PartnerID: p.ID, RedirectURI: p.RedirectURI, State: "s", Scopes: []string{"cameras"},
			CodeChallenge: "c", CodeChallengeMethod: "S256", CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}
		if err := e.Store.PutPartnerRequest(ctx, r); err != nil {
			t.Fatal(err)
		}
		l := domain.PartnerLink{ID: id.New(), PartnerID: p.ID, AccountID: who.AccountID, Devices: devices, Live: live, CreatedAt: time.Now()}
		if err := e.Store.LinkPartner(ctx, r.ID, l, nil); err != nil {
			t.Fatal(err)
		}
		return authz.Principal{Kind: domain.PrincipalIntegration, AccountID: who.AccountID, PartnerID: p.ID, LinkID: l.ID}
	}
	// Bob consents to front and side; he sees front and back.
	bp := link(bob, false, front.DeviceID, side.DeviceID)

	decide := func(stage string, pr authz.Principal, deviceID string, action authz.Action, allowed bool) {
		t.Helper()
		for name, d := range map[string]*authz.Decider{"store": e.Authz, "cached": e.CachedAuthz} {
			_, g, err := d.Device(ctx, pr, deviceID, action)
			switch {
			case allowed && err != nil:
				t.Errorf("%s, %s decider: %v, want allowed", stage, name, err)
			case !allowed && apperr.CodeOf(err) != apperr.NotFound:
				t.Errorf("%s, %s decider: %v, want the missing camera's not found", stage, name, err)
			case allowed:
				for _, other := range []string{back.DeviceID, side.DeviceID} {
					if other != deviceID && g.CanSeeDevice(other) {
						t.Errorf("%s, %s decider: the partner's grant covers %s, outside consent ∩ the person's grant", stage, name, other)
					}
				}
			}
		}
	}
	decide("consented and seen", bp, front.DeviceID, authz.ViewHome, true)
	decide("seen, not consented", bp, back.DeviceID, authz.ViewHome, false)
	decide("consented, not seen", bp, side.DeviceID, authz.ViewHome, false)
	decide("live not consented", bp, front.DeviceID, authz.WatchLive, false)
	decide("a change", bp, front.DeviceID, authz.ManageDevices, false)
	decide("a missing camera", bp, id.New(), authz.ViewHome, false)
	if dgs, err := e.Authz.PartnerDevices(ctx, bp); err != nil || len(dgs) != 1 || dgs[0].Device.ID != front.DeviceID {
		t.Errorf("partner devices: %+v, %v; want only the front camera", dgs, err)
	}

	forged := bp
	forged.AccountID = ann.AccountID // a link is its own account's
	decide("another account on the link", forged, front.DeviceID, authz.ViewHome, false)
	forged = bp
	forged.PartnerID = id.New()
	decide("another partner on the link", forged, front.DeviceID, authz.ViewHome, false)

	if err := e.Store.SetPartnerDisabled(ctx, p.ID, true); err != nil {
		t.Fatal(err)
	}
	decide("disabled partner", bp, front.DeviceID, authz.ViewHome, false)
	if err := e.Store.SetPartnerDisabled(ctx, p.ID, false); err != nil {
		t.Fatal(err)
	}
	decide("enabled again", bp, front.DeviceID, authz.ViewHome, true)

	// The person loses the camera: so does the partner, at once.
	e.Share(ann, home, bob, domain.RoleViewer, back.DeviceID)
	decide("the person limited to another camera", bp, front.DeviceID, authz.ViewHome, false)

	// A live link, then unlinked.
	ap := link(ann, true, front.DeviceID)
	decide("live consented", ap, front.DeviceID, authz.WatchLive, true)
	if err := e.Store.DeletePartnerLink(ctx, ann.AccountID, ap.LinkID); err != nil {
		t.Fatal(err)
	}
	decide("unlinked", ap, front.DeviceID, authz.WatchLive, false)
}
