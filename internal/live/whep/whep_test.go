package whep_test

import (
	"errors"
	"testing"
	"time"

	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"

	"github.com/camvault/camvault/internal/live/whep"
	"github.com/camvault/camvault/internal/media/h264"
	"github.com/camvault/camvault/internal/sim/camera"
	"github.com/camvault/camvault/internal/sim/livefeed"
)

var testKey = []byte("whep test watermark key 32 bytes")

const (
	testHome   = "01HOMEHOMEHOMEHOMEHOMEHOME"
	testDevice = "01DEVICEDEVICEDEVICEDEVICE"
)

func newServer(t *testing.T, cfg whep.Config) *whep.Server {
	t.Helper()
	cfg.UDPAddr = "127.0.0.1:0"
	s, err := whep.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

func newSource(t *testing.T) *livefeed.Source {
	t.Helper()
	src, err := livefeed.New(camera.Video360p, testKey, testHome, testDevice)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// client is a viewer's peer connection, as a browser makes it: one
// receive-only video transceiver, all candidates in the offer.
func client(t *testing.T) (*webrtc.PeerConnection, string) {
	t.Helper()
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
		t.Fatal(err)
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	return pc, pc.LocalDescription().SDP
}

// TestPlay: a pion viewer offers, gets an answer, and receives the
// camera's H.264: the first access unit it depacketizes is a keyframe with
// its parameter sets, carrying the camera's watermark; a few more follow
// in order. Deleting the session ends it and closes the source.
func TestPlay(t *testing.T) {
	srv := newServer(t, whep.Config{})
	src := newSource(t)
	pc, offer := client(t)
	type au struct {
		nalus [][]byte
		err   error
	}
	aus := make(chan au, 64)
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		if tr.Codec().MimeType != webrtc.MimeTypeH264 {
			aus <- au{err: errors.New("track codec " + tr.Codec().MimeType)}
			return
		}
		var dep codecs.H264Packet
		var buf []byte
		for {
			pkt, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			b, err := dep.Unmarshal(pkt.Payload)
			if err != nil {
				aus <- au{err: err}
				return
			}
			buf = append(buf, b...)
			if !pkt.Marker {
				continue
			}
			nalus, err := h264.SplitAnnexB(buf)
			buf = nil
			select {
			case aus <- au{nalus: nalus, err: err}:
			default: // the test has what it needs
			}
		}
	})
	id, answer, err := srv.Offer(t.Context(), "viewer", src, offer)
	if err != nil {
		t.Fatalf("offer: %v", err)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatalf("answer: %v", err)
	}
	var seqs []uint64
	for i := range 5 {
		var a au
		select {
		case a = <-aus:
		case <-t.Context().Done():
			t.Fatal("no video")
		}
		if a.err != nil {
			t.Fatalf("access unit %d: %v", i, a.err)
		}
		if i == 0 {
			if !h264.IsKeyframe(a.nalus) {
				t.Fatal("the first access unit is not a keyframe")
			}
			if _, err := h264.FindParams(a.nalus); err != nil {
				t.Fatalf("the first keyframe: %v", err)
			}
		}
		wm, err := camera.VerifyVideoWatermark(testKey, a.nalus)
		if err != nil || wm.DeviceID != testDevice || wm.HomeID != testHome {
			t.Fatalf("access unit %d: watermark %+v, %v", i, wm, err)
		}
		seqs = append(seqs, wm.Seq)
	}
	for i, s := range seqs {
		if s != uint64(i) {
			t.Fatalf("frames %v, want 0 to 4 in order", seqs)
		}
	}

	if srv.Delete("someone else", id) {
		t.Fatal("another viewer ended the session")
	}
	if !srv.Delete("viewer", id) {
		t.Fatal("the viewer could not end the session")
	}
	waitFor(t, func() bool { return srv.Sessions() == 0 && src.Closed() })
}

// TestNeverConnected: a session whose viewer never connects ends by
// itself, and its source is closed.
func TestNeverConnected(t *testing.T) {
	srv := newServer(t, whep.Config{ConnectTimeout: 1})
	src := newSource(t)
	_, offer := client(t) // offers, never takes the answer
	if _, _, err := srv.Offer(t.Context(), "viewer", src, offer); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return srv.Sessions() == 0 && src.Closed() })
}

// TestBadOffer: an offer with no video, or not SDP at all, is refused and
// the source closed.
func TestBadOffer(t *testing.T) {
	srv := newServer(t, whep.Config{})
	for _, offer := range []string{"", "v=0\r\n", "not sdp m=video"} {
		src := newSource(t)
		if _, _, err := srv.Offer(t.Context(), "viewer", src, offer); !errors.Is(err, whep.ErrBadOffer) {
			t.Errorf("offer %q: %v, want ErrBadOffer", offer, err)
		}
		if !src.Closed() {
			t.Errorf("offer %q: source left open", offer)
		}
	}
}

// TestFull: past MaxSessions an offer is refused.
func TestFull(t *testing.T) {
	srv := newServer(t, whep.Config{MaxSessions: 1})
	_, offer := client(t)
	if _, _, err := srv.Offer(t.Context(), "viewer", newSource(t), offer); err != nil {
		t.Fatal(err)
	}
	_, offer2 := client(t)
	src := newSource(t)
	if _, _, err := srv.Offer(t.Context(), "viewer", src, offer2); !errors.Is(err, whep.ErrFull) {
		t.Fatalf("second session: %v, want ErrFull", err)
	}
	if !src.Closed() {
		t.Error("refused source left open")
	}
}

// waitFor waits, as long as the test may run, until cond holds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-t.Context().Done():
			t.Fatal("condition never held")
		case <-time.After(10 * time.Millisecond):
		}
	}
}
