package storm

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
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
