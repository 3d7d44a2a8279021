package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	cachefaults "github.com/camvault/camvault/internal/cache/faults"
	"github.com/camvault/camvault/internal/sim/storm"
)

type stormCmd struct {
	Accounts         int           `help:"Households: accounts with one home each; the cameras are spread over them." default:"10"`
	Cameras          int           `help:"Simulated cameras." default:"100"`
	Viewers          int           `help:"Viewers: people listing events and fetching thumbnails and clips, each logged in as one of the accounts." default:"10"`
	LiveViewers      int           `name:"live-viewers" help:"Live viewers: people watching their account's cameras live (fragmented MP4 over a WebSocket), zapping between them; every frame's watermark is checked, and some are logged out mid-stream." default:"0"`
	LiveDwell        time.Duration `name:"live-dwell" help:"How long a live viewer watches one camera before zapping to another, on average." default:"6s"`
	LiveRevokeEvery  int           `name:"live-revoke-every" help:"Every Nth live session is logged out mid-stream and must end within a second (-1: never)." default:"4"`
	PartnerDisplays  int           `name:"partner-displays" help:"Smart displays linked through the real OAuth flow, each consenting to some of an account's cameras, showing stills and live video through a poor network of their own; mid-run some are unlinked and one partner is disabled. At most twice --accounts." default:"0"`
	PartnerNetFaults string        `name:"partner-net-faults" help:"The displays' network faults (SPEC as for --net-faults; default latency=40ms,jitter=20ms,reset=0.01,slice=0.5,slice_size=256)." placeholder:"SPEC"`
	MQTT             string        `name:"mqtt" help:"An MQTT broker (mqtt://host:port) every household gives the server, each under a topic prefix of its own; everything published there is read and checked to be of its household (alerts_foreign)." placeholder:"URL"`
	Hostile          bool          `help:"Add a hostile household (its own account, home and two cameras) that attacks from the warm-up's first quarter to the end with every denial of service camvault bounds at once (stalled uploads, crafted JPEGs, wrong passwords, sign-ups, 16 KiB methods, 2,000-range requests, 16 KiB command results), from addresses of its own; the other households' uploads, views and logins, and the server's RSS, /metrics and log, must stay within bounds. Give a warm-up of 20s or more so stalled uploads are cut off within it."`
	Warmup           time.Duration `help:"Steady state before the outage." default:"10s"`
	Outage           time.Duration `help:"How long the server stays down (killed with SIGKILL); 0 for no outage." default:"30s"`
	Timeout          time.Duration `help:"After the restart, how long to wait for every camera to be back and every event acknowledged (the protocol lets a camera wait up to 5m to come back)." default:"10m"`
	EventInterval    time.Duration `help:"Each camera records a motion event this often." default:"30s"`
	ViewerEvery      time.Duration `help:"Each viewer lists its events about this often." default:"1s"`
	ViewerMedia      int           `name:"viewer-media" help:"Thumbnails (with their clips) a viewer fetches and checks per listing." default:"2"`
	SoakMedia        int64         `name:"soak-media" help:"A soak, not a test: after the first round, go round again (warm-up, then the outage if --outage is set) until the clients have checked at least this many media responses (thumbnails, clips, live frames, partner media), e.g. 1000000." default:"0"`
	NetFaults        string        `help:"Network faults between the clients and the server, e.g. latency=50ms,jitter=20ms,bandwidth=1000,reset=0.01,slice=1 (see the SPEC above)." placeholder:"SPEC"`

	Nodes    int    `help:"camvault serve processes sharing --store, --blobs, --cache and --bus, (viewers through a TCP balancer in this process, cameras given every node's address)." default:"1"`
	KillNode bool   `help:"Instead of the whole outage, kill one node with SIGKILL at the end of the warm-up and leave it down: its cameras must come back to the other nodes (--outage is not used)."`
	Store    string `help:"Every node's --store (required with --nodes 2 or more), e.g. postgres://USER@HOST/DB." env:"CAMVAULT_STORE" placeholder:"URL"`
	Blobs    string `help:"Every node's --blobs (required with --nodes 2 or more), e.g. s3://BUCKET?endpoint=URL&region=R." env:"CAMVAULT_BLOBS" placeholder:"URL"`
	Cache    string `help:"Every node's --cache, e.g. redis://HOST:PORT/DB." env:"CAMVAULT_CACHE" placeholder:"URL"`
	Bus      string `help:"Every node's --bus (required with --nodes 2 or more), e.g. nats://HOST:PORT." env:"CAMVAULT_BUS" placeholder:"URL"`

	CacheFaults string `help:"Cache faults in every node (serve --cache-faults, test only), e.g. swap=1.0, stale=0.3,corrupt=0.1, redis-crossreply=0.2 (with --cache redis://...). foreign_media must stay 0." placeholder:"SPEC"`

	Target string `help:"Base URL of a camvault server already running; storm then starts none and there is no outage." placeholder:"URL"`
	Binary string `help:"The camvault binary to run as the server (default: this one)." type:"path"`
	Dir    string `help:"Directory for the server's data and log (default: a temporary one, removed after a passing run)." type:"path"`
	Keep   bool   `help:"Keep the directory after a passing run."`
	JSON   string `name:"json" help:"Write the result as JSON to FILE." placeholder:"FILE" type:"path"`
	Report string `help:"Write an HTML report (chart and summary) to FILE." placeholder:"FILE.html" type:"path"`

	UploadWorkers int           `help:"Camera uploads in flight across the fleet." default:"32"`
	QueueSize     int           `help:"Each camera's offline event queue (default: enough for the whole run)."`
	BackoffCap    time.Duration `help:"Cap of the cameras' reconnect backoff (default: the protocol's, 4s while failures are young, growing to 5m as they last); below 4s it caps the brisk retries too."`

	MaxConnectsPerSecond float64       `help:"Passed to serve: new camera connections admitted per second (default: the server's)."`
	MaxUploadsPerSecond  float64       `help:"Passed to serve: event uploads started per second (default: the server's)."`
	MaxUploadsInFlight   int           `help:"Passed to serve: event uploads received at once (default: the server's)."`
	Heartbeat            time.Duration `help:"Passed to serve: the cameras' heartbeat interval (default: the server's)."`
	ServerLogLevel       string        `help:"The server's log level." default:"warn" enum:"debug,info,warn,error"`
	CameraLogLevel       slog.Level    `help:"The simulated cameras' log level (at info each camera logs every connection)." default:"warn"`
}

