package store_test

import (
	"fmt"
	"testing"

	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/store"
)

// TestSplitEventQuery: each stream is one that an index answers in order,
// so a page costs at most a page per stream whatever is stored.
func TestSplitEventQuery(t *testing.T) {
	cams := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("cam%d", i)
		}
		return out
	}
	kinds := []domain.EventKind{"person", "sound"}
	for _, tc := range []struct {
		name string
		q    store.EventQuery
		want []string // each stream as home/cameras/kinds
	}{
		{"a home", store.EventQuery{Scopes: []store.EventScope{{HomeID: "h"}}}, []string{"h/*/*"}},
		{"two homes", store.EventQuery{Scopes: []store.EventScope{{HomeID: "h"}, {HomeID: "g"}}}, []string{"h/*/*", "g/*/*"}},
		{"a home and two kinds", store.EventQuery{Scopes: []store.EventScope{{HomeID: "h"}}, Kinds: kinds},
			[]string{"h/*/[person]", "h/*/[sound]"}},
		{"two cameras", store.EventQuery{Scopes: []store.EventScope{{HomeID: "h", Devices: cams(2)}}, Kinds: kinds},
			[]string{"h/[cam0]/[person sound]", "h/[cam1]/[person sound]"}},
		{"nine cameras read as the home's stream", store.EventQuery{Scopes: []store.EventScope{{HomeID: "h", Devices: cams(9)}}},
			[]string{"h/[cam0 cam1 cam2 cam3 cam4 cam5 cam6 cam7 cam8]/*"}},
		{"no camera reads nothing", store.EventQuery{Scopes: []store.EventScope{{HomeID: "h", Devices: []string{}}}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.q.Limit = 50
			var got []string
			for _, p := range store.SplitEventQuery(tc.q) {
				if len(p.Scopes) != 1 || p.Limit != 50 {
					t.Fatalf("stream %+v: want one scope and the page's limit", p)
				}
				devs, ks := "*", "*"
				if sc := p.Scopes[0]; sc.Devices != nil {
					devs = fmt.Sprint(sc.Devices)
				}
				if p.Kinds != nil {
					ks = fmt.Sprint(p.Kinds)
				}
				got = append(got, p.Scopes[0].HomeID+"/"+devs+"/"+ks)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("streams %q, want %q", got, tc.want)
			}
		})
	}

	// More streams than a page may cost: one statement.
	var scopes []store.EventScope
	for i := range 20 {
		scopes = append(scopes, store.EventScope{HomeID: fmt.Sprint("h", i), Devices: cams(4)})
	}
	q := store.EventQuery{Scopes: scopes, Limit: 50}
	if got := store.SplitEventQuery(q); len(got) != 1 || len(got[0].Scopes) != 20 {
		t.Errorf("80 streams split into %d queries, want the query as it is", len(got))
	}
}
