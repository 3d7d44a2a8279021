package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/camvault/camvault/internal/deviceclient"
)

// PairRequest is what a person gives to bridge a camera.
type PairRequest struct {
	Server      string // the camvault server's base URL
	PairingCode string // made in the app
	Name        string // the camera's name, for the bridge's logs and list
	// StreamURL is the camera's RTSP stream (rtsp://user:pass@host/path);
	// LiveURL an optional H.264 sub-stream for live view.
	StreamURL, LiveURL string
	// SnapshotURL is the camera's still picture (HTTP).
	SnapshotURL string
	// Username and Password, when set, win over the ones in the URLs.
	Username, Password string
	Motion             MotionConfig
	// ONVIF, when set, is the camera's ONVIF device service (filled by
	// the ONVIF lookup; the caller fills StreamURL and SnapshotURL from it).
	ONVIF string
	// Firmware is the bridge's version, told to the server.
	Firmware string
}

// Pair checks that the camera answers (its stream plays and its snapshot
// is a JPEG), then pairs it with the server as a new device and stores it
// in st, its credential and password sealed. The camera is checked first
// so a wrong address or password does not use up the pairing code.
func Pair(ctx context.Context, st *State, req PairRequest, client *http.Client, log *slog.Logger) (CameraConfig, error) {
	if strings.TrimSpace(req.Name) == "" {
		return CameraConfig{}, errors.New("give the camera a name (--name)")
	}
	if req.PairingCode == "" {
		return CameraConfig{}, errors.New("give the pairing code made in the app (--pairing-code)")
	}
	server, err := serverURL(req.Server)
	if err != nil {
		return CameraConfig{}, err
	}
	if err := req.Motion.Zones.check(); err != nil {
		return CameraConfig{}, err
	}
	if req.Motion.Sensitivity < 0 || req.Motion.Sensitivity > 100 {
		return CameraConfig{}, errors.New("motion sensitivity is 0 (off) to 100")
	}
	stream, user, pass, err := cameraURL(req.StreamURL, "rtsp", req.Username, req.Password)
	if err != nil {
		return CameraConfig{}, err
	}
	var live string
	if req.LiveURL != "" {
		if live, _, _, err = cameraURL(req.LiveURL, "rtsp", "", ""); err != nil {
			return CameraConfig{}, err
		}
	}
	if req.SnapshotURL == "" {
		return CameraConfig{}, errors.New("give the camera's snapshot address (--snapshot), or its ONVIF address: every event needs a picture")
	}
	snap, _, _, err := cameraURL(req.SnapshotURL, "http", "", "")
	if err != nil {
		return CameraConfig{}, err
	}
	if log == nil {
		log = slog.Default()
	}

	// The camera first.
	full, err := withUserinfo(stream, user, pass)
	if err != nil {
		return CameraConfig{}, err
	}
	codec, w, h, err := ProbeStream(ctx, full, log)
	if err != nil {
		return CameraConfig{}, fmt.Errorf("camera stream %s: %w", stream, err)
	}
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	_, err = newSnapshotter(snap, user, pass, nil).get(pctx)
	cancel()
	if err != nil {
		return CameraConfig{}, fmt.Errorf("camera snapshot %s: %w", snap, err)
	}
	if codec != H264 && live == "" {
		log.Warn("the camera streams "+codec.String()+": live view needs an H.264 stream; give its sub-stream with --live-rtsp", "camera", req.Name)
	}

	// Then the server.
	paired, err := deviceclient.Pair(ctx, client, server, req.PairingCode,
		fmt.Sprintf("RTSP camera (%s %dx%d)", codec, w, h), "camvault-bridge "+req.Firmware)
	if err != nil {
		return CameraConfig{}, err
	}
	if req.Motion.Source == "" {
		req.Motion.Source = "auto"
	}
	cfg := CameraConfig{
		Name: req.Name, Server: server, DeviceID: paired.DeviceID,
		StreamURL: stream, LiveURL: live, ONVIF: req.ONVIF,
		Username: user, Motion: req.Motion, PairedAt: time.Now().UTC(),
	}
	if err := st.addCamera(&cfg, Secrets{DeviceToken: paired.Token, Password: pass, SnapshotURL: snap}); err != nil {
		return CameraConfig{}, fmt.Errorf("paired as device %s, but not stored: %w (remove it in the app and pair again)", paired.DeviceID, err)
	}
	return cfg, nil
}

// ProbeStream connects to an RTSP stream until its first keyframe and
// reports its codec and picture size.
func ProbeStream(ctx context.Context, streamURL string, log *slog.Logger) (Codec, int, int, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	got := make(chan AccessUnit, 1)
	src := &Source{url: streamURL, name: "probe", log: log, sink: func(au AccessUnit, _ bool) {
		select {
		case got <- au:
		default:
		}
	}}
	errc := make(chan error, 1)
	go func() { errc <- src.session(ctx) }()
	select {
	case <-got:
	case err := <-errc:
		return "", 0, 0, err
	case <-ctx.Done():
		<-errc
		return "", 0, 0, errors.New("no keyframe from the camera within 20 s")
	}
	cancel()
	<-errc
	_, codec, params, _ := src.State()
	w, h, err := params.Resolution(codec)
	if err != nil {
		return "", 0, 0, err
	}
	return codec, w, h, nil
}

// serverURL checks a camvault server's base URL.
func serverURL(raw string) (string, error) {
	u, err := url.Parse(strings.TrimRight(strings.TrimSpace(raw), "/"))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", fmt.Errorf("server address %q: want https://host[:port]", raw)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("server address %q: no user, query or fragment", raw)
	}
	return u.String(), nil
}

// cameraURL checks a camera address of the given scheme family and takes
// any user name and password out of it; user and pass given apart win.
func cameraURL(raw, family, user, pass string) (clean, u, p string, err error) {
	clean, u, p, err = splitUserinfo(strings.TrimSpace(raw))
	if err != nil {
		return "", "", "", err
	}
	parsed, _ := url.Parse(clean)
	if !strings.HasPrefix(parsed.Scheme, family) || parsed.Host == "" {
		return "", "", "", fmt.Errorf("camera address %q: want %s://host/path", redactURL(raw), family)
	}
	if user != "" {
		u, p = user, pass
	}
	return clean, u, p, nil
}
