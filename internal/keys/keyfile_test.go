package keys

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestGenerationsKeepWorking: with a second generation, values sealed,
// wrapped and indexed under the first still open and are still found, new
// ones use the second, and each generation's audit key is its own.
func TestGenerationsKeepWorking(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	one, err := CreateFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dk, _ := NewDataKey()
	wrapped := one.WrapDataKey(dk, "h")
	email := one.SealPII([]byte("ann@example.com"), AD("account-email", "a"))
	index := one.BlindIndex("account-email", "ann@example.com")

	two, err := AddGeneration(path, 2)
	if err != nil {
		t.Fatal(err)
	}
	if two.Current() != 2 || !slices.Equal(two.IDs(), []uint32{1, 2}) {
		t.Fatalf("after adding generation 2: current %d, generations %v", two.Current(), two.IDs())
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode after adding a generation: %v %v", fi.Mode(), err)
	}
	loaded, err := LoadFile(path)
	if err != nil || loaded.Current() != 2 {
		t.Fatalf("reload: %v", err)
	}
	if _, err := two.UnwrapDataKey(wrapped, "h"); err != nil {
		t.Fatalf("generation 1 wrap after adding 2: %v", err)
	}
	idx := two.BlindIndexes("account-email", "ann@example.com")
	if len(idx) != 2 || !bytes.Equal(idx[1], index) || !bytes.Equal(idx[0], two.BlindIndex("account-email", "ann@example.com")) || bytes.Equal(idx[0], idx[1]) {
		t.Fatalf("blind indexes are not the current one then generation 1's")
	}
	rewrapped, changed, err := two.RewrapDataKey(wrapped, "h")
	if err != nil || !changed {
		t.Fatalf("rewrap: %v %v", changed, err)
	}
	if gen, _ := SealedGeneration(rewrapped); gen != 2 {
		t.Fatalf("rewrapped under generation %d", gen)
	}
	if again, changed, err := two.RewrapDataKey(rewrapped, "h"); err != nil || changed || !bytes.Equal(again, rewrapped) {
		t.Fatal("rewrapping a key already under the current generation changed it")
	}
	if _, _, err := two.RewrapDataKey(wrapped, "other-home"); err == nil {
		t.Fatal("rewrap moved a data key to another home")
	}
	resealed, changed, err := two.ResealPII(email, AD("account-email", "a"))
	if err != nil || !changed {
		t.Fatalf("reseal: %v", err)
	}
	if got, err := two.OpenPII(resealed, AD("account-email", "a")); err != nil || string(got) != "ann@example.com" {
		t.Fatalf("resealed email: %q %v", got, err)
	}
	g1, a1 := one.AuditKey()
	g2, a2 := two.AuditKey()
	if g1 != 1 || g2 != 2 || bytes.Equal(a1, a2) {
		t.Fatal("each generation does not have its own audit key")
	}
	if k, ok := two.AuditKeyOf(1); !ok || !bytes.Equal(k, a1) {
		t.Fatal("generation 1's audit key is lost after adding 2")
	}
	if _, err := AddGeneration(path, 2); err == nil {
		t.Fatal("a generation was added twice")
	}
}

// TestRetireGeneration: a retired generation's line keeps its audit key
// alone (or goes), nothing else of it opens, the current generation cannot
// be retired, and retiring again changes nothing.
func TestRetireGeneration(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	one, err := CreateFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dk, _ := NewDataKey()
	wrapped := one.WrapDataKey(dk, "h")
	_, audit1 := one.AuditKey()
	check1, _ := one.AuditCheck(1)
	if _, err := RetireGeneration(path, 1, true); err == nil || !strings.Contains(err.Error(), "current") {
		t.Fatalf("the current generation was retired: %v", err)
	}
	if _, err := AddGeneration(path, 2); err != nil {
		t.Fatal(err)
	}
	retired, err := RetireGeneration(path, 1, true)
	if err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	if !strings.Contains(string(before), "1 audit-only ") || !strings.HasPrefix(string(before), "# camvault master key") {
		t.Fatalf("key file after retiring 1:\n%s", before)
	}
	if _, err := retired.UnwrapDataKey(wrapped, "h"); err == nil {
		t.Fatal("a retired generation still unwraps")
	}
	if !slices.Equal(retired.IDs(), []uint32{2}) || !slices.Equal(retired.AuditOnly(), []uint32{1}) {
		t.Fatalf("generations %v, audit-only %v", retired.IDs(), retired.AuditOnly())
	}
	if k, ok := retired.AuditKeyOf(1); !ok || !bytes.Equal(k, audit1) {
		t.Fatal("the audit-only line is not generation 1's audit key")
	}
	if c, _ := retired.AuditCheck(1); !bytes.Equal(c, check1) {
		t.Fatal("the audit check of generation 1 changed with its retirement")
	}
	if len(retired.BlindIndexes("x", "y")) != 1 {
		t.Fatal("a retired generation still makes blind indexes")
	}
	if _, err := RetireGeneration(path, 1, true); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(after, before) {
		t.Fatal("retiring again changed the file")
	}
	gone, err := RetireGeneration(path, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := gone.AuditKeyOf(1); ok || strings.Contains(string(mustRead(t, path)), "\n1 ") {
		t.Fatal("generation 1 is still in the file")
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestParseAuditOnly: the audit-only form is refused where it cannot be
// used correctly.
func TestParseAuditOnly(t *testing.T) {
	a, b := rnd(t), rnd(t)
	for name, text := range map[string]string{
		"only audit-only":       "1 audit-only " + a,
		"audit-only newest":     "1 " + a + "\n2 audit-only " + b,
		"audit-only duplicates": "1 audit-only " + a + "\n1 " + b + "\n2 " + rnd(t),
		"weak audit-only":       "1 audit-only " + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" + "\n2 " + b,
		"another word":          "1 retired " + a + "\n2 " + b,
	} {
		if _, err := ParseKeys(text); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	k, err := ParseKeys("1 audit-only " + a + "\n2 " + b)
	if err != nil {
		t.Fatal(err)
	}
	if k.Current() != 2 || !slices.Equal(k.AuditGenerations(), []uint32{2, 1}) {
		t.Fatalf("current %d, audit generations %v", k.Current(), k.AuditGenerations())
	}
}
