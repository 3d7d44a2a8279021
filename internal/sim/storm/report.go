package storm

import (
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Result is a storm's outcome, written as the --json file. The first
// fields are the ones scripts rely on; do not rename them.
//
//   - reconnect_seconds_*: from the restart (the server process started
//     again) to each camera's first connection after it, over the cameras
//     that came back (cameras_not_back counts the others);
//   - connects_per_second_peak: WebSocket upgrades (101) the cameras got
//     in any one-second window;
//   - shed_503: every 503 a camera or viewer received (setup excluded);
//   - upload_ms_*: acknowledged uploads (200, 201), from sending the
//     request to the answer, as the camera saw them;
//   - server_rss_peak_bytes: the server's VmRSS, polled from the cameras'
//     start to the end (setup excluded), over both server processes;
//   - idle_conn_bytes: (RSS with every camera connected and idle, before
//     any event) minus (RSS of a freshly restarted server before any
//     camera connected), divided by the cameras.
type Result struct {
	Cameras         int   `json:"cameras"`
	Viewers         int   `json:"viewers"`
	EventsGenerated int64 `json:"events_generated"`
	EventsStored    int64 `json:"events_stored"`
	Lost            int64 `json:"lost"`
	Duplicates      int64 `json:"duplicates"`
	MediaResponses  int64 `json:"media_responses"`
	// MediaChecked is every media response a client checked frame by
	// frame: viewers' thumbnails and clips, live frames, partner media.
	MediaChecked int64 `json:"media_checked"`
	SoakRounds   int   `json:"soak_rounds,omitempty"` // rounds after the first, in a soak (--soak-media)
	ForeignMedia int64 `json:"foreign_media"`
	// The viewers' event streams (GET /api/v1/events/stream): events
	// offered, those not of the viewer's home and cameras (must be 0), and
	// streams that failed or were cut and were opened again.
	StreamEvents        int64 `json:"stream_events"`
	ForeignStreamEvents int64 `json:"foreign_stream_events"`
	StreamBreaks        int64 `json:"stream_breaks"`
	// The households' webhooks (one each, on the storm's receiver):
	// deliveries that verified, those of another household or unreadable
	// (must be 0), those whose signature did not verify (must be 0), and
	// stored events never delivered to their household's webhook (must be
	// 0: at least once, through the outage).
	Webhooks           bool  `json:"webhooks"`
	Alerts             int64 `json:"alerts"`
	AlertsForeign      int64 `json:"alerts_foreign"`
	AlertsBadSignature int64 `json:"alerts_bad_signature"`
	AlertsMissing      int64 `json:"alerts_missing"`
	// With --mqtt, the messages read under the households' prefixes and
	// their Home Assistant discovery, and the pictures among them whose
	// watermark was checked; those of another household count in
	// alerts_foreign.
	// The households' browsers: pushes that opened with their browser's
	// key and named their home (others count in alerts_foreign), and
	// stored events never pushed to their household (must be 0).
	Pushes                bool    `json:"pushes"`
	AlertsPush            int64   `json:"alerts_push"`
	AlertsPushMissing     int64   `json:"alerts_push_missing"`
	MQTT                  bool    `json:"mqtt"`
	AlertsMQTT            int64   `json:"alerts_mqtt"`
	AlertsMQTTImages      int64   `json:"alerts_mqtt_pictures"`
	ReconnectSecondsP50   float64 `json:"reconnect_seconds_p50"`
	ReconnectSecondsP99   float64 `json:"reconnect_seconds_p99"`
	ReconnectSecondsMax   float64 `json:"reconnect_seconds_max"`
	ConnectsPerSecondPeak float64 `json:"connects_per_second_peak"`
	Shed503               int64   `json:"shed_503"`
	UploadMsP99           float64 `json:"upload_ms_p99"`
	ServerRSSPeakBytes    int64   `json:"server_rss_peak_bytes"`
	IdleConnBytes         int64   `json:"idle_conn_bytes"`

	OK       bool     `json:"ok"`       // no leak, no loss, no duplicate, finished in time
	Failures []string `json:"failures"` // why not OK

	Accounts           int     `json:"accounts"`
	Nodes              int     `json:"nodes,omitempty"`               // camvault serve processes sharing the backends
	NodeRSSPeakBytes   []int64 `json:"node_rss_peak_bytes,omitempty"` // each node's own peak
	KillNode           bool    `json:"kill_node,omitempty"`           // one node was killed instead of the whole outage
	CamerasMoved       int     `json:"cameras_moved,omitempty"`       // cameras the killed node held, which had to come back to the others
	BalancerRefused    int64   `json:"balancer_refused,omitempty"`    // client connections no node accepted
	Target             string  `json:"target,omitempty"`              // an existing server; then no outage
	NetFaults          string  `json:"net_faults,omitempty"`
	CacheFaults        string  `json:"cache_faults,omitempty"` // every node's --cache-faults
	WarmupSeconds      float64 `json:"warmup_seconds"`
	OutageSeconds      float64 `json:"outage_seconds"`
	EventIntervalSecs  float64 `json:"event_interval_seconds"`
	RecoverySeconds    float64 `json:"recovery_seconds"` // restart until everything was acknowledged
	TimedOut           bool    `json:"timed_out"`
	CamerasNotBack     int     `json:"cameras_not_back"` // had not reconnected when the run ended
	RestartReadySecs   float64 `json:"restart_ready_seconds"`
	EventsAcknowledged int64   `json:"events_acknowledged"`
	EventsDropped      int64   `json:"events_dropped"` // dropped from a full camera queue (also in lost)
	RetriesRecognized  int64   `json:"retries_recognized"`
	UploadErrors       int64   `json:"upload_errors"`
	Uploads            int64   `json:"uploads"`
	UploadMsP50        float64 `json:"upload_ms_p50"`
	UploadMsMax        float64 `json:"upload_ms_max"`
	Connects           int64   `json:"connects"`
	Requests           int64   `json:"requests"`
	TransportErrors    int64   `json:"transport_errors"`
	MediaFrames        int64   `json:"media_frames"`
	MislabeledMedia    int64   `json:"mislabeled_media"`
	ForeignEvents      int64   `json:"foreign_events"`
	ViewerListings     int64   `json:"viewer_listings"`
	ViewerErrors       int64   `json:"viewer_errors"`
	// Live view (--live-viewers): sessions asked for and those that
	// delivered a frame; frames checked, and those not of the viewer's
	// household (must be 0) or not of the camera watched (must be 0);
	// time to first frame from asking; latency from a frame's capture (its
	// watermark's time) to its arrival, over frames taken after the
	// session began; sessions logged out mid-stream, and the time from the
	// logout's answer to the end of the stream (must stay under 1 s).
	LiveViewers           int     `json:"live_viewers"`
	LiveAttempts          int64   `json:"live_attempts"`
	LiveSessions          int64   `json:"live_sessions"`
	LiveFrames            int64   `json:"live_frames"`
	ForeignLiveFrames     int64   `json:"foreign_live_frames"`
	MislabeledLiveFrames  int64   `json:"mislabeled_live_frames"`
	LiveErrors            int64   `json:"live_errors"`
	LiveTTFFMsP50         float64 `json:"live_ttff_ms_p50"`
	LiveTTFFMsP99         float64 `json:"live_ttff_ms_p99"`
	LiveLatencyMsP50      float64 `json:"live_latency_ms_p50"`
	LiveLatencyMsP99      float64 `json:"live_latency_ms_p99"`
	LiveRevocations       int64   `json:"live_revocations"`
	LiveRevokeCutoffMsP50 float64 `json:"live_revoke_cutoff_ms_p50"`
	LiveRevokeCutoffMsMax float64 `json:"live_revoke_cutoff_ms_max"`

	// Partner displays (--partner-displays): stills and live frames they
	// received, each checked; those not of their household (must be 0),
	// of a camera they were not given (must be 0), or received after their
	// link was unlinked or their partner disabled (must be 0; a live
	// frame counts if it was taken more than a second after the stop);
	// the cut-off: from a stop to when the newest live frame that display
	// received was taken (under a second), or to the end of a stream that
	// did not end by itself; and from a stop to the end of the stream as
	// the display saw it, delivery lag included (not judged: a loaded
	// display reads behind what the server already sent).
	PartnerDisplays          int     `json:"partner_displays"`
	PartnerMedia             int64   `json:"partner_media"`
	PartnerForeign           int64   `json:"partner_foreign"`
	PartnerUnconsented       int64   `json:"partner_unconsented"`
	PartnerAfterRevoke       int64   `json:"partner_after_revoke"`
	PartnerErrors            int64   `json:"partner_errors"`
	PartnerRevocations       int64   `json:"partner_revocations"`
	PartnerRevokeCutoffMsMax float64 `json:"partner_revoke_cutoff_ms_max"`
	PartnerRevokeEndMsMax    float64 `json:"partner_revoke_end_ms_max"`
	PartnerNetFaults         string  `json:"partner_net_faults,omitempty"`

	// The hostile household (--hostile), its fields only then.
	*Hostile

	ServerRSSBefore    int64   `json:"server_rss_before_bytes"`
	ServerRSSIdle      int64   `json:"server_rss_idle_bytes"`
	IdleConnHeapBytes  int64   `json:"idle_conn_heap_bytes"`  // of idle_conn_bytes, Go heap in use per connection
	IdleConnStackBytes int64   `json:"idle_conn_stack_bytes"` // of idle_conn_bytes, goroutine stacks per connection
	IdleConnGoroutines float64 `json:"idle_conn_goroutines"`  // goroutines per idle connection
	SetupSeconds       float64 `json:"setup_seconds"`         // accounts, pairing, viewer logins
	DurationSeconds    float64 `json:"duration_seconds"`

	Timeline []Sample    `json:"-"`
	Phases   []PhaseMark `json:"-"`
}

// Sample is the state of the run at one moment, for the chart.
type Sample struct {
	T          float64 // seconds since the cameras started
	Online     int64   // cameras connected
	Requests   int64   // HTTP requests answered so far (cameras and viewers)
	Connects   int64   // camera connections admitted so far
	Queued     int64   // events waiting in the cameras
	RSS        int64   // server RSS, bytes
	LiveOpen   int64   // live sessions delivering frames
	LiveFrames int64   // live frames received so far
}

// PhaseMark is when a phase began.
type PhaseMark struct {
	Name string
	T    float64
}

// liveCutoffLimitMs is how long a revoked live session may go on
// (invariant 11: within a second).
const liveCutoffLimitMs = 1000

// check fills OK and Failures.
func (r *Result) check() {
	r.Failures = nil
	fail := func(format string, a ...any) { r.Failures = append(r.Failures, fmt.Sprintf(format, a...)) }
	if r.ForeignMedia != 0 {
		fail("foreign_media: %d frames reached a viewer that were not its household's", r.ForeignMedia)
	}
	if r.ForeignEvents != 0 {
		fail("foreign_events: %d listed events were not the viewer's household's", r.ForeignEvents)
	}
	if r.MislabeledMedia != 0 {
		fail("mislabeled_media: %d frames were another camera's than the event's", r.MislabeledMedia)
	}
	if r.Lost != 0 {
		fail("lost: %d events generated were not stored", r.Lost)
	}
	if r.Duplicates != 0 {
		fail("duplicates: %d events were stored more than once", r.Duplicates)
	}
	if r.TimedOut {
		fail("timed out before every event was acknowledged")
	}
	if r.EventsGenerated == 0 {
		fail("no events were generated")
	}
	if r.AlertsForeign != 0 {
		fail("alerts_foreign: %d webhook deliveries, pushes or MQTT messages were of another household's event or camera", r.AlertsForeign)
	}
	if r.AlertsBadSignature != 0 {
		fail("alerts_bad_signature: %d webhook deliveries did not verify", r.AlertsBadSignature)
	}
	if r.AlertsMissing != 0 {
		fail("alerts_missing: %d stored events never reached their household's webhook", r.AlertsMissing)
	}
	if r.Webhooks && r.EventsStored > 0 && r.Alerts == 0 {
		fail("alerts: the households' webhooks received nothing")
	}
	if r.AlertsPushMissing != 0 {
		fail("alerts_push_missing: %d stored events were never pushed to their household's browser", r.AlertsPushMissing)
	}
	if r.Pushes && r.EventsStored > 0 && r.AlertsPush == 0 {
		fail("alerts_push: the households' browsers received nothing")
	}
	if r.MQTT && r.EventsStored > 0 && r.AlertsMQTTImages == 0 {
		fail("alerts_mqtt_pictures: no picture reached the households' MQTT broker")
	}
	if r.ForeignStreamEvents != 0 {
		fail("foreign_stream_events: %d events offered on a viewer's event stream were not its household's", r.ForeignStreamEvents)
	}
	if r.Viewers > 0 && r.EventsGenerated > 0 && r.Target == "" && r.StreamEvents == 0 {
		fail("stream_events: the viewers' event streams offered no event")
	}
	if r.ForeignLiveFrames != 0 {
		fail("foreign_live_frames: %d live frames reached a viewer that were not its household's", r.ForeignLiveFrames)
	}
	if r.MislabeledLiveFrames != 0 {
		fail("mislabeled_live_frames: %d live frames were another camera's than the one watched", r.MislabeledLiveFrames)
	}
	if r.LiveViewers > 0 && r.LiveSessions == 0 {
		fail("live_sessions: no live session delivered a frame")
	}
	if r.PartnerForeign != 0 {
		fail("partner_foreign: %d stills or live frames reached a display that were not its household's", r.PartnerForeign)
	}
	if r.PartnerUnconsented != 0 {
		fail("partner_unconsented: %d times a display got a camera it was not given", r.PartnerUnconsented)
	}
	if r.PartnerAfterRevoke != 0 {
		fail("partner_after_revoke: %d answers or frames reached a display after its link was stopped", r.PartnerAfterRevoke)
	}
	if r.PartnerDisplays > 0 && r.PartnerMedia == 0 {
		fail("partner_media: no display received a still or a live frame")
	}
	if r.PartnerDisplays > 0 && r.PartnerRevocations == 0 {
		fail("partner_revocations: no link was stopped mid-run")
	}
	if r.PartnerRevokeCutoffMsMax >= liveCutoffLimitMs {
		fail("partner_revoke_cutoff_ms_max: a stopped display got live frames taken %.0f ms after the stop, or its stream did not end (limit %d ms)", r.PartnerRevokeCutoffMsMax, liveCutoffLimitMs)
	}
	if r.LiveRevokeCutoffMsMax >= liveCutoffLimitMs {
		fail("live_revoke_cutoff_ms_max: a logged-out viewer's stream went on for %.0f ms (limit %d ms)", r.LiveRevokeCutoffMsMax, liveCutoffLimitMs)
	}
	if r.Hostile != nil {
		r.Hostile.check(fail)
	}
	r.OK = len(r.Failures) == 0
	if r.Failures == nil {
		r.Failures = []string{}
	}
}

// WriteJSON writes r, indented, to path.
func (r *Result) WriteJSON(path string) error {
	raw, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode result: %w", err)
	}
	return writeFile(path, append(raw, '\n'))
}

