package web

import (
	"slices"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/events"
)

func TestDuration(t *testing.T) {
	for ms, want := range map[int64]string{
		0: "0:00", 499: "0:00", 500: "0:01", 2000: "0:02", 8123: "0:08", 59_499: "0:59", 59_500: "1:00",
		754_000: "12:34", 3_723_000: "1:02:03", 86_400_000: "24:00:00",
	} {
		if got := duration(ms); got != want {
			t.Errorf("duration(%d) = %q, want %q", ms, got, want)
		}
	}
}

func TestDayItems(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	at := func(s string) events.View {
		tm, err := time.Parse(time.DateTime, s)
		if err != nil {
			t.Fatal(err)
		}
		return events.View{StartedAt: tm}
	}
	list := []events.View{
		at("2026-12-05 11:59:59"), at("2026-12-05 00:00:00"),
		at("2026-12-04 23:59:59"), at("2026-12-04 08:00:00"),
		at("2026-12-01 10:00:00"),
		at("2025-12-31 23:00:00"),
	}
	var days []string
	for _, it := range dayItems(list, "", now) {
		days = append(days, it.Day)
	}
	want := []string{"Today", "", "Yesterday", "", "Tuesday 1 December", "Wednesday 31 December 2025"}
	if !slices.Equal(days, want) {
		t.Errorf("headings %q, want %q", days, want)
	}
	// The next page goes on under the last heading of the one before.
	days = nil
	for _, it := range dayItems(list[3:], "2026-12-04", now) {
		days = append(days, it.Day)
	}
	if want := []string{"", "Tuesday 1 December", "Wednesday 31 December 2025"}; !slices.Equal(days, want) {
		t.Errorf("next page's headings %q, want %q", days, want)
	}
}
