// Package bridgetest is an IP camera in a process, for the bridge's tests
// and benchmarks: an RTSP server (gortsplib's) looping a committed H.264
// or H.265 stream in real time, and an HTTP snapshot endpoint whose
// picture changes while "motion" is on. Both ask for a user name and
// password, as a real camera does. It can be stopped and started again,
// as a camera reboots.
package bridgetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/gortsplib/v5/pkg/liberrors"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"

	"github.com/camvault/camvault/internal/media/h264"
	"github.com/pion/rtp"
)

// Config is a stand-in camera.
type Config struct {
	// Video is an Annex-B elementary stream file (.h264 or .h265) with
	// parameter sets before each keyframe, looped at FPS.
	Video string
	H265  bool
	FPS   int // default 15
	// ParamsInSDPOnly takes the parameter sets out of the stream and
	// gives them only in the session description, as many cameras do.
	ParamsInSDPOnly bool
	// Audio, when set, is an ADTS file of AAC the camera streams beside
	// the video, looped.
	Audio string
	// User and Password guard the stream and the snapshot; empty: open.
	User, Password string
	// SnapshotSize is the snapshot's size; default 640x360.
	SnapshotW, SnapshotH int
}

// Camera is a running stand-in camera.
type Camera struct {
	cfg    Config
	aus    [][][]byte // the stream's access units, each as NAL units
	params [][]byte   // VPS (H.265), SPS, PPS
	audio  mpeg4audio.ADTSPackets

	snap     *httptest.Server
	motion   atomic.Bool
	snapSeq  atomic.Int64
	snapshot atomic.Int64 // snapshots served

	mu      sync.Mutex
	addr    string // host:port of the RTSP server, kept across restarts
	srv     *gortsplib.Server
	stream  *gortsplib.ServerStream
	cancel  context.CancelFunc
	done    chan struct{}
	clients atomic.Int64
}

// New loads the video and starts the camera.
func New(cfg Config) (*Camera, error) {
	if cfg.FPS <= 0 {
		cfg.FPS = 15
	}
	if cfg.SnapshotW <= 0 {
		cfg.SnapshotW, cfg.SnapshotH = 640, 360
	}
	c := &Camera{cfg: cfg}
	var err error
	if c.aus, c.params, err = LoadVideo(cfg.Video, cfg.H265); err != nil {
		return nil, err
	}
	if cfg.Audio != "" {
		raw, err := os.ReadFile(cfg.Audio)
		if err != nil {
			return nil, fmt.Errorf("camera audio: %w", err)
		}
		if err := c.audio.Unmarshal(raw); err != nil || len(c.audio) == 0 {
			return nil, fmt.Errorf("camera audio: not ADTS: %v", err)
		}
	}
	if cfg.ParamsInSDPOnly {
		for i, au := range c.aus {
			var kept [][]byte
			for _, n := range au {
				if !isParam(n, cfg.H265) {
					kept = append(kept, n)
				}
			}
			c.aus[i] = kept
		}
	}
	c.snap = httptest.NewServer(http.HandlerFunc(c.serveSnapshot))
	if err := c.Start(); err != nil {
		c.snap.Close()
		return nil, err
	}
	return c, nil
}

// LoadVideo reads an Annex-B elementary stream file into access units
// (each as NAL units) and its parameter sets (VPS for H.265, SPS, PPS).
func LoadVideo(path string, h265 bool) (aus [][][]byte, params [][]byte, err error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("camera video: %w", err)
	}
	nalus, err := h264.SplitAnnexB(raw) // the same framing for H.265
	if err != nil {
		return nil, nil, fmt.Errorf("camera video: %w", err)
	}
	aus, params = group(nalus, h265)
	if len(aus) == 0 || len(params) < 2 || (h265 && len(params) < 3) {
		return nil, nil, errors.New("camera video: no pictures or no parameter sets")
	}
	return aus, params, nil
}

// group splits NAL units into access units: a new one starts at a
// parameter set or delimiter after a picture, or at a picture's first
// slice.
func group(nalus [][]byte, h265 bool) (aus [][][]byte, params [][]byte) {
	var cur [][]byte
	vclSeen := false
	flush := func() {
		if len(cur) > 0 {
			aus = append(aus, cur)
		}
		cur, vclSeen = nil, false
	}
	for _, n := range nalus {
		if len(n) < 3 {
			continue
		}
		vcl, first := isVCL(n, h265)
		if vclSeen && (!vcl || first) {
			flush()
		}
		if isParam(n, h265) && len(params) < 3 {
			have := false
			for _, p := range params {
				if paramType(p, h265) == paramType(n, h265) {
					have = true
				}
			}
			if !have {
				params = append(params, n)
			}
		}
		cur = append(cur, n)
		if vcl {
			vclSeen = true
		}
	}
	flush()
	return aus, params
}