// writeFile writes data to path through a temporary file and a rename.
func writeFile(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// WriteHTML writes the report page to path.
func (r *Result) WriteHTML(path string) error {
	var b strings.Builder
	if err := r.Render(&b); err != nil {
		return err
	}
	return writeFile(path, []byte(b.String()))
}

// Render writes the report: one self-contained HTML page with an inline
// SVG chart and the summary table.
func (r *Result) Render(w io.Writer) error {
	page := struct {
		R             *Result
		Chart         template.HTML
		LiveChart     template.HTML
		Rows          [][2]string
		HostileAttack [][3]string
		HostileOthers [][4]string
		HostileServer [][3]string
	}{R: r, Chart: template.HTML(r.chartSVG()), Rows: r.rows()}
	if r.Hostile != nil {
		page.HostileAttack, page.HostileOthers, page.HostileServer = r.attackRows(), r.othersRows(), r.serverRows()
	}
	if r.LiveViewers > 0 {
		page.LiveChart = template.HTML(r.liveChartSVG())
	}
	tmpl, err := template.New("report").Parse(reportHTML)
	if err != nil {
		return fmt.Errorf("report template: %w", err)
	}
	if err := tmpl.Execute(w, page); err != nil {
		return fmt.Errorf("render report: %w", err)
	}
	return nil
}

// rows is the summary table: every JSON field, in order.
func (r *Result) rows() [][2]string {
	raw, err := json.Marshal(r)
	if err != nil {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	var rows [][2]string
	if _, err := dec.Token(); err != nil { // {
		return nil
	}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return rows
		}
		var v any
		if err := dec.Decode(&v); err != nil {
			return rows
		}
		rows = append(rows, [2]string{fmt.Sprint(k), formatValue(fmt.Sprint(k), v)})
	}
	return rows
}

