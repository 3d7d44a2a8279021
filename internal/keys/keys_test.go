package keys

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

func testKeyring(t testing.TB) *Keyring {
	t.Helper()
	k, err := CreateFile(filepath.Join(t.TempDir(), "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestSealedOpensOnlyInItsContext is invariant 1 as a property: a value
// sealed for one (home, device, event, kind) opens under that context and
// under no other, nor under another home's key.
func TestSealedOpensOnlyInItsContext(t *testing.T) {
	dk, err := NewDataKey()
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewDataKey()
	if err != nil {
		t.Fatal(err)
	}
	part := rapid.StringMatching(`[a-z0-9]{0,6}`)
	rapid.Check(t, func(t *rapid.T) {
		ctx := []string{part.Draw(t, "home"), part.Draw(t, "device"), part.Draw(t, "event"), part.Draw(t, "kind")}
		alt := []string{part.Draw(t, "home2"), part.Draw(t, "device2"), part.Draw(t, "event2"), part.Draw(t, "kind2")}
		msg := rapid.SliceOf(rapid.Byte()).Draw(t, "msg")
		sealed := dk.Seal(msg, AD("media", ctx...))
		got, err := dk.Open(sealed, AD("media", ctx...))
		if err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("does not open in its own context: %v", err)
		}
		if _, err := other.Open(sealed, AD("media", ctx...)); err == nil {
			t.Fatalf("opens under another home's key")
		}
		if strings.Join(alt, "\x00") != strings.Join(ctx, "\x00") {
			if _, err := dk.Open(sealed, AD("media", alt...)); err == nil {
				t.Fatalf("sealed for %q opens for %q", ctx, alt)
			}
		}
		// Any single flipped bit is refused.
		if len(sealed) > 0 {
			i := rapid.IntRange(0, len(sealed)-1).Draw(t, "flip")
			bad := bytes.Clone(sealed)
			bad[i] ^= 1 << rapid.IntRange(0, 7).Draw(t, "bit")
			if _, err := dk.Open(bad, AD("media", ctx...)); err == nil {
				t.Fatalf("opens with byte %d altered", i)
			}
		}
	})
}

// TestADIsUnambiguous: parts that join to the same string never give the
// same associated data.
func TestADIsUnambiguous(t *testing.T) {
	pairs := [][2][]string{
		{{"ab", "c"}, {"a", "bc"}},
		{{"a", ""}, {"a"}},
		{{"", "a"}, {"a", ""}},
		{{"a\x00\x00\x00\x01b"}, {"a", "b"}},
	}
	for _, p := range pairs {
		if bytes.Equal(AD("x", p[0]...), AD("x", p[1]...)) {
			t.Errorf("AD(%q) == AD(%q)", p[0], p[1])
		}
	}
}

// FuzzEncodeInjective checks that two different lists never encode alike
// and that the encoding can be read back into the parts it came from.
func FuzzEncodeInjective(f *testing.F) {
	f.Add([]byte("ab"), []byte("c"), []byte("a"), []byte("bc"))
	f.Add([]byte(""), []byte("x"), []byte("x"), []byte(""))
	f.Add([]byte{0, 0, 0, 1}, []byte{}, []byte{}, []byte{0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, a, b, c, d []byte) {
		lists := [][][]byte{{a, b}, {c, d}, {a}, {a, b, c}, {}}
		for i := range lists {
			for j := range lists {
				if i == j || equalLists(lists[i], lists[j]) {
					continue
				}
				if bytes.Equal(Encode(lists[i]...), Encode(lists[j]...)) {
					t.Fatalf("%q and %q encode alike", lists[i], lists[j])
				}
			}
			if got := decode(t, Encode(lists[i]...)); !equalLists(got, lists[i]) {
				t.Fatalf("decode(Encode(%q)) = %q", lists[i], got)
			}
		}
	})
}

func equalLists(x, y [][]byte) bool {
	if len(x) != len(y) {
		return false
	}
	for i := range x {
		if !bytes.Equal(x[i], y[i]) {
			return false
		}
	}
	return true
}

// decode reads Encode's format back, failing on any leftover byte: a
// format that decodes uniquely is a format that encodes injectively.
func decode(t *testing.T, b []byte) [][]byte {
	t.Helper()
	rd := func() uint32 {
		if len(b) < 4 {
			t.Fatalf("short encoding")
		}
		v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		b = b[4:]
		return v
	}
	n := rd()
	out := make([][]byte, 0, n)
	for range n {
		l := rd()
		if uint32(len(b)) < l {
			t.Fatalf("part longer than the encoding")
		}
		out = append(out, b[:l])
		b = b[l:]
	}
	if len(b) != 0 {
		t.Fatalf("%d bytes left over", len(b))
	}
	return out
}

func TestWrapAndPII(t *testing.T) {
	k := testKeyring(t)
	dk, err := NewDataKey()
	if err != nil {
		t.Fatal(err)
	}
	wrapped := k.WrapDataKey(dk, "home-a")
	if bytes.Contains(wrapped, dk.raw) {
		t.Fatal("wrapped key contains the key")
	}
	got, err := k.UnwrapDataKey(wrapped, "home-a")
	if err != nil || !bytes.Equal(got.raw, dk.raw) {
		t.Fatalf("unwrap: %v", err)
	}
	if _, err := k.UnwrapDataKey(wrapped, "home-b"); err == nil {
		t.Fatal("home a's key unwraps as home b's")
	}
	other := testKeyring(t)
	if _, err := other.UnwrapDataKey(wrapped, "home-a"); err == nil {
		t.Fatal("unwraps under another master key")
	}
	sealed := k.SealPII([]byte("ann@example.com"), AD("account-email", "acc1"))
	if _, err := k.OpenPII(sealed, AD("account-email", "acc2")); err == nil {
		t.Fatal("email of one account opens as another's")
	}
	if a, b := k.BlindIndex("email", "x"), k.BlindIndex("other", "x"); bytes.Equal(a, b) {
		t.Fatal("blind indexes of two purposes collide")
	}
	if a, b := k.BlindIndex("email", "x"), other.BlindIndex("email", "x"); bytes.Equal(a, b) {
		t.Fatal("blind index does not depend on the key")
	}
}

func TestKeyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "master.key")
	k, err := CreateFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, %v", fi.Mode().Perm(), err)
	}
	if _, err := CreateFile(path); err == nil {
		t.Fatal("CreateFile overwrote an existing key")
	}
	loaded, err := LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dk, _ := NewDataKey()
	if _, err := loaded.UnwrapDataKey(k.WrapDataKey(dk, "h"), "h"); err != nil {
		t.Fatal("the loaded key differs from the created one")
	}
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadFile(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("group-readable key file accepted: %v", err)
	}
}

