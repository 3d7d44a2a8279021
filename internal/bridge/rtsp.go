package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/pion/rtp"

	"github.com/camvault/camvault/internal/deviceclient"
)

// rtpDecoder turns a video format's RTP packets into access units.
type rtpDecoder interface {
	Decode(pkt *rtp.Packet) ([][]byte, error)
}

// Source keeps one RTSP stream of a camera open: it connects (over TCP,
// interleaved, which passes NAT and Wi-Fi better than UDP), reads the
// first H.264 or H.265 video track, and hands each access unit to its
// sink and subscribers. When the camera reboots or the network drops it
// reconnects with the protocol's backoff, for as long as its context
// lives. Nothing is decoded or transcoded.
type Source struct {
	url     string // with the camera's user and password
	name    string // for logs: the camera's name and which stream
	log     *slog.Logger
	backoff deviceclient.Backoff
	// readTimeout is how long a silent camera is waited for before the
	// connection is taken for lost.
	readTimeout time.Duration
	// sink gets every access unit first, on the reading goroutine; restart
	// is true for the first of a new connection.
	sink func(au AccessUnit, restart bool)
	// audioSink, when set, gets the stream's AAC frames (an AAC track is
	// set up only then).
	audioSink func(f AudioFrame)
	// onState is told when the stream goes up (its first keyframe) or down.
	onState func(up bool, err error)

	mu      sync.Mutex
	codec   Codec
	params  ParamSets
	audio   *mpeg4audio.AudioSpecificConfig // the AAC track's, nil when none
	up      bool
	lastErr error
	subs    map[*subscription]struct{}

	frames   atomic.Int64
	bytes    atomic.Int64
	connects atomic.Int64
}

// SourceStats are a source's counters.
type SourceStats struct {
	Frames, Bytes, Connects int64
}

// Stats returns the source's counters.
func (s *Source) Stats() SourceStats {
	return SourceStats{Frames: s.frames.Load(), Bytes: s.bytes.Load(), Connects: s.connects.Load()}
}

// State reports whether the stream is up, its codec and parameter sets
// (known once it has been up), and why it last went down.
func (s *Source) State() (up bool, codec Codec, params ParamSets, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.up, s.codec, s.params, s.lastErr
}

// Run connects and reconnects until ctx ends.
func (s *Source) Run(ctx context.Context) {
	attempt := 0
	var failSince time.Time
	for ctx.Err() == nil {
		started := time.Now()
		err := s.session(ctx)
		if ctx.Err() != nil {
			return
		}
		s.setDown(err)
		if time.Since(started) > 30*time.Second {
			attempt, failSince = 0, time.Time{} // it was up a while: start afresh
		}
		if failSince.IsZero() {
			failSince = time.Now()
		}
		d := s.backoff.Delay(attempt, time.Since(failSince), 0, rand.Int64N)
		attempt++
		s.log.Warn("camera stream lost; reconnecting", "camera", s.name, "err", err, "in", d.Round(time.Millisecond))
		if !sleep(ctx, d) {
			return
		}
	}
}

// sleep waits d, or less when ctx ends; it reports whether ctx is alive.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func (s *Source) setDown(err error) {
	s.mu.Lock()
	was := s.up
	s.up, s.lastErr = false, err
	for sub := range s.subs {
		sub.gap.Store(true)
	}
	s.mu.Unlock()
	if was && s.onState != nil {
		s.onState(false, err)
	}
}

