package audit_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/audit"
)

// TestAnchorsCatchRollback: a writer of the database who kept an old head
// row can set a chain back to it unseen by Verify (the chain then ends at
// a head that verifies); the anchor kept outside the database catches it,
// as it catches a chain removed with its head and its home.
func TestAnchorsCatchRollback(t *testing.T) {
	c := newChains(t)
	ctx := t.Context()
	c.home("rolled", 2)
	c.home("erased", 2)
	c.home("grown", 2)
	c.home("fresh", 0)
	var savedSeq int64
	var savedHash, savedMAC []byte
	if err := c.db.QueryRow(`SELECT seq, hash, mac FROM audit_heads WHERE home_id = 'rolled'`).Scan(&savedSeq, &savedHash, &savedMAC); err != nil {
		t.Fatal(err)
	}
	c.record("rolled", 2)

	anchors, problems, err := c.log.Anchors(ctx)
	if err != nil || len(problems) != 0 || len(anchors) != 3 {
		t.Fatalf("anchors: %+v %v %v", anchors, problems, err)
	}
	var file bytes.Buffer
	if err := audit.WriteAnchors(&file, anchors, time.Now()); err != nil {
		t.Fatal(err)
	}
	read, err := audit.ReadAnchors(bytes.NewReader(file.Bytes()))
	if err != nil || len(read) != 3 || read[0].HomeID != "erased" || read[2].Seq != 4 || !bytes.Equal(read[2].Hash, anchors[2].Hash) {
		t.Fatalf("anchors read back: %+v %v", read, err)
	}

	c.record("grown", 3) // growing is what chains do
	c.tamper(`DELETE FROM audit WHERE home_id = 'rolled' AND seq > 2`)
	if _, err := c.db.Exec(`UPDATE audit_heads SET seq = ?, hash = ?, mac = ? WHERE home_id = 'rolled'`, savedSeq, savedHash, savedMAC); err != nil {
		t.Fatal(err)
	}
	c.tamper(`DELETE FROM audit WHERE home_id = 'erased'`)
	c.tamper(`DELETE FROM audit_heads WHERE home_id = 'erased'`)
	c.tamper(`DELETE FROM members WHERE home_id = 'erased'`)
	c.tamper(`DELETE FROM homes WHERE id = 'erased'`)
	c.expect() // nothing Verify alone can see

	problems, err = c.log.CheckAnchors(ctx, read)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range problems {
		got = append(got, p.String())
	}
	want := []string{
		"home erased entry 2: anchored as the chain's entry 2, but the chain goes no further than entry 0 (it went back)",
		"home rolled entry 4: anchored as the chain's entry 4, but the chain goes no further than entry 2 (it went back)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("anchor problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// A rewritten anchored entry (its hash) is caught too.
	c.tamper(`UPDATE audit SET hash = prev_hash WHERE home_id = 'grown' AND seq = 2`)
	problems, _ = c.log.CheckAnchors(ctx, read)
	if len(problems) != 3 || problems[1].String() != "home grown entry 2: not the entry anchored (rewritten)" {
		t.Fatalf("rewritten anchored entry: %v", problems)
	}
}

// TestAnchorFileRefusesDamage: an anchor file cut short, edited, or not an
// anchor file at all is refused rather than read as fewer anchors.
func TestAnchorFileRefusesDamage(t *testing.T) {
	var file bytes.Buffer
	anchors := []audit.Anchor{{HomeID: "a", Seq: 3, Hash: []byte{1, 2}}, {HomeID: "b", Seq: 9, Hash: []byte{3}}}
	if err := audit.WriteAnchors(&file, anchors, time.Now()); err != nil {
		t.Fatal(err)
	}
	text := file.String()
	lines := strings.SplitAfter(text, "\n")
	for name, bad := range map[string]string{
		"cut short":      strings.Join(lines[:3], ""),
		"a line removed": strings.Join(append(append([]string{}, lines[:2]...), lines[3:]...), ""),
		"edited":         strings.Replace(text, "a 3 ", "a 2 ", 1),
		"not anchors":    "hello\n",
		"empty":          "",
		"text after":     text + "c 1 00\n",
	} {
		if _, err := audit.ReadAnchors(strings.NewReader(bad)); err == nil {
			t.Errorf("%s: read", name)
		}
	}
	if got, err := audit.ReadAnchors(strings.NewReader(text)); err != nil || len(got) != 2 {
		t.Fatalf("the file as written: %v %v", got, err)
	}
}
