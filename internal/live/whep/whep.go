// Package whep delivers a live stream to a browser over WebRTC, as the
// WebRTC-HTTP Egress Protocol (WHEP, RFC 9725) describes: the viewer posts
// an SDP offer, gets an answer, and receives the camera's H.264 on one
// send-only video track. Every session's ICE shares one UDP port (a mux),
// so the server's footprint does not grow with its viewers. See
// docs/design/web.md, "Live view".
package whep

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/live"
)

// Source is a viewer's live session: its frames, the first a keyframe with
// its parameter sets. live.Session is one.
type Source interface {
	Next(ctx context.Context) (live.Frame, error)
	Close()
}

// Errors of Offer.
var (
	ErrFull     = errors.New("whep: too many live sessions on this node")
	ErrBadOffer = errors.New("whep: the offer cannot be answered")
	ErrClosed   = errors.New("whep: server closed")
)

// Config is the server's.
type Config struct {
	// UDPAddr is the one UDP address every session's media goes through,
	// such as ":8189"; "127.0.0.1:0" in tests.
	UDPAddr string
	// PublicIPs, when set, are the addresses announced to browsers instead
	// of the interfaces' own (a server behind 1:1 NAT).
	PublicIPs []string
	// MaxSessions bounds the sessions of this node. Default 256.
	MaxSessions int
	// ConnectTimeout ends a session whose peer never connects. Default 15 s.
	ConnectTimeout time.Duration
	// AccessLost and Ended classify the Source's errors for the log.
	AccessLost func(error) bool
	Ended      func(error) bool
	Log        *slog.Logger
}

// Server holds the WHEP sessions of this node.
type Server struct {
	cfg  Config
	api  *webrtc.API
	udp  net.PacketConn
	mux  ice.UDPMux
	log  *slog.Logger
	ctx  context.Context // ends every session on Close
	stop context.CancelFunc

	mu       sync.Mutex
	sessions map[string]*session
	closed   bool
	wg       sync.WaitGroup // the sessions' goroutines
}

// fmtp is the H.264 the server offers: constrained baseline in
// non-interleaved mode, as the cameras send. level-asymmetry-allowed lets
// a 720p stream (level 3.1) go to a browser that names level 3.1 or less.
const fmtp = "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"

// New listens on cfg.UDPAddr and returns the server.
func New(cfg Config) (*Server, error) {
	if cfg.MaxSessions <= 0 {
		cfg.MaxSessions = 256
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 15 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	addr, err := net.ResolveUDPAddr("udp", cfg.UDPAddr)
	if err != nil {
		return nil, fmt.Errorf("whep: UDP address %q: %w", cfg.UDPAddr, err)
	}
	udp, err := net.ListenUDP("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("whep: listen: %w", err)
	}
	m := &webrtc.MediaEngine{}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000, SDPFmtpLine: fmtp,
			RTCPFeedback: []webrtc.RTCPFeedback{{Type: "nack"}, {Type: "nack", Parameter: "pli"}}},
		PayloadType: 102,
	}, webrtc.RTPCodecTypeVideo); err != nil {
		udp.Close()
		return nil, fmt.Errorf("whep: register H.264: %w", err)
	}
	// NACK answers (a bounded buffer of recent packets per session) and
	// RTCP sender reports.
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(m, ir); err != nil {
		udp.Close()
		return nil, fmt.Errorf("whep: interceptors: %w", err)
	}
	mux := webrtc.NewICEUDPMux(nil, udp)
	se := webrtc.SettingEngine{}
	se.SetICEUDPMux(mux)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6})
	se.SetIncludeLoopbackCandidate(addr.IP != nil && addr.IP.IsLoopback())
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	// A viewer that vanishes without DELETE is gone within seconds.
	se.SetICETimeouts(3*time.Second, 6*time.Second, time.Second)
	if len(cfg.PublicIPs) > 0 {
		if err := se.SetICEAddressRewriteRules(webrtc.ICEAddressRewriteRule{
			External: cfg.PublicIPs, AsCandidateType: webrtc.ICECandidateTypeHost, Mode: webrtc.ICEAddressRewriteReplace,
		}); err != nil {
			udp.Close()
			return nil, fmt.Errorf("whep: public IPs: %w", err)
		}
	}
	ctx, stop := context.WithCancel(context.Background())
	return &Server{
		cfg: cfg, udp: udp, mux: mux, log: cfg.Log, ctx: ctx, stop: stop, sessions: map[string]*session{},
		api: webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se)),
	}, nil
}

// Addr is the UDP address media goes through.
func (s *Server) Addr() net.Addr { return s.udp.LocalAddr() }

// session is one viewer's peer connection.
type session struct {
	id     string
	owner  string
	pc     *webrtc.PeerConnection
	cancel context.CancelFunc
}

