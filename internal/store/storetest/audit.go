package storetest

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/store"
)

func normAudit(e domain.AuditEntry) domain.AuditEntry {
	e.At, e.PrevHash, e.Hash = normTime(e.At), normBytes(e.PrevHash), normBytes(e.Hash)
	return e
}

func normIncident(in domain.Incident) domain.Incident {
	in.At = normTime(in.At)
	return in
}

// appendAudit appends an entry built from the chain's tip, as the audit
// log does, makes it the head, and checks the tip it was given.
func appendAudit(t *testing.T, s store.Store, homeID string, wantSeq int64, wantPrev []byte) domain.AuditEntry {
	t.Helper()
	var e domain.AuditEntry
	var got domain.AuditTip
	err := s.AppendAudit(t.Context(), homeID, func(tip domain.AuditTip) (domain.AuditEntry, *domain.AuditHead) {
		got = tip
		e = auditEntry(homeID, tip.Seq(), tip.Hash())
		return e, headOf(e)
	})
	check(t, "append audit", err)
	if got.Seq() != wantSeq || !bytes.Equal(got.Hash(), wantPrev) {
		t.Fatalf("append was given tip %d %x, want %d %x", got.Seq(), got.Hash(), wantSeq, wantPrev)
	}
	return e
}

// headOf is a head at entry e, as the audit log would sign it.
func headOf(e domain.AuditEntry) *domain.AuditHead {
	return &domain.AuditHead{HomeID: e.HomeID, Seq: e.Seq, Hash: e.Hash, KeyGen: e.KeyGen, MAC: random("mac")}
}

func auditEntry(homeID string, prevSeq int64, prevHash []byte) domain.AuditEntry {
	e := domain.AuditEntry{HomeID: homeID, Seq: prevSeq + 1, At: at(time.Duration(prevSeq) * time.Second),
		ActorKind: "person", ActorID: id.New(), Action: "view_clip", DeviceID: id.New(), EventID: id.New(), Result: "ok",
		PrevHash: prevHash, Hash: random("hash"), KeyGen: uint32(prevSeq%3) + 1}
	if prevSeq%2 == 1 {
		// Entries that concern no camera or event keep empty fields; the
		// others say whom and from what, which must come back whole.
		e.Action, e.DeviceID, e.EventID = "login", "", ""
	} else {
		e.Detail, e.Client, e.SubjectID = "role viewer; 2 cameras", "Firefox on Android", id.New()
	}
	return e
}

func normHead(h *domain.AuditHead) *domain.AuditHead {
	if h == nil {
		return nil
	}
	c := *h
	c.Hash, c.MAC = normBytes(c.Hash), normBytes(c.MAC)
	return &c
}

// normTip keeps of the last entry what every tip reads of it (all of it
// is read only for a chain from before heads, checked on its own).
func normTip(tip domain.AuditTip) domain.AuditTip {
	if tip.Last != nil {
		tip.Last = &domain.AuditEntry{HomeID: tip.Last.HomeID, Seq: tip.Last.Seq, Hash: normBytes(tip.Last.Hash), KeyGen: tip.Last.KeyGen}
	}
	tip.HeadEntryHash, tip.Head = normBytes(tip.HeadEntryHash), normHead(tip.Head)
	return tip
}

func normAuditHome(h domain.AuditHome) domain.AuditHome {
	h.Head = normHead(h.Head)
	return h
}

// tipOf reads a home's tip through an append that is then refused (an
// entry that does not follow), so nothing is stored.
func tipOf(t *testing.T, s store.Store, homeID string) domain.AuditTip {
	t.Helper()
	var got domain.AuditTip
	err := s.AppendAudit(t.Context(), homeID, func(tip domain.AuditTip) (domain.AuditEntry, *domain.AuditHead) {
		got = tip
		return auditEntry(homeID, tip.Seq()+1, tip.Hash()), nil
	})
	if err == nil {
		t.Fatal("an entry that skips a sequence number was appended")
	}
	return got
}

