// Package lease lets a node answer from memory what the store decides
// (who may see what, whose a session is, whether an event is still
// there) without ever answering on a change it has not seen
// (invariant 3; docs/design/leases.md).
//
// The store logs every change of grants, sessions and events
// (store.Changes). A node holds a lease while it keeps reading that log:
// every Renew it reads the changes since the last one it applied, and a
// read that started at t keeps its lease until t+Term. While the lease
// holds, what the node keeps in memory is stamped with generations of the
// homes and accounts it depends on, and an entry is used only while its
// generations are the current ones; applying a change moves the
// generations it names. Without a lease nothing is answered from memory:
// the callers read the store.
//
// A change is acknowledged only once every node holding a lease has
// applied it: Propagate, called after the change committed, asks each
// node in the store's roster of leases over the bus to read the log, and
// waits for each to answer or, for one that does not, for Term, by which
// time that node's lease (renewed from a read made before the change
// committed) has run out, and any later renewal reads the change. So a
// node cut off from the bus keeps serving correctly from the log, and one
// cut off from the store stops answering from memory within Term.
package lease

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/camvault/camvault/internal/bus"
	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/store"
)

// Store is what a lease reads and writes: the change log and the roster,
// all of store.Changes.
type Store interface {
	store.Changes
}

// Bus is what a lease needs of the bus: each node answers on its own
// subject, and a change asks each node.
type Bus interface {
	Respond(ctx context.Context, s bus.Subject, r bus.Responder) (bus.Subscription, error)
	Request(ctx context.Context, s bus.Subject, data []byte, timeout time.Duration) ([]byte, error)
}

// Config tunes a lease.
type Config struct {
	// Renew is how often the change log is read (default 250 ms).
	Renew time.Duration
	// Term is how long one read of the log keeps the lease (default 1 s):
	// the longest a change waits for a node that does not answer.
	Term time.Duration
	// Roster is how long the node's row in the roster lasts (default 30 s);
	// it is written again when half of that is left.
	Roster time.Duration
	// Skew is how far the nodes' wall clocks may differ (default 10 s): a
	// node's row counts for that long after its expiry.
	Skew time.Duration
	// Keep is how long changes stay in the log (default 10 min). A node
	// behind by more forgets everything it holds.
	Keep time.Duration
	// Now is the clock (default time.Now); tests move it.
	Now func() time.Time
}

func (c *Config) defaults() {
	if c.Renew <= 0 {
		c.Renew = 250 * time.Millisecond
	}
	if c.Term <= 0 {
		c.Term = time.Second
	}
	if c.Roster <= 0 {
		c.Roster = 30 * time.Second
	}
	if c.Skew <= 0 {
		c.Skew = 10 * time.Second
	}
	if c.Keep <= 0 {
		c.Keep = 10 * time.Minute
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// pageSize is how many changes one read of the log takes.
const pageSize = 1000

// slots is how many generations each kind of topic has: topics share a
// slot by hash, which costs a needless miss now and then, never a wrong
// answer, and keeps the memory fixed.
const slots = 4096

// pruneEvery is how often a node removes changes older than Keep.
const pruneEvery = time.Minute

// Node is this node's lease. Its zero value is not usable; call New.
type Node struct {
	id   string
	st   Store
	bus  Bus
	cfg  Config
	log  *slog.Logger
	seed maphash.Seed
	base time.Time // monotonic origin of until

	until    atomic.Int64  // end of the lease, ns after base; 0: none
	moves    atomic.Uint64 // moved before every change is applied (Mark)
	epoch    atomic.Uint64 // moved when everything is forgotten
	homes    [slots]atomic.Uint64
	accounts [slots]atomic.Uint64

	mu        sync.Mutex // one reader of the log at a time; guards below
	started   bool       // the log's position is known
	applied   int64      // last change applied
	drops     uint64     // leases dropped; a renewal begun before one does not hold
	rosterEnd time.Time  // wall-clock expiry of this node's row
	rosterMon int64      // the same, ns after base
	pruned    time.Time
	onHome    []func(homeID string) // told of every home a change names

	sub       bus.Subscription
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// New returns this node's lease, not yet held: Start takes it.
func New(cfg Config, st Store, b Bus, log *slog.Logger) *Node {
	cfg.defaults()
	return &Node{id: id.New(), st: st, bus: b, cfg: cfg, log: log, seed: maphash.MakeSeed(), base: cfg.Now()}
}

// ID is the node's name in the roster.
func (n *Node) ID() string { return n.id }

func (n *Node) subject(node string) (bus.Subject, error) { return bus.NewSubject("changes", node) }

// Start answers other nodes' changes on the bus, takes the lease with a
// first read of the log, and keeps renewing it until Close. A failed
// first read is not an error: the node answers from the store until a
// renewal succeeds.
func (n *Node) Start(ctx context.Context) error {
	subj, err := n.subject(n.id)
	if err != nil {
		return err
	}
	if n.sub, err = n.bus.Respond(ctx, subj, n.answer); err != nil {
		return fmt.Errorf("answer changes on the bus: %w", err)
	}
	ctx, n.cancel = context.WithCancel(context.WithoutCancel(ctx))
	n.renew(ctx)
	n.wg.Go(func() { n.loop(ctx) })
	return nil
}

// Close stops renewing, stops answering and leaves the roster. Nothing is
// answered from memory afterwards. It may be called more than once.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		n.until.Store(0)
		if n.cancel == nil {
			return // never started
		}
		n.cancel()
		n.wg.Wait()
		n.until.Store(0)
		var errs []error
		if err := n.sub.Unsubscribe(); err != nil {
			errs = append(errs, fmt.Errorf("stop answering changes: %w", err))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := n.st.DropLease(ctx, n.id); err != nil {
			errs = append(errs, fmt.Errorf("leave the roster: %w", err))
		}
		n.closeErr = errors.Join(errs...)
	})
	return n.closeErr
}

func (n *Node) loop(ctx context.Context) {
	t := time.NewTicker(n.cfg.Renew)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n.renew(ctx)
		}
	}
}

