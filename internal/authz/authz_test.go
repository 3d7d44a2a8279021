package authz

import (
	"testing"

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
