package mse_test

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"
	"github.com/coder/websocket"

	"github.com/camvault/camvault/internal/live"
	"github.com/camvault/camvault/internal/live/mse"
	"github.com/camvault/camvault/internal/media/h264"
	"github.com/camvault/camvault/internal/sim/camera"
	"github.com/camvault/camvault/internal/sim/livefeed"
)

var (
	testKey    = []byte("mse test watermark key, 32 bytes")
	errRevoked = errors.New("revoked")
)

const (
	testHome   = "01HOMEHOMEHOMEHOMEHOMEHOME"
	testDevice = "01DEVICEDEVICEDEVICEDEVICE"
)

func newSource(t *testing.T, frames uint64) *livefeed.Source {
	t.Helper()
	src, err := livefeed.New(camera.Video360p, testKey, testHome, testDevice)
	if err != nil {
		t.Fatal(err)
	}
	src.Frames = frames
	return src
}

// serve runs mse.Serve for src behind a test server and dials it.
func serve(t *testing.T, src mse.Source) *websocket.Conn {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = mse.Serve(r.Context(), w, r, src, mse.Options{
			AccessLost: func(err error) bool { return errors.Is(err, errRevoked) },
			Ended:      func(err error) bool { return errors.Is(err, livefeed.ErrEnded) },
		})
	}))
	t.Cleanup(srv.Close)
	ws, _, err := websocket.Dial(t.Context(), "ws"+strings.TrimPrefix(srv.URL, "http"), &websocket.DialOptions{Subprotocols: []string{mse.Subprotocol}})
	if err != nil {
		t.Fatal(err)
	}
	ws.SetReadLimit(4 << 20)
	t.Cleanup(func() { ws.CloseNow() })
	return ws
}

func read(t *testing.T, ws *websocket.Conn) []byte {
	t.Helper()
	typ, b, err := ws.Read(t.Context())
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if typ != websocket.MessageBinary {
		t.Fatalf("a %v message; want binary", typ)
	}
	return b
}

// TestStream: the first message is an init segment describing the
// camera's H.264, then fragments of one frame each, the first a keyframe
// (a sync sample holding an IDR), carrying the camera's watermark, on a
// timeline without gaps; the stream's end closes normally.
func TestStream(t *testing.T) {
	const frames = 40
	src := newSource(t, frames)
	ws := serve(t, src)
	if ws.Subprotocol() != mse.Subprotocol {
		t.Fatalf("subprotocol %q", ws.Subprotocol())
	}

	var init fmp4.Init
	if err := init.Unmarshal(bytes.NewReader(read(t, ws))); err != nil {
		t.Fatalf("init segment: %v", err)
	}
	if len(init.Tracks) != 1 {
		t.Fatalf("%d tracks", len(init.Tracks))
	}
	codec, ok := init.Tracks[0].Codec.(*codecs.H264)
	if !ok {
		t.Fatalf("codec %T, want H.264", init.Tracks[0].Codec)
	}
	want := src.Video.Params()
	if !bytes.Equal(codec.SPS, want.SPS) || !bytes.Equal(codec.PPS, want.PPS) || init.Tracks[0].TimeScale != h264.Timescale {
		t.Fatal("init segment's parameter sets or timescale are not the stream's")
	}

	var next uint64 // expected base time
	for i := range frames {
		var parts fmp4.Parts
		if err := parts.Unmarshal(read(t, ws)); err != nil {
			t.Fatalf("fragment %d: %v", i, err)
		}
		if len(parts) != 1 || len(parts[0].Tracks) != 1 || len(parts[0].Tracks[0].Samples) != 1 {
			t.Fatalf("fragment %d: want one part, track and sample", i)
		}
		tr, s := parts[0].Tracks[0], parts[0].Tracks[0].Samples[0]
		if parts[0].SequenceNumber != uint32(i+1) {
			t.Errorf("fragment %d: sequence number %d", i, parts[0].SequenceNumber)
		}
		if tr.BaseTime != next {
			t.Errorf("fragment %d starts at %d, want %d (no gap, no overlap)", i, tr.BaseTime, next)
		}
		next += uint64(s.Duration)
		nalus, err := h264.SplitAVCC(s.Payload)
		if err != nil {
			t.Fatalf("fragment %d: %v", i, err)
		}
		key := i%src.Video.GOP() == 0
		if h264.IsKeyframe(nalus) != key || s.IsNonSyncSample == key {
			t.Errorf("fragment %d: keyframe %v, non-sync %v; want keyframe %v", i, h264.IsKeyframe(nalus), s.IsNonSyncSample, key)
		}
		wm, err := camera.VerifyVideoWatermark(testKey, nalus)
		if err != nil || wm.Seq != uint64(i) || wm.DeviceID != testDevice || wm.HomeID != testHome {
			t.Errorf("fragment %d: watermark %+v, %v", i, wm, err)
		}
	}
	_, _, err := ws.Read(t.Context())
	if websocket.CloseStatus(err) != websocket.StatusNormalClosure {
		t.Fatalf("after the last frame: %v, want a normal closure", err)
	}
	if !src.Closed() {
		t.Error("the source was not closed")
	}
}

