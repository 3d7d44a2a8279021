package storetest

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/store"
)

func newPartner(t *testing.T, s store.Store, name string) domain.Partner {
	t.Helper()
	p := domain.Partner{ID: id.New(), Name: name, RedirectURI: "https://partner.example/callback?x=1",
		SecretHash: random("secret"), CreatedAt: at(0)}
	check(t, "create partner", s.CreatePartner(t.Context(), p))
	return p
}

func normPartner(p domain.Partner) domain.Partner {
	p.CreatedAt = normTime(p.CreatedAt)
	p.SecretHash = normBytes(p.SecretHash)
	return p
}

func normRequest(r domain.PartnerRequest) domain.PartnerRequest {
	r.CreatedAt, r.ExpiresAt, r.CodeHash = normTime(r.CreatedAt), normTime(r.ExpiresAt), normBytes(r.CodeHash)
	if len(r.Devices) == 0 {
		r.Devices = nil
	}
	if len(r.Scopes) == 0 {
		r.Scopes = nil
	}
	return r
}

func normLink(l domain.PartnerLink) domain.PartnerLink {
	l.CreatedAt = normTime(l.CreatedAt)
	if len(l.Devices) == 0 {
		l.Devices = nil
	} else {
		l.Devices = slices.Sorted(slices.Values(l.Devices)) // in any order
	}
	return l
}

func normToken(tk domain.PartnerToken) domain.PartnerToken {
	tk.CreatedAt, tk.ExpiresAt, tk.UsedAt, tk.Hash = normTime(tk.CreatedAt), normTime(tk.ExpiresAt), normTime(tk.UsedAt), normBytes(tk.Hash)
	return tk
}

// testPartners: partners are kept, listed and disabled, each change of
// state moving the version; a duplicate ID is a conflict.
func testPartners(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := newPartner(t, s, "Display A"), newPartner(t, s, "Assistant B")
	got, err := s.PartnerByID(ctx, a.ID)
	check(t, "partner by id", err)
	same(t, "partner", got, a, normPartner)
	if err := s.CreatePartner(ctx, a); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate partner: %v, want ErrConflict", err)
	}
	_, err = s.PartnerByID(ctx, id.New())
	mustNotFound(t, "missing partner", err)
	check(t, "disable", s.SetPartnerDisabled(ctx, a.ID, true))
	got, err = s.PartnerByID(ctx, a.ID)
	check(t, "partner by id", err)
	if !got.Disabled || got.Version != a.Version+1 {
		t.Fatalf("disabled partner: %+v, want disabled at version %d", got, a.Version+1)
	}
	check(t, "enable", s.SetPartnerDisabled(ctx, a.ID, false))
	if got, _ = s.PartnerByID(ctx, a.ID); got.Disabled || got.Version != a.Version+2 {
		t.Fatalf("enabled partner: %+v, want enabled at version %d", got, a.Version+2)
	}
	mustNotFound(t, "disable a missing partner", s.SetPartnerDisabled(ctx, id.New(), true))
	list, err := s.ListPartners(ctx)
	check(t, "list partners", err)
	same(t, "partner list", ids(list, func(p domain.Partner) string { return p.ID }), sortedIDs([]domain.Partner{a, b}, func(p domain.Partner) string { return p.ID }), func(l []string) []string { return l })
}

// testPartnerRequests: a request is kept, approved in place, found by its
// code's hash, and removed; a request naming a missing partner is refused.
func testPartnerRequests(t *testing.T, s store.Store) {
	ctx := t.Context()
	owner := newAccount(t, s)
	h := newHome(t, s, owner.ID)
	d := newDevice(t, s, owner.ID, h.ID)
	p := newPartner(t, s, "Display")
	r := domain.PartnerRequest{ID: id.New(), PartnerID: p.ID, RedirectURI: p.RedirectURI, State: "xyz", Scopes: []string{"cameras", "live"},
		CodeChallenge: "challenge", CodeChallengeMethod: "S256", CreatedAt: at(0), ExpiresAt: at(10 * time.Minute)}
	check(t, "put request", s.PutPartnerRequest(ctx, r))
	got, err := s.PartnerRequestByID(ctx, r.ID)
	check(t, "request by id", err)
	same(t, "request", got, r, normRequest)

	r.AccountID, r.Devices, r.Live, r.CodeHash = owner.ID, []string{d.ID}, true, random("code")
	check(t, "approve request", s.PutPartnerRequest(ctx, r))
	got, err = s.PartnerRequestByCodeHash(ctx, r.CodeHash)
	check(t, "request by code", err)
	same(t, "approved request", got, r, normRequest)
	_, err = s.PartnerRequestByCodeHash(ctx, random("other code"))
	mustNotFound(t, "request by unknown code", err)

	bad := r
	bad.ID, bad.PartnerID, bad.CodeHash = id.New(), id.New(), nil
	mustNotFound(t, "request of a missing partner", s.PutPartnerRequest(ctx, bad))

	check(t, "delete request", s.DeletePartnerRequest(ctx, r.ID))
	check(t, "delete request again", s.DeletePartnerRequest(ctx, r.ID))
	_, err = s.PartnerRequestByID(ctx, r.ID)
	mustNotFound(t, "deleted request", err)
}

