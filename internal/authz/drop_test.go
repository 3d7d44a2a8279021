package authz

import (
	"crypto/rand"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/cache"
	"github.com/camvault/camvault/internal/cache/memory"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/store/sqlite"
)

// TestGrantNoticeDropsCachedGrants checks what a node does with a grant
// notice: the cached memberships it names are gone, the others stay. The
// entries are the cached Decider's own, so the drop is checked against the
// key the Decider really writes.
func TestGrantNoticeDropsCachedGrants(t *testing.T) {
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	mem, err := memory.New(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	c, err := cache.NewWithKey(mem, key, cache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	d := NewCached(st, c, nil)
	now := time.Now().UTC()
	account := func() string {
		a := domain.Account{ID: id.New(), EmailIndex: []byte(id.New()), EmailSealed: []byte("e"), PasswordHash: "h", CreatedAt: now}
		if err := st.CreateAccount(ctx, a); err != nil {
			t.Fatal(err)
		}
		return a.ID
	}
	home := func(members ...string) string {
		h := domain.Home{ID: id.New(), NameSealed: []byte("n"), WrappedDataKey: []byte("k"), RetentionDays: 30, CreatedAt: now, GrantsVersion: 1}
		if err := st.CreateHome(ctx, h, domain.Member{HomeID: h.ID, AccountID: members[0], Role: domain.RoleOwner, AddedAt: now}); err != nil {
			t.Fatal(err)
		}
		for _, m := range members[1:] {
			if err := st.PutMember(ctx, domain.Member{HomeID: h.ID, AccountID: m, Role: domain.RoleViewer, AddedAt: now}); err != nil {
				t.Fatal(err)
			}
		}
		return h.ID
	}
	ann, bob := account(), account()
	h1, h2 := home(ann, bob), home(ann)
	grants := [][2]string{{h1, ann}, {h1, bob}, {h2, ann}}
	fill := func() {
		for _, g := range grants {
			if _, err := d.Home(ctx, Principal{Kind: domain.PrincipalPerson, AccountID: g[1]}, g[0], ViewHome); err != nil {
				t.Fatal(err)
			}
		}
	}
	cached := func() (left [][2]string) {
		for _, g := range grants {
			if _, _, hit, err := c.Get(ctx, grantKey(g[0], g[1]), g[0]); err == nil && hit {
				left = append(left, g)
			}
		}
		return left
	}
	fill()
	if got := cached(); !slices.Equal(got, grants) {
		t.Fatalf("the Decider cached %v; want %v", got, grants)
	}
	drop := DropCachedGrants(c, st, slog.New(slog.DiscardHandler))
	for _, tc := range []struct {
		notice GrantNotice
		left   [][2]string
	}{
		{GrantNotice{HomeID: h1, AccountID: bob}, [][2]string{{h1, ann}, {h2, ann}}}, // a member removed
		{GrantNotice{AccountID: ann}, [][2]string{{h1, bob}}},                        // a logout: every home of the account
		{GrantNotice{HomeID: h1}, [][2]string{{h2, ann}}},                            // a camera unpaired: every member of the home
	} {
		fill()
		drop(ctx, tc.notice)
		if got := cached(); !slices.Equal(got, tc.left) {
			t.Errorf("after %+v the cache holds %v; want %v", tc.notice, got, tc.left)
		}
	}
}
