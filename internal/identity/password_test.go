package identity

import (
	"strings"
	"testing"

	"github.com/camvault/camvault/internal/apperr"
)

func TestCheckPassword(t *testing.T) {
	const email = "annlee@example.com"
	for _, c := range []struct {
		password string
		ok       bool
	}{
		{"correct horse battery", true},
		{"ten chars!", true},
		{"çà-ü-é-ñ-ø", true},                      // ten characters, more bytes
		{strings.Repeat("abcd", 64), true},        // 256 bytes
		{strings.Repeat("abcd", 64) + "e", false}, // 257 bytes
		{"nine char", false},
		{"", false},
		{"Password123", false}, // a well-known one, in any case
		{"1234567890", false},
		{"aaaaabbbbbccccc", false}, // three different characters
		{"my annlee password", false},
		{"AnnLee-secret-1", false},
		{"annlee@example.com", false},
		{"\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8\xf7\xf6", false}, // not UTF-8
	} {
		err := checkPassword(c.password, email)
		if c.ok && err != nil {
			t.Errorf("checkPassword(%q): %v", c.password, err)
		}
		if !c.ok && apperr.CodeOf(err) != apperr.WeakPassword {
			t.Errorf("checkPassword(%q) = %v, want weak_password", c.password, err)
		}
	}
}

func TestPasswordHash(t *testing.T) {
	p := Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1}
	h, err := hashPassword("correct horse battery", p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("hash %q is not in the PHC format with its parameters", h)
	}
	if again, _ := hashPassword("correct horse battery", p); again == h {
		t.Error("two hashes of one password are equal: no fresh salt")
	}
	for _, c := range []struct {
		password, hash string
		ok             bool
		fails          bool
	}{
		{"correct horse battery", h, true, false},
		{"correct horse batterY", h, false, false},
		{"", h, false, false},
		{"correct horse battery", strings.Replace(h, "argon2id", "argon2i", 1), false, true},
		{"correct horse battery", strings.Replace(h, "v=19", "v=16", 1), false, true},
		{"correct horse battery", "$argon2id$v=19$m=64,t=1,p=1$!!!$AAAA", false, true},
		{"correct horse battery", "plain", false, true},
	} {
		ok, err := verifyPassword(c.password, c.hash)
		if ok != c.ok || (err != nil) != c.fails {
			t.Errorf("verifyPassword(%q, %q) = %v, %v; want %v, error %v", c.password, c.hash, ok, err, c.ok, c.fails)
		}
	}
}
