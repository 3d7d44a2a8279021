package authz

import (
	"reflect"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/domain"
)

func TestGrantCodec(t *testing.T) {
	at := time.Date(2026, 12, 1, 4, 0, 0, 123456789, time.UTC)
	for _, m := range []domain.Membership{
		{Home: domain.Home{ID: "h", GrantsVersion: 7}, Member: domain.Member{HomeID: "h", AccountID: "a", Role: domain.RoleOwner, AddedAt: at}},
		{Home: domain.Home{ID: "h", GrantsVersion: 1}, Member: domain.Member{HomeID: "h", AccountID: "a", Role: domain.RoleViewer, Devices: []string{"d1", "d2"}, AddedAt: at}},
		// Limited to no camera stays limited: never widened to all.
		{Home: domain.Home{ID: "h", GrantsVersion: 1}, Member: domain.Member{HomeID: "h", AccountID: "a", Role: domain.RoleViewer, Devices: []string{}, AddedAt: at}},
		// A home's second-factor requirement and the account's factor
		// survive the cache: a cached grant never lets a member without
		// one in.
		{Home: domain.Home{ID: "h", GrantsVersion: 2, RequireSecondFactor: true}, Member: domain.Member{HomeID: "h", AccountID: "a", Role: domain.RoleAdmin, AddedAt: at}},
		{Home: domain.Home{ID: "h", GrantsVersion: 2, RequireSecondFactor: true}, Member: domain.Member{HomeID: "h", AccountID: "a", Role: domain.RoleAdmin, AddedAt: at, SecondFactor: true}},
		{Home: domain.Home{ID: "h", GrantsVersion: 2}, Member: domain.Member{HomeID: "h", AccountID: "a", Role: domain.RoleAdmin, AddedAt: at, SecondFactor: true}},
	} {
		for _, dev := range []string{"", "d1"} {
			b := encodeGrant(m, dev)
			got, ok := decodeGrant(b, "h", "a", dev)
			if !ok || !reflect.DeepEqual(got, m) {
				t.Fatalf("round trip of %+v: %+v, %v", m, got, ok)
			}
			// Asked for anything else, it does not decode.
			for _, q := range [][3]string{{"x", "a", dev}, {"h", "b", dev}, {"h", "a", dev + "x"}} {
				if _, ok := decodeGrant(b, q[0], q[1], q[2]); ok {
					t.Errorf("decoded for %v", q)
				}
			}
			for i := range b {
				if _, ok := decodeGrant(b[:i], "h", "a", dev); ok {
					t.Errorf("a prefix of %d bytes decodes", i)
				}
			}
		}
	}
}

func FuzzDecodeGrant(f *testing.F) {
	f.Add(encodeGrant(domain.Membership{Home: domain.Home{ID: "h"}, Member: domain.Member{AccountID: "a", Role: domain.RoleViewer, Devices: []string{"d"}}}, ""))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, ok := decodeGrant(b, "", "a", "")
		if !ok {
			return
		}
		again, ok := decodeGrant(encodeGrant(m, ""), m.Home.ID, "a", "")
		if !ok || !reflect.DeepEqual(again, m) {
			t.Fatalf("decoded %+v does not round trip", m)
		}
	})
}
