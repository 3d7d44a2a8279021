package storm

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// camvaultBinary is the camvault binary, built once for the package's tests.
var camvaultBinary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "camvault-storm-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	camvaultBinary = filepath.Join(dir, "camvault")
	build := exec.Command("go", "build", "-o", camvaultBinary, "../../../cmd/camvault")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build camvault:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// TestStorm runs a tiny storm end to end against the real binary: a
// server process, killed and restarted, cameras and viewers over loopback.
func TestStorm(t *testing.T) {
	if testing.Short() {
		t.Skip("a storm takes a while")
	}
	dir := t.TempDir()
	jsonPath, reportPath := filepath.Join(dir, "storm.json"), filepath.Join(dir, "storm.html")
	res, err := Run(t.Context(), Config{
		Binary:          camvaultBinary,
		Dir:             filepath.Join(dir, "run"),
		Accounts:        2,
		Cameras:         10,
		Viewers:         2,
		LiveViewers:     2,
		LiveDwell:       time.Second,
		PartnerDisplays: 4,
		Warmup:          2 * time.Second,
		Outage:          time.Second,
		Timeout:         30 * time.Second,
		EventInterval:   500 * time.Millisecond,
		ViewerEvery:     200 * time.Millisecond,
		BackoffCap:      2 * time.Second, // keep the test short: the protocol's cap is 5 min
		JSONPath:        jsonPath,
		ReportPath:      reportPath,
		Log:             slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Cameras         int      `json:"cameras"`
		Viewers         int      `json:"viewers"`
		EventsGenerated int64    `json:"events_generated"`
		EventsStored    int64    `json:"events_stored"`
		Lost            *int64   `json:"lost"`
		Duplicates      *int64   `json:"duplicates"`
		MediaResponses  int64    `json:"media_responses"`
		ForeignMedia    *int64   `json:"foreign_media"`
		ReconnectMax    float64  `json:"reconnect_seconds_max"`
		ConnectsPeak    float64  `json:"connects_per_second_peak"`
		RSSPeak         int64    `json:"server_rss_peak_bytes"`
		UploadP99       float64  `json:"upload_ms_p99"`
		OK              bool     `json:"ok"`
		Failures        []string `json:"failures"`

		LiveSessions int64    `json:"live_sessions"`
		LiveFrames   int64    `json:"live_frames"`
		ForeignLive  *int64   `json:"foreign_live_frames"`
		LiveTTFFP99  *float64 `json:"live_ttff_ms_p99"`
		LiveLatency  *float64 `json:"live_latency_ms_p99"`
		Revocations  *int64   `json:"live_revocations"`
		RevokeCutoff *float64 `json:"live_revoke_cutoff_ms_max"`

		PartnerMedia       int64  `json:"partner_media"`
		PartnerForeign     *int64 `json:"partner_foreign"`
		PartnerUnconsented *int64 `json:"partner_unconsented"`
		PartnerAfterRevoke *int64 `json:"partner_after_revoke"`
		PartnerStopped     int64  `json:"partner_revocations"`
	}
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	t.Logf("result: %s", raw)
	if got.Lost == nil || *got.Lost != 0 || got.Duplicates == nil || *got.Duplicates != 0 || got.ForeignMedia == nil || *got.ForeignMedia != 0 {
		t.Errorf("lost, duplicates, foreign_media: want 0 each")
	}
	if got.EventsGenerated == 0 || got.EventsStored != got.EventsGenerated {
		t.Errorf("generated %d, stored %d: want the same, and more than none", got.EventsGenerated, got.EventsStored)
	}
	if !got.OK || !res.OK {
		t.Errorf("not ok: %v", got.Failures)
	}
	if got.Cameras != 10 || got.Viewers != 2 {
		t.Errorf("cameras %d, viewers %d", got.Cameras, got.Viewers)
	}
	if got.MediaResponses == 0 {
		t.Error("the viewers received no media")
	}
	if got.LiveSessions == 0 || got.LiveFrames == 0 || got.ForeignLive == nil || *got.ForeignLive != 0 {
		t.Errorf("live sessions %d, frames %d, foreign %v: want sessions and frames, none foreign", got.LiveSessions, got.LiveFrames, got.ForeignLive)
	}
	if got.LiveTTFFP99 == nil || got.LiveLatency == nil || got.Revocations == nil || got.RevokeCutoff == nil {
		t.Error("live measurements missing from the JSON")
	}
	if got.PartnerMedia == 0 || got.PartnerStopped == 0 || got.PartnerForeign == nil || *got.PartnerForeign != 0 ||
		got.PartnerUnconsented == nil || *got.PartnerUnconsented != 0 || got.PartnerAfterRevoke == nil || *got.PartnerAfterRevoke != 0 {
		t.Errorf("partner displays: media %d, links stopped %d, foreign %v, unconsented %v, after a stop %v: want media and stops, the rest 0",
			got.PartnerMedia, got.PartnerStopped, got.PartnerForeign, got.PartnerUnconsented, got.PartnerAfterRevoke)
	}
	if got.ReconnectMax <= 0 || got.ConnectsPeak <= 0 || got.RSSPeak <= 0 || got.UploadP99 <= 0 {
		t.Errorf("measurements missing: reconnect max %v, connects/s %v, rss %v, upload p99 %v", got.ReconnectMax, got.ConnectsPeak, got.RSSPeak, got.UploadP99)
	}
	if fi, err := os.Stat(reportPath); err != nil || fi.Size() == 0 {
		t.Errorf("no report: %v", err)
	}
}

// TestSoak: a soak goes round again, outage and all, until its clients
// have checked the media asked for, and the checks hold through every
// round. One viewer fetching one thumbnail five times a second checks
// far fewer than 60 in one round.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("a storm takes a while")
	}
	const goal = 60
	res, err := Run(t.Context(), Config{
		Binary:        camvaultBinary,
		Dir:           filepath.Join(t.TempDir(), "run"),
		Accounts:      1,
		Cameras:       3,
		Viewers:       1,
		ViewerMedia:   1,
		ViewerEvery:   200 * time.Millisecond,
		Warmup:        time.Second,
		Outage:        500 * time.Millisecond,
		Timeout:       30 * time.Second,
		EventInterval: 300 * time.Millisecond,
		BackoffCap:    time.Second,
		SoakMedia:     goal,
		Log:           slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("rounds after the first %d, media checked %d, events %d/%d", res.SoakRounds, res.MediaChecked, res.EventsStored, res.EventsGenerated)
	if res.MediaChecked < goal {
		t.Errorf("media checked %d, want at least %d", res.MediaChecked, goal)
	}
	if !res.OK || res.ForeignMedia != 0 || res.Lost != 0 || res.Duplicates != 0 {
		t.Errorf("ok %v, foreign %d, lost %d, duplicates %d: %v", res.OK, res.ForeignMedia, res.Lost, res.Duplicates, res.Failures)
	}
}

// TestStormHostile runs a small storm with the hostile household against
// the real binary and checks what does not depend on the machine's speed:
// every kind of attack was sent and answered as its defence answers (the
// scan bomb refused, no more wrong passwords verified and sign-ups made
// than the limits, 2,000 ranges answered whole), the other households
// were measured before and during it and lost nothing, and /metrics and
// the log stayed within their bounds. Latencies are the storm's to judge
// (.ci/storm), not a test's.
func TestStormHostile(t *testing.T) {
	if testing.Short() {
		t.Skip("a storm takes a while")
	}
	dir := t.TempDir()
	res, err := Run(t.Context(), Config{
		Binary:         camvaultBinary,
		Dir:            filepath.Join(dir, "run"),
		Accounts:       3,
		Cameras:        9,
		Viewers:        3,
		Hostile:        true,
		Warmup:         8 * time.Second,
		Timeout:        30 * time.Second,
		EventInterval:  500 * time.Millisecond,
		ViewerEvery:    200 * time.Millisecond,
		ServerLogLevel: "info",
		JSONPath:       filepath.Join(dir, "storm.json"),
		ReportPath:     filepath.Join(dir, "storm.html"),
		Log:            slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	if err != nil {
		t.Fatal(err)
	}
	h := res.Hostile
	if h == nil {
		t.Fatal("no hostile_* figures in the result")
	}
	raw, _ := json.Marshal(res)
	t.Logf("result: %s", raw)
	if res.Lost != 0 || res.Duplicates != 0 || res.ForeignMedia != 0 || res.ForeignEvents != 0 {
		t.Errorf("lost %d, duplicates %d, foreign media %d, foreign events %d: want 0 each", res.Lost, res.Duplicates, res.ForeignMedia, res.ForeignEvents)
	}
	for what, n := range map[string]int64{
		"stalled uploads refused at once": h.HostileStalledRefused, "scan bombs refused": h.HostileJPEGRefused,
		"crafted pictures decoded and stored": h.HostileJPEGStored, "wrong passwords verified": h.HostileLoginChecked,
		"sign-ups": h.HostileSignups, "16 KiB methods": h.HostileMethods,
		"range requests answered whole": h.HostileRangeWhole, "command results": h.HostileCommandResults,
		"the others' uploads during the attack": h.HostileOthersUploads, "their views": h.HostileOthersViews,
		"their logins": h.HostileOthersLogins, "their uploads before it": h.HostileBaselineUploads,
	} {
		if n == 0 {
			t.Errorf("%s: none", what)
		}
	}
	if h.HostileRangeParts != 0 || h.HostileUnexpected != 0 {
		t.Errorf("range requests answered in parts %d, unexpected answers %d: want 0", h.HostileRangeParts, h.HostileUnexpected)
	}
	if h.HostileSignupsMade > 20*hostileAddresses {
		t.Errorf("%d sign-ups made from %d addresses: the limit is 20 an address", h.HostileSignupsMade, hostileAddresses)
	}
	if h.HostileLoginChecked > 50*hostileAddresses {
		t.Errorf("%d wrong passwords verified from %d addresses: the limit is 50 an address", h.HostileLoginChecked, hostileAddresses)
	}
	if g := h.HostileMetricsMax - h.HostileMetricsStart; g > h.HostileBoundMetricsGrowth || h.HostileMetricsStart == 0 {
		t.Errorf("/metrics from %d to %d bytes", h.HostileMetricsStart, h.HostileMetricsMax)
	}
	if h.HostileLogLineMaxBytes > h.HostileBoundLogLineMaxBytes || h.HostileLogPerRequest > h.HostileBoundLogPerRequest || h.HostileLogGrowth == 0 {
		t.Errorf("log: %d bytes, %.0f a request, longest line %d", h.HostileLogGrowth, h.HostileLogPerRequest, h.HostileLogLineMaxBytes)
	}
	page, err := os.ReadFile(filepath.Join(dir, "storm.html"))
	if err != nil || !strings.Contains(string(page), "Hostile household") {
		t.Errorf("the report has no hostile section: %v", err)
	}
}