// session is one connection: it returns when the stream ends or fails.
func (s *Source) session(ctx context.Context) error {
	u, err := base.ParseURL(s.url)
	if err != nil {
		return fmt.Errorf("camera stream address: %w", err)
	}
	tcp := gortsplib.ProtocolTCP
	timeout := s.readTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	c := &gortsplib.Client{
		Scheme: u.Scheme, Host: u.Host, Protocol: &tcp,
		ReadTimeout: timeout, WriteTimeout: timeout, UserAgent: "camvault-bridge",
		DialContext: (&net.Dialer{Timeout: timeout}).DialContext,
	}
	if err := c.Start(); err != nil {
		return fmt.Errorf("connect to the camera: %w", err)
	}
	defer c.Close()
	// Close the client when ctx ends, so every blocking call below returns.
	stop := context.AfterFunc(ctx, c.Close)
	defer stop()

	desc, _, err := c.Describe(u)
	if err != nil {
		return fmt.Errorf("describe the camera's stream: %w", describeRTSPError(err))
	}
	medi, codec, params, dec, err := pickVideo(desc)
	if err != nil {
		return err
	}
	if _, err := c.Setup(desc.BaseURL, medi, 0, 0); err != nil {
		return fmt.Errorf("set up the camera's stream: %w", err)
	}
	var audio *mpeg4audio.AudioSpecificConfig
	if s.audioSink != nil {
		audio = s.setupAudio(c, desc)
	}
	s.connects.Add(1)
	s.mu.Lock()
	s.codec, s.params, s.audio = codec, params, audio
	s.mu.Unlock()

	asm := newAssembler(codec, params)
	first := true
	var failed atomic.Pointer[error]
	c.OnPacketRTP(medi, medi.Formats[0], func(pkt *rtp.Packet) {
		pts, ok := c.PacketPTS(medi, pkt)
		if !ok {
			return
		}
		nalus, err := dec.Decode(pkt)
		if err != nil {
			return // a fragment, or a packet lost: the next picture resumes
		}
		au, ok, err := asm.assemble(nalus, pts, time.Now())
		switch {
		case errors.Is(err, errNoParams), !ok:
			return
		case err != nil:
			failed.CompareAndSwap(nil, &err)
			c.Close()
			return
		}
		if first && !au.Key {
			return // start at a keyframe
		}
		s.publish(au, first, asm.params)
		first = false
	})
	if _, err := c.Play(nil); err != nil {
		return fmt.Errorf("play the camera's stream: %w", err)
	}
	err = c.Wait()
	if p := failed.Load(); p != nil {
		return *p
	}
	return fmt.Errorf("the camera's stream ended: %w", err)
}

// setupAudio sets up the session's AAC track, if it has one, and hands
// its frames to the audio sink, timed on the bridge's clock from the
// first one's arrival. Other audio (G.711, Opus ...) cannot go into the
// clips' MP4 as it came and is left alone.
func (s *Source) setupAudio(c *gortsplib.Client, desc *description.Session) *mpeg4audio.AudioSpecificConfig {
	var aac *format.MPEG4Audio
	medi := desc.FindFormat(&aac)
	if medi == nil || aac.Config == nil || aac.Config.SampleRate <= 0 {
		return nil
	}
	dec, err := aac.CreateDecoder()
	if err != nil {
		return nil
	}
	if _, err := c.Setup(desc.BaseURL, mediaWith(medi, aac), 0, 0); err != nil {
		s.log.Info("camera audio not set up", "camera", s.name, "err", err)
		return nil
	}
	rate := int64(aac.Config.SampleRate)
	var anchorAt time.Time
	var anchorPTS int64
	c.OnPacketRTP(medi, aac, func(pkt *rtp.Packet) {
		pts, ok := c.PacketPTS(medi, pkt)
		if !ok {
			return
		}
		aus, err := dec.Decode(pkt)
		if err != nil {
			return
		}
		if anchorAt.IsZero() {
			anchorAt, anchorPTS = time.Now(), pts
		}
		for i, au := range aus {
			samples := pts - anchorPTS + int64(i)*mpeg4audio.SamplesPerAccessUnit
			at := anchorAt.Add(time.Duration(samples * int64(time.Second) / rate))
			s.audioSink(AudioFrame{At: at, Data: au})
		}
	})
	cfg := *aac.Config
	return &cfg
}

// Audio is the AAC configuration of the stream's audio, nil when it has
// none the bridge passes through.
func (s *Source) Audio() *mpeg4audio.AudioSpecificConfig {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.audio
}

