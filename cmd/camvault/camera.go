package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/camvault/camvault/internal/deviceclient"
	"github.com/camvault/camvault/internal/sim/camera"
)

// cameraCmd runs simulated cameras (internal/sim/camera): one, or many in one
// process with --count.
type cameraCmd struct {
	Server           string        `help:"Server base URL, e.g. http://127.0.0.1:8080." required:"" env:"CAMVAULT_SERVER"`
	PairingCode      []string      `name:"pairing-code" help:"Pairing code from the app. Codes are single use: with --count N give one per camera (repeat the flag, or a comma-separated list)." env:"CAMVAULT_PAIRING_CODE"`
	PairingCodesFile string        `name:"pairing-codes-file" help:"File of pairing codes, one per line, used after --pairing-code." env:"CAMVAULT_PAIRING_CODES_FILE"`
	TokenFile        string        `name:"token-file" help:"Where the device credentials are kept (mode 0600): a file, or with --count N a directory holding camera-0001.json ... Loaded if there, written after pairing." env:"CAMVAULT_TOKEN_FILE"`
	Count            int           `help:"How many cameras to run in this process." default:"1" env:"CAMVAULT_COUNT"`
	EventInterval    time.Duration `help:"Time between motion events (spread by ±20%)." default:"30s" env:"CAMVAULT_EVENT_INTERVAL"`
	Name             string        `help:"Camera name shown on its frames; with --count N, NAME-0001 ..." default:"camera" env:"CAMVAULT_CAMERA_NAME"`
	WatermarkKey     string        `name:"watermark-key" help:"Hex key (at least 16 bytes) the frames' watermark MAC is made with; whoever verifies watermarks needs it. Default: the key kept in --token-file, else a new random one (kept there)." env:"CAMVAULT_WATERMARK_KEY"`
	Queue            int           `help:"Events each camera keeps while offline; the oldest is dropped past it." default:"200" env:"CAMVAULT_QUEUE"`
	ClipFrames       int           `name:"clip-frames" help:"Frames in each event's clip; 0 for no clip." default:"3" env:"CAMVAULT_CLIP_FRAMES"`
	BackoffBase      time.Duration `name:"backoff-base" help:"First reconnect/retry wait ceiling; doubles per failure." default:"1s" env:"CAMVAULT_BACKOFF_BASE"`
	BackoffBrisk     time.Duration `name:"backoff-brisk" help:"Longest reconnect/retry wait ceiling while failures are young (until they have lasted ten times this)." default:"4s" env:"CAMVAULT_BACKOFF_BRISK"`
	BackoffCap       time.Duration `name:"backoff-cap" help:"Longest reconnect/retry wait ceiling: failures that last grow the ceiling to a tenth of their length, up to this." default:"5m" env:"CAMVAULT_BACKOFF_CAP"`
	UploadWorkers    int           `name:"upload-workers" help:"Uploads in flight across all cameras." default:"16" env:"CAMVAULT_UPLOAD_WORKERS"`
	Model            string        `help:"Model reported at pairing." default:"CV-SIM" env:"CAMVAULT_CAMERA_MODEL"`
	Firmware         string        `help:"Firmware reported at pairing." default:"camvault-sim/1" env:"CAMVAULT_CAMERA_FIRMWARE"`
}

func (c *cameraCmd) Run(ctx context.Context, log *slog.Logger) error {
	if c.Count < 1 {
		return errors.New("--count must be at least 1")
	}
	var key []byte
	if c.WatermarkKey != "" {
		k, err := hex.DecodeString(strings.TrimSpace(c.WatermarkKey))
		if err != nil || len(k) < minWatermarkKey {
			return errors.New("--watermark-key (or CAMVAULT_WATERMARK_KEY) must be at least 16 bytes in hex; make one with: openssl rand -hex 32")
		}
		key = k
	}
	client := camera.NewHTTPClient(c.UploadWorkers)
	creds, key, err := c.credentials(ctx, client, key, log)
	if err != nil {
		return err
	}
	clipFrames := c.ClipFrames
	if clipFrames <= 0 {
		clipFrames = -1 // no clip
	}
	fleet, err := camera.NewFleet(camera.Config{
		Server:        c.Server,
		WatermarkKey:  key,
		EventInterval: c.EventInterval,
		QueueSize:     c.Queue,
		ClipFrames:    clipFrames,
		Backoff:       deviceclient.Backoff{Base: c.BackoffBase, Brisk: c.BackoffBrisk, Cap: c.BackoffCap},
		UploadWorkers: c.UploadWorkers,
		StartSpread:   min(time.Duration(c.Count-1)*2*time.Millisecond, 30*time.Second),
		HTTPClient:    client,
		Log:           log,
	})
	if err != nil {
		return err
	}
	for i, cr := range creds {
		name := c.Name
		if c.Count > 1 {
			name = fmt.Sprintf("%s-%04d", c.Name, i+1)
		}
		if _, err := fleet.Add(name, cr); err != nil {
			return err
		}
	}
	log.Info("cameras starting", "count", len(creds), "server", c.Server, "event_interval", c.EventInterval)
	done := make(chan struct{})
	var reporting sync.WaitGroup
	reporting.Go(func() { reportTotals(ctx, done, fleet, log) })
	err = fleet.Run(ctx)
	close(done)
	reporting.Wait()
	t := fleet.Totals()
	log.Info("cameras stopped", "generated", t.Generated, "uploaded", t.Uploaded, "dropped", t.Dropped,
		"rejected", t.Rejected, "queued", t.Queued, "connects", t.Connects, "reconnects", t.Reconnects)
	return err
}