func TestParseKeysRefusesWeakKeys(t *testing.T) {
	for name, text := range map[string]string{
		"empty":   "",
		"zeros":   base64.StdEncoding.EncodeToString(make([]byte, 32)),
		"pattern": base64.StdEncoding.EncodeToString([]byte(strings.Repeat("changeme", 4))),
		"short":   base64.StdEncoding.EncodeToString([]byte("0123456789abcdef")),
		"not b64": "this is not base64!",
		"dup ids": "1 " + rnd(t) + "\n1 " + rnd(t),
		"zero id": "0 " + rnd(t),
		"bad id":  "x " + rnd(t),
	} {
		if _, err := ParseKeys(text); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestRotationKeepsOldValuesOpen(t *testing.T) {
	old, err := ParseKeys("1 " + rnd(t))
	if err != nil {
		t.Fatal(err)
	}
	line1 := "1 " + base64.StdEncoding.EncodeToString(old.masters[1].raw)
	both, err := ParseKeys(line1 + "\n2 " + rnd(t))
	if err != nil {
		t.Fatal(err)
	}
	dk, _ := NewDataKey()
	wrappedOld := old.WrapDataKey(dk, "h")
	if _, err := both.UnwrapDataKey(wrappedOld, "h"); err != nil {
		t.Fatalf("value wrapped under generation 1 does not open after adding 2: %v", err)
	}
	wrappedNew := both.WrapDataKey(dk, "h")
	if id, _ := sealedKeyID(wrappedNew); id != 2 {
		t.Fatalf("new wraps use generation %d, want 2", id)
	}
	if _, err := old.UnwrapDataKey(wrappedNew, "h"); err == nil {
		t.Fatal("generation 2 value opens with only generation 1")
	}
}

func rnd(t *testing.T) string {
	dk, err := NewDataKey()
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(dk.raw)
}

// TestUnwrapCache: a remembered data key answers only for the exact wrapped
// bytes and home it was opened from; a new wrapping of the home (a new data
// key, or the same key rewrapped) is opened anew, and the cache stays
// bounded.
func TestUnwrapCache(t *testing.T) {
	k := testKeyring(t)
	dk1, _ := NewDataKey()
	w1 := k.WrapDataKey(dk1, "home-a")
	for range 2 { // the second answer comes from the cache
		got, err := k.UnwrapDataKey(w1, "home-a")
		if err != nil || !bytes.Equal(got.raw, dk1.raw) {
			t.Fatalf("unwrap: %v", err)
		}
	}
	if _, err := k.UnwrapDataKey(w1, "home-b"); err == nil {
		t.Fatal("a cached key of home a answers for home b")
	}
	tampered := bytes.Clone(w1)
	tampered[len(tampered)-1] ^= 1
	if _, err := k.UnwrapDataKey(tampered, "home-a"); err == nil {
		t.Fatal("altered wrapped bytes unwrap")
	}
	dk2, _ := NewDataKey()
	w2 := k.WrapDataKey(dk2, "home-a")
	if got, err := k.UnwrapDataKey(w2, "home-a"); err != nil || !bytes.Equal(got.raw, dk2.raw) {
		t.Fatalf("the home's new key: %v, or the old one served", err)
	}
	for i := range maxCachedDataKeys + 10 {
		home := fmt.Sprint("home-", i)
		if _, err := k.UnwrapDataKey(k.WrapDataKey(dk1, home), home); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(k.dataKeys.m); n > maxCachedDataKeys {
		t.Fatalf("%d keys cached, bound is %d", n, maxCachedDataKeys)
	}
}

// TestDecode: Decode gives back exactly what Encode was given, and refuses
// every truncation and a trailing byte.
func TestDecode(t *testing.T) {
	for _, list := range [][][]byte{{}, {{}}, {[]byte("a")}, {[]byte("home"), {}, []byte("\x00\x00\x00\x01")}} {
		b := Encode(list...)
		got, ok := Decode(b)
		if !ok || !equalLists(got, list) {
			t.Fatalf("Decode(Encode(%q)) = %q, %v", list, got, ok)
		}
		for i := range b {
			if _, ok := Decode(b[:i]); ok {
				t.Errorf("Decode of %d of %d bytes of %q succeeded", i, len(b), list)
			}
		}
		if _, ok := Decode(append(b, 0)); ok {
			t.Errorf("Decode with a trailing byte of %q succeeded", list)
		}
	}
}
