package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"text/tabwriter"
	"time"

	"github.com/camvault/camvault/internal/bridge"
)

// bridgeCmd connects a household's own IP cameras to a camvault server
// (internal/bridge, docs/bridge.md).
type bridgeCmd struct {
	State string `help:"State directory (made mode 0700): the bridged cameras and their queued events." default:"/var/lib/camvault-bridge" env:"CAMVAULT_BRIDGE_STATE"`
	Key   string `help:"The key the cameras' passwords and credentials are sealed with (default: STATE/key); keep it apart from the state, e.g. a systemd credential." env:"CAMVAULT_BRIDGE_KEY" placeholder:"FILE"`

	Pair     bridgePairCmd     `cmd:"" help:"Check a camera and pair it with the server as a new device."`
	Run      bridgeRunCmd      `cmd:"" help:"Connect every paired camera: stream, motion, events, live view."`
	List     bridgeListCmd     `cmd:"" help:"List the paired cameras."`
	Remove   bridgeRemoveCmd   `cmd:"" help:"Forget a camera (remove it in the app too)."`
	Discover bridgeDiscoverCmd `cmd:"" help:"Find ONVIF cameras on the local network."`
}

type bridgePairCmd struct {
	Server      string `help:"The camvault server, e.g. https://camvault.example." required:"" env:"CAMVAULT_SERVER"`
	PairingCode string `name:"pairing-code" help:"Pairing code made in the app (Cameras, Add a camera)." required:""`
	Name        string `help:"The camera's name in the bridge." required:""`
	RTSP        string `name:"rtsp" help:"The camera's main RTSP stream, rtsp://user:pass@host:554/path (docs/bridge.md lists paths by brand)." placeholder:"URL"`
	LiveRTSP    string `name:"live-rtsp" help:"An H.264 stream for live view when the main one is H.265 (the camera's sub-stream)." placeholder:"URL"`
	Snapshot    string `help:"The camera's snapshot URL (HTTP JPEG), for event pictures and motion." placeholder:"URL"`
	ONVIF       string `name:"onvif" help:"The camera's ONVIF address (host[:port] or its device service URL): the streams and snapshot are read from it." placeholder:"ADDR"`
	User        string `help:"The camera's user name (instead of the one in the URLs)."`
	Password    string `help:"The camera's password (instead of the one in the URLs); CAMVAULT_CAMERA_PASSWORD keeps it out of the shell history." env:"CAMVAULT_CAMERA_PASSWORD"`
	Sensitivity int    `help:"Motion sensitivity, 1 (large changes only) to 100; 0 for no motion events." default:"50"`
	Zones       string `help:"Where motion counts: rows of 0 and 1 over the picture, top to bottom, separated by '/' (e.g. 0000/1111/1111 ignores the top third); empty for all of it."`
	Motion      string `help:"Motion from: auto (the camera's ONVIF events when it has them, else snapshots), onvif or snapshot." default:"auto" enum:"auto,onvif,snapshot"`
}

func (c *bridgePairCmd) Run(ctx context.Context, b *bridgeCmd, log *slog.Logger, cli *cli) error {
	zones, err := bridge.ParseZones(c.Zones)
	if err != nil {
		return err
	}
	req := bridge.PairRequest{
		Server: c.Server, PairingCode: c.PairingCode, Name: c.Name,
		StreamURL: c.RTSP, LiveURL: c.LiveRTSP, SnapshotURL: c.Snapshot,
		Username: c.User, Password: c.Password, Firmware: cli.version,
		Motion: bridge.MotionConfig{Sensitivity: c.Sensitivity, Zones: zones, Source: c.Motion},
	}
	if c.ONVIF != "" {
		if err := bridge.FromONVIF(ctx, &req, c.ONVIF); err != nil {
			return err
		}
	}
	if req.StreamURL == "" {
		return errors.New("give the camera's RTSP stream (--rtsp) or its ONVIF address (--onvif)")
	}
	st, err := bridge.OpenState(b.State, b.Key, true)
	if err != nil {
		return err
	}
	cfg, err := bridge.Pair(ctx, st, req, &http.Client{Timeout: time.Minute}, log)
	if err != nil {
		return err
	}
	fmt.Printf("Paired %q as device %s. Start the bridge (camvault bridge run) to connect it.\n", cfg.Name, cfg.DeviceID)
	return nil
}

type bridgeRunCmd struct{}

func (c *bridgeRunCmd) Run(ctx context.Context, b *bridgeCmd, log *slog.Logger) error {
	st, err := bridge.OpenState(b.State, b.Key, false)
	if err != nil {
		return err
	}
	br, err := bridge.New(st, bridge.Options{Log: log})
	if err != nil {
		return err
	}
	for _, cam := range br.Cameras() {
		log.Info("bridging camera", "camera", cam.Stats().Name)
	}
	return br.Run(ctx)
}

type bridgeListCmd struct{}

func (c *bridgeListCmd) Run(b *bridgeCmd) error {
	st, err := bridge.OpenState(b.State, b.Key, false)
	if err != nil {
		return err
	}
	cams, err := st.Cameras()
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tDEVICE\tSTREAM\tSERVER\tPAIRED")
	for _, cam := range cams {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", cam.Name, cam.DeviceID, cam.StreamURL, cam.Server, cam.PairedAt.Format(time.DateOnly))
	}
	return tw.Flush()
}

type bridgeRemoveCmd struct {
	Name string `arg:"" help:"The camera's name."`
}

func (c *bridgeRemoveCmd) Run(b *bridgeCmd) error {
	st, err := bridge.OpenState(b.State, b.Key, false)
	if err != nil {
		return err
	}
	if err := st.RemoveCamera(c.Name); err != nil {
		return err
	}
	fmt.Printf("Removed %q from the bridge; remove it in the app too.\n", c.Name)
	return nil
}

type bridgeDiscoverCmd struct {
	Timeout time.Duration `help:"How long to listen for answers." default:"3s"`
}

func (c *bridgeDiscoverCmd) Run(ctx context.Context) error {
	found, err := bridge.Discover(ctx, c.Timeout)
	if err != nil {
		return err
	}
	if len(found) == 0 {
		fmt.Println("No ONVIF camera answered. Cameras on another subnet or VLAN, or with ONVIF turned off, do not; give their RTSP address instead.")
		return nil
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tHARDWARE\tONVIF ADDRESS")
	for _, d := range found {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", d.Name, d.Hardware, d.Address)
	}
	return tw.Flush()
}
