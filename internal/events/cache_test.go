package events

import (
	"testing"

	"github.com/camvault/camvault/internal/cache"
	"github.com/camvault/camvault/internal/domain"
)

func TestLabelMismatch(t *testing.T) {
	cases := []struct {
		key       cache.Key
		mine      bool
		wantHome  string
		wantEvent string
	}{
		{cache.NewKey(KindThumbnail, "h0me", "dev1ce", "ev3nt"), true, "h0me", "ev3nt"},
		{cache.NewKey(KindThumbnail, "h0me", "dev1ce"), true, "h0me", ""}, // not a key this package writes: no event is guessed
		{cache.NewKey("grant", "h0me", "acc0unt"), false, "", ""},
	}
	for _, c := range cases {
		var in domain.Incident
		mine := LabelMismatch(cache.Mismatch{Key: c.key, Tenant: c.key.Tenant()}, &in)
		if mine != c.mine || in.RequestedHome != c.wantHome || in.RequestedEvent != c.wantEvent {
			t.Errorf("%s: mine %v, incident %+v; want mine %v, home %q, event %q", c.key, mine, in, c.mine, c.wantHome, c.wantEvent)
		}
	}
}
