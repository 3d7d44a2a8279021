package lease

import (
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/bus/natsbus"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/store/sqlite"
)

// clock is the wall clock plus an offset a test moves: waits are real,
// and a test can jump past a lease's term.
type clock struct{ off atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *clock) Advance(d time.Duration) { c.off.Add(int64(d)) }

// world is one SQLite store, an embedded bus, and an account with a
// session whose logout is the change the tests make.
type world struct {
	t       *testing.T
	path    string
	st      *sqlite.Store
	bus     *natsbus.Bus
	clock   *clock
	account string
	session string
	home    string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	ctx := t.Context()
	w := &world{t: t, path: filepath.Join(t.TempDir(), "camvault.db"), clock: &clock{}}
	var err error
	if w.st, err = sqlite.Open(ctx, w.path); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.st.Close() })
	if w.bus, err = natsbus.Embedded(ctx, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.bus.Close() })
	a := domain.Account{ID: id.New(), EmailIndex: []byte(id.New()), EmailSealed: []byte("x"), PasswordHash: "h", CreatedAt: time.Now()}
	if err := w.st.CreateAccount(ctx, a); err != nil {
		t.Fatal(err)
	}
	w.account = a.ID
	h := domain.Home{ID: id.New(), NameSealed: []byte("n"), WrappedDataKey: []byte("k"), RetentionDays: 30, CreatedAt: time.Now(), GrantsVersion: 1}
	if err := w.st.CreateHome(ctx, h, domain.Member{AccountID: a.ID, Role: domain.RoleOwner, AddedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	w.home = h.ID
	w.newSession()
	return w
}

func (w *world) newSession() {
	w.t.Helper()
	s := domain.Session{ID: id.New(), AccountID: w.account, TokenHash: []byte(id.New()), ClientSealed: []byte("c"),
		CreatedAt: time.Now(), LastSeenAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}
	if err := w.st.CreateSession(w.t.Context(), s); err != nil {
		w.t.Fatal(err)
	}
	w.session = s.ID
}

// logout is a change committed in the store, not yet propagated.
func (w *world) logout() {
	w.t.Helper()
	if err := w.st.DeleteSession(w.t.Context(), w.account, w.session); err != nil {
		w.t.Fatal(err)
	}
}

// node starts a node on st (the world's store unless given) with its own
// client of the bus; renewals are rare unless a test renews by hand.
func (w *world) node(cfg Config, st Store) (*Node, *natsbus.Bus) {
	w.t.Helper()
	b, err := w.bus.Connect(w.t.Context())
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { b.Close() })
	if st == nil {
		st = w.st
	}
	if cfg.Renew == 0 {
		cfg.Renew = time.Hour
	}
	cfg.Now = w.clock.Now
	n := New(cfg, st, b, slog.New(slog.DiscardHandler))
	if err := n.Start(w.t.Context()); err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { n.Close() })
	if !n.Fresh() {
		w.t.Fatal("a node that read the change log at start holds no lease")
	}
	return n, b
}

// stamp is what a node keeps about the world's account: read "from the
// store" after a mark, stamped.
func stamp(t *testing.T, n *Node, homeID, accountID string) Stamp {
	t.Helper()
	s, ok := n.Stamp(n.Mark(), homeID, accountID)
	if !ok || !n.Valid(s) {
		t.Fatal("a node holding its lease could not keep an entry")
	}
	return s
}

// TestChangeSeenOnEveryNode: once a change has propagated, no node uses
// an entry it kept from before the change; before, nothing else told them.
func TestChangeSeenOnEveryNode(t *testing.T) {
	w := newWorld(t)
	a, _ := w.node(Config{}, nil)
	b, _ := w.node(Config{}, nil)
	sa, sb := stamp(t, a, w.home, w.account), stamp(t, b, w.home, w.account)
	other := stamp(t, b, id.New(), id.New())

	w.logout()
	if !a.Valid(sa) || !b.Valid(sb) {
		t.Fatal("an entry went stale before the change propagated (nothing else should tell the nodes)")
	}
	a.Propagate(t.Context())
	if a.Valid(sa) {
		t.Fatal("the changing node still uses its entry after the change propagated")
	}
	if b.Valid(sb) {
		t.Fatal("another node still uses its entry after the change propagated")
	}
	if !b.Fresh() {
		t.Fatal("a node that answered lost its lease")
	}
	if !b.Valid(other) {
		t.Fatal("an entry of another home and account went stale")
	}
	// A home's change reaches the entries of that home only.
	sh := stamp(t, b, w.home, "")
	if _, err := w.st.MarkExpiredEvents(t.Context(), time.Now(), 10); err != nil {
		t.Fatal(err)
	}
	w.newSession()
	if err := w.st.DeleteMember(t.Context(), w.home, id.New()); err == nil {
		t.Fatal("removed a member that was not one")
	}
	a.Propagate(t.Context())
	if !b.Valid(sh) {
		t.Fatal("a change refused by the store moved a home's entries")
	}
}