func isVCL(n []byte, h265 bool) (vcl, firstSlice bool) {
	if h265 {
		t := (n[0] >> 1) & 0x3f
		return t < 32, n[2]&0x80 != 0
	}
	t := n[0] & 0x1f
	// first_mb_in_slice is ue(v): 0 is coded as a single 1 bit.
	return t == 1 || t == 5, n[1]&0x80 != 0
}

func paramType(n []byte, h265 bool) byte {
	if h265 {
		return (n[0] >> 1) & 0x3f
	}
	return n[0] & 0x1f
}

func isParam(n []byte, h265 bool) bool {
	t := paramType(n, h265)
	if h265 {
		return t == 32 || t == 33 || t == 34
	}
	return t == 7 || t == 8
}

// URL is the camera's RTSP address, without credentials.
func (c *Camera) URL() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return "rtsp://" + c.addr + "/stream1"
}

// SnapshotURL is the camera's snapshot address, without credentials.
func (c *Camera) SnapshotURL() string { return c.snap.URL + "/snapshot.jpg" }

// SetMotion turns the moving picture on or off.
func (c *Camera) SetMotion(on bool) { c.motion.Store(on) }

// Snapshots is how many snapshots the camera served.
func (c *Camera) Snapshots() int64 { return c.snapshot.Load() }

// Readers is how many RTSP clients are playing the stream.
func (c *Camera) Readers() int64 { return c.clients.Load() }

// Start starts the RTSP server (again, on the same port after Stop).
func (c *Camera) Start() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.srv != nil {
		return nil
	}
	addr := c.addr
	if addr == "" {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		addr = l.Addr().String()
		l.Close()
	}
	h := &handler{c: c}
	srv := &gortsplib.Server{Handler: h, RTSPAddress: addr}
	var forma format.Format
	if c.cfg.H265 {
		forma = &format.H265{PayloadTyp: 96, VPS: c.params[0], SPS: c.params[1], PPS: c.params[2]}
	} else {
		forma = &format.H264{PayloadTyp: 96, PacketizationMode: 1, SPS: c.params[0], PPS: c.params[1]}
	}
	desc := &description.Session{Medias: []*description.Media{{Type: description.MediaTypeVideo, Formats: []format.Format{forma}}}}
	var aac *format.MPEG4Audio
	if len(c.audio) > 0 {
		p := c.audio[0]
		aac = &format.MPEG4Audio{PayloadTyp: 97, SizeLength: 13, IndexLength: 3, IndexDeltaLength: 3,
			Config: &mpeg4audio.AudioSpecificConfig{Type: p.Type, SampleRate: p.SampleRate, ChannelConfig: p.ChannelConfig}}
		desc.Medias = append(desc.Medias, &description.Media{Type: description.MediaTypeAudio, Formats: []format.Format{aac}})
	}
	if err := srv.Start(); err != nil {
		return fmt.Errorf("camera RTSP server: %w", err)
	}
	stream := &gortsplib.ServerStream{Server: srv, Desc: desc}
	if err := stream.Initialize(); err != nil {
		srv.Close()
		return fmt.Errorf("camera RTSP stream: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	c.addr, c.srv, c.stream, c.cancel, c.done = addr, srv, stream, cancel, done
	go func() {
		defer close(done)
		var wg sync.WaitGroup
		if aac != nil {
			wg.Go(func() { c.playAudio(ctx, stream, desc.Medias[1], aac) })
		}
		c.play(ctx, stream, desc.Medias[0], forma)
		wg.Wait()
	}()
	return nil
}

// Stop stops the RTSP server, as a camera that reboots or drops off the
// network: its clients' connections end.
func (c *Camera) Stop() {
	c.mu.Lock()
	srv, stream, cancel, done := c.srv, c.stream, c.cancel, c.done
	c.srv, c.stream = nil, nil
	c.mu.Unlock()
	if srv == nil {
		return
	}
	cancel()
	<-done
	stream.Close()
	srv.Close()
}

// Close stops everything.
func (c *Camera) Close() {
	c.Stop()
	c.snap.Close()
}

// play writes the access units in real time, looping, with RTP times that
// keep increasing across loops.
func (c *Camera) play(ctx context.Context, stream *gortsplib.ServerStream, medi *description.Media, forma format.Format) {
	enc, err := newEncoder(forma)
	if err != nil {
		return
	}
	tick := time.NewTicker(time.Second / time.Duration(c.cfg.FPS))
	defer tick.Stop()
	step := uint32(90000 / c.cfg.FPS)
	var ts uint32
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		pkts, err := enc(c.aus[i%len(c.aus)])
		if err != nil {
			return
		}
		for _, p := range pkts {
			p.Timestamp = ts
			if err := stream.WritePacketRTP(medi, p); err != nil {
				return
			}
		}
		ts += step
	}
}

