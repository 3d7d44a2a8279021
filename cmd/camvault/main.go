// Command camvault is the camvault server and its tools. Each subcommand is
// a thin wrapper over an internal package.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/alecthomas/kong"
	nblogging "github.com/lesismal/nbio/logging"

	"github.com/camvault/camvault/internal/cache/faults"
	"github.com/camvault/camvault/internal/gateway"
	"github.com/camvault/camvault/internal/logbuf"
	"github.com/camvault/camvault/internal/server"
)

type cli struct {
	LogLevel  slog.Level       `help:"Log level: debug, info, warn or error." default:"info" env:"CAMVAULT_LOG_LEVEL"`
	LogFormat string           `help:"Log format: text or json." default:"text" enum:"text,json" env:"CAMVAULT_LOG_FORMAT"`
	Version   kong.VersionFlag `help:"Print the version and exit."`

	Serve      serveCmd   `cmd:"" help:"Run the server on the embedded default (SQLite and a local data directory)."`
	Admin      adminCmd   `cmd:"" help:"Operator tasks on a data directory."`
	Demo       demoCmd    `cmd:"" help:"Run the server with a demo account and simulated cameras, to see camvault alive at once."`
	Camera     cameraCmd  `cmd:"" help:"Run simulated cameras: pair, upload watermarked motion events, hold the device connection."`
	Bridge     bridgeCmd  `cmd:"" help:"Connect your own RTSP/ONVIF cameras to a camvault server; runs on the cameras' network (docs/bridge.md)."`
	Storm      stormCmd   `cmd:"" help:"The outage test: a server, thousands of simulated cameras and viewers, a SIGKILL and a restart; checks no event is lost or doubled and no media reaches another household."`
	VersionCmd versionCmd `cmd:"" name:"version" help:"Print the version: module version, commit and its date, Go version."`

	version string // versionText, read once
}

type adminCmd struct {
	Data    string `help:"Data directory." default:"camvault-data" env:"CAMVAULT_DATA"`
	KeyFile string `help:"Master key file (default: DATA/master.key). CAMVAULT_MASTER_KEY, if set, is used instead." env:"CAMVAULT_KEY_FILE"`
	Store   string `help:"Record store, as given to serve: empty for SQLite in --data, or postgres://USER@HOST/DB for PostgreSQL." env:"CAMVAULT_STORE" placeholder:"URL"`
	Bus     string `help:"The nodes' NATS, as given to serve (nats://HOST:PORT), to tell them of a change at once; without it they see it within a second." env:"CAMVAULT_BUS" placeholder:"URL"`

	Audit     auditCmd     `cmd:"" help:"The households' audit logs."`
	Incidents incidentsCmd `cmd:"" help:"List media responses that were withheld and cache entries that were refused, with who would have received what."`
	Breaker   breakerCmd   `cmd:"" help:"The cache breaker: status, or reset it once the cause is understood."`
	Backup    backupCmd    `cmd:"" help:"Copy the database and blobs of the embedded default into a new directory while the server runs (the master key is not copied)."`
	Restore   restoreCmd   `cmd:"" help:"Restore a backup into an empty data directory (--data); the server must not be running on it."`
	Migrate   migrateCmd   `cmd:"" help:"Copy this one-machine installation onto an empty PostgreSQL database and S3 bucket, for several nodes; the server must be stopped."`
	Partners  partnersCmd  `cmd:"" help:"Partners linked with OAuth 2.0 (smart displays, voice assistants): add, list, disable, enable."`
	Keys      keysCmd      `cmd:"" help:"The master key's generations: status, rotate, retire (servers stopped)."`
}

// config is the server configuration the admin flags describe.
func (a *adminCmd) config() server.Config {
	return server.Config{DataDir: a.Data, KeyFile: a.KeyFile, MasterKey: os.Getenv("CAMVAULT_MASTER_KEY"), Store: a.Store}
}

func (a *adminCmd) open(ctx context.Context) (*server.Offline, error) {
	return server.OpenOffline(ctx, a.config())
}

