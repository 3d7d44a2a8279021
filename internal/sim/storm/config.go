// Package storm is camvault's outage test, end to end over real sockets
// on loopback: it runs a server (the camvault binary, as a child process),
// pairs thousands of simulated cameras with it across many households,
// has viewers browse their Events timelines, kills the server with
// SIGKILL while the cameras keep recording, restarts it on the same data
// and ports, and waits for every camera to reconnect and every event to
// be acknowledged. Then it checks the two properties that must hold
// whatever fails (invariants 6 and 8, and the project's reason
// to exist):
//
//   - every frame of every thumbnail and clip a viewer received carries
//     a valid watermark of one of that viewer's own cameras
//     (foreign_media), and every event offered on a viewer's open event
//     stream is of that viewer's home and cameras (foreign_stream_events),
//     and every webhook delivery of that household's (alerts_foreign),
//     signed with its secret, and every stored event delivered to its
//     household's webhook at least once (alerts_missing);
//   - every event a camera generated is stored exactly once (lost,
//     duplicates);
//
// and measures how the server coped: reconnect times, admitted connects
// per second, 503s, upload latency, memory. Optionally every client
// connection goes through a fault-injecting proxy (toxiproxy, in
// process).
package storm

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"time"
)

// Config configures a storm. Zero fields take the defaults noted.
type Config struct {
	Binary string // the camvault binary run as the server; required unless Target is set
	Target string // base URL of a server already running: storm runs none and skips the outage
	Dir    string // the run's directory (server data and log); default: a temporary one, removed after a passing run
	Keep   bool   // keep Dir even after a passing run

	Accounts int // households, one home each; default 10
	Cameras  int // spread over the accounts' homes; default 100
	Viewers  int // people browsing the accounts' Events timelines, spread over the accounts; 0: none

	// LiveViewers watch their accounts' cameras live, zapping from one to
	// another every LiveDwell or so (default 6 s); every LiveRevokeEvery-th
	// session (default 4; -1: never) is logged out mid-stream and must end
	// within a second.
	LiveViewers     int
	LiveDwell       time.Duration
	LiveRevokeEvery int

	// PartnerDisplays are smart displays linked through the real OAuth
	// flow, each to one account with consent to some of its cameras,
	// showing stills and live video the whole run through a poor network
	// of their own (PartnerFaults; default: latency, resets and sliced
	// packets). Mid-run every fourth is unlinked and the second partner is
	// disabled. At most two per account (one per partner).
	PartnerDisplays int
	PartnerFaults   Faults

	// Hostile adds a household of its own that attacks the server from
	// the end of the warm-up's first quarter to the end of the run with
	// every kind of denial of service camvault bounds, from addresses of
	// its own straight to every node (hostile.go); the other households'
	// uploads, views and logins must stay within the bounds of
	// hostile_report.go, and the servers' RSS, /metrics and logs too.
	Hostile bool

	// MQTT is an MQTT broker (mqtt://host:port) every household gives the
	// server, each under a topic prefix of its own; the storm reads all
	// that is published there (mqtt.go) and counts what is of another
	// household in alerts_foreign. Empty: no MQTT.
	MQTT string

	Warmup        time.Duration // steady state before the outage; default 10 s
	Outage        time.Duration // the server is down this long; 0: no outage
	Timeout       time.Duration // after the restart, for every camera to be back and every event acknowledged; default 10 min
	EventInterval time.Duration // each camera makes an event this often; default 30 s
	ViewerEvery   time.Duration // each viewer lists events about this often; default 1 s
	ViewerMedia   int           // thumbnails (and their clips) a viewer fetches per listing; default 2

	// SoakMedia makes the run a soak: after the first round it goes round
	// again (Warmup, then the outage or a drain) until the clients have
	// checked at least this many media responses; 0: one round.
	SoakMedia int64

	QueueSize     int           // each camera's offline queue; default: enough for the whole run
	UploadWorkers int           // camera uploads in flight across the fleet; default 32
	MaxDials      int           // camera connection attempts in flight; default the larger of 256 and cameras/8
	BackoffCap    time.Duration // the cameras' reconnect backoff cap; default the protocol's (camera.Backoff)

	Faults Faults // network faults between clients and server (ParseFaults)

	// Scale-out: Nodes camvault serve processes (default 1) share the
	// backends below. Viewers reach them through an in-process TCP
	// balancer; cameras are given every node's address (see clientPaths).
	// With KillNode,
	// instead of the whole outage one node is killed with SIGKILL at the
	// end of the warm-up and stays down: the cameras it held must come back
	// to the others (they move to their next address), and nothing may be
	// lost.
	Nodes    int
	KillNode bool
	Store    string // every node's --store; required with several nodes
	Blobs    string // every node's --blobs; required with several nodes
	Cache    string // every node's --cache
	Bus      string // every node's --bus; required with several nodes
	// CacheFaults is every node's --cache-faults (test-only fault
	// injection into the cache, faults.ParseSpec form): the storm's leak
	// and loss checks must stay at zero through it.
	CacheFaults string

	// Passed to `camvault serve`; 0 keeps the server's defaults.
	MaxConnectsPerSecond float64
	MaxUploadsPerSecond  float64
	MaxUploadsInFlight   int
	Heartbeat            time.Duration
	ServerLogLevel       string // the server's --log-level; default warn

	// CameraLogLevel filters the cameras' log: at info every camera logs
	// each connection, too much for thousands. Default warn.
	CameraLogLevel *slog.Level

	JSONPath   string    // write the result here
	ReportPath string    // write the HTML report here
	Progress   io.Writer // a terminal for the progress line; nil: none
	Log        *slog.Logger
}

