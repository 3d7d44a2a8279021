package events

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/apperr"
	"github.com/camvault/camvault/internal/id"
)

func TestCheckMeta(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s := &Service{cfg: Config{Now: func() time.Time { return now }}}
	ok := Meta{EventID: "ev-1", StartedAt: now.Add(-time.Minute), Kind: "motion"}
	for _, c := range []struct {
		what string
		edit func(*Meta)
		ok   bool
	}{
		{"as a camera sends it", func(*Meta) {}, true},
		{"every kind: person", func(m *Meta) { m.Kind = "person" }, true},
		{"every kind: sound", func(m *Meta) { m.Kind = "sound" }, true},
		{"an id of 64 of the allowed characters", func(m *Meta) { m.EventID = strings.Repeat("aZ0_-", 12) + "abcd" }, true},
		{"a camera clock a little ahead", func(m *Meta) { m.StartedAt = now.Add(23 * time.Hour) }, true},
		{"an old event from an offline queue", func(m *Meta) { m.StartedAt = time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC) }, true},
		{"no event id", func(m *Meta) { m.EventID = "" }, false},
		{"an event id of 65 characters", func(m *Meta) { m.EventID = strings.Repeat("a", 65) }, false},
		{"a dot in the event id", func(m *Meta) { m.EventID = "ev.1" }, false},
		{"a slash in the event id", func(m *Meta) { m.EventID = "../ev" }, false},
		{"a space in the event id", func(m *Meta) { m.EventID = "ev 1" }, false},
		{"a newline after the event id", func(m *Meta) { m.EventID = "ev-1\n" }, false},
		{"no kind", func(m *Meta) { m.Kind = "" }, false},
		{"an unknown kind", func(m *Meta) { m.Kind = "cat" }, false},
		{"a kind in capitals", func(m *Meta) { m.Kind = "Motion" }, false},
		{"no start", func(m *Meta) { m.StartedAt = time.Time{} }, false},
		// A wrong clock is not a bad event: it is kept, dated by its
		// receipt (TestCameraClockOff).
		{"a clock reset to 2000", func(m *Meta) { m.StartedAt = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC) }, true},
		{"a start more than a day ahead", func(m *Meta) { m.StartedAt = now.Add(25 * time.Hour) }, true},
	} {
		m := ok
		c.edit(&m)
		err := s.checkMeta(m)
		if c.ok && err != nil {
			t.Errorf("%s: %v", c.what, err)
		}
		if !c.ok && apperr.CodeOf(err) != apperr.Invalid {
			t.Errorf("%s: %v, want invalid", c.what, err)
		}
	}
}

func TestCursors(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 123456000, time.UTC)
	eventID := id.New()
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for _, c := range []struct {
		what   string
		before string
		at     time.Time
		id     string
		ok     bool
	}{
		{"none", "", time.Time{}, "", true},
		{"a page's next", cursor(at, eventID), at, eventID, true},
		{"an RFC 3339 time", "2026-03-01T12:00:00Z", at.Truncate(time.Second), "", true},
		{"an RFC 3339 time with an offset", "2026-03-01T14:00:00+02:00", at.Truncate(time.Second), "", true},
		{"a date alone", "2026-03-01", time.Time{}, "", false},
		{"not base64", "%%%", time.Time{}, "", false},
		{"base64 padding", cursor(at, eventID) + "==", time.Time{}, "", false},
		{"no dot", enc("1772366400123456" + eventID), time.Time{}, "", false},
		{"not a number", enc("soon." + eventID), time.Time{}, "", false},
		{"not an event ID", enc("1772366400123456.ev-1"), time.Time{}, "", false},
		{"an empty event ID", enc("1772366400123456."), time.Time{}, "", false},
	} {
		gotAt, gotID, err := parseBefore(c.before)
		if c.ok && (err != nil || !gotAt.Equal(c.at) || gotID != c.id) {
			t.Errorf("%s: %v %q %v; want %v %q", c.what, gotAt, gotID, err, c.at, c.id)
		}
		if !c.ok && apperr.CodeOf(err) != apperr.Invalid {
			t.Errorf("%s: %v %q %v; want invalid", c.what, gotAt, gotID, err)
		}
	}
}
