package authz

import (
	"testing"

	"github.com/camvault/camvault/internal/cache"
	"github.com/camvault/camvault/internal/domain"
)

func TestCanSeeDevice(t *testing.T) {
	grant := func(role domain.Role, devices []string) Grant {
		return Grant{Membership: domain.Membership{Member: domain.Member{Role: role, Devices: devices}}}
	}
	cases := []struct {
		g    Grant
		dev  string
		want bool
	}{
		{grant(domain.RoleOwner, nil), "a", true},
		{grant(domain.RoleAdmin, nil), "a", true},
		{grant(domain.RoleViewer, nil), "a", true},
		{grant(domain.RoleViewer, []string{"a"}), "a", true},
		{grant(domain.RoleViewer, []string{"a"}), "b", false},
		// A limit whose cameras were all removed covers nothing.
		{grant(domain.RoleViewer, []string{}), "a", false},
	}
	for i, c := range cases {
		if got := c.g.CanSeeDevice(c.dev); got != c.want {
			t.Errorf("case %d: CanSeeDevice(%q) = %v, want %v", i, c.dev, got, c.want)
		}
	}
}

func TestLabelMismatch(t *testing.T) {
	home, account, device := "h0me", "acc0unt", "dev1ce"
	cases := []struct {
		key      cache.Key
		tenant   string
		mine     bool
		wantHome string
	}{
		{grantKey(home, account), home, true, home},
		// Its tenant is the account: no home is named from it.
		{cache.NewKey(KindDeviceGrant, account, device), account, true, ""},
		{cache.NewKey("thumbnail", home, device, "ev"), home, false, ""},
	}
	for _, c := range cases {
		var in domain.Incident
		mine := LabelMismatch(cache.Mismatch{Key: c.key, Tenant: c.tenant}, &in)
		if mine != c.mine || in.RequestedHome != c.wantHome || in.RequestedEvent != "" {
			t.Errorf("%s: mine %v, incident %+v; want mine %v, home %q", c.key, mine, in, c.mine, c.wantHome)
		}
	}
}

// TestAllows is the role table of docs/design/authorization.md.
func TestAllows(t *testing.T) {
	cases := []struct {
		role                              domain.Role
		view, members, devices, delEvents bool
	}{
		{domain.RoleOwner, true, true, true, true},
		{domain.RoleAdmin, true, true, true, true},
		{domain.RoleViewer, true, false, false, false},
		{domain.Role("stranger"), false, false, false, false},
		{domain.Role(""), false, false, false, false},
	}
	for _, c := range cases {
		for a, want := range map[Action]bool{ViewHome: c.view, ManageMembers: c.members, ManageDevices: c.devices, DeleteEvents: c.delEvents} {
			if got := Allows(c.role, a); got != want {
				t.Errorf("Allows(%q, %s) = %v, want %v", c.role, a, got, want)
			}
		}
	}
}