// mono is the clock in ns after base (monotonic with time.Now).
func (n *Node) mono() int64 { return int64(n.cfg.Now().Sub(n.base)) }

// Fresh reports whether the lease holds now.
func (n *Node) Fresh() bool {
	u := n.until.Load()
	return u != 0 && n.mono() < u
}

// renew reads the log and, if that worked, holds the lease until Term
// after the read began. The node's row in the roster is written first,
// so a change that commits after it finds the node and waits for it.
func (n *Node) renew(ctx context.Context) {
	start := n.mono()
	wall := n.cfg.Now()
	n.mu.Lock()
	drops := n.drops
	writeRow := n.rosterEnd.Sub(wall) < n.cfg.Roster/2
	n.mu.Unlock()
	if writeRow {
		end := wall.Add(n.cfg.Roster)
		if err := n.st.PutLease(ctx, n.id, end); err != nil {
			n.log.WarnContext(ctx, "writing this node's lease to the roster", "err", err)
		} else {
			n.mu.Lock()
			n.rosterEnd, n.rosterMon = end, start+int64(n.cfg.Roster)
			n.mu.Unlock()
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.catchUp(ctx); err != nil {
		if ctx.Err() == nil {
			n.log.WarnContext(ctx, "reading the change log; answering from the store until it works", "err", err)
		}
		return
	}
	if n.drops != drops {
		return // dropped meanwhile: that drop may have been for a change this read missed
	}
	if until := min(start+int64(n.cfg.Term), n.rosterMon); until > n.until.Load() {
		n.until.Store(until)
	}
	if wall.Sub(n.pruned) >= pruneEvery {
		n.pruned = wall
		if _, err := n.st.PruneChanges(ctx, wall.Add(-n.cfg.Keep)); err != nil {
			n.log.DebugContext(ctx, "pruning the change log", "err", err)
		}
	}
}

// catchUp applies every change after the last one applied. Called with
// mu held.
func (n *Node) catchUp(ctx context.Context) error {
	if !n.started {
		latest, _, err := n.st.ChangesSince(ctx, 0, 0)
		if err != nil {
			return err
		}
		n.forget(latest)
		n.started = true
		return nil
	}
	for {
		latest, list, err := n.st.ChangesSince(ctx, n.applied, pageSize)
		if err != nil {
			return err
		}
		if (len(list) > 0 && list[0].Seq != n.applied+1) || (len(list) == 0 && latest > n.applied) {
			// Changes were pruned before this node read them.
			n.forget(latest)
			return nil
		}
		if len(list) == 0 {
			return nil
		}
		n.moves.Add(1) // before the generations: see Stamp
		for _, c := range list {
			if c.HomeID != "" {
				n.homes[n.slot(c.HomeID)].Add(1)
				n.tell(c.HomeID)
			}
			if c.AccountID != "" {
				n.accounts[n.slot(c.AccountID)].Add(1)
			}
		}
		n.applied = list[len(list)-1].Seq
		if len(list) < pageSize {
			return nil
		}
	}
}

// forget drops everything held and takes the log from latest on.
func (n *Node) forget(latest int64) {
	n.moves.Add(1)
	n.epoch.Add(1)
	n.applied = latest
	n.tell("")
}

// OnHomeChange registers f to be called with the home of every change
// this node applies from the log, and with "" when it forgets everything
// (changes it could not read): a home's memory kept outside the lease's
// stamps (its unwrapped data key) is dropped by it. f runs with the log's
// lock held and must not block.
func (n *Node) OnHomeChange(f func(homeID string)) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.onHome = append(n.onHome, f)
}

// tell calls the home listeners. Called with mu held.
func (n *Node) tell(homeID string) {
	for _, f := range n.onHome {
		f(homeID)
	}
}

// drop ends the lease at once. Called with mu held.
func (n *Node) drop() {
	n.drops++
	n.until.Store(0)
}

func (n *Node) slot(topic string) uint32 { return uint32(maphash.String(n.seed, topic) % slots) }

// Mark is taken before reading the store for something to keep.
type Mark struct{ moves uint64 }

// Mark returns the mark to give Stamp after the read.
func (n *Node) Mark() Mark { return Mark{n.moves.Load()} }

// Stamp is what an entry kept in memory depends on: the generations of
// its home and account when it was read from the store.
type Stamp struct {
	epoch           uint64
	home, account   uint32 // slot + 1; 0: no such topic
	homeG, accountG uint64
}

// Stamp stamps an entry read from the store after m, depending on a home
// and an account (either may be ""). It refuses (false) when the lease
// does not hold, or when a change was applied since m: the read may
// predate it.
func (n *Node) Stamp(m Mark, homeID, accountID string) (Stamp, bool) {
	if !n.Fresh() {
		return Stamp{}, false
	}
	s := Stamp{epoch: n.epoch.Load()}
	if homeID != "" {
		i := n.slot(homeID)
		s.home, s.homeG = i+1, n.homes[i].Load()
	}
	if accountID != "" {
		i := n.slot(accountID)
		s.account, s.accountG = i+1, n.accounts[i].Load()
	}
	// Read after the generations: a change applied since m moved this
	// before moving them, so either it shows here or the generations read
	// above are already old and the stamp is never valid.
	if n.moves.Load() != m.moves {
		return Stamp{}, false
	}
	return s, true
}

// Valid reports whether an entry stamped s may be used now: the lease
// holds and no change since its read concerned its home or account.
func (n *Node) Valid(s Stamp) bool {
	if !n.Fresh() || s.epoch != n.epoch.Load() {
		return false
	}
	if s.home != 0 && n.homes[s.home-1].Load() != s.homeG {
		return false
	}
	return s.account == 0 || n.accounts[s.account-1].Load() == s.accountG
}

// answer is another node's change asking this one to apply it: the
// request holds the change's sequence number. The answer means this node
// will not answer from memory on anything older: it has read the log up
// to it, or, failing that, dropped its lease.
func (n *Node) answer(ctx context.Context, data []byte) ([]byte, bool) {
	if len(data) != 8 {
		return nil, false
	}
	target := int64(binary.BigEndian.Uint64(data))
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.started || n.applied < target {
		if err := n.catchUp(ctx); err != nil || n.applied < target {
			n.drop()
			n.log.WarnContext(ctx, "could not read a change another node made; answering from the store until the next renewal", "err", err)
		}
	}
	return []byte{1}, true
}

// Propagate is called after a change committed, before it is
// acknowledged: it applies the change here and returns once every other
// node in the roster has answered that it applied it, or after Term for
// those that do not answer (their lease, renewed from a read made before
// the change, is over by then). It never fails: a node that cannot tell
// what it missed stops answering from memory.
func (n *Node) Propagate(ctx context.Context) {
	deadline := n.mono() + int64(n.cfg.Term)
	ctx = context.WithoutCancel(ctx) // committed: the caller leaving must not shorten the wait
	n.mu.Lock()
	err := n.catchUp(ctx)
	target := n.applied
	if err != nil {
		n.drop()
	}
	n.mu.Unlock()
	var nodes []string
	if err == nil {
		nodes, err = n.st.Leases(ctx, n.cfg.Now().Add(-n.cfg.Skew))
	}
	if err != nil {
		// Who holds a lease, or what to ask them for, is unknown: wait out
		// every lease that may have been renewed before the change.
		n.log.WarnContext(ctx, "propagating a change: waiting out the other nodes' leases", "err", err)
		n.sleepUntil(ctx, deadline)
		return
	}
	var body [8]byte
	binary.BigEndian.PutUint64(body[:], uint64(target))
	var wg sync.WaitGroup
	for _, node := range nodes {
		if node == n.id {
			continue
		}
		wg.Go(func() { n.ask(ctx, node, body[:], deadline) })
	}
	wg.Wait()
}

// ask asks one node to apply a change until it answers or the deadline.
func (n *Node) ask(ctx context.Context, node string, body []byte, deadline int64) {
	subj, err := n.subject(node)
	if err != nil {
		n.sleepUntil(ctx, deadline) // a row that is no node's name: wait it out
		return
	}
	for {
		left := time.Duration(deadline - n.mono())
		if left <= 0 {
			n.log.WarnContext(ctx, "a node did not answer a change within its lease's term", "node", node)
			return
		}
		if _, err := n.bus.Request(ctx, subj, body, left); err == nil {
			return
		}
		// Not listening (yet), or the bus failed: ask again shortly.
		n.sleepUntil(ctx, min(deadline, n.mono()+int64(20*time.Millisecond)))
	}
}

func (n *Node) sleepUntil(ctx context.Context, at int64) {
	d := time.Duration(at - n.mono())
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
