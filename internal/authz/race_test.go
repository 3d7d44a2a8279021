package authz_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/apperr"
	"github.com/camvault/camvault/internal/authz"
	"github.com/camvault/camvault/internal/bus/natsbus"
	"github.com/camvault/camvault/internal/cache"
	"github.com/camvault/camvault/internal/cache/memory"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/lease"
	"github.com/camvault/camvault/internal/store"
	"github.com/camvault/camvault/internal/store/sqlite"
)

// dbDir is where the race test keeps its SQLite file: in memory-backed
// /dev/shm when there is one, so 20,000 synced commits stay quick.
func dbDir(t *testing.T) string {
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		dir, err := os.MkdirTemp("/dev/shm", "camvault-authz-")
		if err == nil {
			t.Cleanup(func() { os.RemoveAll(dir) })
			return dir
		}
	}
	return t.TempDir()
}

// TestRevokeThenReadRaces runs 10,000 races of a revocation against reads
// of the same grant through a cached Decider, the grant warm in the cache
// (and, with the node's lease, in memory): once the revocation has
// returned, no read that starts afterwards may succeed. (Replayed old
// entries are TestCacheFaultsNeverMixHouseholds's stale=1.0 in
// internal/server.)
func TestRevokeThenReadRaces(t *testing.T) {
	for _, mode := range []string{"cache", "lease"} {
		t.Run(mode, func(t *testing.T) { revokeThenReadRaces(t, mode == "lease") })
	}
}

func revokeThenReadRaces(t *testing.T, withLease bool) {
	const homes, viewers = 100, 100 // 10,000 memberships, one race each
	ctx := t.Context()
	db, err := sqlite.Open(ctx, filepath.Join(dbDir(t), "camvault.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	be, err := memory.New(256 << 20)
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 32)
	log := slog.New(slog.DiscardHandler)
	c, err := cache.NewWithKey(be, key, cache.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	d := authz.NewCached(db, c, nil)
	// st is where the revocations are made: the store itself, or, with a
	// lease, the store that waits for every leaseholder.
	var st store.Store = db
	if withLease {
		b, err := natsbus.Embedded(ctx, log)
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		node := lease.New(lease.Config{}, db, b, log)
		if err := node.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer node.Close()
		d.WithLease(node)
		st = authz.AnnounceGrantChanges(db, b, node, log)
	}

	account := func() string {
		a := domain.Account{ID: id.New(), EmailIndex: []byte(id.New()), EmailSealed: []byte("x"), PasswordHash: "h", CreatedAt: time.Now()}
		if err := db.CreateAccount(ctx, a); err != nil {
			t.Fatal(err)
		}
		return a.ID
	}
	owner := account()
	homeIDs, viewerIDs := make([]string, homes), make([]string, viewers)
	for i := range homeIDs {
		h := domain.Home{ID: id.New(), NameSealed: []byte("n"), WrappedDataKey: []byte("k"), RetentionDays: 30, CreatedAt: time.Now(), GrantsVersion: 1}
		if err := db.CreateHome(ctx, h, domain.Member{AccountID: owner, Role: domain.RoleOwner, AddedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
		homeIDs[i] = h.ID
	}
	for i := range viewerIDs {
		viewerIDs[i] = account()
	}
	for _, h := range homeIDs {
		for _, v := range viewerIDs {
			if err := db.PutMember(ctx, domain.Member{HomeID: h, AccountID: v, Role: domain.RoleViewer, AddedAt: time.Now()}); err != nil {
				t.Fatal(err)
			}
		}
	}

	var violations, refusedAfter atomic.Int64
	race := func(ctx context.Context, homeID, viewerID string) error {
		p := authz.Principal{Kind: domain.PrincipalPerson, AccountID: viewerID, SessionID: "s"}
		// Warm the cache with the grant about to be revoked.
		if _, err := d.Home(ctx, p, homeID, authz.ViewHome); err != nil {
			return fmt.Errorf("before the revocation: %w", err)
		}
		var committed atomic.Bool
		commit := make(chan struct{})
		done := make(chan error, 1)
		go func() {
			after, before := 0, 0
			for after < 1 {
				revoked := committed.Load() // read before the decision starts
				if !revoked {
					if before++; before > 4 {
						<-commit // enough racing reads; the one that counts comes next
						continue
					}
				}
				_, err := d.Home(ctx, p, homeID, authz.ViewHome)
				if err != nil && apperr.CodeOf(err) != apperr.NotFound {
					done <- err
					return
				}
				if revoked {
					after++
					if err == nil {
						violations.Add(1)
					} else {
						refusedAfter.Add(1)
					}
				}
			}
			done <- nil
		}()
		if err := st.DeleteMember(ctx, homeID, viewerID); err != nil {
			return err
		}
		committed.Store(true)
		close(commit)
		return <-done
	}

	jobs := make(chan [2]string)
	errs := make(chan error, 64)
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for j := range jobs {
				if err := race(ctx, j[0], j[1]); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		})
	}
	for _, h := range homeIDs {
		for _, v := range viewerIDs {
			jobs <- [2]string{h, v}
		}
	}
	close(jobs)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := violations.Load(); n != 0 {
		t.Fatalf("%d reads succeeded after the revocation had committed", n)
	}
	if n := refusedAfter.Load(); n != homes*viewers {
		t.Fatalf("%d reads after the revocations, want %d", n, homes*viewers)
	}
	// The cache, or memory, was in the path: warm grants were answered
	// from it.
	if withLease {
		if n := authz.KeptDecisions(d); n == 0 {
			t.Fatal("no decision was kept in memory")
		}
	} else if s := c.Stats(); s.Hits == 0 {
		t.Fatalf("the cache never answered: %+v", s)
	}
}