// playAudio writes the AAC frames in real time, one RTP packet each.
func (c *Camera) playAudio(ctx context.Context, stream *gortsplib.ServerStream, medi *description.Media, aac *format.MPEG4Audio) {
	enc, err := aac.CreateEncoder()
	if err != nil {
		return
	}
	rate := aac.Config.SampleRate
	tick := time.NewTicker(time.Duration(mpeg4audio.SamplesPerAccessUnit) * time.Second / time.Duration(rate))
	defer tick.Stop()
	var ts uint32
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		pkts, err := enc.Encode([][]byte{c.audio[i%len(c.audio)].AU})
		if err != nil {
			return
		}
		for _, p := range pkts {
			p.Timestamp = ts
			if err := stream.WritePacketRTP(medi, p); err != nil {
				return
			}
		}
		ts += mpeg4audio.SamplesPerAccessUnit
	}
}

type handler struct{ c *Camera }

func (h *handler) auth(conn *gortsplib.ServerConn, req *base.Request) bool {
	if h.c.cfg.User == "" {
		return true
	}
	return conn.VerifyCredentials(req, h.c.cfg.User, h.c.cfg.Password)
}

func (h *handler) OnDescribe(ctx *gortsplib.ServerHandlerOnDescribeCtx) (*base.Response, *gortsplib.ServerStream, error) {
	if !h.auth(ctx.Conn, ctx.Request) {
		return &base.Response{StatusCode: base.StatusUnauthorized}, nil, liberrors.ErrServerAuth{}
	}
	if ctx.Path != "/stream1" && ctx.Path != "stream1" {
		return &base.Response{StatusCode: base.StatusNotFound}, nil, nil
	}
	h.c.mu.Lock()
	defer h.c.mu.Unlock()
	return &base.Response{StatusCode: base.StatusOK}, h.c.stream, nil
}

func (h *handler) OnSetup(ctx *gortsplib.ServerHandlerOnSetupCtx) (*base.Response, *gortsplib.ServerStream, error) {
	if !h.auth(ctx.Conn, ctx.Request) {
		return &base.Response{StatusCode: base.StatusUnauthorized}, nil, liberrors.ErrServerAuth{}
	}
	h.c.mu.Lock()
	defer h.c.mu.Unlock()
	return &base.Response{StatusCode: base.StatusOK}, h.c.stream, nil
}

func (h *handler) OnPlay(*gortsplib.ServerHandlerOnPlayCtx) (*base.Response, error) {
	h.c.clients.Add(1)
	return &base.Response{StatusCode: base.StatusOK}, nil
}

func (h *handler) OnSessionClose(ctx *gortsplib.ServerHandlerOnSessionCloseCtx) {
	if ctx.Session.State() == gortsplib.ServerSessionStatePlay {
		h.c.clients.Add(-1)
	}
}

// serveSnapshot answers with a JPEG: a still scene, and while motion is
// on a bright box that moves on each snapshot.
func (c *Camera) serveSnapshot(w http.ResponseWriter, r *http.Request) {
	if c.cfg.User != "" {
		u, p, ok := r.BasicAuth()
		if !ok || u != c.cfg.User || p != c.cfg.Password {
			w.Header().Set("WWW-Authenticate", `Basic realm="camera"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
	}
	c.snapshot.Add(1)
	img := image.NewYCbCr(image.Rect(0, 0, c.cfg.SnapshotW, c.cfg.SnapshotH), image.YCbCrSubsampleRatio420)
	for y := range c.cfg.SnapshotH {
		for x := range c.cfg.SnapshotW {
			img.Y[img.YOffset(x, y)] = uint8(60 + (x/40+y/40)%2*40)
		}
	}
	for i := range img.Cb {
		img.Cb[i], img.Cr[i] = 128, 128
	}
	if c.motion.Load() {
		n := int(c.snapSeq.Add(1))
		bw, bh := c.cfg.SnapshotW/5, c.cfg.SnapshotH/4
		x0 := (n * bw / 2) % (c.cfg.SnapshotW - bw)
		y0 := c.cfg.SnapshotH / 3
		for y := y0; y < y0+bh; y++ {
			for x := x0; x < x0+bw; x++ {
				img.Y[img.YOffset(x, y)] = 240
			}
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 80}); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "image/jpeg")
	_, _ = w.Write(buf.Bytes())
}

// newEncoder returns the RTP packetizer of the camera's format.
func newEncoder(forma format.Format) (func([][]byte) ([]*rtp.Packet, error), error) {
	switch f := forma.(type) {
	case *format.H264:
		e, err := f.CreateEncoder()
		if err != nil {
			return nil, err
		}
		return e.Encode, nil
	case *format.H265:
		e, err := f.CreateEncoder()
		if err != nil {
			return nil, err
		}
		return e.Encode, nil
	}
	return nil, fmt.Errorf("no encoder for %T", forma)
}