// TestAccessLost: a session whose viewer loses access closes with 4403,
// and the source is closed.
func TestAccessLost(t *testing.T) {
	src := newSource(t, 0)
	ws := serve(t, src)
	read(t, ws) // init
	read(t, ws) // the first fragment: the stream is flowing
	src.Fail(errRevoked)
	for {
		_, _, err := ws.Read(t.Context())
		if err == nil {
			continue // frames sent before the revocation was seen
		}
		if websocket.CloseStatus(err) != mse.CloseAccessLost {
			t.Fatalf("closed with %v, want %d", err, mse.CloseAccessLost)
		}
		break
	}
}

// TestSubprotocolRequired: a client that does not speak the subprotocol
// gets no stream.
func TestSubprotocolRequired(t *testing.T) {
	src := newSource(t, 0)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = mse.Serve(r.Context(), w, r, src, mse.Options{})
	}))
	defer srv.Close()
	ws, _, err := websocket.Dial(t.Context(), "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	if _, _, err := ws.Read(t.Context()); websocket.CloseStatus(err) != websocket.StatusPolicyViolation {
		t.Fatalf("without the subprotocol: %v, want a policy violation", err)
	}
}

// TestMuxerGap: a skip in the stream (a viewer dropped to the next
// keyframe) leaves no hole in the player's timeline.
func TestMuxerGap(t *testing.T) {
	src := newSource(t, 0)
	frames, err := src.Video.Frames(testKey, testDevice, testHome, 0, 2*uint64(src.Video.GOP()))
	if err != nil {
		t.Fatal(err)
	}
	var m mse.Muxer
	var base []uint64
	for i, f := range frames {
		if i > 0 && i < src.Video.GOP() {
			continue // frames 1 .. GOP-1 lost
		}
		msgs, err := m.Push(live.Frame{Seq: f.Seq, PTS: ticksToDuration(f.PTS), Keyframe: f.Keyframe, AU: f.Data})
		if err != nil {
			t.Fatal(err)
		}
		for _, msg := range msgs {
			var parts fmp4.Parts
			if err := parts.Unmarshal(msg); err == nil && len(parts) == 1 {
				base = append(base, parts[0].Tracks[0].BaseTime)
			}
		}
	}
	for i := 1; i < len(base); i++ {
		if base[i]-base[i-1] != h264.Timescale/camera.VideoFPS {
			t.Fatalf("fragment times %v: want one frame apart", base)
		}
	}
}

func ticksToDuration(t int64) time.Duration { return time.Duration(t) * time.Second / h264.Timescale }

// TestMuxerNoWait: each frame's fragment comes out of its own Push, with
// the init segment before the first; no frame waits for its successor.
func TestMuxerNoWait(t *testing.T) {
	src := newSource(t, 0)
	frames, err := src.Video.Frames(testKey, testDevice, testHome, 0, 3)
	if err != nil {
		t.Fatal(err)
	}
	var m mse.Muxer
	for i, f := range frames {
		msgs, err := m.Push(live.Frame{Seq: f.Seq, PTS: ticksToDuration(f.PTS), Keyframe: f.Keyframe, AU: f.Data})
		if err != nil {
			t.Fatal(err)
		}
		want := 1
		if i == 0 {
			want = 2 // the init segment, then the keyframe's fragment
		}
		if len(msgs) != want {
			t.Fatalf("frame %d: %d messages, want %d", i, len(msgs), want)
		}
		var parts fmp4.Parts
		if err := parts.Unmarshal(msgs[len(msgs)-1]); err != nil || len(parts) != 1 || len(parts[0].Tracks[0].Samples) != 1 {
			t.Fatalf("frame %d: not one fragment of one sample: %v", i, err)
		}
		nalus, err := h264.SplitAVCC(parts[0].Tracks[0].Samples[0].Payload)
		if err != nil {
			t.Fatal(err)
		}
		if wm, err := camera.VerifyVideoWatermark(testKey, nalus); err != nil || wm.Seq != uint64(i) {
			t.Fatalf("frame %d: the fragment holds frame %+v, %v", i, wm, err)
		}
	}
}
