package storm

import (
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// requiredFields are the JSON names scripts rely on.
var requiredFields = []string{"cameras", "viewers", "events_generated", "events_stored", "lost", "duplicates",
	"media_responses", "foreign_media", "reconnect_seconds_p50", "reconnect_seconds_p99", "reconnect_seconds_max",
	"connects_per_second_peak", "shed_503", "upload_ms_p99", "server_rss_peak_bytes", "idle_conn_bytes"}

func sampleResult() *Result {
	r := &Result{Cameras: 1000, Viewers: 20, Accounts: 100, EventsGenerated: 500, EventsStored: 500, MediaResponses: 80, StreamEvents: 450,
		ReconnectSecondsP50: 1.5, ReconnectSecondsP99: 9.25, ReconnectSecondsMax: 12, ConnectsPerSecondPeak: 850,
		Shed503: 3, UploadMsP99: 41.5, ServerRSSPeakBytes: 200 << 20, IdleConnBytes: 20480, NetFaults: "latency=5ms",
		OutageSeconds: 10}
	for i := range 41 {
		online := int64(1000)
		if i >= 10 && i < 20 {
			online = 0
		}
		r.Timeline = append(r.Timeline, Sample{T: float64(i) * 0.5, Online: online, Requests: int64(i * 40)})
	}
	r.Phases = []PhaseMark{{"connect", 0}, {"warmup", 1}, {"outage", 5}, {"recovery", 10}, {"drain", 15}, {"verify", 19.5}}
	r.check()
	return r
}

func TestResultJSON(t *testing.T) {
	path := filepath.Join(t.TempDir(), "result.json")
	r := sampleResult()
	if err := r.WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	for _, f := range requiredFields {
		if _, ok := m[f]; !ok {
			t.Errorf("the JSON has no %q", f)
		}
	}
	if m["cameras"] != 1000.0 || m["shed_503"] != 3.0 || m["upload_ms_p99"] != 41.5 || m["ok"] != true {
		t.Errorf("unexpected values: %s", raw)
	}
	if _, ok := m["Timeline"]; ok {
		t.Error("the timeline is in the JSON")
	}
}

func TestResultCheck(t *testing.T) {
	r := sampleResult()
	if !r.OK || len(r.Failures) != 0 {
		t.Fatalf("a clean result fails: %v", r.Failures)
	}
	for name, spoil := range map[string]func(*Result){
		"foreign_media":         func(r *Result) { r.ForeignMedia = 1 },
		"lost":                  func(r *Result) { r.Lost = 2 },
		"duplicates":            func(r *Result) { r.Duplicates = 1 },
		"timed out":             func(r *Result) { r.TimedOut = true },
		"no events":             func(r *Result) { r.EventsGenerated = 0 },
		"foreign_events":        func(r *Result) { r.ForeignEvents = 1 },
		"mislabeled":            func(r *Result) { r.MislabeledMedia = 1 },
		"foreign_stream_events": func(r *Result) { r.ForeignStreamEvents = 1 },
		"stream_events":         func(r *Result) { r.StreamEvents = 0 },
		"alerts_foreign":        func(r *Result) { r.AlertsForeign = 1 },
		"alerts_bad_signature":  func(r *Result) { r.AlertsBadSignature = 1 },
		"alerts_missing":        func(r *Result) { r.AlertsMissing = 3 },
		"alerts:":               func(r *Result) { r.Webhooks, r.Alerts = true, 0 },
	} {
		r := sampleResult()
		spoil(r)
		r.check()
		if r.OK || len(r.Failures) != 1 || !strings.Contains(r.Failures[0], name) {
			t.Errorf("%s: ok %v, failures %q", name, r.OK, r.Failures)
		}
	}
}

func TestReportHTML(t *testing.T) {
	path := filepath.Join(t.TempDir(), "report.html")
	r := sampleResult()
	r.ForeignMedia = 2
	r.NetFaults = "<script>alert(1)</script>"
	r.check()
	if err := r.WriteHTML(path); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	page := string(raw)
	for _, want := range []string{"<!doctype html>", "FAILED", "foreign_media: 2 frames", "<svg", "connected cameras", "requests/s", "<title>outage</title>"} {
		if !strings.Contains(page, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
	for _, f := range requiredFields {
		if !strings.Contains(page, "<td>"+f+"</td>") {
			t.Errorf("the summary table lacks %s", f)
		}
	}
	if strings.Contains(page, "<script>") {
		t.Error("the report does not escape what it shows")
	}
	if !strings.Contains(page, "209715200 (200.0 MiB)") {
		t.Error("bytes are not shown readably")
	}
	// Self-contained: nothing is loaded from elsewhere.
	if regexp.MustCompile(`(?i)(src|href)=`).MatchString(page) {
		t.Error("the report loads something from elsewhere")
	}
	// The chart is well-formed SVG, the outage shaded from t=5 s to t=10 s
	// of 20 s: from 60 + 770/4 = 252.5 to 445.
	svg := regexp.MustCompile(`(?s)<svg.*</svg>`).FindString(page)
	dec := xml.NewDecoder(strings.NewReader(svg))
	for {
		if _, err := dec.Token(); err != nil {
			if err.Error() != "EOF" {
				t.Fatalf("the chart is not well-formed: %v", err)
			}
			break
		}
	}
	if !strings.Contains(svg, `<rect x="252.5" y="20" width="192.5"`) {
		t.Errorf("the outage is not shaded where expected: %s", svg[:min(len(svg), 600)])
	}
	if n := strings.Count(svg, "<polyline"); n != 2 {
		t.Errorf("%d lines, want 2 (cameras and request rate)", n)
	}
}

func TestReportWithoutSamples(t *testing.T) {
	var b strings.Builder
	r := &Result{}
	r.check()
	if err := r.Render(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "Not enough samples") {
		t.Error("no note about the missing chart")
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 20 << 20: "20.0 MiB", -2048: "-2.0 KiB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
