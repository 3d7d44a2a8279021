package audit

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Anchor is where a home's chain ended when it was anchored: its last
// entry's sequence number and hash. Kept outside the database (see
// WriteAnchors), anchors let CheckAnchors tell a chain that went back, as
// a writer of the database who lacks the key can make it go, from one
// that only grew.
type Anchor struct {
	HomeID string
	Seq    int64
	Hash   []byte
}

// Anchors returns the anchor of every home with entries: its head, once
// the head verifies and is the chain's last entry (a chain from before
// heads: its last entry, once that verifies). A home whose chain does not
// end at its head gives a problem instead. It reads the heads and each
// chain's last entry, not the whole chains: Verify does that.
func (l *Log) Anchors(ctx context.Context) ([]Anchor, []Problem, error) {
	homes, err := l.store.AuditHomes(ctx)
	if err != nil {
		return nil, nil, err
	}
	var anchors []Anchor
	var problems []Problem
	for _, h := range homes {
		if !h.HasEntries {
			if h.Head != nil {
				problems = append(problems, Problem{h.HomeID, 0, fmt.Sprintf("its head names entry %d but the chain has no entries (all removed)", h.Head.Seq)})
			}
			continue
		}
		newest, err := l.store.ListAudit(ctx, h.HomeID, 0, 1)
		if err != nil {
			return nil, nil, err
		}
		if len(newest) == 0 {
			continue // removed since AuditHomes read it
		}
		last := newest[0]
		switch {
		case h.Head == nil && last.KeyGen == 0 && l.entryProblem(last) == "":
		case h.Head == nil:
			problems = append(problems, Problem{h.HomeID, 0, "the chain has no head (its head was removed)"})
			continue
		case l.headProblem(*h.Head) != "":
			problems = append(problems, Problem{h.HomeID, 0, l.headProblem(*h.Head)})
			continue
		case h.Head.Seq != last.Seq || !hmac.Equal(h.Head.Hash, last.Hash):
			problems = append(problems, Problem{h.HomeID, 0, fmt.Sprintf("the chain ends at entry %d, not at the entry %d its head names", last.Seq, h.Head.Seq)})
			continue
		}
		anchors = append(anchors, Anchor{HomeID: h.HomeID, Seq: last.Seq, Hash: last.Hash})
	}
	return anchors, problems, nil
}

// CheckAnchors reports each anchored chain that no longer holds its
// anchored entry as it was: entries removed back past it (or the whole
// chain, or the home), or the entry rewritten. With Verify, which checks
// that every entry links to the one before it, an anchored entry that is
// still there vouches for every entry before it.
func (l *Log) CheckAnchors(ctx context.Context, anchors []Anchor) ([]Problem, error) {
	var problems []Problem
	for _, a := range anchors {
		got, err := l.store.ListAudit(ctx, a.HomeID, a.Seq+1, 1)
		if err != nil {
			return problems, err
		}
		switch {
		case len(got) == 0 || got[0].Seq != a.Seq:
			end := int64(0)
			if len(got) > 0 {
				end = got[0].Seq
			}
			problems = append(problems, Problem{a.HomeID, a.Seq, fmt.Sprintf(
				"anchored as the chain's entry %d, but the chain goes no further than entry %d (it went back)", a.Seq, end)})
		case !hmac.Equal(got[0].Hash, a.Hash):
			problems = append(problems, Problem{a.HomeID, a.Seq, "not the entry anchored (rewritten)"})
		}
	}
	return problems, nil
}

const (
	anchorHeader = "# camvault audit anchors"
	digestPrefix = "sha256 "
)

// WriteAnchors writes anchors as an anchor file: comment lines, one line
// "HOME SEQ HASH" per home, then "sha256 DIGEST" of everything before it,
// so a file cut short or edited by accident is refused when read.
func WriteAnchors(w io.Writer, anchors []Anchor, at time.Time) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s, made %s: the last entry of each home's audit chain.\n", anchorHeader, at.UTC().Format(time.RFC3339))
	b.WriteString("# Keep it outside the database; camvault admin audit verify --anchor FILE checks no chain went back from it.\n")
	for _, a := range anchors {
		fmt.Fprintf(&b, "%s %d %s\n", a.HomeID, a.Seq, hex.EncodeToString(a.Hash))
	}
	sum := sha256.Sum256(b.Bytes())
	fmt.Fprintf(&b, "%s%s\n", digestPrefix, hex.EncodeToString(sum[:]))
	_, err := w.Write(b.Bytes())
	return err
}

// ReadAnchors reads an anchor file written by WriteAnchors, refusing one
// whose digest does not match.
func ReadAnchors(r io.Reader) ([]Anchor, error) {
	var body bytes.Buffer
	var anchors []Anchor
	sc := bufio.NewScanner(r)
	n, digest := 0, ""
	for sc.Scan() {
		n++
		line := sc.Text()
		if digest != "" {
			if strings.TrimSpace(line) != "" {
				return nil, fmt.Errorf("anchor file line %d: text after the digest line", n)
			}
			continue
		}
		if d, ok := strings.CutPrefix(line, digestPrefix); ok {
			digest = d
			continue
		}
		body.WriteString(line + "\n")
		if n == 1 && !strings.HasPrefix(line, anchorHeader) {
			return nil, errors.New("not a camvault audit anchor file (made by camvault admin audit heads)")
		}
		if strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 3 {
			return nil, fmt.Errorf("anchor file line %d: want HOME SEQ HASH", n)
		}
		seq, err := strconv.ParseInt(f[1], 10, 64)
		hash, herr := hex.DecodeString(f[2])
		if err != nil || seq < 1 || herr != nil || len(hash) == 0 {
			return nil, fmt.Errorf("anchor file line %d: want HOME SEQ HASH", n)
		}
		anchors = append(anchors, Anchor{HomeID: f[0], Seq: seq, Hash: hash})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read anchor file: %w", err)
	}
	sum := sha256.Sum256(body.Bytes())
	if want, err := hex.DecodeString(digest); err != nil || !hmac.Equal(want, sum[:]) {
		return nil, errors.New("anchor file: its digest line is missing or does not match its lines (cut short or edited)")
	}
	return anchors, nil
}