// publish hands au to the sink and the subscribers; the first access unit
// of a connection marks the stream up.
func (s *Source) publish(au AccessUnit, restart bool, params ParamSets) {
	s.frames.Add(1)
	s.bytes.Add(int64(au.Size()))
	if s.sink != nil {
		s.sink(au, restart)
	}
	s.mu.Lock()
	wasUp := s.up
	s.up, s.params, s.lastErr = true, params, nil
	for sub := range s.subs {
		sub.offer(au)
	}
	s.mu.Unlock()
	if !wasUp && s.onState != nil {
		s.onState(true, nil)
	}
}

// pickVideo finds the first H.264 or H.265 track of a session.
func pickVideo(desc *description.Session) (*description.Media, Codec, ParamSets, rtpDecoder, error) {
	var h264 *format.H264
	if medi := desc.FindFormat(&h264); medi != nil {
		dec, err := h264.CreateDecoder()
		if err != nil {
			return nil, "", ParamSets{}, nil, fmt.Errorf("H.264 track: %w", err)
		}
		sps, pps := h264.SafeParams()
		return mediaWith(medi, h264), H264, ParamSets{SPS: sps, PPS: pps}, dec, nil
	}
	var h265 *format.H265
	if medi := desc.FindFormat(&h265); medi != nil {
		dec, err := h265.CreateDecoder()
		if err != nil {
			return nil, "", ParamSets{}, nil, fmt.Errorf("H.265 track: %w", err)
		}
		vps, sps, pps := h265.SafeParams()
		return mediaWith(medi, h265), H265, ParamSets{VPS: vps, SPS: sps, PPS: pps}, dec, nil
	}
	return nil, "", ParamSets{}, nil, errors.New("the camera's stream has no H.264 or H.265 video track (MJPEG and others are not supported)")
}

// mediaWith returns medi with forma as its first format, for OnPacketRTP.
func mediaWith(medi *description.Media, forma format.Format) *description.Media {
	if medi.Formats[0] != forma {
		for i, f := range medi.Formats {
			if f == forma {
				medi.Formats[0], medi.Formats[i] = medi.Formats[i], medi.Formats[0]
			}
		}
	}
	return medi
}

// describeRTSPError says what a refusal means for the person setting the
// camera up.
func describeRTSPError(err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "401"):
		return fmt.Errorf("the camera refused the user name or password: %w", err)
	case strings.Contains(msg, "404"):
		return fmt.Errorf("the camera has no stream at this path (check the RTSP address): %w", err)
	}
	return err
}

// subscription is a live viewer's share of a source: a bounded queue of
// access units. One that falls behind loses pictures up to the next
// keyframe, never the source's time.
type subscription struct {
	ch      chan AccessUnit
	skip    bool        // dropping until the next keyframe; under the source's lock
	gap     atomic.Bool // the stream restarted: the reader starts afresh
	dropped atomic.Int64
}

// Subscribe adds a subscriber with room for n access units. It starts at
// the next keyframe.
func (s *Source) Subscribe(n int) *subscription {
	sub := &subscription{ch: make(chan AccessUnit, n), skip: true}
	s.mu.Lock()
	if s.subs == nil {
		s.subs = map[*subscription]struct{}{}
	}
	s.subs[sub] = struct{}{}
	s.mu.Unlock()
	return sub
}

// Unsubscribe removes sub.
func (s *Source) Unsubscribe(sub *subscription) {
	s.mu.Lock()
	delete(s.subs, sub)
	s.mu.Unlock()
}

// offer queues au unless the subscriber is behind; called under s.mu.
func (sub *subscription) offer(au AccessUnit) {
	if sub.skip && !au.Key {
		sub.dropped.Add(1)
		return
	}
	select {
	case sub.ch <- au:
		sub.skip = false
	default:
		sub.skip = true
		sub.dropped.Add(1)
	}
}