type auditCmd struct {
	Verify auditVerifyCmd `cmd:"" help:"Check every home's audit hash chain and its head; exit 1 if an entry or a head was edited or removed."`
	Heads  auditHeadsCmd  `cmd:"" help:"Print every chain's head as an anchor file, to keep outside the database (verify --anchor checks no chain went back from it)."`
}

type auditVerifyCmd struct {
	Anchor string `help:"An anchor file made by admin audit heads: also check that no chain went back from it." type:"existingfile" placeholder:"FILE"`
}

func (c *auditVerifyCmd) Run(ctx context.Context, admin *adminCmd) error {
	o, err := admin.open(ctx)
	if err != nil {
		return err
	}
	defer o.Close()
	return o.VerifyAudit(ctx, os.Stdout, c.Anchor)
}

type auditHeadsCmd struct{}

func (c *auditHeadsCmd) Run(ctx context.Context, admin *adminCmd) error {
	o, err := admin.open(ctx)
	if err != nil {
		return err
	}
	defer o.Close()
	return o.AuditHeads(ctx, os.Stdout, os.Stderr)
}

type incidentsCmd struct {
	Limit int `help:"How many, newest first." default:"100"`
}

func (c *incidentsCmd) Run(ctx context.Context, admin *adminCmd) error {
	o, err := admin.open(ctx)
	if err != nil {
		return err
	}
	defer o.Close()
	return o.Incidents(ctx, os.Stdout, c.Limit)
}