// Help is the long help of `camvault storm --help`.
func (c *stormCmd) Help() string {
	return `The outage test, end to end over real sockets on loopback.

It starts camvault serve (this binary) on a fresh data directory, creates the accounts, pairs the cameras and logs the viewers in, then: warm-up (the cameras connect; once all are connected and idle the server's memory per idle connection is measured; then events and viewers start); outage (the server is killed with SIGKILL, the cameras keep recording and queueing); recovery (the server restarts on the same data and ports and every camera reconnects at once); the end, when every camera's queue is drained and every event acknowledged, or --timeout passes.

With --nodes N it runs N servers on the same backends. Viewers reach them through a TCP balancer in this process that gives each new connection to the next node that accepts it; cameras are given every node's address, start spread over them and move to the next when theirs cannot be reached. With --kill-node one node is killed instead of the whole outage, and the cameras it held must come back to the others.

With --hostile, one more household attacks the server from the end of the warm-up's first quarter to the end of the run with every kind of denial of service camvault bounds, all at once, from loopback addresses of its own (127.0.66.1-4) straight to every node; the other households' uploads, views and logins are measured before and during the attack and must stay within the bounds in the report, and so must the server's RSS, /metrics and log.

With --live-viewers N, N people also watch their cameras live the whole run, through the outage, zapping between cameras; every frame's watermark must be of the camera watched (foreign_live_frames must stay 0), and every fourth session is logged out mid-stream and must end within a second.

It then lists every account's events as the owner and checks that every event generated is stored exactly once (lost, duplicates), and that every frame of every thumbnail and clip a viewer received carries a valid watermark of one of that viewer's own cameras (foreign_media). It exits non-zero when any of them is not zero.

` + storm.FaultsHelp
}