// reportTotals logs the fleet's counters every minute.
func reportTotals(ctx context.Context, done <-chan struct{}, fleet *camera.Fleet, log *slog.Logger) {
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-done:
			return
		case <-tick.C:
			t := fleet.Totals()
			log.Info("cameras", "online", t.Online, "generated", t.Generated, "uploaded", t.Uploaded,
				"dropped", t.Dropped, "queued", t.Queued, "reconnects", t.Reconnects)
		}
	}
}

// minWatermarkKey is the shortest watermark key the cameras accept.
const minWatermarkKey = 16

// credentials loads or pairs the cameras' credentials: from --token-file
// where they are kept, by pairing with one code per camera otherwise. It
// also settles the watermark key: key when given, else the one kept with
// the credentials, else a new random one, kept with those it writes (a
// person trying a simulated camera has no key to give, and needs none).
func (c *cameraCmd) credentials(ctx context.Context, client *http.Client, key []byte, log *slog.Logger) ([]camera.Credentials, []byte, error) {
	codes, err := c.codes()
	if err != nil {
		return nil, nil, err
	}
	st, statErr := os.Stat(c.TokenFile)
	dirMode := c.TokenFile != "" && (c.Count > 1 || (statErr == nil && st.IsDir()))
	paths := make([]string, c.Count)
	switch {
	case dirMode:
		if err := os.MkdirAll(c.TokenFile, 0o700); err != nil {
			return nil, nil, fmt.Errorf("token directory: %w", err)
		}
		for i := range paths {
			paths[i] = filepath.Join(c.TokenFile, fmt.Sprintf("camera-%04d.json", i+1))
		}
	case c.TokenFile != "":
		paths[0] = c.TokenFile
	}

	var creds []camera.Credentials
	var missing []int
	for i, p := range paths {
		if p == "" {
			missing = append(missing, i)
			continue
		}
		cr, err := camera.LoadCredentials(p)
		if errors.Is(err, os.ErrNotExist) {
			missing = append(missing, i)
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		if cr.Server != "" && cr.Server != strings.TrimRight(c.Server, "/") {
			log.Warn("credentials were paired with another server", "file", p, "paired_with", cr.Server, "server", c.Server)
		}
		if key == nil && cr.WatermarkKey != "" {
			k, err := hex.DecodeString(cr.WatermarkKey)
			if err != nil || len(k) < minWatermarkKey {
				return nil, nil, fmt.Errorf("%s: watermark_key must be at least %d bytes in hex", p, minWatermarkKey)
			}
			key = k
		}
		creds = append(creds, cr)
	}
	if key == nil {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, nil, fmt.Errorf("watermark key: %w", err)
		}
	}
	if len(missing) == 0 {
		if len(codes) > 0 {
			log.Warn("every camera already has credentials; pairing codes not used", "codes", len(codes))
		}
		return creds, key, nil
	}
	if len(codes) < len(missing) {
		if c.Count > 1 {
			return nil, nil, fmt.Errorf("%d of %d cameras need pairing but only %d pairing code(s) were given: pairing codes are single use, so each camera needs its own; "+
				"make one per camera in the app and pass them with --pairing-code (repeated) or --pairing-codes-file, and --token-file DIR to keep the credentials",
				len(missing), c.Count, len(codes))
		}
		return nil, nil, errors.New("no credentials: give --pairing-code (from the app) to pair, or --token-file with saved credentials")
	}
	if len(codes) > len(missing) {
		log.Warn("more pairing codes than cameras to pair; the rest are not used", "unused", len(codes)-len(missing))
	}
	if c.TokenFile == "" {
		log.Warn("--token-file not given: the new device credentials are not saved, so these cameras cannot be run again")
	}
	for n, i := range missing {
		cr, err := camera.Pair(ctx, client, c.Server, codes[n], c.Model, c.Firmware)
		if err != nil {
			return nil, nil, fmt.Errorf("camera %d: %w", i+1, err)
		}
		cr.WatermarkKey = hex.EncodeToString(key)
		if paths[i] != "" {
			if err := camera.SaveCredentials(paths[i], cr); err != nil {
				return nil, nil, err
			}
		}
		log.Info("camera paired", "camera", i+1, "device", cr.DeviceID, "token_file", paths[i])
		creds = append(creds, cr)
	}
	return creds, key, nil
}

// codes are the pairing codes of the flags, then those of the file.
func (c *cameraCmd) codes() ([]string, error) {
	var codes []string
	for _, code := range c.PairingCode {
		if code = strings.TrimSpace(code); code != "" {
			codes = append(codes, code)
		}
	}
	if c.PairingCodesFile == "" {
		return codes, nil
	}
	f, err := os.Open(c.PairingCodesFile)
	if err != nil {
		return nil, fmt.Errorf("pairing codes file: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" && !strings.HasPrefix(line, "#") {
			codes = append(codes, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("pairing codes file: %w", err)
	}
	return codes, nil
}