// linkFixture is a partner with an approved request of an account with two
// cameras.
type linkFixture struct {
	account domain.Account
	home    domain.Home
	d1, d2  domain.Device
	partner domain.Partner
}

func newLinkFixture(t *testing.T, s store.Store) linkFixture {
	f := linkFixture{account: newAccount(t, s)}
	f.home = newHome(t, s, f.account.ID)
	f.d1, f.d2 = newDevice(t, s, f.account.ID, f.home.ID), newDevice(t, s, f.account.ID, f.home.ID)
	f.partner = newPartner(t, s, "Display")
	return f
}

func (f linkFixture) request(t *testing.T, s store.Store) domain.PartnerRequest {
	t.Helper()
	r := domain.PartnerRequest{ID: id.New(), PartnerID: f.partner.ID, RedirectURI: f.partner.RedirectURI, State: "s",
		Scopes: []string{"cameras"}, CodeChallenge: "c", CodeChallengeMethod: "S256", CreatedAt: at(0), ExpiresAt: at(time.Hour),
		AccountID: f.account.ID, Devices: []string{f.d1.ID}, CodeHash: random("code")}
	check(t, "put request", s.PutPartnerRequest(t.Context(), r))
	return r
}

func (f linkFixture) link(devices ...string) domain.PartnerLink {
	return domain.PartnerLink{ID: id.New(), PartnerID: f.partner.ID, AccountID: f.account.ID, Devices: devices, Live: true, CreatedAt: at(time.Minute),
		PartnerName: f.partner.Name, PartnerVersion: f.partner.Version}
}

func token(linkID string, kind domain.PartnerTokenKind) domain.PartnerToken {
	return domain.PartnerToken{Hash: random("token"), LinkID: linkID, Kind: kind, CreatedAt: at(time.Minute), ExpiresAt: at(time.Hour)}
}

// testPartnerLinks: linking consumes the request once, replaces the
// partner's earlier link with the account (and its tokens), reads back with
// its cameras and partner, follows the partner's state, loses a camera that
// is unpaired, and is removed only by its own account.
func testPartnerLinks(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := newLinkFixture(t, s)
	r := f.request(t, s)
	l := f.link(f.d1.ID, f.d2.ID)
	access, refresh := token(l.ID, domain.PartnerAccess), token(l.ID, domain.PartnerRefresh)
	check(t, "link", s.LinkPartner(ctx, r.ID, l, []domain.PartnerToken{access, refresh}))
	mustNotFound(t, "link with a consumed request", s.LinkPartner(ctx, r.ID, f.link(f.d1.ID), nil))
	_, err := s.PartnerRequestByID(ctx, r.ID)
	mustNotFound(t, "consumed request", err)

	got, err := s.PartnerLink(ctx, l.ID)
	check(t, "partner link", err)
	same(t, "link", got, l, normLink)
	tk, err := s.PartnerTokenByHash(ctx, access.Hash)
	check(t, "token by hash", err)
	same(t, "access token", tk, access, normToken)

	check(t, "disable partner", s.SetPartnerDisabled(ctx, f.partner.ID, true))
	if got, _ = s.PartnerLink(ctx, l.ID); !got.PartnerDisabled || got.PartnerVersion != f.partner.Version+1 {
		t.Fatalf("link of a disabled partner: %+v", got)
	}
	check(t, "enable partner", s.SetPartnerDisabled(ctx, f.partner.ID, false))

	check(t, "unpair camera", s.DeleteDevice(ctx, f.d2.ID))
	if got, _ = s.PartnerLink(ctx, l.ID); len(got.Devices) != 1 || got.Devices[0] != f.d1.ID {
		t.Fatalf("link after unpairing a camera: cameras %v, want [%s]", got.Devices, f.d1.ID)
	}

	// Linking again replaces the link and its tokens.
	l2 := f.link(f.d1.ID)
	l2.Live = false
	check(t, "link again", s.LinkPartner(ctx, f.request(t, s).ID, l2, []domain.PartnerToken{token(l2.ID, domain.PartnerAccess)}))
	_, err = s.PartnerLink(ctx, l.ID)
	mustNotFound(t, "replaced link", err)
	_, err = s.PartnerTokenByHash(ctx, refresh.Hash)
	mustNotFound(t, "token of the replaced link", err)
	links, err := s.ListPartnerLinks(ctx, f.account.ID)
	check(t, "list links", err)
	l2.PartnerVersion = f.partner.Version + 2
	sameList(t, "links", links, []domain.PartnerLink{l2}, normLink)

	// A link with a camera that does not exist is refused whole.
	r3 := f.request(t, s)
	mustNotFound(t, "link a missing camera", s.LinkPartner(ctx, r3.ID, f.link(f.d1.ID, id.New()), nil))
	if _, err := s.PartnerRequestByID(ctx, r3.ID); err != nil {
		t.Fatalf("a refused link consumed its request: %v", err)
	}

	stranger := newAccount(t, s)
	mustNotFound(t, "unlink another account's link", s.DeletePartnerLink(ctx, stranger.ID, l2.ID))
	check(t, "unlink", s.DeletePartnerLink(ctx, f.account.ID, l2.ID))
	mustNotFound(t, "unlink again", s.DeletePartnerLink(ctx, f.account.ID, l2.ID))
	if links, _ = s.ListPartnerLinks(ctx, f.account.ID); len(links) != 0 {
		t.Fatalf("links after unlinking: %+v", links)
	}
}

