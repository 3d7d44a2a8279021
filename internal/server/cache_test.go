package server_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/camvault/camvault/internal/cache/faults"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/identity"
	"github.com/camvault/camvault/internal/server"
)

// newCacheEnv is newEnv with cache faults injected. The breaker is kept
// out of the way (a threshold never reached) unless breakerAt > 0, so the
// faulty cache stays in the path and sealing and versions alone must keep
// every answer right.
func newCacheEnv(t *testing.T, spec string, breakerAt int) *env {
	t.Helper()
	f, err := faults.ParseSpec(spec)
	if err != nil {
		t.Fatal(err)
	}
	return newEnv(t, func(o *server.Options) {
		o.Identity.Argon2 = identity.Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1}
		o.Cache.Faults = f
		o.Breaker.Threshold = 1 << 30
		if breakerAt > 0 {
			o.Breaker.Threshold = breakerAt
		}
	})
}

// household is a home with two cameras and their events.
type household struct {
	owner  person
	home   string
	cams   []camera
	events map[string]uploaded // by event ID
	byCam  map[string]string   // event ID -> camera ID
}

func (e *env) household(name string) *household {
	e.t.Helper()
	h := &household{owner: e.signup(name), events: map[string]uploaded{}, byCam: map[string]string{}}
	h.home = e.home(h.owner, name+"'s home")
	for i := range 2 {
		cam := e.pairCamera(h.owner, h.home)
		h.cams = append(h.cams, cam)
		for j := range 2 {
			u := e.upload(cam, fmt.Sprintf("%s-%d-%d", name, i, j), recent(10+i*2+j), 0)
			h.events[u.id] = u
			h.byCam[u.id] = cam.id
		}
	}
	return h
}

// reads has tok read every event of every household, several times (so
// entries are written, then read back through the faults), and checks each
// answer against the store's truth: may(eventID) says whether tok may see
// it. Media must be the event's own bytes; anything else a 404.
func (e *env) reads(who, tok string, all []*household, may func(h *household, eventID string) bool) {
	e.t.Helper()
	for round := range 3 {
		for _, h := range all {
			for evID, u := range h.events {
				thumb := e.req("GET", "/api/v1/events/"+evID+"/thumbnail", tok, nil, nil)
				meta := e.call("GET", "/api/v1/events/"+evID, tok, nil)
				if may(h, evID) {
					if thumb.status != 200 || !bytes.Equal(thumb.raw, u.thumb) {
						e.t.Fatalf("round %d: %s reads thumbnail of %s in %s: %d, own bytes %v", round, who, evID, h.home, thumb.status, bytes.Equal(thumb.raw, u.thumb))
					}
					if meta.status != 200 || meta.str("home_id") != h.home || meta.str("device_id") != h.byCam[evID] {
						e.t.Fatalf("round %d: %s reads event %s: %d %s", round, who, evID, meta.status, meta.raw)
					}
					continue
				}
				if thumb.status != 404 || meta.status != 404 {
					e.t.Fatalf("round %d: %s reads %s, which it may not see: thumbnail %d, event %d", round, who, evID, thumb.status, meta.status)
				}
				for _, other := range all {
					for _, ou := range other.events {
						if len(thumb.raw) > 0 && bytes.Contains(thumb.raw, ou.thumb[len(ou.thumb)-64:]) {
							e.t.Fatalf("round %d: %s got media of %s", round, who, other.home)
						}
					}
				}
			}
			for _, cam := range h.cams {
				r := e.call("GET", "/api/v1/events?device="+cam.id, tok, nil)
				want := 0
				for evID := range h.events {
					if h.byCam[evID] == cam.id && may(h, evID) {
						want++
					}
				}
				if want == 0 {
					if r.status != 404 {
						e.t.Fatalf("round %d: %s lists camera %s of another household: %d", round, who, cam.id, r.status)
					}
					continue
				}
				if list, _ := r.body["events"].([]any); r.status != 200 || len(list) != want {
					e.t.Fatalf("round %d: %s lists camera %s: %d, %d events, want %d", round, who, cam.id, r.status, len(list), want)
				}
			}
		}
	}
}