// Offer answers a viewer's SDP offer with a session that sends src's
// frames, and returns the session's ID and the SDP answer (ICE gathering
// complete: no trickle). owner is who may end it (Delete). The session
// owns src from here on, and ends when src does, when the viewer loses
// access, when its peer connection fails or never connects, on Delete and
// on Close; src is closed in every case, including an error here.
func (s *Server) Offer(ctx context.Context, owner string, src Source, offer string) (sessionID, answer string, err error) {
	defer func() {
		if err != nil {
			src.Close()
		}
	}()
	if !strings.Contains(offer, "m=video") {
		return "", "", fmt.Errorf("%w: no video section", ErrBadOffer)
	}
	s.mu.Lock()
	full, closed := len(s.sessions) >= s.cfg.MaxSessions, s.closed
	s.mu.Unlock()
	switch {
	case closed:
		return "", "", ErrClosed
	case full:
		return "", "", ErrFull
	}

	pc, err := s.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return "", "", fmt.Errorf("whep: peer connection: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			_ = pc.Close()
		}
	}()
	track, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000, SDPFmtpLine: fmtp}, "video", "camvault")
	if err != nil {
		return "", "", fmt.Errorf("whep: track: %w", err)
	}
	sender, err := pc.AddTrack(track)
	if err != nil {
		return "", "", fmt.Errorf("whep: add track: %w", err)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return "", "", fmt.Errorf("%w: %v", ErrBadOffer, err)
	}
	ans, err := pc.CreateAnswer(nil)
	if err != nil {
		return "", "", fmt.Errorf("%w: %v", ErrBadOffer, err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(ans); err != nil {
		return "", "", fmt.Errorf("whep: set answer: %w", err)
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return "", "", ctx.Err()
	}
	if !answersVideo(pc) {
		return "", "", fmt.Errorf("%w: no H.264 the browser and camvault share", ErrBadOffer)
	}

	sctx, cancel := context.WithCancel(s.ctx)
	sess := &session{id: id.New(), owner: owner, pc: pc, cancel: cancel}
	connected := make(chan struct{})
	var once sync.Once
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		switch st {
		case webrtc.PeerConnectionStateConnected:
			once.Do(func() { close(connected) })
		case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed, webrtc.PeerConnectionStateDisconnected:
			cancel()
		}
	})
	s.mu.Lock()
	if s.closed || len(s.sessions) >= s.cfg.MaxSessions {
		s.mu.Unlock()
		cancel()
		return "", "", ErrFull
	}
	s.sessions[sess.id] = sess
	s.wg.Add(2)
	s.mu.Unlock()
	ok = true
	go func() {
		defer s.wg.Done()
		s.run(sctx, sess, src, track, connected)
	}()
	go func() {
		defer s.wg.Done()
		// RTCP must be read for the interceptors (NACK, reports) to work;
		// Read fails once the peer connection is closed.
		buf := make([]byte, 1500)
		for {
			if _, _, err := sender.Read(buf); err != nil {
				return
			}
		}
	}()
	return sess.id, pc.LocalDescription().SDP, nil
}

// answersVideo reports whether the answer sends the track: the offer had
// an H.264 the server accepts.
func answersVideo(pc *webrtc.PeerConnection) bool {
	for _, t := range pc.GetTransceivers() {
		if t.Sender() != nil && t.Sender().Track() != nil && t.Mid() != "" &&
			(t.Direction() == webrtc.RTPTransceiverDirectionSendonly || t.Direction() == webrtc.RTPTransceiverDirectionSendrecv) {
			return len(t.Sender().GetParameters().Codecs) > 0
		}
	}
	return false
}

// run sends src's frames once the peer connects, and tears the session
// down when it ends.
func (s *Server) run(ctx context.Context, sess *session, src Source, track *webrtc.TrackLocalStaticSample, connected <-chan struct{}) {
	defer func() {
		sess.cancel()
		src.Close()
		_ = sess.pc.Close()
		s.mu.Lock()
		delete(s.sessions, sess.id)
		s.mu.Unlock()
	}()
	timer := time.NewTimer(s.cfg.ConnectTimeout)
	select {
	case <-connected:
		timer.Stop()
	case <-timer.C:
		s.log.Info("live session never connected", "session", sess.id)
		return
	case <-ctx.Done():
		timer.Stop()
		return
	}
	var last time.Duration
	step := time.Second / 15
	for {
		f, err := src.Next(ctx)
		if err != nil {
			switch {
			case ctx.Err() != nil:
			case s.cfg.AccessLost != nil && s.cfg.AccessLost(err):
				s.log.Info("live session ended: access lost", "session", sess.id)
			case s.cfg.Ended != nil && s.cfg.Ended(err):
			default:
				s.log.Warn("live session failed", "session", sess.id, "err", err)
			}
			return
		}
		// A sample's duration is how far the RTP clock steps after it; the
		// next frame's time is not known yet, so the last step stands in.
		if d := f.PTS - last; last != 0 && d > 0 && d < time.Second {
			step = d
		}
		last = f.PTS
		if err := track.WriteSample(media.Sample{Data: f.AU, Duration: step}); err != nil {
			return // the peer connection closed
		}
	}
}

// Delete ends owner's session id. It reports false for a session that is
// not there or not owner's (the same answer: not found).
func (s *Server) Delete(owner, id string) bool {
	s.mu.Lock()
	sess, ok := s.sessions[id]
	s.mu.Unlock()
	if !ok || sess.owner != owner {
		return false
	}
	sess.cancel()
	return true
}

// Sessions is the number of open sessions.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// Close ends every session, waits for them, and closes the UDP port.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.stop()
	s.wg.Wait()
	err := s.mux.Close()
	if cerr := s.udp.Close(); err == nil && cerr != nil && !errors.Is(cerr, net.ErrClosed) {
		err = cerr
	}
	return err
}
