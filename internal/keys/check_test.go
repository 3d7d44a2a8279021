package keys

import (
	"bytes"
	"encoding/base64"
	"testing"
)

// TestChecks: the check of a generation depends on its key alone, differs
// between keys, and is neither the master key nor a key that seals data.
func TestChecks(t *testing.T) {
	a, b := rnd(t), rnd(t)
	parse := func(text string) *Keyring {
		t.Helper()
		k, err := ParseKeys(text)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	ka, ka2, kb := parse(a), parse("1 "+a), parse(b)
	ca := ka.Checks()
	if len(ca) != 1 || len(ca[1]) == 0 {
		t.Fatalf("checks of a one-key keyring: %x", ca)
	}
	if !bytes.Equal(ca[1], ka2.Checks()[1]) {
		t.Fatal("the same key gives two checks")
	}
	if bytes.Equal(ca[1], kb.Checks()[1]) {
		t.Fatal("two different keys give the same check")
	}

	raw, _ := base64.StdEncoding.DecodeString(a)
	for name, secret := range map[string][]byte{
		"master key": raw, "kek": ka.masters[1].derive("kek"), "pii": ka.masters[1].derive("pii"),
		"blind index": ka.blind[1], "audit chain": ka.Derive("audit-chain"),
	} {
		if bytes.Contains(ca[1], secret) || bytes.Contains(secret, ca[1]) {
			t.Errorf("the check reveals the %s", name)
		}
	}

	// A rotation adds a check for the new generation and keeps the old one.
	both := parse("1 " + a + "\n2 " + b)
	cb := both.Checks()
	if len(cb) != 2 || !bytes.Equal(cb[1], ca[1]) || bytes.Equal(cb[2], cb[1]) {
		t.Fatalf("checks after rotation: %x, before: %x", cb, ca)
	}
}