func (c *Config) setDefaults() error {
	if c.Binary == "" && c.Target == "" {
		return errors.New("storm: the camvault binary to run is required (or --target)")
	}
	if c.Target != "" {
		u, err := url.Parse(c.Target)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return fmt.Errorf("storm: --target %q is not a base URL like http://127.0.0.1:8080", c.Target)
		}
		if c.Faults.Enabled() && u.Scheme != "http" {
			return errors.New("storm: --net-faults needs an http:// target (the proxy forwards plain TCP)")
		}
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.Accounts, 10)
	def(&c.Nodes, 1)
	def(&c.Cameras, 100)
	def(&c.ViewerMedia, 2)
	def(&c.UploadWorkers, 32)
	// Every real camera dials on its own; the simulated ones share dial
	// slots to bound this process's sockets. Enough that the slots are not
	// what sets the reconnect time.
	def(&c.MaxDials, max(256, c.Cameras/8))
	defDur(&c.Warmup, 10*time.Second)
	defDur(&c.Timeout, 10*time.Minute)
	defDur(&c.EventInterval, 30*time.Second)
	defDur(&c.ViewerEvery, time.Second)
	defDur(&c.LiveDwell, 6*time.Second)
	def(&c.LiveRevokeEvery, 4)
	if c.ServerLogLevel == "" {
		c.ServerLogLevel = "warn"
	}
	switch {
	case c.Accounts < 1:
		return errors.New("storm: --accounts must be at least 1")
	case c.Cameras < 1:
		return errors.New("storm: --cameras must be at least 1")
	case c.Viewers < 0 || c.LiveViewers < 0:
		return errors.New("storm: --viewers and --live-viewers must not be negative")
	case c.LiveDwell < 100*time.Millisecond:
		return errors.New("storm: --live-dwell must be at least 100ms")
	case c.Warmup < 0 || c.Outage < 0 || c.Timeout < 0:
		return errors.New("storm: durations must not be negative")
	case c.EventInterval < 10*time.Millisecond:
		return errors.New("storm: --event-interval must be at least 10ms")
	case c.ViewerEvery < 10*time.Millisecond:
		return errors.New("storm: --viewer-every must be at least 10ms")
	case c.UploadWorkers < 1 || c.MaxDials < 1 || c.QueueSize < 0 || c.ViewerMedia < 0 || c.SoakMedia < 0:
		return errors.New("storm: worker counts and sizes must be positive")
	case c.MaxConnectsPerSecond < 0 || c.MaxUploadsPerSecond < 0 || c.MaxUploadsInFlight < 0 || c.Heartbeat < 0:
		return errors.New("storm: server limits must not be negative")
	case c.Nodes < 1:
		return errors.New("storm: --nodes must be at least 1")
	case c.Nodes > 1 && c.Target != "":
		return errors.New("storm: --nodes starts its own servers; it does not go with --target")
	case c.Nodes > 1 && (c.Store == "" || c.Blobs == "" || c.Bus == ""):
		return errors.New("storm: several nodes must share one store, one blob store and one bus: give --store, --blobs and --bus (see camvault serve --help)")
	case c.CacheFaults != "" && c.Target != "":
		return errors.New("storm: --cache-faults is given to the servers storm starts; it does not go with --target")
	case c.PartnerDisplays < 0:
		return errors.New("storm: --partner-displays must not be negative")
	case c.PartnerDisplays > 0 && c.Target != "":
		return errors.New("storm: --partner-displays registers partners as the operator; it does not go with --target")
	case c.PartnerDisplays > 2*c.Accounts:
		return errors.New("storm: --partner-displays is at most twice --accounts (one link per partner and account)")
	case c.Hostile && c.Target != "":
		return errors.New("storm: --hostile sends from loopback addresses of its own to the servers storm starts; it does not go with --target")
	case c.KillNode && c.Nodes < 2:
		return errors.New("storm: --kill-node needs --nodes 2 or more (someone must take over its cameras)")
	}
	if c.PartnerDisplays > 0 && !c.PartnerFaults.Enabled() {
		f, err := ParseFaults(defaultPartnerFaults)
		if err != nil {
			return err
		}
		c.PartnerFaults = f
	}
	if c.QueueSize == 0 {
		// Room for everything a camera makes from the outage until the
		// timeout, so a full queue never drops an event unless asked to.
		c.QueueSize = max(200, int((c.Warmup+c.Outage+c.Timeout)/c.EventInterval)+10)
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	return nil
}

