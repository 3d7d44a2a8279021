package audit_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/camvault/camvault/internal/audit"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/keys"
	"github.com/camvault/camvault/internal/sim/simtest"
	"github.com/camvault/camvault/internal/store/sqlite"
)

// chains is a real SQLite store with homes whose chains the test writes,
// and a connection of its own to tamper with the database directly, as
// anyone who can write to it but lacks the key could.
type chains struct {
	t     testing.TB
	store *sqlite.Store
	db    *sql.DB
	log   *audit.Log
}

// key is a fixed master key line: generation gen of the test's keys.
func key(gen byte) string {
	raw := bytes.Repeat([]byte{gen}, 32)
	for i := range raw {
		raw[i] ^= byte(i * 7)
	}
	return base64.StdEncoding.EncodeToString(raw)
}

func keyring(t testing.TB, text string) *keys.Keyring {
	t.Helper()
	k, err := keys.ParseKeys(text)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newChains(t testing.TB) *chains {
	t.Helper()
	path := filepath.Join(t.TempDir(), "db")
	st, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &chains{t: t, store: st, db: db, log: audit.New(st, keyring(t, "1 "+key(1)), nil)}
}

// home makes a home row and n entries in its chain.
func (c *chains) home(name string, n int) string {
	c.t.Helper()
	ctx := c.t.Context()
	acc := domain.Account{ID: id.New(), EmailIndex: []byte(id.New()), EmailSealed: []byte("x"), PasswordHash: "h"}
	if err := c.store.CreateAccount(ctx, acc); err != nil {
		c.t.Fatal(err)
	}
	h := domain.Home{ID: name, NameSealed: []byte("n"), WrappedDataKey: []byte("k"), RetentionDays: 30}
	if err := c.store.CreateHome(ctx, h, domain.Member{AccountID: acc.ID, Role: domain.RoleOwner}); err != nil {
		c.t.Fatal(err)
	}
	c.record(name, n)
	return name
}

func (c *chains) record(home string, n int) {
	c.t.Helper()
	for i := range n {
		if err := c.log.Record(c.t.Context(), home, audit.Entry{ActorKind: "person", ActorID: "acc", Action: audit.ViewThumbnail,
			EventID: "e" + string(rune('0'+i)), Result: audit.ResultOK}); err != nil {
			c.t.Fatal(err)
		}
	}
}

func (c *chains) tamper(q string) {
	c.t.Helper()
	if _, err := c.db.ExecContext(context.Background(), q); err != nil {
		c.t.Fatal(err)
	}
}

// problems verifies and returns the problems found, one string each.
func (c *chains) problems() []string {
	c.t.Helper()
	_, problems, err := c.log.Verify(c.t.Context())
	if err != nil {
		c.t.Fatal(err)
	}
	var all []string
	for _, p := range problems {
		all = append(all, p.String())
	}
	return all
}

func (c *chains) expect(want ...string) {
	c.t.Helper()
	got := c.problems()
	for _, w := range want {
		if !strings.Contains(strings.Join(got, "\n"), w) {
			c.t.Fatalf("verify found %q, want a problem mentioning %q", got, w)
		}
	}
	if len(want) == 0 && len(got) > 0 {
		c.t.Fatalf("verify found %q, want nothing", got)
	}
}

// TestVerifyDetectsTampering edits, removes and forges entries directly in
// the database and checks that verification names each.
func TestVerifyDetectsTampering(t *testing.T) {
	c := newChains(t)
	c.home("home-a", 5)
	c.home("home-b", 5)
	n, problems, err := c.log.Verify(t.Context())
	if err != nil || n != 10 || len(problems) != 0 {
		t.Fatalf("clean chains: %d entries, %v, %v", n, problems, err)
	}
	c.tamper(`UPDATE audit SET actor_id = 'someone-else' WHERE home_id = 'home-a' AND seq = 3`)
	c.expect("home home-a entry 3: content does not match")
	c.tamper(`DELETE FROM audit WHERE home_id = 'home-b' AND seq = 2`)
	c.expect("home home-b entry 2: entries 2 to 2 are missing")
	c.tamper(`DELETE FROM audit WHERE home_id = 'home-b' AND seq = 1`)
	c.expect("does not start at entry 1")
	c.tamper(`UPDATE audit SET key_gen = 0 WHERE home_id = 'home-a' AND seq = 5`)
	c.expect("home home-a entry 5: content does not match") // the generation is part of the hash
}

// TestVerifyDetectsRemovalFromTheEnd: the attacks the chain alone cannot
// see, each on a home of its own. Removing the newest entries, the whole
// chain, the head, or the home, or editing the head, fails verification.
func TestVerifyDetectsRemovalFromTheEnd(t *testing.T) {
	c := newChains(t)
	for _, h := range []string{"newest", "whole", "head", "edited", "gone", "quiet"} {
		n := 4
		if h == "quiet" {
			n = 0 // a home nobody looked into: no entries, no head, fine
		}
		c.home(h, n)
	}
	c.expect()

	c.tamper(`DELETE FROM audit WHERE home_id = 'newest' AND seq > 2`)
	c.tamper(`DELETE FROM audit WHERE home_id = 'whole'`)
	c.tamper(`DELETE FROM audit_heads WHERE home_id = 'head'`)
	c.tamper(`UPDATE audit_heads SET seq = 3, hash = (SELECT hash FROM audit WHERE home_id = 'edited' AND seq = 3) WHERE home_id = 'edited'`)
	c.tamper(`DELETE FROM members WHERE home_id = 'gone'`)
	c.tamper(`DELETE FROM homes WHERE id = 'gone'`)
	c.expect(
		"home newest: the chain ends at entry 2 but its head names entry 4 (the newest entries were removed)",
		"home whole: its head names entry 4 but the chain has no entries (all removed)",
		"home head: the chain, 4 entries long, has no head (its head was removed)",
		"home edited: its head does not match its MAC (edited)",
		"home gone: audit records of a home that does not exist",
	)
	if got := c.problems(); len(got) != 6 { // edited: also 4 follows the head
		t.Fatalf("problems: %q", got)
	}
	if strings.Contains(strings.Join(c.problems(), "\n"), "quiet") {
		t.Fatal("a home without entries or head was reported")
	}
}

// TestAppendKeepsEvidence: an append to a chain whose end was removed
// records the entry but leaves the head where it was, so the removal is
// not covered up by the next look; the log says so.
func TestAppendKeepsEvidence(t *testing.T) {
	c := newChains(t)
	logs := &simtest.LogBuffer{}
	c.log.WithLogger(slog.New(slog.NewTextHandler(logs, nil)))
	c.home("newest", 4)
	c.home("head", 4)
	c.home("whole", 4)
	c.tamper(`DELETE FROM audit WHERE home_id = 'newest' AND seq > 2`)
	c.tamper(`DELETE FROM audit_heads WHERE home_id = 'head'`)
	c.tamper(`DELETE FROM audit WHERE home_id = 'whole'`)
	c.record("newest", 3)
	c.record("head", 1)
	c.record("whole", 1)
	c.expect("home newest entry 4: not the entry its head names (replaced)", "home head: the chain, 5 entries long, has no head",
		"home whole: the chain ends at entry 1 but its head names entry 4")
	if !strings.Contains(logs.String(), "head was left where it was") || !strings.Contains(logs.String(), "home=head") {
		t.Fatalf("the left head was not logged: %s", logs)
	}
}

// TestChainFromBeforeHeads: a chain written by an earlier release (entries
// of no recorded generation, no head) verifies, gets its head at its next
// entry, and from then on is held by it.
func TestChainFromBeforeHeads(t *testing.T) {
	c := newChains(t)
	c.home("old", 3)
	// What an earlier release left: entries hashed without a generation,
	// and no head.
	c.tamper(`DELETE FROM audit_heads`)
	c.tamper(`DELETE FROM audit`)
	legacy := legacyChain(t, "old", 3)
	for _, e := range legacy {
		if _, err := c.db.Exec(`INSERT INTO audit (home_id, seq, at, actor_kind, actor_id, action, device_id, event_id, result, prev_hash, hash)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, e.HomeID, e.Seq, e.At.UnixMicro(), e.ActorKind, e.ActorID, e.Action, e.DeviceID,
			e.EventID, e.Result, e.PrevHash, e.Hash); err != nil {
			t.Fatal(err)
		}
	}
	c.expect()
	c.record("old", 1)
	c.expect()
	c.tamper(`DELETE FROM audit WHERE home_id = 'old' AND seq = 4`)
	c.expect("the chain ends at entry 3 but its head names entry 4")
}

// TestRotationKeepsChainsVerifying: entries and heads of generation 1
// still verify once generation 2 is added, and after 1 is retired to its
// audit key alone; new entries and heads use generation 2; ResignHeads
// moves the heads left under 1 to 2, and not one that does not verify.
func TestRotationKeepsChainsVerifying(t *testing.T) {
	c := newChains(t)
	ctx := t.Context()
	c.home("h", 3)
	c.home("g", 2)
	c.home("bad", 2)
	both := keyring(t, "1 "+key(1)+"\n2 "+key(2))
	c.log = audit.New(c.store, both, nil)
	c.expect()
	c.record("h", 2)
	c.expect()
	list, err := c.store.ListAudit(ctx, "h", 0, 10)
	if err != nil || len(list) != 5 || list[0].KeyGen != 2 || list[4].KeyGen != 1 {
		t.Fatalf("entries after adding generation 2: %+v %v", list, err)
	}
	headGens := func() map[uint32]int64 {
		t.Helper()
		use, err := c.store.KeyUse(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return use.AuditHeads
	}
	if got := headGens(); got[1] != 2 || got[2] != 1 {
		t.Fatalf("heads by generation after one append under 2: %v", got)
	}

	c.tamper(`UPDATE audit_heads SET mac = hash WHERE home_id = 'bad'`)
	resigned, problems, err := c.log.ResignHeads(ctx, []uint32{1, 2}, 1)
	if err != nil || resigned != 1 || len(problems) != 1 || problems[0].HomeID != "bad" {
		t.Fatalf("resign: %d %v %v", resigned, problems, err)
	}
	if got := headGens(); got[1] != 1 || got[2] != 2 {
		t.Fatalf("heads by generation after signing again: %v", got)
	}
	c.tamper(`DELETE FROM audit_heads WHERE home_id = 'bad'`)
	c.tamper(`DELETE FROM audit WHERE home_id = 'bad'`)
	c.tamper(`DELETE FROM members WHERE home_id = 'bad'`)
	c.tamper(`DELETE FROM homes WHERE id = 'bad'`)
	c.expect()

	c.log = audit.New(c.store, keyring(t, "1 audit-only "+auditKeyOf(t, "1 "+key(1), 1)+"\n2 "+key(2)), nil)
	c.expect()
	c.log = audit.New(c.store, keyring(t, "2 "+key(2)), nil)
	c.expect("made under master key generation 1, whose audit key is not in the key file")
}

func auditKeyOf(t *testing.T, keyText string, gen uint32) string {
	t.Helper()
	k, ok := keyring(t, keyText).AuditKeyOf(gen)
	if !ok {
		t.Fatal("no audit key")
	}
	return base64.StdEncoding.EncodeToString(k)
}

// legacyChain is a chain as an earlier release wrote it under key(1).
func legacyChain(t *testing.T, home string, n int) []domain.AuditEntry {
	t.Helper()
	k, _ := keyring(t, "1 "+key(1)).AuditKeyOf(1)
	var out []domain.AuditEntry
	var prev []byte
	for i := range n {
		e := domain.AuditEntry{HomeID: home, Seq: int64(i + 1), At: time.UnixMicro(1_700_000_000_000_000 + int64(i)).UTC(),
			ActorKind: "person", ActorID: "acc", Action: audit.ViewThumbnail, EventID: "e", Result: audit.ResultOK, PrevHash: prev}
		e.Hash = audit.EntryHash(k, e)
		prev = e.Hash
		out = append(out, e)
	}
	return out
}

// TestEntriesSayWhomAndFromWhat: what an entry says beyond its action is
// in its hash like the rest, the device comes from the request, and
// entries without any of it keep the hash they had before it existed.
func TestEntriesSayWhomAndFromWhat(t *testing.T) {
	c := newChains(t)
	c.home("home-a", 2) // entries with none of it
	ctx := audit.WithUserAgent(t.Context(), "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36")
	if err := c.log.Record(ctx, "home-a", audit.Entry{ActorKind: "person", ActorID: "acc", Action: "member.update",
		Detail: "role viewer", SubjectID: "other", Result: audit.ResultOK}); err != nil {
		t.Fatal(err)
	}
	list, err := c.log.List(t.Context(), "home-a", 0, 1)
	if err != nil || len(list) != 1 {
		t.Fatalf("list: %v %v", list, err)
	}
	if e := list[0]; e.Detail != "role viewer" || e.SubjectID != "other" || e.Client != "Chrome on Android" {
		t.Fatalf("entry says %q, whom %q, from %q", e.Detail, e.SubjectID, e.Client)
	}
	c.expect()
	c.tamper(`UPDATE audit SET detail = 'role admin' WHERE home_id = 'home-a' AND seq = 3`)
	c.expect("home home-a entry 3: content does not match")
	c.tamper(`UPDATE audit SET detail = 'role viewer', client = 'Safari on iOS' WHERE home_id = 'home-a' AND seq = 3`)
	c.expect("home home-a entry 3: content does not match")
	c.tamper(`UPDATE audit SET client = 'Chrome on Android', subject_id = 'acc' WHERE home_id = 'home-a' AND seq = 3`)
	c.expect("home home-a entry 3: content does not match")
}

func TestDescribeUserAgents(t *testing.T) {
	for ua, want := range map[string]string{
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36":                                   "Chrome on Linux",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0":                                                        "Firefox on Windows",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1": "Safari on iOS",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0":     "Edge on macOS",
		"curl/8.5.0":         "curl",
		"Go-http-client/1.1": "Go-http-client",
		"":                   "",
		"<script>/1 (evil)":  "script",
		"\x00\x01":           "an unnamed client",
	} {
		if got := audit.Describe(ua); got != want {
			t.Errorf("Describe(%q) = %q, want %q", ua, got, want)
		}
	}
}
