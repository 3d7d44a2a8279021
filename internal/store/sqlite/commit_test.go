package sqlite

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/audit"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/keys"
)

// holdWriter occupies the committer with a transaction that waits until
// the returned release is called, and returns once it is running: writes
// submitted meanwhile queue, and the committer takes them as one batch.
func holdWriter(t *testing.T, s *Store) (release func()) {
	t.Helper()
	running, gate := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.tx(context.Background(), func(*sql.Tx) error {
			close(running)
			<-gate
			return nil
		})
	}()
	<-running
	return func() {
		close(gate)
		if err := <-done; err != nil {
			t.Errorf("holding transaction: %v", err)
		}
	}
}

// waitQueued waits until n writes are queued behind the holding one.
func waitQueued(s *Store, n int) {
	for len(s.commits.ops) < n {
		time.Sleep(time.Millisecond)
	}
}

func testStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "camvault.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func testHome(t *testing.T, s *Store) domain.Home {
	t.Helper()
	ctx := t.Context()
	a := domain.Account{ID: id.New(), EmailIndex: []byte(id.New()), EmailSealed: []byte("e"), PasswordHash: "h"}
	if err := s.CreateAccount(ctx, a); err != nil {
		t.Fatal(err)
	}
	h := domain.Home{ID: id.New(), NameSealed: []byte("n"), WrappedDataKey: []byte("k"), RetentionDays: 30, CreatedAt: time.Unix(1, 0).UTC(), GrantsVersion: 1}
	if err := s.CreateHome(ctx, h, domain.Member{HomeID: h.ID, AccountID: a.ID, Role: domain.RoleOwner, AddedAt: h.CreatedAt}); err != nil {
		t.Fatal(err)
	}
	return h
}

// entriesByEvent reads a home's whole chain, keyed by event ID.
func entriesByEvent(t *testing.T, s *Store, homeID string) map[string]int {
	t.Helper()
	all, err := s.ListAudit(t.Context(), homeID, 0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]int{}
	for _, e := range all {
		m[e.EventID]++
	}
	return m
}

