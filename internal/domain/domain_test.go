package domain_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/camvault/camvault/internal/domain"
)

func TestEventKinds(t *testing.T) {
	seen := map[domain.EventKind]bool{}
	for _, k := range domain.EventKinds() {
		if k == "" || seen[k] {
			t.Errorf("kind %q is empty or listed twice", k)
		}
		seen[k] = true
		got, err := domain.ParseEventKind(string(k))
		if err != nil || got != k || !k.Valid() {
			t.Errorf("ParseEventKind(%q) = %q, %v; Valid %v", k, got, err, k.Valid())
		}
	}
	for _, k := range []string{"vehicle", "animal", "package", "doorbell"} {
		if !seen[domain.EventKind(k)] {
			t.Errorf("API.md's kind %q is not in EventKinds", k)
		}
	}

	// The list is the caller's copy: changing it changes nothing here.
	list := domain.EventKinds()
	list[0] = "bogus"
	if domain.EventKind("bogus").Valid() {
		t.Fatal("changing the returned list changed the kinds")
	}
}

func TestParseEventKindRefusal(t *testing.T) {
	for _, s := range []string{"", "dog", "Motion", "motion ", "motion,person"} {
		k, err := domain.ParseEventKind(s)
		if err == nil {
			t.Errorf("ParseEventKind(%q) = %q, want an error", s, k)
			continue
		}
		if domain.EventKind(s).Valid() {
			t.Errorf("%q is Valid yet refused", s)
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "kind must be one of ") {
			t.Errorf("ParseEventKind(%q): message %q", s, msg)
		}
		for _, k := range domain.EventKinds() {
			if !strings.Contains(msg, strconv.Quote(string(k))) {
				t.Errorf("ParseEventKind(%q): message %q does not name %q", s, msg, k)
			}
		}
	}
}
