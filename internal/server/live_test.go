package server_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/coder/websocket"

	"github.com/camvault/camvault/internal/deviceclient"
	"github.com/camvault/camvault/internal/media/h264"
	simcam "github.com/camvault/camvault/internal/sim/camera"
)

// TestLiveOverHTTP: a person watches a simulated camera live through the
// real routes and services: the WebSocket stream starts with an init
// segment and a keyframe, every frame carries that camera's watermark,
// another household's person gets the 404 of a missing camera, and
// removing the viewer from the home ends the stream with 4403.
func TestLiveOverHTTP(t *testing.T) {
	e := newEnv(t)
	owner, viewer, stranger := e.signup("ann"), e.signup("bob"), e.signup("mallory")
	home := e.home(owner, "Home")
	e.home(stranger, "Elsewhere")
	cam := e.pairCamera(owner, home)
	e.share(owner, home, viewer, "viewer")

	key := []byte("live over http watermark key")
	fleet, err := simcam.NewFleet(simcam.Config{
		Server: e.public.URL, WatermarkKey: key, EventInterval: time.Hour, EventJitter: -1, ClipFrames: -1,
		Backoff: deviceclient.Backoff{Base: 10 * time.Millisecond, Cap: 200 * time.Millisecond},
		Log:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fleet.Add("front door", simcam.Credentials{DeviceID: cam.id, Token: cam.token}); err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fleet.Run(ctx) }()
	t.Cleanup(func() { stop(); <-done })
	eventually(t, "the camera is online", func() bool { return e.online(owner.token, cam.id) })

	dial := func(tok string) (*websocket.Conn, *http.Response, error) {
		url := "ws" + strings.TrimPrefix(e.public.URL, "http") + "/api/v1/devices/" + cam.id + "/live/mse"
		return websocket.Dial(t.Context(), url, &websocket.DialOptions{
			HTTPHeader: http.Header{"Authorization": {"Bearer " + tok}}, Subprotocols: []string{"camvault.live.v1"}})
	}
	if _, res, err := dial(stranger.token); err == nil || res == nil || res.StatusCode != http.StatusNotFound {
		t.Fatalf("another household's person: %v; want 404", err)
	}

	ws, _, err := dial(viewer.token)
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	defer ws.CloseNow()
	ws.SetReadLimit(8 << 20)
	read := func() []byte {
		t.Helper()
		_, b, err := ws.Read(t.Context())
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		return b
	}
	var init fmp4.Init
	if err := init.Unmarshal(bytes.NewReader(read())); err != nil {
		t.Fatalf("init segment: %v", err)
	}
	for i := range 20 {
		var parts fmp4.Parts
		if err := parts.Unmarshal(read()); err != nil {
			t.Fatalf("fragment %d: %v", i, err)
		}
		for _, p := range parts {
			for _, tr := range p.Tracks {
				for _, s := range tr.Samples {
					nalus, err := h264.SplitAVCC(s.Payload)
					if err != nil {
						t.Fatalf("fragment %d: %v", i, err)
					}
					if i == 0 && !h264.IsKeyframe(nalus) {
						t.Fatal("the stream does not start on a keyframe")
					}
					wm, err := simcam.VerifyVideoWatermark(key, nalus)
					if err != nil || wm.DeviceID != cam.id || wm.HomeID != home {
						t.Fatalf("fragment %d: watermark %+v, %v; want the camera's", i, wm, err)
					}
				}
			}
		}
	}

	e.must(204, "DELETE", "/api/v1/homes/"+home+"/members/"+viewer.id, owner.token, nil)
	for {
		if _, _, err := ws.Read(t.Context()); err != nil {
			if code := websocket.CloseStatus(err); code != 4403 {
				t.Fatalf("after the viewer was removed: %v; want close code 4403", err)
			}
			break
		}
	}
}
