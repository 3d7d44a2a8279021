package live

import (
	"testing"

	"github.com/camvault/camvault/internal/authz"
	"github.com/camvault/camvault/internal/domain"
)

// A grant notice must select every session whose grants it may have
// changed: one it misses is re-decided only by the next sweep.
func TestNoticeCoversTheSessionsItNames(t *testing.T) {
	person := &Session{p: authz.Principal{Kind: domain.PrincipalPerson, AccountID: "acct1", SessionID: "s1"}, dev: domain.Device{ID: "dev1", HomeID: "home1"}}
	display := &Session{p: authz.Principal{Kind: domain.PrincipalIntegration, AccountID: "acct1", PartnerID: "partner1", LinkID: "link1"}, dev: domain.Device{ID: "dev1", HomeID: "home1"}}
	other := &Session{p: authz.Principal{Kind: domain.PrincipalPerson, AccountID: "acct2", SessionID: "s2"}, dev: domain.Device{ID: "dev2", HomeID: "home2"}}
	cases := []struct {
		name                   string
		n                      authz.GrantNotice
		person, display, other bool
	}{
		{"logout", authz.GrantNotice{AccountID: "acct1"}, true, true, false},
		{"member removed", authz.GrantNotice{HomeID: "home1", AccountID: "acct1"}, true, true, false},
		{"camera unpaired", authz.GrantNotice{HomeID: "home1"}, true, true, false},
		{"link removed", authz.GrantNotice{AccountID: "acct1", PartnerID: "partner1"}, false, true, false},
		{"partner disabled", authz.GrantNotice{PartnerID: "partner1"}, false, true, false},
		{"another home", authz.GrantNotice{HomeID: "home2"}, false, false, true},
	}
	for _, c := range cases {
		if got := noticeCovers(c.n, person); got != c.person {
			t.Errorf("%s: covers the person's session = %v, want %v", c.name, got, c.person)
		}
		if got := noticeCovers(c.n, display); got != c.display {
			t.Errorf("%s: covers the display's session = %v, want %v", c.name, got, c.display)
		}
		if got := noticeCovers(c.n, other); got != c.other {
			t.Errorf("%s: covers the other home's session = %v, want %v", c.name, got, c.other)
		}
	}
}