// TestReadRacingAChange: an entry read from the store while a change was
// applied is never kept, whichever came first.
func TestReadRacingAChange(t *testing.T) {
	w := newWorld(t)
	a, _ := w.node(Config{}, nil)
	b, _ := w.node(Config{}, nil)
	m := b.Mark()
	w.logout()
	a.Propagate(t.Context())
	if _, ok := b.Stamp(m, w.home, w.account); ok {
		t.Fatal("an entry read before a change was applied was stamped after it")
	}
	if _, ok := b.Stamp(b.Mark(), w.home, w.account); !ok {
		t.Fatal("an entry read after the change was refused")
	}
}

// TestNodeCutOffFromTheBus: a node that cannot hear a change does not
// answer from memory once the change is acknowledged: the change waits
// out its lease, and its next renewal reads the change from the log.
func TestNodeCutOffFromTheBus(t *testing.T) {
	w := newWorld(t)
	a, _ := w.node(Config{Term: 300 * time.Millisecond}, nil)
	b, bbus := w.node(Config{Term: 300 * time.Millisecond}, nil)
	sb := stamp(t, b, w.home, w.account)
	if err := bbus.Close(); err != nil { // b hears nothing more
		t.Fatal(err)
	}
	w.logout()
	a.Propagate(t.Context())
	if b.Valid(sb) {
		t.Fatal("a node cut off from the bus used an entry from before an acknowledged change")
	}
	b.renew(t.Context()) // the store is still there
	if !b.Fresh() {
		t.Fatal("a renewal from the change log did not take the lease")
	}
	if b.Valid(sb) {
		t.Fatal("the renewal kept an entry the change made stale")
	}
	stamp(t, b, w.home, w.account)
}

// TestNodeCutOffFromTheStore: a node that cannot read the log answers the
// change by dropping its lease, and answers nothing from memory.
func TestNodeCutOffFromTheStore(t *testing.T) {
	w := newWorld(t)
	bst, err := sqlite.Open(t.Context(), w.path)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := w.node(Config{}, nil)
	b, _ := w.node(Config{}, bst)
	sb := stamp(t, b, w.home, w.account)
	if err := bst.Close(); err != nil {
		t.Fatal(err)
	}
	w.logout()
	a.Propagate(t.Context())
	if b.Fresh() || b.Valid(sb) {
		t.Fatal("a node that could not read the change still answers from memory")
	}
	b.renew(t.Context())
	if b.Fresh() {
		t.Fatal("a renewal without the store took the lease")
	}
}

// TestLapsedLease: past its term without a renewal, a node keeps nothing
// and uses nothing; a renewal takes the lease again.
func TestLapsedLease(t *testing.T) {
	w := newWorld(t)
	b, _ := w.node(Config{}, nil)
	sb := stamp(t, b, w.home, w.account)
	w.clock.Advance(2 * time.Second)
	if b.Fresh() || b.Valid(sb) {
		t.Fatal("a lease past its term still holds")
	}
	if _, ok := b.Stamp(b.Mark(), w.home, w.account); ok {
		t.Fatal("a node without a lease stamped an entry")
	}
	w.logout() // not propagated: only the log says so
	b.renew(t.Context())
	if !b.Fresh() {
		t.Fatal("a renewal did not take the lease again")
	}
	if b.Valid(sb) {
		t.Fatal("an entry from before a change read at renewal is used")
	}
}

// TestPrunedChanges: a node behind the pruned part of the log forgets
// everything it holds.
func TestPrunedChanges(t *testing.T) {
	w := newWorld(t)
	b, _ := w.node(Config{}, nil)
	other := stamp(t, b, id.New(), id.New())
	w.logout()
	if _, err := w.st.PruneChanges(t.Context(), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	b.renew(t.Context())
	if !b.Fresh() {
		t.Fatal("a renewal past pruned changes did not take the lease")
	}
	if b.Valid(other) {
		t.Fatal("an entry survived changes the node could not read")
	}
}

// TestRoster: a node is in the roster while it runs, and leaves it when
// closed.
func TestRoster(t *testing.T) {
	w := newWorld(t)
	a, _ := w.node(Config{}, nil)
	list, err := w.st.Leases(t.Context(), time.Now())
	if err != nil || len(list) != 1 || list[0] != a.ID() {
		t.Fatalf("roster %v, %v; want %s", list, err, a.ID())
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if a.Fresh() {
		t.Fatal("a closed node holds its lease")
	}
	if list, err = w.st.Leases(t.Context(), time.Now()); err != nil || len(list) != 0 {
		t.Fatalf("roster after close %v, %v", list, err)
	}
}
