package storm

import (
	"bytes"
	"encoding/json"
	"image/jpeg"
	"strings"
	"testing"

	"github.com/camvault/camvault/internal/media"
)

// TestHostilePictures: the crafted thumbnails are what the attack says
// they are. Crafted pictures decode (the bomb is the same with more
// scans: a reader without a limit on scans passes over every block in
// each), and the scan bomb is refused by the server's check for its
// scans; the twelve-scan picture of 8192 pixels a side and the dense one
// pass the check (so each costs its work in the check pool); all fit the
// thumbnail limit.
func TestHostilePictures(t *testing.T) {
	bomb, progressive := craftedJPEG(8192, 2000), craftedJPEG(8192, 11)
	dense, err := densePicture()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("scan bomb %d bytes, progressive %d bytes, dense %d bytes", len(bomb), len(progressive), len(dense))
	if _, err := jpeg.Decode(bytes.NewReader(craftedJPEG(512, 50))); err != nil {
		t.Errorf("a crafted picture of 51 scans does not decode: %v", err)
	}
	if err := media.CheckJPEG(bomb); err == nil || !strings.Contains(err.Error(), "scans") {
		t.Errorf("the scan bomb: %v; want it refused for its scans", err)
	}
	for name, b := range map[string][]byte{"progressive": progressive, "dense": dense, "bomb": bomb} {
		if name != "bomb" {
			if err := media.CheckJPEG(b); err != nil {
				t.Errorf("%s picture refused: %v", name, err)
			}
		}
		if len(b) > 1<<20 {
			t.Errorf("%s picture: %d bytes, over the thumbnail limit", name, len(b))
		}
	}
}

// TestManyRanges: the range request asks for more ranges than the server
// answers in parts, and fits the server's header limit (32 KiB).
func TestManyRanges(t *testing.T) {
	h := manyRanges()
	if n := strings.Count(h, ",") + 1; n != 2000 || n <= media.MaxRanges {
		t.Errorf("%d ranges", n)
	}
	if len(h) > 24<<10 {
		t.Errorf("a Range header of %d bytes", len(h))
	}
}

// TestHouseholdAddresses: each household signs up from an address of its
// own, never the hostile household's or 127.0.0.1.
func TestHouseholdAddresses(t *testing.T) {
	seen := map[string]bool{}
	for i := range 70000 {
		a := householdAddr(i).String()
		if seen[a] || a == "127.0.0.1" || a == hostileAddr(0).String() || !householdAddr(i).IsLoopback() {
			t.Fatalf("household %d signs up from %s", i, a)
		}
		seen[a] = true
	}
}

// sampleHostile is a hostile storm's result within every bound.
func sampleHostile() *Result {
	r := sampleResult()
	r.Hostile = &Hostile{HostileAddresses: 4, HostileCameras: 2, HostileConnections: hostileConns,
		HostileStalledUploads: 100, HostileStalledCut: 4, HostileStalledHoldMsMax: 10200, HostileRangeRequests: 50, HostileRangeWhole: 50,
		HostileBaselineUploadMsP99: 700, HostileBaselineViewMsP99: 500, HostileBaselineLoginMsP99: 2000,
		HostileOthersUploads: 600, HostileOthersUploadFails: 5, HostileOthersUploadMsP99: 1400,
		HostileOthersViews: 180, HostileOthersViewMsP99: 800, HostileOthersLogins: 13, HostileOthersLoginMsP99: 7000,
		HostileRSSStart: 100 << 20, HostileRSSPeak: 250 << 20, HostileMetricsStart: 23 << 10, HostileMetricsMax: 30 << 10,
		HostileLogPerRequest: 140, HostileLogLineMaxBytes: 962,
		HostileBoundFailedRatio: boundFailedRatio, HostileBoundP99FloorMs: boundP99FloorMs, HostileBoundP99OverBaseline: boundP99OverBaseline,
		HostileBoundStalledHoldMs: boundStalledHoldMs, HostileBoundRSSGrowth: 384 << 20, HostileBoundMetricsGrowth: boundMetricsGrowth,
		HostileBoundLogPerRequest: boundLogPerRequest, HostileBoundLogLineMaxBytes: boundLogLineMaxSize}
	h := r.Hostile
	h.HostileBoundUploadMsP99, h.HostileBoundViewMsP99, h.HostileBoundLoginMsP99 = 5000, 5000, 12000 // max(5 s, 6 × baseline)
	r.check()
	return r
}

// TestHostileCheck: a hostile storm fails on each bound the other
// households or the servers pass, and only on that one.
func TestHostileCheck(t *testing.T) {
	if r := sampleHostile(); !r.OK {
		t.Fatalf("a result within the bounds fails: %v", r.Failures)
	}
	for name, spoil := range map[string]func(h *Hostile){
		"hostile_others_uploads: 7 of 600 failed":     func(h *Hostile) { h.HostileOthersUploadFails = 7 },
		"hostile_others_views: p99 5100 ms":           func(h *Hostile) { h.HostileOthersViewMsP99 = 5100 },
		"hostile_others_logins: p99 12100 ms":         func(h *Hostile) { h.HostileOthersLoginMsP99 = 12100 },
		"hostile_others_logins: none measured":        func(h *Hostile) { h.HostileOthersLogins = 0 },
		"hostile_stalled_uncut":                       func(h *Hostile) { h.HostileStalledUncut = 1 },
		"hostile_stalled_hold_ms_max":                 func(h *Hostile) { h.HostileStalledHoldMsMax = 16000 },
		"hostile_range_parts":                         func(h *Hostile) { h.HostileRangeParts = 1 },
		"hostile_rss_peak_bytes":                      func(h *Hostile) { h.HostileRSSPeak = 500 << 20 },
		"hostile_metrics_max_bytes: /metrics grew by": func(h *Hostile) { h.HostileMetricsMax = 46 << 20 },
		"hostile_log_bytes_per_request":               func(h *Hostile) { h.HostileLogPerRequest = 2900 },
		"hostile_log_line_max_bytes":                  func(h *Hostile) { h.HostileLogLineMaxBytes = 16535 },
	} {
		r := sampleHostile()
		spoil(r.Hostile)
		r.check()
		if r.OK || len(r.Failures) != 1 || !strings.Contains(r.Failures[0], name) {
			t.Errorf("%s: ok %v, failures %q", name, r.OK, r.Failures)
		}
	}
}

// TestHostileReport: the hostile figures are hostile_* fields of the
// JSON, only in a hostile storm's, and the report has a section of them.
func TestHostileReport(t *testing.T) {
	for _, hostile := range []bool{false, true} {
		r := sampleResult()
		if hostile {
			r = sampleHostile()
		}
		raw, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		_, has := m["hostile_others_login_ms_p99"]
		_, hasBound := m["hostile_bound_login_ms_p99"]
		var page strings.Builder
		if err := r.Render(&page); err != nil {
			t.Fatal(err)
		}
		section := strings.Contains(page.String(), "<h2>Hostile household</h2>")
		if has != hostile || hasBound != hostile || section != hostile {
			t.Errorf("hostile %v: JSON figures %v, bounds %v, report section %v", hostile, has, hasBound, section)
		}
		if hostile && !strings.Contains(page.String(), "13, 0 failed, p99 7000 ms") {
			t.Error("the report's section lacks the others' logins during the attack")
		}
	}
}