type serveCmd struct {
	Data             string `help:"Data directory (database, key file, media)." default:"camvault-data" env:"CAMVAULT_DATA"`
	Addr             string `help:"Public listener, HOST:PORT. Off loopback it needs TLS." default:"127.0.0.1:8080" env:"CAMVAULT_ADDR"`
	AdminAddr        string `help:"Admin listener for /healthz, /readyz and /metrics, HOST:PORT." default:"127.0.0.1:8081" env:"CAMVAULT_ADMIN_ADDR"`
	AdminAllowRemote bool   `help:"Allow a non-loopback --admin-addr." env:"CAMVAULT_ADMIN_ALLOW_REMOTE"`
	WebRTCAddr       string `name:"webrtc-addr" help:"UDP HOST:PORT that every WebRTC live session's media shares (default: the host of --addr, any free port; open it in the firewall)." env:"CAMVAULT_WEBRTC_ADDR"`
	KeyFile          string `help:"Master key file (default: DATA/master.key, created on first start). CAMVAULT_MASTER_KEY, if set, is used instead." env:"CAMVAULT_KEY_FILE"`
	TLSCert          string `name:"tls-cert" help:"TLS certificate file (PEM)." env:"CAMVAULT_TLS_CERT"`
	TLSKey           string `name:"tls-key" help:"TLS private key file (PEM)." env:"CAMVAULT_TLS_KEY"`
	TrustedProxy     string `name:"trusted-proxy" help:"The TLS-terminating proxies in front of --addr, as IP addresses or CIDR prefixes, comma-separated (e.g. 127.0.0.1): their X-Forwarded-For gives the client's address and X-Forwarded-Proto https makes cookies Secure (__Host-) and adds HSTS. Nobody else's forwarding headers are believed." env:"CAMVAULT_TRUSTED_PROXY" placeholder:"ADDRS"`

	SMTP      string `name:"smtp" help:"SMTP relay for mail (password resets, new-login warnings): smtp://USER:PASSWORD@HOST:PORT, upgraded with STARTTLS (required unless HOST is loopback), or smtps://... for implicit TLS. Prefer the variable: a flag shows the password to anyone who can list processes. Empty: no mail is sent." env:"CAMVAULT_SMTP" placeholder:"URL"`
	SMTPFrom  string `name:"smtp-from" help:"The address mail comes from, e.g. camvault@example.com (required with --smtp)." env:"CAMVAULT_SMTP_FROM" placeholder:"ADDRESS"`
	PublicURL string `name:"public-url" help:"The server's address as browsers reach it, https://HOST[:PORT]: mailed links point to it (required with --smtp) and passkeys are bound to it (default: http://localhost:PORT for a loopback --addr; passkeys need a name, not an IP address)." env:"CAMVAULT_PUBLIC_URL" placeholder:"URL"`

	Store string `help:"Record store: empty for SQLite in --data, or postgres://USER@HOST/DB for PostgreSQL." env:"CAMVAULT_STORE" placeholder:"URL"`
	Blobs string `help:"Blob store: empty for the blobs directory in --data, or s3://BUCKET?endpoint=URL&region=R for S3 (credentials from the usual AWS variables)." env:"CAMVAULT_BLOBS" placeholder:"URL"`
	Cache string `help:"Cache: empty for in process, or redis://HOST:PORT/DB for Redis/Valkey." env:"CAMVAULT_CACHE" placeholder:"URL"`
	Bus   string `help:"Message bus between nodes: empty for an embedded NATS server, or nats://HOST:PORT for a NATS cluster." env:"CAMVAULT_BUS" placeholder:"URL"`

	CacheFaults string `help:"TEST ONLY: inject cache faults, e.g. swap=1.0 or stale=0.3,corrupt=0.1,redis-crossreply=0.2 (see docs/design/cache.md). Never in production." env:"CAMVAULT_CACHE_FAULTS" placeholder:"SPEC"`

	MaxConnectsPerSecond float64       `help:"New camera connections admitted per second; past it cameras get 503." default:"5000" env:"CAMVAULT_MAX_CONNECTS_PER_SECOND"`
	MaxUploadsPerSecond  float64       `help:"Event uploads started per second; past it cameras get 503." default:"1000" env:"CAMVAULT_MAX_UPLOADS_PER_SECOND"`
	MaxUploadsInFlight   int           `help:"Event uploads received at once; past it cameras get 503." default:"64" env:"CAMVAULT_MAX_UPLOADS_IN_FLIGHT"`
	Heartbeat            time.Duration `help:"How often cameras send heartbeats; three missed end the connection." default:"30s" env:"CAMVAULT_HEARTBEAT"`
	CameraWS             string        `name:"camera-ws" help:"How camera connections are served: netpoll (an idle camera holds no goroutine and no buffer) or std (a goroutine each; to compare). Through --tls-cert they are std either way." default:"netpoll" enum:"netpoll,std" env:"CAMVAULT_CAMERA_WS"`
	LiveViewersPerCamera int           `help:"Live viewers of one camera on this node; past it 429." default:"32" env:"CAMVAULT_LIVE_VIEWERS_PER_CAMERA"`
	LiveSessionsPerHome  int           `help:"Live sessions of one home on this node; past it 429." default:"16" env:"CAMVAULT_LIVE_SESSIONS_PER_HOME"`
	SignupsPerAddress    int           `help:"New accounts one client address may make per hour; past it 429 (0: no limit, for tests and load tests only)." default:"20" env:"CAMVAULT_SIGNUPS_PER_ADDRESS"`
	AllowPrivateTargets  bool          `name:"allow-private-targets" help:"Let webhooks, MQTT brokers and push endpoints be on loopback, link-local and private addresses (and without TLS), as a server at home with a receiver on the same network needs. Off, such targets are refused when added and at every connection." env:"CAMVAULT_ALLOW_PRIVATE_TARGETS"`
}