func formatValue(key string, v any) string {
	switch x := v.(type) {
	case json.Number:
		if strings.HasSuffix(key, "_bytes") {
			if n, err := x.Int64(); err == nil {
				return fmt.Sprintf("%s (%s)", x, humanBytes(n))
			}
		}
		return x.String()
	case []any:
		if len(x) == 0 {
			return "none"
		}
		parts := make([]string, len(x))
		for i, p := range x {
			parts[i] = fmt.Sprint(p)
		}
		return strings.Join(parts, "; ")
	}
	return fmt.Sprint(v)
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit && n > -unit {
		return fmt.Sprintf("%d B", n)
	}
	f, exp := float64(n), 0
	for math.Abs(f) >= unit && exp < 4 {
		f /= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", f, "KMGT"[exp-1])
}

// Chart geometry.
const (
	chartW, chartH             = 900, 320
	chartLeft, chartRight      = 60, 70
	chartTop, chartBottom      = 20, 40
	chartPlotW, chartPlotH     = chartW - chartLeft - chartRight, chartH - chartTop - chartBottom
	maxChartPoints         int = 1000
)

// series is one line of a chart: its values at the timeline's samples.
type series struct {
	name   string
	color  string
	values []float64
	floor  float64 // the axis goes at least this high
}

// rates turns a counter sampled over the timeline into a rate per second.
func (r *Result) rates(counter func(Sample) int64) []float64 {
	pts := r.Timeline
	out := make([]float64, len(pts))
	for i := 1; i < len(pts); i++ {
		if dt := pts[i].T - pts[i-1].T; dt > 0 {
			out[i] = float64(counter(pts[i])-counter(pts[i-1])) / dt
		}
	}
	if len(out) > 1 {
		out[0] = out[1]
	}
	return out
}

// gauge is a value sampled over the timeline.
func (r *Result) gauge(v func(Sample) int64) []float64 {
	out := make([]float64, len(r.Timeline))
	for i, p := range r.Timeline {
		out[i] = float64(v(p))
	}
	return out
}

// chartSVG draws connected cameras (left axis) and the request rate
// (right axis) over time, the outage shaded.
func (r *Result) chartSVG() string {
	return r.chart(
		series{name: "connected cameras", color: "#1a73e8", values: r.gauge(func(s Sample) int64 { return s.Online }), floor: float64(r.Cameras)},
		series{name: "requests/s", color: "#e37400", values: r.rates(func(s Sample) int64 { return s.Requests })})
}

// liveChartSVG draws the live sessions delivering frames (left axis) and
// the live frames received per second (right axis).
func (r *Result) liveChartSVG() string {
	return r.chart(
		series{name: "live sessions", color: "#137333", values: r.gauge(func(s Sample) int64 { return s.LiveOpen }), floor: 1},
		series{name: "live frames/s", color: "#a142f4", values: r.rates(func(s Sample) int64 { return s.LiveFrames })})
}

// chart draws two series over the run's time, left on the left axis and
// right on the right one, the outage shaded and every phase marked.
func (r *Result) chart(left, right series) string {
	pts := r.Timeline
	if len(pts) < 2 {
		return `<p>Not enough samples for a chart.</p>`
	}
	tMax := pts[len(pts)-1].T
	if tMax <= 0 {
		tMax = 1
	}
	top := func(s series) float64 {
		m := max(1, s.floor)
		for _, v := range s.values {
			m = max(m, v)
		}
		return niceCeil(m)
	}
	leftTop, rightTop := top(left), top(right)
	x := func(t float64) float64 { return chartLeft + t/tMax*chartPlotW }
	yL := func(v float64) float64 { return chartTop + chartPlotH - v/leftTop*chartPlotH }
	yR := func(v float64) float64 { return chartTop + chartPlotH - v/rightTop*chartPlotH }
	step := max(1, len(pts)/maxChartPoints)

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" font-family="sans-serif" font-size="11">`, chartW, chartH, chartW, chartH)
	// Phases: the outage shaded, every phase's start marked.
	for i, ph := range r.Phases {
		end := tMax
		if i+1 < len(r.Phases) {
			end = r.Phases[i+1].T
		}
		if ph.Name == "outage" || ph.Name == "kill-node" {
			fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="#f4c7c3" opacity="0.6"><title>outage</title></rect>`,
				x(ph.T), chartTop, max(1, x(end)-x(ph.T)), chartPlotH)
		}
		if ph.T >= 0 && ph.T <= tMax {
			// Labels alternate between two rows so close phases stay legible.
			fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#999" stroke-dasharray="3,3"/>`, x(ph.T), x(ph.T), chartTop, chartTop+chartPlotH)
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" fill="#555">%s</text>`, x(ph.T)+3, chartTop+12+12*(i%2), template.HTMLEscapeString(ph.Name))
		}
	}
	// Axes and ticks.
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#333"/>`, chartLeft, chartTop, chartPlotW, chartPlotH)
	for i := 0; i <= 4; i++ {
		f := float64(i) / 4
		y := chartTop + chartPlotH - f*chartPlotH
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" fill="%s">%s</text>`, chartLeft-5, y+4, left.color, shortNum(f*leftTop))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" fill="%s">%s</text>`, chartLeft+chartPlotW+5, y+4, right.color, shortNum(f*rightTop))
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%ss</text>`, chartLeft+f*chartPlotW, chartTop+chartPlotH+15, shortNum(roundTo(f*tMax, tMax)))
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">time since the cameras started</text>`, chartLeft+chartPlotW/2, chartH-5)
	line := func(s series, y func(float64) float64) {
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="1.5" points="`, s.color)
		for i := 0; i < len(pts) && i < len(s.values); i += step {
			fmt.Fprintf(&b, "%.1f,%.1f ", x(pts[i].T), y(s.values[i]))
		}
		b.WriteString(`"/>`)
	}
	line(left, yL)
	line(right, yR)
	fmt.Fprintf(&b, `<text x="%d" y="%d" fill="%s">%s</text>`, chartLeft+5, chartTop+chartPlotH-8, left.color, template.HTMLEscapeString(left.name))
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end" fill="%s">%s</text>`, chartLeft+chartPlotW-5, chartTop+chartPlotH-8, right.color, template.HTMLEscapeString(right.name))
	b.WriteString(`</svg>`)
	return b.String()
}

