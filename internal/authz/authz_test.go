package authz

import (
	"testing"

	"github.com/camvault/camvault/internal/store"
)

func TestCanSeeDevice(t *testing.T) {
	grant := func(role store.Role, devices []string) Grant {
		return Grant{Membership: store.Membership{Member: store.Member{Role: role, Devices: devices}}}
	}
	cases := []struct {
		g    Grant
		dev  string
		want bool
	}{
		{grant(store.RoleOwner, nil), "a", true},
		{grant(store.RoleAdmin, nil), "a", true},
		{grant(store.RoleViewer, nil), "a", true},
		{grant(store.RoleViewer, []string{"a"}), "a", true},
		{grant(store.RoleViewer, []string{"a"}), "b", false},
		// A limit whose cameras were all removed covers nothing.
		{grant(store.RoleViewer, []string{}), "a", false},
	}
	for i, c := range cases {
		if got := c.g.CanSeeDevice(c.dev); got != c.want {
			t.Errorf("case %d: CanSeeDevice(%q) = %v, want %v", i, c.dev, got, c.want)
		}
	}
}
