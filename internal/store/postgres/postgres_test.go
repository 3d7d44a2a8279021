package postgres_test

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/store"
	"github.com/camvault/camvault/internal/store/postgres"
	"github.com/camvault/camvault/internal/store/postgres/pgtest"
	"github.com/camvault/camvault/internal/store/storetest"
)

func open(t *testing.T, url string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(t.Context(), url)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	pgtest.Server(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, pgtest.Database(t))
	})
}

// TestNodesStartTogether opens fresh databases from several stores at once,
// as nodes of a fleet starting together do: the migrations run once, under
// their lock, and every node comes up on the full schema. Without the lock
// concurrent CREATE TABLEs fail; a few rounds make the overlap near
// certain.
func TestNodesStartTogether(t *testing.T) {
	const rounds, nodes = 3, 6
	for round := range rounds {
		url := pgtest.Database(t)
		stores := make([]*postgres.Store, nodes)
		errs := make([]error, nodes)
		var wg sync.WaitGroup
		for i := range nodes {
			wg.Go(func() { stores[i], errs[i] = postgres.Open(t.Context(), url) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d, node %d: %v", round, i, err)
			}
			defer stores[i].Close()
		}
		a := domain.Account{ID: id.New(), EmailIndex: []byte{0, 1, 0xff}, EmailSealed: []byte("sealed"), PasswordHash: "h"}
		if err := stores[0].CreateAccount(t.Context(), a); err != nil {
			t.Fatal(err)
		}
		for i, s := range stores {
			if got, err := s.AccountByEmailIndex(t.Context(), a.EmailIndex); err != nil || got.ID != a.ID {
				t.Fatalf("round %d, node %d reads %+v, %v", round, i, got, err)
			}
		}
	}
}

// TestNodesShareDecisions runs the races that must have one winner on two
// stores with pools of their own, as two nodes would: an upload retried on
// both, one audit chain appended from both.
func TestNodesShareDecisions(t *testing.T) {
	ctx := t.Context()
	url := pgtest.Database(t)
	a, b := open(t, url), open(t, url)
	defer a.Close()
	defer b.Close()
	nodes := []*postgres.Store{a, b}

	acc := domain.Account{ID: id.New(), EmailIndex: []byte("i"), EmailSealed: []byte("e"), PasswordHash: "h"}
	h := domain.Home{ID: id.New(), NameSealed: []byte("n"), WrappedDataKey: []byte("k"), RetentionDays: 30}
	if err := a.CreateAccount(ctx, acc); err != nil {
		t.Fatal(err)
	}
	if err := a.CreateHome(ctx, h, domain.Member{AccountID: acc.ID, Role: domain.RoleOwner}); err != nil {
		t.Fatal(err)
	}
	const n = 16
	var wg sync.WaitGroup
	created := make([]bool, n)
	stored := make([]string, n)
	errs := make([]error, 2*n)
	deviceID := id.New()
	for i := range n {
		wg.Go(func() {
			e := domain.Event{ID: id.New(), HomeID: h.ID, DeviceID: deviceID, DeviceEventID: "cam-1", Kind: "motion",
				StartedAt: time.Now(), CreatedAt: time.Now(), ThumbKey: "t", ThumbSize: 1}
			var got domain.Event
			got, created[i], errs[i] = nodes[i%2].CreateEvent(ctx, e)
			stored[i] = got.ID
		})
		wg.Go(func() {
			errs[n+i] = nodes[i%2].AppendAudit(ctx, h.ID, func(tip domain.AuditTip) (domain.AuditEntry, *domain.AuditHead) {
				e := domain.AuditEntry{HomeID: h.ID, Seq: tip.Seq() + 1, At: time.Now(), ActorKind: "person", ActorID: acc.ID,
					Action: "login", Result: "ok", PrevHash: tip.Hash(), Hash: []byte(id.New()), KeyGen: 1}
				return e, &domain.AuditHead{HomeID: h.ID, Seq: e.Seq, Hash: e.Hash, KeyGen: 1, MAC: []byte(id.New())}
			})
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	winners := 0
	for i := range n {
		if created[i] {
			winners++
		}
		if stored[i] != stored[0] {
			t.Fatalf("retries answered with events %s and %s", stored[0], stored[i])
		}
	}
	if winners != 1 {
		t.Fatalf("%d retries created the event, want 1", winners)
	}
	chain, err := b.ListAudit(ctx, h.ID, 0, 2*n)
	if err != nil {
		t.Fatal(err)
	}
	if len(chain) != n {
		t.Fatalf("%d entries after %d appends", len(chain), n)
	}
	for i, e := range chain {
		if e.Seq != int64(n-i) || (i+1 < n && !bytes.Equal(e.PrevHash, chain[i+1].Hash)) {
			t.Fatalf("entry %d (seq %d) breaks the chain", i, e.Seq)
		}
	}
}

// TestReopen opens an existing database again: migrations already applied
// are not applied again, the data is still there, and HasData sees it.
func TestReopen(t *testing.T) {
	ctx := t.Context()
	url := pgtest.Database(t)
	s := open(t, url)
	if has, err := s.HasData(ctx); err != nil || has {
		t.Fatalf("fresh database has data: %v, %v", has, err)
	}
	a := domain.Account{ID: id.New(), EmailIndex: []byte{0, 1, 0xff}, EmailSealed: []byte("sealed"), PasswordHash: "h"}
	if err := s.CreateAccount(ctx, a); err != nil {
		t.Fatal(err)
	}
	s.Close()
	for range 2 {
		s = open(t, url)
		got, err := s.AccountByEmailIndex(ctx, a.EmailIndex)
		if err != nil || got.ID != a.ID {
			t.Fatalf("account after reopen: %+v, %v", got, err)
		}
		if has, err := s.HasData(ctx); err != nil || !has {
			t.Fatalf("database with an account has no data: %v, %v", has, err)
		}
		s.Close()
	}
}

// TestOpenErrorsKeepThePassword: an address that cannot be used is an
// error that never repeats the password in it.
func TestOpenErrorsKeepThePassword(t *testing.T) {
	pgtest.Server(t)
	for _, url := range []string{
		"postgres://camvault:s3cr3t-pw@127.0.0.1:1/camvault?sslmode=disable&connect_timeout=2",
		"postgres://camvault:s3cr3t-pw@127.0.0.1:5432/camvault?sslmode=bogus",
	} {
		_, err := postgres.Open(t.Context(), url)
		if err == nil {
			t.Fatalf("opened %s", strings.ReplaceAll(url, "s3cr3t-pw", "xxx"))
		}
		if strings.Contains(err.Error(), "s3cr3t-pw") {
			t.Fatalf("error shows the password: %v", err)
		}
	}
}