func testAudit(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := newAccount(t, s)
	h, h2, quiet := newHome(t, s, a.ID), newHome(t, s, a.ID), newHome(t, s, a.ID)

	list, err := s.ListAudit(ctx, h.ID, 0, 10)
	check(t, "empty chain", err)
	sameList(t, "empty chain", list, nil, normAudit)
	same(t, "tip of an empty chain", tipOf(t, s, h.ID), domain.AuditTip{}, normTip)

	var chain []domain.AuditEntry
	var prev []byte
	for i := range 5 {
		e := appendAudit(t, s, h.ID, int64(i), prev)
		chain = append(chain, e)
		prev = e.Hash
	}
	first := appendAudit(t, s, h2.ID, 0, nil)
	second := appendAudit(t, s, h2.ID, 1, first.Hash)

	newest := slices.Clone(chain)
	slices.Reverse(newest)
	list, err = s.ListAudit(ctx, h.ID, 0, 100)
	check(t, "list audit", err)
	sameList(t, "chain, newest first", list, newest, normAudit)
	list, err = s.ListAudit(ctx, h.ID, 4, 2)
	check(t, "list audit before 4", err)
	sameList(t, "two entries before 4", list, []domain.AuditEntry{chain[2], chain[1]}, normAudit)
	list, err = s.ListAudit(ctx, h.ID, 1, 10)
	check(t, "list audit before 1", err)
	sameList(t, "entries before the first", list, nil, normAudit)
	list, err = s.ListAudit(ctx, h.ID, 0, 0)
	check(t, "list audit, limit 0", err)
	sameList(t, "limit 0", list, nil, normAudit)
	list, err = s.ListAudit(ctx, quiet.ID, 0, 10)
	check(t, "list audit of a home without entries", err)
	sameList(t, "home without entries", list, nil, normAudit)

	// The tip holds the last entry and the head the last append wrote.
	headH := tipOf(t, s, h.ID).Head
	same(t, "tip of a chain", tipOf(t, s, h.ID),
		domain.AuditTip{Last: &chain[4], Head: headH, HeadEntryHash: chain[4].Hash}, normTip)
	if headH == nil || headH.Seq != 5 || headH.KeyGen != chain[4].KeyGen {
		t.Fatalf("head after five appends: %+v", headH)
	}

	// An entry that does not follow the tip is refused and stores nothing,
	// head included.
	err = s.AppendAudit(ctx, h.ID, func(tip domain.AuditTip) (domain.AuditEntry, *domain.AuditHead) {
		e := auditEntry(h.ID, tip.Seq()-1, tip.Hash())
		return e, headOf(e)
	})
	if err == nil {
		t.Fatalf("an entry reusing a sequence number was appended")
	}
	list, _ = s.ListAudit(ctx, h.ID, 0, 100)
	sameList(t, "chain after a refused append", list, newest, normAudit)
	same(t, "head after a refused append", tipOf(t, s, h.ID).Head, headH, normHead)

	// An append without a head leaves the head where it was; the tip then
	// shows the entry at the head.
	var sixth domain.AuditEntry
	check(t, "append without moving the head", s.AppendAudit(ctx, h.ID, func(tip domain.AuditTip) (domain.AuditEntry, *domain.AuditHead) {
		sixth = auditEntry(h.ID, tip.Seq(), tip.Hash())
		return sixth, nil
	}))
	same(t, "tip after an append that left the head", tipOf(t, s, h.ID),
		domain.AuditTip{Last: &sixth, Head: headH, HeadEntryHash: chain[4].Hash}, normTip)

	// A chain from before heads (entries of no generation, no head): its
	// tip holds the last entry whole.
	old := newHome(t, s, a.ID)
	var legacy domain.AuditEntry
	for range 2 {
		check(t, "append without a head", s.AppendAudit(ctx, old.ID, func(tip domain.AuditTip) (domain.AuditEntry, *domain.AuditHead) {
			legacy = auditEntry(old.ID, tip.Seq(), tip.Hash())
			legacy.KeyGen = 0
			return legacy, nil
		}))
	}
	if got := tipOf(t, s, old.ID); got.Head != nil || got.Last == nil {
		t.Fatalf("tip of a chain from before heads: %+v", got)
	} else {
		same(t, "last entry of a chain from before heads", *got.Last, legacy, normAudit)
	}

	// Entries of a home that does not exist (an append has no foreign
	// key: a chain outlives its home).
	ghost := id.New()
	appendAudit(t, s, ghost, 0, nil)

	headH2 := tipOf(t, s, h2.ID).Head
	if headH2 == nil || headH2.Seq != 2 || !bytes.Equal(headH2.Hash, second.Hash) {
		t.Fatalf("head of a second chain: %+v", headH2)
	}
	homes, err := s.AuditHomes(ctx)
	check(t, "audit homes", err)
	want := []domain.AuditHome{
		{HomeID: h.ID, Exists: true, HasEntries: true, Head: headH},
		{HomeID: h2.ID, Exists: true, HasEntries: true, Head: headH2},
		{HomeID: quiet.ID, Exists: true},
		{HomeID: old.ID, Exists: true, HasEntries: true},
		{HomeID: ghost, HasEntries: true, Head: tipOf(t, s, ghost).Head},
	}
	slices.SortFunc(want, func(x, y domain.AuditHome) int { return strings.Compare(x.HomeID, y.HomeID) })
	sameList(t, "audit homes", homes, want, normAuditHome)
}

