package bus_test

import (
	"strings"
	"testing"

	"github.com/camvault/camvault/internal/bus"
	"github.com/camvault/camvault/internal/id"
)

func TestNewSubjectRefusesWhatCouldCollide(t *testing.T) {
	good := id.New()
	for _, c := range []struct {
		name string
		ids  []string
	}{
		{"", []string{good}},
		{"Command", []string{good}},
		{"com.mand", []string{good}},
		{"command*", []string{good}},
		{"command", []string{""}},
		{"command", []string{good[:25] + "."}},
		{"command", []string{good[:25] + "*"}},
		{"command", []string{good[:25] + ">"}},
		{"command", []string{good + "." + good}},
		{"command", []string{strings.ToUpper(good)}},
	} {
		if s, err := bus.NewSubject(c.name, c.ids...); err == nil {
			t.Errorf("NewSubject(%q, %q) = %s; want an error", c.name, c.ids, s)
		}
	}
}

func TestSubjectsAreDistinct(t *testing.T) {
	a, b := id.New(), id.New()
	seen := map[string]string{}
	for _, c := range []struct {
		name string
		ids  []string
	}{
		{"command", nil}, {"command", []string{a}}, {"command", []string{b}},
		{"command", []string{a, b}}, {"command", []string{b, a}},
		{"presence", []string{a}}, {"presence", []string{a, b}},
	} {
		s, err := bus.NewSubject(c.name, c.ids...)
		if err != nil {
			t.Fatal(err)
		}
		desc := c.name + " " + strings.Join(c.ids, ",")
		if prev, dup := seen[s.String()]; dup {
			t.Fatalf("%s and %s share subject %s", prev, desc, s)
		}
		seen[s.String()] = desc
		// Splitting the subject at its dots gives back exactly its parts.
		parts := strings.Split(s.String(), ".")
		want := append([]string{"camvault", "v1", c.name}, c.ids...)
		if strings.Join(parts, "\x00") != strings.Join(want, "\x00") {
			t.Fatalf("subject %s splits into %q; want %q", s, parts, want)
		}
	}
	var zero bus.Subject
	if zero.Valid() {
		t.Fatal("the zero subject is valid")
	}
}