func (c *stormCmd) Run(ctx context.Context, log *slog.Logger) error {
	faults, err := storm.ParseFaults(c.NetFaults)
	if err != nil {
		return err
	}
	partnerFaults, err := storm.ParseFaults(c.PartnerNetFaults)
	if err != nil {
		return fmt.Errorf("--partner-net-faults: %w", err)
	}
	cacheFaults, err := cachefaults.ParseSpec(c.CacheFaults)
	if err != nil {
		return fmt.Errorf("--cache-faults: %w", err)
	}
	cfg := storm.Config{
		Binary: c.Binary, Target: c.Target, Dir: c.Dir, Keep: c.Keep,
		Accounts: c.Accounts, Cameras: c.Cameras, Viewers: c.Viewers,
		LiveViewers: c.LiveViewers, LiveDwell: c.LiveDwell, LiveRevokeEvery: c.LiveRevokeEvery,
		PartnerDisplays: c.PartnerDisplays, PartnerFaults: partnerFaults, Hostile: c.Hostile, MQTT: c.MQTT,
		Warmup: c.Warmup, Outage: c.Outage, Timeout: c.Timeout, EventInterval: c.EventInterval, ViewerEvery: c.ViewerEvery,
		ViewerMedia: c.ViewerMedia, SoakMedia: c.SoakMedia,
		QueueSize: c.QueueSize, UploadWorkers: c.UploadWorkers, BackoffCap: c.BackoffCap,
		Faults: faults,
		Nodes:  c.Nodes, KillNode: c.KillNode, Store: c.Store, Blobs: c.Blobs, Cache: c.Cache, Bus: c.Bus, CacheFaults: cacheFaults.String(),
		MaxConnectsPerSecond: c.MaxConnectsPerSecond, MaxUploadsPerSecond: c.MaxUploadsPerSecond,
		MaxUploadsInFlight: c.MaxUploadsInFlight, Heartbeat: c.Heartbeat, ServerLogLevel: c.ServerLogLevel,
		CameraLogLevel: &c.CameraLogLevel,
		JSONPath:       c.JSON, ReportPath: c.Report, Log: log,
	}
	if cfg.Target == "" && cfg.Binary == "" {
		if cfg.Binary, err = os.Executable(); err != nil {
			return fmt.Errorf("storm: find this binary to run as the server: %w", err)
		}
	}
	if fi, err := os.Stdout.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
		cfg.Progress = os.Stdout
	}
	res, err := storm.Run(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Printf("cameras %d, viewers %d: events generated %d, stored %d, lost %d, duplicates %d; media %d, foreign %d\n",
		res.Cameras, res.Viewers, res.EventsGenerated, res.EventsStored, res.Lost, res.Duplicates, res.MediaResponses, res.ForeignMedia)
	fmt.Printf("event streams: events offered %d, foreign %d; streams cut and reopened %d\n", res.StreamEvents, res.ForeignStreamEvents, res.StreamBreaks)
	if res.Webhooks {
		fmt.Printf("webhooks: deliveries %d, bad signatures %d; stored events never delivered %d\n",
			res.Alerts, res.AlertsBadSignature, res.AlertsMissing)
	}
	if res.Pushes {
		fmt.Printf("push: notifications %d; stored events never pushed %d\n", res.AlertsPush, res.AlertsPushMissing)
	}
	if res.MQTT {
		fmt.Printf("mqtt: messages %d, pictures checked %d\n", res.AlertsMQTT, res.AlertsMQTTImages)
	}
	if res.Webhooks || res.MQTT || res.Pushes {
		fmt.Printf("alerts of another household (webhooks, pushes, MQTT): %d\n", res.AlertsForeign)
	}
	if res.SoakRounds > 0 {
		fmt.Printf("soak: %d rounds, %d media responses checked frame by frame (thumbnails, clips, live frames, partner media)\n", res.SoakRounds+1, res.MediaChecked)
	}
	if res.LiveViewers > 0 {
		fmt.Printf("live: sessions %d, frames %d, foreign %d; first frame p50 %.0fms p99 %.0fms; latency p99 %.0fms; revocations %d, cut-off max %.0fms\n",
			res.LiveSessions, res.LiveFrames, res.ForeignLiveFrames, res.LiveTTFFMsP50, res.LiveTTFFMsP99,
			res.LiveLatencyMsP99, res.LiveRevocations, res.LiveRevokeCutoffMsMax)
	}
	if res.PartnerDisplays > 0 {
		fmt.Printf("partner displays %d: media %d, foreign %d, unconsented %d, after a stop %d; links stopped %d, live cut-off max %.0fms (stream seen to end after %.0fms)\n",
			res.PartnerDisplays, res.PartnerMedia, res.PartnerForeign, res.PartnerUnconsented, res.PartnerAfterRevoke,
			res.PartnerRevocations, res.PartnerRevokeCutoffMsMax, res.PartnerRevokeEndMsMax)
	}
	if h := res.Hostile; h != nil {
		fmt.Printf("hostile household: %d requests; others during the attack: uploads %d (%d failed, p99 %.0fms), views %d (%d failed, p99 %.0fms), logins %d (%d failed, p99 %.0fms); server RSS %d→%d MiB, /metrics %d→%d KiB, log %.0f B/request\n",
			h.HostileRequests, h.HostileOthersUploads, h.HostileOthersUploadFails, h.HostileOthersUploadMsP99,
			h.HostileOthersViews, h.HostileOthersViewFails, h.HostileOthersViewMsP99, h.HostileOthersLogins, h.HostileOthersLoginFails, h.HostileOthersLoginMsP99,
			h.HostileRSSStart>>20, h.HostileRSSPeak>>20, h.HostileMetricsStart>>10, h.HostileMetricsMax>>10, h.HostileLogPerRequest)
	}
	fmt.Printf("reconnect p50 %.2fs p99 %.2fs max %.2fs; connects/s peak %.0f; 503s %d; upload p99 %.0fms; server RSS peak %d MiB, %d B per idle connection\n",
		res.ReconnectSecondsP50, res.ReconnectSecondsP99, res.ReconnectSecondsMax, res.ConnectsPerSecondPeak, res.Shed503,
		res.UploadMsP99, res.ServerRSSPeakBytes>>20, res.IdleConnBytes)
	if !res.OK {
		return fmt.Errorf("storm failed: %s", strings.Join(res.Failures, "; "))
	}
	fmt.Println("storm passed")
	return nil
}
