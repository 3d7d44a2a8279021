package homes

import (
	"strings"
	"testing"
)

func TestNormalizePairingCode(t *testing.T) {
	for _, c := range []struct {
		in, want string
		ok       bool
	}{
		{"ABCD-EFGH-JKMN", "ABCDEFGHJKMN", true},
		{"abcd efgh jkmn", "ABCDEFGHJKMN", true},
		{" abcdefghjkmn ", "ABCDEFGHJKMN", true},
		{"O0IL-1234-5678", "001112345678", true}, // O read as 0, I and L as 1
		{"ABCD-EFGH-JKM", "", false},             // too short
		{"ABCD-EFGH-JKMNP", "", false},           // too long
		{"ABCD-EFGH-JKMU", "", false},            // U is not in the alphabet
		{"ABCD_EFGH_JKMN", "", false},
		{"ABCD-EFGH-JKM\u00d1", "", false},
		{"", "", false},
	} {
		got, ok := normalizePairingCode(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("normalizePairingCode(%q) = %q, %v; want %q, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestPrintable(t *testing.T) {
	for _, c := range []struct {
		in   string
		want bool
	}{
		{"CV-1", true},
		{"firmware 1.0 (beta)~", true},
		{strings.Repeat("m", maxModelLen), true},
		{strings.Repeat("m", maxModelLen+1), false},
		{"", false},
		{"tab\there", false},
		{"del\x7f", false},
		{"café", false}, // ASCII only
	} {
		if got := printable(c.in, maxModelLen); got != c.want {
			t.Errorf("printable(%q) = %v, want %v", c.in, got, c.want)
		}
	}
}