// testPartnerTokens: a refresh token rotates once; a second rotation is a
// conflict that changes nothing; tokens are removed one by one and when
// they expire.
func testPartnerTokens(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := newLinkFixture(t, s)
	l := f.link(f.d1.ID)
	access, refresh := token(l.ID, domain.PartnerAccess), token(l.ID, domain.PartnerRefresh)
	check(t, "link", s.LinkPartner(ctx, f.request(t, s).ID, l, []domain.PartnerToken{access, refresh}))
	next := token(l.ID, domain.PartnerRefresh)
	check(t, "rotate", s.RotatePartnerToken(ctx, refresh.Hash, at(2*time.Minute), []domain.PartnerToken{token(l.ID, domain.PartnerAccess), next}))
	used, err := s.PartnerTokenByHash(ctx, refresh.Hash)
	check(t, "rotated token", err)
	if !sameTime(used.UsedAt, at(2*time.Minute)) {
		t.Fatalf("rotated token used at %v, want %v", used.UsedAt, at(2*time.Minute))
	}
	extra := token(l.ID, domain.PartnerAccess)
	if err := s.RotatePartnerToken(ctx, refresh.Hash, at(3*time.Minute), []domain.PartnerToken{extra}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second rotation: %v, want ErrConflict", err)
	}
	_, err = s.PartnerTokenByHash(ctx, extra.Hash)
	mustNotFound(t, "token of a refused rotation", err)
	mustNotFound(t, "rotate a missing token", s.RotatePartnerToken(ctx, random("missing"), at(0), nil))
	if err := s.RotatePartnerToken(ctx, access.Hash, at(0), nil); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("rotate an access token: %v, want ErrNotFound", err)
	}

	// Of two rotations racing, exactly one wins.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Go(func() {
			errs[i] = s.RotatePartnerToken(ctx, next.Hash, at(4*time.Minute), []domain.PartnerToken{token(l.ID, domain.PartnerRefresh)})
		})
	}
	wg.Wait()
	if (errs[0] == nil) == (errs[1] == nil) || (!errors.Is(errs[0], store.ErrConflict) && !errors.Is(errs[1], store.ErrConflict)) {
		t.Fatalf("racing rotations: %v and %v, want one success and one conflict", errs[0], errs[1])
	}

	check(t, "delete token", s.DeletePartnerToken(ctx, access.Hash))
	_, err = s.PartnerTokenByHash(ctx, access.Hash)
	mustNotFound(t, "deleted token", err)
	check(t, "delete token again", s.DeletePartnerToken(ctx, access.Hash))

	stale := f.request(t, s)
	n, err := s.DeleteExpiredPartnerData(ctx, at(2*time.Hour))
	check(t, "delete expired", err)
	if n < 2 {
		t.Fatalf("deleted %d expired requests and tokens, want at least 2", n)
	}
	_, err = s.PartnerRequestByID(ctx, stale.ID)
	mustNotFound(t, "expired request", err)
	_, err = s.PartnerTokenByHash(ctx, used.Hash)
	mustNotFound(t, "expired token", err)
}
