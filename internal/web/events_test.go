package web_test

import (
	"net/http"
	"regexp"
	"slices"
	"testing"

	"github.com/camvault/camvault/internal/domain"
)

var (
	kindFilter = regexp.MustCompile(`(?s)<select name="kind" id="filter-kind">(.*?)</select>`)
	kindOption = regexp.MustCompile(`<option value="([^"]*)"( selected)?>`)
)

// TestEventsKindFilter checks that the Events page's kind filter offers
// exactly domain.EventKinds, in order, and that filtering on each works.
func TestEventsKindFilter(t *testing.T) {
	srv := startServer(t)
	c := newClient(t, srv.URL)
	c.signup("kinds@example.com")

	for _, k := range domain.EventKinds() {
		res, page := c.do("GET", "/events?kind="+string(k), "", nil, nil)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("/events?kind=%s: %d", k, res.StatusCode)
		}
		sel := kindFilter.FindStringSubmatch(page)
		if sel == nil {
			t.Fatalf("/events?kind=%s: no kind filter", k)
		}
		var offered []domain.EventKind
		var selected domain.EventKind
		for _, m := range kindOption.FindAllStringSubmatch(sel[1], -1) {
			if m[1] == "" {
				continue // "All kinds"
			}
			offered = append(offered, domain.EventKind(m[1]))
			if m[2] != "" {
				selected = domain.EventKind(m[1])
			}
		}
		if want := domain.EventKinds(); !slices.Equal(offered, want) {
			t.Fatalf("kind filter offers %q, want %q", offered, want)
		}
		if selected != k {
			t.Errorf("/events?kind=%s: %q selected", k, selected)
		}
	}
}