// TestCacheFaultsNeverMixHouseholds runs the services with every fault the
// cache harness knows at rate 1.0: every answer still comes out right from
// the store, no media crosses households, and logout, unshare and unpair
// are seen on the very next request.
func TestCacheFaultsNeverMixHouseholds(t *testing.T) {
	for _, spec := range []string{
		"swap=1.0", "stale=1.0", "corrupt=1.0", "drop=1.0", "delay=2ms",
		"swap=1.0,stale=1.0,corrupt=1.0,drop=1.0,delay=1ms",
		"", // no faults: the same answers with the cache working
	} {
		t.Run(strings.ReplaceAll(spec, ",", "+"), func(t *testing.T) {
			t.Parallel()
			e := newCacheEnv(t, spec, 0)
			ann, bob := e.household("ann"), e.household("bob")
			all := []*household{ann, bob}
			// Carol is a viewer of Ann's first camera only.
			carol := e.signup("carol")
			e.share(ann.owner, ann.home, carol, "viewer", ann.cams[0].id)

			owns := func(p *household) func(*household, string) bool {
				return func(h *household, _ string) bool { return h == p }
			}
			carolMay := func(h *household, evID string) bool { return h == ann && ann.byCam[evID] == ann.cams[0].id }
			e.reads("ann", ann.owner.token, all, owns(ann))
			e.reads("bob", bob.owner.token, all, owns(bob))
			e.reads("carol", carol.token, all, carolMay)

			// Unshare: the very next request is refused.
			e.must(204, "DELETE", "/api/v1/homes/"+ann.home+"/members/"+carol.id, ann.owner.token, nil)
			e.reads("carol after unsharing", carol.token, all, func(*household, string) bool { return false })

			// Unpair: the camera's events and listing are gone at once.
			gone := ann.cams[1]
			e.must(204, "DELETE", "/api/v1/devices/"+gone.id, ann.owner.token, nil)
			e.must(404, "GET", "/api/v1/events?device="+gone.id, ann.owner.token, nil)
			for evID := range ann.events {
				if ann.byCam[evID] == gone.id {
					delete(ann.events, evID)
				}
			}
			ann.cams = ann.cams[:1]
			e.reads("ann after unpairing", ann.owner.token, all, owns(ann))

			// Logout: the token stops at once, whatever the cache holds.
			e.must(204, "DELETE", "/api/v1/sessions/current", bob.owner.token, nil)
			for evID := range bob.events {
				e.must(401, "GET", "/api/v1/events/"+evID+"/thumbnail", bob.owner.token, nil)
			}
			bob.owner.token = e.login(bob.owner.email, bob.owner.password)
			e.reads("bob logged in again", bob.owner.token, all, owns(bob))

			mismatches := metricValue(t, e.adminGet("/metrics"), "camvault_cache_mismatch_total")
			incidents := e.incidents()
			var cacheIncidents int
			for _, in := range incidents {
				switch in.Kind {
				case "cache_mismatch":
					cacheIncidents++
					if in.RequesterKind != "person" || !id.Valid(in.RequesterID) || in.Detail == "" {
						t.Errorf("cache mismatch incident does not say who asked: %+v", in)
					}
				case "egress_blocked":
					t.Errorf("a response reached the last-step check with the wrong label: %+v", in)
				}
			}
			if float64(cacheIncidents) != mismatches {
				t.Errorf("%v mismatches counted, %d recorded as incidents", mismatches, cacheIncidents)
			}
			refusing := strings.Contains(spec, "swap") || strings.Contains(spec, "corrupt")
			if refusing && mismatches == 0 {
				t.Errorf("faults %q: no cache mismatch counted", spec)
			}
			if !refusing && mismatches != 0 {
				t.Errorf("faults %q: %v cache mismatches counted, want none", spec, mismatches)
			}
		})
	}
}

