package authz_test

import (
	"testing"

	"github.com/camvault/camvault/internal/apperr"
	"github.com/camvault/camvault/internal/authz"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/servicetest"
)

// TestDecisions: the Decider from the store and the cached one decide
// alike, before and after each change of who may see what, and a refusal
// never says more than the caller may know.
func TestDecisions(t *testing.T) {
	t.Parallel()
	e := servicetest.New(t)
	ctx := e.Ctx()
	ann, cat, bob, mallory := e.Person("ann"), e.Person("cat"), e.Person("bob"), e.Person("mallory")
	home := e.Home(ann, "Home")
	front, back := e.Camera(ann, home), e.Camera(ann, home)
	e.Share(ann, home, cat, domain.RoleAdmin)
	e.Share(ann, home, bob, domain.RoleViewer, front.DeviceID)
	nobody := id.New()

	type want struct {
		home   apperr.Code // "" when allowed
		device apperr.Code
	}
	check := func(stage string, p authz.Principal, deviceID string, action authz.Action, w want) {
		t.Helper()
		for name, d := range map[string]*authz.Decider{"store": e.Authz, "cached": e.CachedAuthz} {
			for range 2 { // the second time from the cache, for the cached one
				g, err := d.Home(ctx, p, home, action)
				if code := codeOf(err); code != w.home {
					t.Errorf("%s, %s decider: Home(%s) = %v, want %q", stage, name, action, err, w.home)
				} else if err == nil && g.HomeID() != home {
					t.Errorf("%s, %s decider: granted for home %s", stage, name, g.HomeID())
				}
				dev, g, err := d.Device(ctx, p, deviceID, action)
				if code := codeOf(err); code != w.device {
					t.Errorf("%s, %s decider: Device(%s) = %v, want %q", stage, name, action, err, w.device)
				} else if err == nil && (dev.ID != deviceID || dev.HomeID != home || g.HomeID() != home) {
					t.Errorf("%s, %s decider: device %+v, grant for %s", stage, name, dev, g.HomeID())
				}
			}
			// Not yours reads exactly as not there.
			_, err := d.Home(ctx, mallory.Principal, home, authz.ViewHome)
			_, missing := d.Home(ctx, mallory.Principal, nobody, authz.ViewHome)
			if codeOf(err) != apperr.NotFound || codeOf(missing) != apperr.NotFound || err.Error() != missing.Error() {
				t.Errorf("%s, %s decider: a stranger's home: %v; a missing one: %v", stage, name, err, missing)
			}
			_, _, err = d.Device(ctx, mallory.Principal, deviceID, authz.ViewHome)
			_, _, missing = d.Device(ctx, mallory.Principal, nobody, authz.ViewHome)
			if codeOf(err) != apperr.NotFound || codeOf(missing) != apperr.NotFound || err.Error() != missing.Error() {
				t.Errorf("%s, %s decider: a stranger's camera: %v; a missing one: %v", stage, name, err, missing)
			}
		}
	}
	ok, forbidden, notFound := want{}, want{apperr.Forbidden, apperr.Forbidden}, want{apperr.NotFound, apperr.NotFound}

	check("owner views", ann.Principal, front.DeviceID, authz.ViewHome, ok)
	check("owner deletes events", ann.Principal, back.DeviceID, authz.DeleteEvents, ok)
	check("admin manages cameras", cat.Principal, back.DeviceID, authz.ManageDevices, ok)
	check("viewer views a camera given", bob.Principal, front.DeviceID, authz.ViewHome, ok)
	check("viewer views a camera not given", bob.Principal, back.DeviceID, authz.ViewHome, want{"", apperr.NotFound})
	check("viewer manages members", bob.Principal, front.DeviceID, authz.ManageMembers, forbidden)
	check("viewer manages a camera not given", bob.Principal, back.DeviceID, authz.ManageDevices, want{apperr.Forbidden, apperr.NotFound})
	check("stranger views", mallory.Principal, front.DeviceID, authz.ViewHome, notFound)
	check("a camera asks", front.Principal, front.DeviceID, authz.ViewHome, notFound)

	// Each change is seen by the very next decision, cached or not.
	e.Share(ann, home, bob, domain.RoleViewer, back.DeviceID)
	check("viewer given the other camera instead", bob.Principal, front.DeviceID, authz.ViewHome, want{"", apperr.NotFound})
	e.Share(ann, home, bob, domain.RoleAdmin)
	check("viewer made admin", bob.Principal, front.DeviceID, authz.ManageDevices, ok)
	if err := e.Homes.RemoveMember(ctx, ann.Principal, home, cat.AccountID); err != nil {
		t.Fatal(err)
	}
	check("admin removed", cat.Principal, back.DeviceID, authz.ViewHome, notFound)
	if err := e.Homes.DeleteDevice(ctx, ann.Principal, front.DeviceID); err != nil {
		t.Fatal(err)
	}
	check("owner after unpairing", ann.Principal, front.DeviceID, authz.ViewHome, want{"", apperr.NotFound})
}

func codeOf(err error) apperr.Code {
	if err == nil {
		return ""
	}
	return apperr.CodeOf(err)
}