func (c *serveCmd) Run(ctx context.Context, log *slog.Logger) error {
	cfg := server.Config{
		DataDir:          c.Data,
		Addr:             c.Addr,
		AdminAddr:        c.AdminAddr,
		AdminAllowRemote: c.AdminAllowRemote,
		WebRTCAddr:       c.WebRTCAddr,
		KeyFile:          c.KeyFile,
		// The master key is read from the environment only: a flag would
		// show it to anyone who can list processes.
		MasterKey:      os.Getenv("CAMVAULT_MASTER_KEY"),
		TLSCert:        c.TLSCert,
		TLSKey:         c.TLSKey,
		TrustedProxies: c.TrustedProxy,
		SMTP:           c.SMTP,
		SMTPFrom:       c.SMTPFrom,
		PublicURL:      c.PublicURL,
		Store:          c.Store,
		Blobs:          c.Blobs,
		Cache:          c.Cache,
		Bus:            c.Bus,
	}
	opts := server.DefaultOptions()
	if c.MaxConnectsPerSecond <= 0 || c.MaxUploadsPerSecond <= 0 || c.MaxUploadsInFlight <= 0 || c.Heartbeat < time.Second {
		return fmt.Errorf("admission limits must be positive and --heartbeat at least 1s")
	}
	if c.LiveViewersPerCamera <= 0 || c.LiveSessionsPerHome <= 0 {
		return fmt.Errorf("--live-viewers-per-camera and --live-sessions-per-home must be positive")
	}
	if c.SignupsPerAddress < 0 {
		return fmt.Errorf("--signups-per-address must not be negative")
	}
	opts.Identity.SignupsPerAddress = c.SignupsPerAddress
	opts.Webhooks.AllowPrivateTargets = c.AllowPrivateTargets
	opts.MQTT.AllowPrivateTargets = c.AllowPrivateTargets
	opts.Push.AllowPrivateTargets = c.AllowPrivateTargets
	opts.Live.MaxViewersPerCamera = c.LiveViewersPerCamera
	opts.Live.MaxSessionsPerHome = c.LiveSessionsPerHome
	opts.Admission.ConnectsPerSecond = c.MaxConnectsPerSecond
	opts.Admission.ConnectBurst = max(1, int(c.MaxConnectsPerSecond/5))
	opts.Admission.UploadsPerSecond = c.MaxUploadsPerSecond
	opts.Admission.UploadBurst = max(1, int(c.MaxUploadsPerSecond/5))
	opts.Admission.UploadsInFlight = c.MaxUploadsInFlight
	opts.Gateway.Heartbeat = c.Heartbeat
	opts.Gateway.CameraWS = c.CameraWS
	var err error
	if opts.Cache.Faults, err = faults.ParseSpec(c.CacheFaults); err != nil {
		return fmt.Errorf("--cache-faults: %w", err)
	}
	app, err := server.Open(ctx, cfg, opts, log)
	if err != nil {
		return err
	}
	err = app.Run(ctx)
	return errors.Join(err, app.Close())
}

// exitUsage is the exit status of a command line that cannot be parsed,
// as Go tools and POSIX utilities use it (kong's own default is 80).
const exitUsage = 2

// usageError gives a parse error the usage exit status; kong still sees
// the parse error inside and prints the usage.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }
func (usageError) ExitCode() int   { return exitUsage }

func main() {
	c := cli{version: versionText()}
	parser, err := kong.New(&c,
		kong.Name("camvault"),
		kong.Description("The cloud behind home security cameras."),
		kong.UsageOnError(),
		kong.Vars{"version": c.version},
	)
	if err != nil {
		panic(err) // the flag definitions above are wrong: a programming error
	}
	kctx, err := parser.Parse(os.Args[1:])
	if err != nil {
		parser.FatalIfErrorf(usageError{err})
	}
	// Information lines (one per request) are written in batches every
	// 100 ms; warnings and errors at once, after them.
	out := logbuf.New(os.Stderr, 100*time.Millisecond)
	opts := &slog.HandlerOptions{Level: c.LogLevel}
	var h slog.Handler = slog.NewTextHandler(out, opts)
	if c.LogFormat == "json" {
		h = slog.NewJSONHandler(out, opts)
	}
	log := slog.New(logbuf.Handler(h, out, slog.LevelWarn))
	// The camera connections' poller library logs through a setting of
	// its own, for the whole process.
	nblogging.SetLogger(gateway.LibraryLogger(log))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = run(ctx, kctx, &c, log)
	stop()
	_ = out.Close() // what was logged, before anything else is printed
	if err != nil {
		fmt.Fprintln(os.Stderr, "camvault:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, kctx *kong.Context, c *cli, log *slog.Logger) error {
	kctx.BindTo(ctx, (*context.Context)(nil))
	kctx.Bind(&c.Admin)
	kctx.Bind(c)
	return kctx.Run(log)
}