// incidents reads the incidents as `camvault admin incidents` does.
func (e *env) incidents() []domain.Incident {
	e.t.Helper()
	o, err := server.OpenOffline(e.t.Context(), server.Config{DataDir: e.data})
	if err != nil {
		e.t.Fatal(err)
	}
	defer o.Close()
	list, err := o.Store.ListIncidents(e.t.Context(), 10000)
	if err != nil {
		e.t.Fatal(err)
	}
	return list
}

// metricValue finds an unlabelled metric's value in a Prometheus text page.
func metricValue(t *testing.T, page, name string) float64 {
	t.Helper()
	for line := range strings.SplitSeq(page, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			var f float64
			if _, err := fmt.Sscan(v, &f); err != nil {
				t.Fatalf("metric %s: %q", name, line)
			}
			return f
		}
	}
	t.Fatalf("metric %s not on the page", name)
	return 0
}

// TestBreakerTripsAndResets: cache mismatches past the threshold take the
// cache out of the paths (no more mismatches, every answer still right),
// with a metric and an incident; an operator's reset puts it back.
func TestBreakerTripsAndResets(t *testing.T) {
	t.Parallel()
	e := newCacheEnv(t, "swap=1.0", 3)
	ann, bob := e.household("ann"), e.household("bob")
	all := []*household{ann, bob}
	owns := func(p *household) func(*household, string) bool {
		return func(h *household, _ string) bool { return h == p }
	}
	e.reads("ann", ann.owner.token, all, owns(ann))
	page := e.adminGet("/metrics")
	if metricValue(t, page, "camvault_cache_breaker_open") != 1 || metricValue(t, page, "camvault_cache_breaker_trips_total") != 1 {
		t.Fatalf("breaker not open after swapped entries:\n%s", grepLines(page, "camvault_cache"))
	}
	eventually(t, "the trip is recorded in the store with an incident", func() bool {
		var b bytes.Buffer
		o, err := server.OpenOffline(t.Context(), server.Config{DataDir: e.data})
		if err != nil {
			t.Fatal(err)
		}
		defer o.Close()
		if err := o.BreakerStatus(t.Context(), &b); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), "OPEN") {
			return false
		}
		for _, in := range e.incidents() {
			if in.Kind == "breaker_open" && strings.Contains(in.Detail, "cache_mismatch") {
				return true
			}
		}
		return false
	})

	// Open: the cache is bypassed, so no more mismatches, and every answer
	// is still right.
	before := metricValue(t, e.adminGet("/metrics"), "camvault_cache_mismatch_total")
	e.reads("ann, breaker open", ann.owner.token, all, owns(ann))
	e.reads("bob, breaker open", bob.owner.token, all, owns(bob))
	if after := metricValue(t, e.adminGet("/metrics"), "camvault_cache_mismatch_total"); after != before {
		t.Fatalf("the cache was used with the breaker open: mismatches went from %v to %v", before, after)
	}

	// Reset, as `camvault admin breaker reset` does: the server follows.
	o, err := server.OpenOffline(t.Context(), server.Config{DataDir: e.data})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := o.BreakerReset(t.Context(), &out, "test"); err != nil || !strings.Contains(out.String(), "reset") {
		t.Fatalf("reset: %v %s", err, out.String())
	}
	o.Close()
	eventually(t, "the server closes the breaker", func() bool {
		return metricValue(t, e.adminGet("/metrics"), "camvault_cache_breaker_open") == 0
	})
	// Back in the path: the faulty cache is consulted (and refused) again,
	// and trips the breaker a second time.
	e.reads("bob after reset", bob.owner.token, all, owns(bob))
	page = e.adminGet("/metrics")
	if metricValue(t, page, "camvault_cache_mismatch_total") == before || metricValue(t, page, "camvault_cache_breaker_trips_total") != 2 {
		t.Fatalf("after the reset the cache is not back in the path:\n%s", grepLines(page, "camvault_cache"))
	}
}

func grepLines(page, prefix string) string {
	var out []string
	for line := range strings.SplitSeq(page, "\n") {
		if strings.HasPrefix(line, prefix) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