// defaultPartnerFaults is the displays' poor network: a Nest Hub on
// household Wi-Fi.
const defaultPartnerFaults = "latency=40ms,jitter=20ms,reset=0.01,slice=0.5,slice_size=256"

// serverEnv is the backends of every node, in the environment rather
// than in arguments: a URL may hold a password, and arguments are shown
// to anyone who lists processes.
func (c *Config) serverEnv() []string {
	var env []string
	for _, b := range []struct{ name, url string }{
		{"CAMVAULT_STORE", c.Store}, {"CAMVAULT_BLOBS", c.Blobs}, {"CAMVAULT_CACHE", c.Cache}, {"CAMVAULT_BUS", c.Bus},
		{"CAMVAULT_CACHE_FAULTS", c.CacheFaults},
	} {
		if b.url != "" {
			env = append(env, b.name+"="+b.url)
		}
	}
	return env
}

// serverArgs are the arguments of `camvault serve`.
func (c *Config) serverArgs(data, addr, admin string) []string {
	// Private targets: the households' webhooks point at the storm's
	// receiver on loopback.
	args := []string{"--log-level", c.ServerLogLevel, "serve", "--data", data, "--addr", addr, "--admin-addr", admin, "--allow-private-targets"}
	if c.MaxConnectsPerSecond > 0 {
		args = append(args, "--max-connects-per-second", fmt.Sprint(c.MaxConnectsPerSecond))
	}
	if c.MaxUploadsPerSecond > 0 {
		args = append(args, "--max-uploads-per-second", fmt.Sprint(c.MaxUploadsPerSecond))
	}
	if c.MaxUploadsInFlight > 0 {
		args = append(args, "--max-uploads-in-flight", fmt.Sprint(c.MaxUploadsInFlight))
	}
	if c.Heartbeat > 0 {
		args = append(args, "--heartbeat", c.Heartbeat.String())
	}
	return args
}