// testAuditHeads: heads listed by the generation that made them, in their
// chain's tip, and replaced only while still as they were read.
func testAuditHeads(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := newAccount(t, s)
	var homes []string
	for range 5 {
		h := newHome(t, s, a.ID)
		homes = append(homes, h.ID)
		// Two entries; the head at the first, made under generation 1 for
		// the first three homes and 2 for the others.
		gen := uint32(1)
		if len(homes) > 3 {
			gen = 2
		}
		var e1 domain.AuditEntry
		check(t, "append", s.AppendAudit(ctx, h.ID, func(tip domain.AuditTip) (domain.AuditEntry, *domain.AuditHead) {
			e1 = auditEntry(h.ID, tip.Seq(), tip.Hash())
			hd := headOf(e1)
			hd.KeyGen = gen
			return e1, hd
		}))
		check(t, "append", s.AppendAudit(ctx, h.ID, func(tip domain.AuditTip) (domain.AuditEntry, *domain.AuditHead) {
			return auditEntry(h.ID, tip.Seq(), tip.Hash()), nil
		}))
	}
	slices.Sort(homes)
	byGen := func(gen uint32, after string, limit int) []domain.AuditTip {
		t.Helper()
		tips, err := s.AuditHeadsOf(ctx, gen, after, limit)
		check(t, "audit heads of a generation", err)
		for _, tip := range tips {
			same(t, "a listed tip", tip, tipOf(t, s, tip.Head.HomeID), normTip)
			if tip.Seq() != 2 || tip.Head.Seq != 1 || tip.Head.KeyGen != gen {
				t.Fatalf("tip %+v listed for generation %d", tip, gen)
			}
		}
		return tips
	}
	homeOf := func(tip domain.AuditTip) string { return tip.Head.HomeID }
	var gen1 []string
	for _, tip := range byGen(1, "", 2) {
		gen1 = append(gen1, homeOf(tip))
	}
	for _, tip := range byGen(1, gen1[len(gen1)-1], 2) {
		gen1 = append(gen1, homeOf(tip))
	}
	if got := ids(byGen(2, "", 10), homeOf); len(gen1) != 3 || len(got) != 2 || !slices.IsSorted(gen1) ||
		!slices.Equal(slices.Sorted(slices.Values(append(slices.Clone(gen1), got...))), homes) {
		t.Fatalf("heads of generation 1 %v and 2 %v, homes %v", gen1, got, homes)
	}
	if got := byGen(7, "", 10); len(got) != 0 {
		t.Fatalf("heads of a generation that made none: %v", got)
	}

	// Replace: one still as read, and one read before an append moved
	// it on.
	tips := byGen(1, "", 10)
	moved := tips[1]
	var movedTo *domain.AuditHead
	check(t, "move a head", s.AppendAudit(ctx, moved.Head.HomeID, func(tip domain.AuditTip) (domain.AuditEntry, *domain.AuditHead) {
		e := auditEntry(moved.Head.HomeID, tip.Seq(), tip.Hash())
		movedTo = headOf(e)
		movedTo.KeyGen = 5
		return e, movedTo
	}))
	resign := func(h domain.AuditHead, gen uint32) domain.AuditHead {
		h.KeyGen, h.MAC = gen, random("mac")
		return h
	}
	resigned := resign(*tips[0].Head, 3)
	n, err := s.ReplaceAuditHeads(ctx, []store.AuditHeadChange{
		{Old: *tips[0].Head, New: resigned},
		{Old: *moved.Head, New: resign(*moved.Head, 3)},
	})
	check(t, "replace audit heads", err)
	if n != 1 {
		t.Fatalf("replaced %d heads, want 1 (the other moved on)", n)
	}
	same(t, "replaced head", tipOf(t, s, resigned.HomeID).Head, &resigned, normHead)
	same(t, "a head an append moved on", tipOf(t, s, moved.Head.HomeID).Head, movedTo, normHead)
	if got := byGen(3, "", 10); len(got) != 1 || got[0].Head.HomeID != resigned.HomeID {
		t.Fatalf("heads of generation 3 after the replace: %+v", got)
	}
	n, err = s.ReplaceAuditHeads(ctx, []store.AuditHeadChange{{Old: *tips[0].Head, New: resign(*tips[0].Head, 4)}})
	check(t, "replace a head already replaced", err)
	if n != 0 {
		t.Fatal("a head was replaced from a state it no longer had")
	}
}