// testKeys is a fixed keyring of one generation.
func testKeys(t *testing.T) *keys.Keyring {
	t.Helper()
	k, err := keys.ParseKeys(base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef")))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestGroupCommit sends many concurrent appends to a few homes, queued so
// that they share commits, mixed with parts that fail: every chain
// verifies, every good append is there exactly once, every failed part
// gets its own error and left nothing behind.
func TestGroupCommit(t *testing.T) {
	ctx := t.Context()
	s := testStore(t)
	log := audit.New(s, testKeys(t), nil)
	homes := []domain.Home{testHome(t, s), testHome(t, s), testHome(t, s)}
	const perHome = 60

	release := holdWriter(t, s)
	var wg sync.WaitGroup
	goodErrs := make(chan error, len(homes)*perHome)
	type failed struct {
		what string
		err  error
	}
	badErrs := make(chan failed, 3*perHome/10)
	queued := 0
	for i := range perHome {
		for _, h := range homes {
			wg.Go(func() {
				goodErrs <- log.Record(ctx, h.ID, audit.Entry{ActorKind: "account", ActorID: "a", Action: audit.ViewThumbnail, EventID: fmt.Sprintf("%s-%d", h.ID, i), Result: audit.ResultOK})
			})
			queued++
		}
		if i%10 != 0 {
			continue
		}
		// An event of a home whose row is gone: its insert fails inside
		// the shared transaction.
		wg.Go(func() {
			_, _, err := s.CreateEvent(ctx, domain.Event{ID: id.New(), HomeID: id.New(), DeviceID: "d", DeviceEventID: id.New(), Kind: "motion", ThumbKey: "k", ThumbSize: 1})
			badErrs <- failed{"event of a missing home", err}
		})
		// A part that writes an audit entry, then fails: its entry must go.
		wg.Go(func() {
			badErrs <- failed{"part failing after its write", s.tx(ctx, func(tx *sql.Tx) error {
				if _, err := tx.ExecContext(ctx, auditInsertQuery, homes[0].ID, 1_000_000+i, 0, "x", "x", "x", "", "bad", "", nil, []byte("h"), 1); err != nil {
					return err
				}
				return errors.New("refused after writing")
			})}
		})
		// An append that does not link to the head it was given.
		wg.Go(func() {
			badErrs <- failed{"append that does not follow", s.AppendAudit(ctx, homes[1].ID, func(tip domain.AuditTip) (domain.AuditEntry, *domain.AuditHead) {
				e := domain.AuditEntry{HomeID: homes[1].ID, Seq: tip.Seq() + 2, EventID: "bad", Hash: []byte("h")}
				return e, &domain.AuditHead{HomeID: e.HomeID, Seq: e.Seq, Hash: e.Hash, KeyGen: 1, MAC: []byte("m")}
			})}
		})
		queued += 3
	}
	waitQueued(s, min(queued, maxBatch))
	release()
	wg.Wait()
	close(goodErrs)
	close(badErrs)

	for err := range goodErrs {
		if err != nil {
			t.Errorf("good append: %v", err)
		}
	}
	nbad := 0
	for f := range badErrs {
		nbad++
		if f.err == nil {
			t.Errorf("%s: reported committed", f.what)
		}
	}
	if nbad != 3*perHome/10 {
		t.Errorf("%d failing parts answered, want %d", nbad, 3*perHome/10)
	}

	entries, problems, err := log.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("chain: %s", p)
	}
	if entries != len(homes)*perHome {
		t.Errorf("%d entries in the chains, want %d", entries, len(homes)*perHome)
	}
	for _, h := range homes {
		got := entriesByEvent(t, s, h.ID)
		for i := range perHome {
			if n := got[fmt.Sprintf("%s-%d", h.ID, i)]; n != 1 {
				t.Errorf("home %s append %d: %d entries, want exactly 1", h.ID, i, n)
			}
		}
		if got["bad"] != 0 {
			t.Errorf("home %s: a failed part's entry was kept", h.ID)
		}
	}
}

// TestGroupCommitBrokenBatch: a part that ends the shared transaction
// itself (as SQLite does on some errors) fails alone; the other parts of
// its batch are committed and their callers told so.
func TestGroupCommitBrokenBatch(t *testing.T) {
	ctx := t.Context()
	s := testStore(t)
	log := audit.New(s, testKeys(t), nil)
	h := testHome(t, s)

	release := holdWriter(t, s)
	const n = 20 // appends before the breaking part, and as many after it
	var wg sync.WaitGroup
	errs := make([]error, 2*n)
	appendFrom := func(from int) {
		for i := from; i < from+n; i++ {
			wg.Go(func() {
				errs[i] = log.Record(ctx, h.ID, audit.Entry{ActorKind: "account", ActorID: "a", Action: audit.ViewThumbnail, EventID: fmt.Sprint(i), Result: audit.ResultOK})
			})
		}
	}
	appendFrom(0)
	waitQueued(s, n)
	var breakErr error
	wg.Go(func() {
		breakErr = s.tx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `ROLLBACK`); err != nil {
				return err
			}
			return errors.New("transaction ended")
		})
	})
	waitQueued(s, n+1)
	appendFrom(n)
	waitQueued(s, 2*n+1)
	release()
	wg.Wait()

	if breakErr == nil {
		t.Error("the part that ended the transaction was reported committed")
	}
	for i, err := range errs {
		if err != nil {
			t.Errorf("append %d: %v", i, err)
		}
	}
	entries, problems, err := log.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("chain: %s", p)
	}
	got := entriesByEvent(t, s, h.ID)
	if entries != 2*n || len(got) != 2*n {
		t.Errorf("%d entries (%d distinct), want %d", entries, len(got), 2*n)
	}
	for i := range 2 * n {
		if got[fmt.Sprint(i)] != 1 {
			t.Errorf("append %d: %d entries, want 1", i, got[fmt.Sprint(i)])
		}
	}
}

// TestWriteAfterClose: a write after Close fails, and closing twice is
// harmless.
func TestWriteAfterClose(t *testing.T) {
	s := testStore(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	err := s.tx(t.Context(), func(*sql.Tx) error { return nil })
	if !errors.Is(err, errClosed) {
		t.Fatalf("write after close: %v, want %v", err, errClosed)
	}
}
