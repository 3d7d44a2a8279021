package audit

import (
	"context"
	"crypto/hmac"
	"fmt"

	"github.com/camvault/camvault/internal/domain"
)

// Problem is one break found in a chain.
type Problem struct {
	HomeID string
	Seq    int64 // 0: the home's chain as a whole
	What   string
}

func (p Problem) String() string {
	if p.Seq == 0 {
		return fmt.Sprintf("home %s: %s", p.HomeID, p.What)
	}
	return fmt.Sprintf("home %s entry %d: %s", p.HomeID, p.Seq, p.What)
}

// verifyPage is how many entries Verify reads at once.
const verifyPage = 1000

// Verify walks every home's chain and returns each break: an entry whose
// hash does not match its content, a link to a previous hash that is not
// the previous entry's, a gap in the sequence, and a chain that does not
// end exactly at its head: newest entries removed, all of them removed,
// the head removed or edited, entries past the head. Chains and heads of
// homes that do not exist are reported too (camvault never deletes a
// home, so its chain outlives it only if its row was removed). A chain
// written before heads existed, which has no head until its next entry,
// passes when its last entry verifies; its newest entries could be
// removed unseen, which only an anchor (CheckAnchors) catches.
func (l *Log) Verify(ctx context.Context) (entries int, problems []Problem, err error) {
	homes, err := l.store.AuditHomes(ctx)
	if err != nil {
		return 0, nil, err
	}
	for _, h := range homes {
		n, ps, err := l.verifyHome(ctx, h)
		entries += n
		problems = append(problems, ps...)
		if err != nil {
			return entries, problems, err
		}
	}
	return entries, problems, nil
}

func (l *Log) verifyHome(ctx context.Context, h domain.AuditHome) (entries int, problems []Problem, err error) {
	add := func(seq int64, what string) { problems = append(problems, Problem{h.HomeID, seq, what}) }
	if !h.Exists {
		add(0, "audit records of a home that does not exist (its row was removed)")
	}
	// Pages come newest first; walk each page backwards in sequence.
	var last, newer *domain.AuditEntry
	var atHead []byte
	before := int64(0)
	for {
		list, err := l.store.ListAudit(ctx, h.HomeID, before, verifyPage)
		if err != nil {
			return entries, problems, err
		}
		for i := range list {
			e := list[i]
			entries++
			if why := l.entryProblem(e); why != "" {
				add(e.Seq, why)
			}
			if newer != nil {
				if newer.Seq != e.Seq+1 {
					add(e.Seq+1, fmt.Sprintf("entries %d to %d are missing (removed)", e.Seq+1, newer.Seq-1))
				}
				if !hmac.Equal(newer.PrevHash, e.Hash) {
					add(newer.Seq, "does not link to the entry before it")
				}
			} else {
				last = &list[i]
			}
			if h.Head != nil && e.Seq == h.Head.Seq {
				atHead = e.Hash
			}
			newer = &list[i]
		}
		if len(list) < verifyPage {
			break
		}
		before = list[len(list)-1].Seq
	}
	if newer != nil && (newer.Seq != 1 || newer.PrevHash != nil) {
		add(newer.Seq, "the chain does not start at entry 1 (entries removed)")
	}
	hd := h.Head
	switch {
	case hd == nil && last == nil:
		// A home nobody has looked into yet.
	case hd == nil:
		if last.KeyGen != 0 || l.entryProblem(*last) != "" {
			add(0, fmt.Sprintf("the chain, %d entries long, has no head (its head was removed)", last.Seq))
		}
	default:
		if why := l.headProblem(*hd); why != "" {
			add(0, why)
		}
		switch {
		case last == nil:
			add(0, fmt.Sprintf("its head names entry %d but the chain has no entries (all removed)", hd.Seq))
		case last.Seq < hd.Seq:
			add(0, fmt.Sprintf("the chain ends at entry %d but its head names entry %d (the newest entries were removed)", last.Seq, hd.Seq))
		case !hmac.Equal(atHead, hd.Hash):
			add(hd.Seq, "not the entry its head names (replaced)")
		case last.Seq > hd.Seq:
			add(0, fmt.Sprintf("entries %d to %d follow its head (appended without moving it)", hd.Seq+1, last.Seq))
		}
	}
	return entries, problems, nil
}