// testAuditRace appends from many goroutines: the chain stays one line,
// each entry linked to the one before, and the head is the last entry.
func testAuditRace(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := newAccount(t, s)
	h := newHome(t, s, a.ID)
	const n = 16
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = s.AppendAudit(ctx, h.ID, func(tip domain.AuditTip) (domain.AuditEntry, *domain.AuditHead) {
				if tip.Head != nil && tip.Head.Seq != tip.Seq() {
					panic("the head is not at the chain's end")
				}
				e := auditEntry(h.ID, tip.Seq(), tip.Hash())
				return e, headOf(e)
			})
		})
	}
	wg.Wait()
	check(t, "racing appends", errors.Join(errs...))
	list, err := s.ListAudit(ctx, h.ID, 0, 2*n)
	check(t, "list audit", err)
	if len(list) != n {
		t.Fatalf("%d entries after %d appends", len(list), n)
	}
	for i, e := range list {
		if e.Seq != int64(n-i) {
			t.Fatalf("entry %d has sequence %d, want %d", i, e.Seq, n-i)
		}
		if i+1 < len(list) && !bytes.Equal(e.PrevHash, list[i+1].Hash) {
			t.Fatalf("entry %d does not link to entry %d", e.Seq, list[i+1].Seq)
		}
	}
	if len(list[n-1].PrevHash) != 0 {
		t.Fatalf("the first entry links to %x", list[n-1].PrevHash)
	}
	if head := tipOf(t, s, h.ID).Head; head == nil || head.Seq != n || !bytes.Equal(head.Hash, list[0].Hash) {
		t.Fatalf("head after racing appends: %+v", head)
	}
}

func testIncidents(t *testing.T, s store.Store) {
	ctx := t.Context()
	list, err := s.ListIncidents(ctx, 10)
	check(t, "incidents of a fresh store", err)
	sameList(t, "incidents of a fresh store", list, nil, normIncident)

	mk := func(when time.Time) domain.Incident {
		in := domain.Incident{ID: id.New(), At: when, Kind: "egress_blocked", RequesterKind: "person", RequesterID: id.New(),
			RequestedHome: id.New(), RequestedEvent: id.New(), LabelHome: id.New(), LabelDevice: id.New(), LabelEvent: id.New(),
			LabelKind: "clip", Detail: "label home differs from the grant's home"}
		check(t, "record incident", s.RecordIncident(ctx, in))
		return in
	}
	i1, i2, i3 := mk(at(0)), mk(at(2*time.Minute)), mk(at(time.Minute))

	list, err = s.ListIncidents(ctx, 10)
	check(t, "list incidents", err)
	sameList(t, "incidents, newest first", list, []domain.Incident{i2, i3, i1}, normIncident)
	list, err = s.ListIncidents(ctx, 2)
	check(t, "list incidents, limit 2", err)
	sameList(t, "incidents, limit 2", list, []domain.Incident{i2, i3}, normIncident)
	list, err = s.ListIncidents(ctx, 0)
	check(t, "list incidents, limit 0", err)
	sameList(t, "incidents, limit 0", list, nil, normIncident)

	dup := i1
	dup.Detail = "another"
	if err := s.RecordIncident(ctx, dup); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second incident with one ID: %v, want ErrConflict", err)
	}
}