// roundTo rounds v to a precision that suits a scale of top.
func roundTo(v, top float64) float64 {
	switch {
	case top >= 20:
		return math.Round(v)
	case top >= 2:
		return math.Round(v*10) / 10
	}
	return math.Round(v*100) / 100
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func shortNum(v float64) string {
	switch {
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'g', 3, 64) + "M"
	case v >= 1e4:
		return strconv.FormatFloat(v/1e3, 'g', 3, 64) + "k"
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// reportHTML is the report page's template.
const reportHTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>camvault storm: {{if .R.OK}}passed{{else}}FAILED{{end}}</title>
<style>
body { font-family: sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; }
td { border-bottom: 1px solid #ddd; padding: 3px 12px 3px 0; font-variant-numeric: tabular-nums; }
td:first-child { font-family: monospace; }
.ok { color: #137333; } .fail { color: #c5221f; }
</style></head><body>
<h1>camvault storm: {{if .R.OK}}<span class="ok">passed</span>{{else}}<span class="fail">FAILED</span>{{end}}</h1>
<p>{{.R.Cameras}} cameras in {{.R.Accounts}} homes, {{.R.Viewers}} viewers (each with its event stream open: {{.R.StreamEvents}} events offered, {{.R.ForeignStreamEvents}} of another household){{if .R.Webhooks}}, a webhook per household ({{.R.Alerts}} deliveries verified, {{.R.AlertsForeign}} of another household, {{.R.AlertsMissing}} stored events never delivered){{end}}{{if .R.LiveViewers}}, {{.R.LiveViewers}} live viewers{{end}}{{if .R.PartnerDisplays}}, {{.R.PartnerDisplays}} partner displays{{end}}{{if .R.Hostile}}, one hostile household{{end}}{{if .R.NetFaults}}, network faults <code>{{.R.NetFaults}}</code>{{end}}{{if .R.CacheFaults}}, cache faults <code>{{.R.CacheFaults}}</code>{{end}}{{if gt .R.Nodes 1}}, {{.R.Nodes}} nodes{{if .R.KillNode}} (one killed){{end}}{{end}}{{if .R.Target}}, against {{.R.Target}}{{end}}.</p>
{{if not .R.OK}}<ul class="fail">{{range .R.Failures}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{.Chart}}
{{if .LiveChart}}<h2>Live view</h2>
<p>{{.R.LiveViewers}} people watching their cameras live and zapping between them: {{.R.LiveSessions}} sessions, {{.R.LiveFrames}} frames checked, {{.R.ForeignLiveFrames}} of another household; {{.R.LiveRevocations}} sessions logged out mid-stream.</p>
{{.LiveChart}}{{end}}
{{if .R.Hostile}}<h2>Hostile household</h2>
<p>One household of its own (an account, a home, {{.R.HostileCameras}} cameras paired the normal way) attacked from {{.R.HostileAddresses}} addresses of its own with {{.R.HostileConnections}} connections, every kind at once, from the mark <em>hostile</em> to the end of the run. The other households were measured for {{printf "%.0f" .R.HostileBaselineSec}} s before the attack and {{printf "%.0f" .R.HostileSeconds}} s during it (to the end of the warm-up).</p>
<table><tr><td>attack</td><td>sent</td><td>answered</td></tr>{{range .HostileAttack}}<tr><td>{{index . 0}}</td><td>{{index . 1}}</td><td>{{index . 2}}</td></tr>{{end}}</table>
<h3>The other households</h3>
<table><tr><td></td><td>before the attack</td><td>during it</td><td>bound</td></tr>{{range .HostileOthers}}<tr><td>{{index . 0}}</td><td>{{index . 1}}</td><td>{{index . 2}}</td><td>{{index . 3}}</td></tr>{{end}}</table>
<h3>The servers during the attack</h3>
<table>{{range .HostileServer}}<tr><td>{{index . 0}}</td><td>{{index . 1}}</td><td>{{index . 2}}</td></tr>{{end}}</table>{{end}}
<h2>Summary</h2>
<table>{{range .Rows}}<tr><td>{{index . 0}}</td><td>{{index . 1}}</td></tr>{{end}}</table>
</body></html>
`
