package storetest

import (
	"bytes"
	"errors"
	"slices"
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

// appendAudit appends an entry built from the chain's head, as the audit
// log does, and checks the head it was given.
func appendAudit(t *testing.T, s store.Store, homeID string, wantSeq int64, wantPrev []byte) domain.AuditEntry {
	t.Helper()
	var e domain.AuditEntry
	var gotSeq int64
	var gotPrev []byte
	err := s.AppendAudit(t.Context(), homeID, func(prevSeq int64, prevHash []byte) domain.AuditEntry {
		gotSeq, gotPrev = prevSeq, prevHash
		e = auditEntry(homeID, prevSeq, prevHash)
		return e
	})
	check(t, "append audit", err)
	if gotSeq != wantSeq || !bytes.Equal(gotPrev, wantPrev) {
		t.Fatalf("append was given head %d %x, want %d %x", gotSeq, gotPrev, wantSeq, wantPrev)
	}
	return e
}

func auditEntry(homeID string, prevSeq int64, prevHash []byte) domain.AuditEntry {
	e := domain.AuditEntry{HomeID: homeID, Seq: prevSeq + 1, At: at(time.Duration(prevSeq) * time.Second),
		ActorKind: "person", ActorID: id.New(), Action: "view_clip", DeviceID: id.New(), EventID: id.New(), Result: "ok",
		PrevHash: prevHash, Hash: random("hash")}
	if prevSeq%2 == 1 {
		// Entries that concern no camera or event keep empty fields.
		e.Action, e.DeviceID, e.EventID = "login", "", ""
	}
	return e
}

func testAudit(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := newAccount(t, s)
	h, h2, quiet := newHome(t, s, a.ID), newHome(t, s, a.ID), newHome(t, s, a.ID)

	homes, err := s.AuditHomes(ctx)
	check(t, "audit homes of a fresh store", err)
	if len(homes) != 0 {
		t.Fatalf("audit homes of a fresh store: %v", homes)
	}
	list, err := s.ListAudit(ctx, h.ID, 0, 10)
	check(t, "empty chain", err)
	sameList(t, "empty chain", list, nil, normAudit)

	var chain []domain.AuditEntry
	var prev []byte
	for i := range 5 {
		e := appendAudit(t, s, h.ID, int64(i), prev)
		chain = append(chain, e)
		prev = e.Hash
	}
	first := appendAudit(t, s, h2.ID, 0, nil)
	appendAudit(t, s, h2.ID, 1, first.Hash)

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

	homes, err = s.AuditHomes(ctx)
	check(t, "audit homes", err)
	if want := []string{h.ID, h2.ID}; !slices.Equal(slices.Sorted(slices.Values(homes)), slices.Sorted(slices.Values(want))) {
		t.Fatalf("audit homes %v, want %v", homes, want)
	}

	// An entry that does not follow the head is refused and stores nothing.
	err = s.AppendAudit(ctx, h.ID, func(prevSeq int64, prevHash []byte) domain.AuditEntry {
		return auditEntry(h.ID, prevSeq-1, prevHash)
	})
	if err == nil {
		t.Fatalf("an entry reusing a sequence number was appended")
	}
	list, _ = s.ListAudit(ctx, h.ID, 0, 100)
	sameList(t, "chain after a refused append", list, newest, normAudit)
}

// testAuditRace appends from many goroutines: the chain stays one line,
// each entry linked to the one before.
func testAuditRace(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := newAccount(t, s)
	h := newHome(t, s, a.ID)
	const n = 16
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = s.AppendAudit(ctx, h.ID, func(prevSeq int64, prevHash []byte) domain.AuditEntry {
				return auditEntry(h.ID, prevSeq, prevHash)
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
