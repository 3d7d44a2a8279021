package camera

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/media"
	"github.com/camvault/camvault/internal/media/h264"
)

func loadVideo(t testing.TB, preset string) *Video {
	t.Helper()
	v, err := LoadVideo(preset)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestFixtures(t *testing.T) {
	for _, c := range []struct {
		preset        string
		width, height int
		codec         string
	}{
		{Video360p, 640, 360, "avc1.42c01e"},
		{Video720p, 1280, 720, "avc1.42c01f"},
	} {
		raw, err := fixtures.ReadFile("fixtures/" + c.preset + ".h264")
		if err != nil {
			t.Fatal(err)
		}
		v := loadVideo(t, c.preset)
		p := v.Params()
		if p.Width != c.width || p.Height != c.height || p.Codec() != c.codec {
			t.Errorf("%s: %dx%d %s, want %dx%d %s", c.preset, p.Width, p.Height, p.Codec(), c.width, c.height, c.codec)
		}
		// 4 s at 15 fps, an IDR every 30 frames and nowhere else, each
		// with its SPS and PPS; no SEI (the camera's watermark is the only
		// one).
		if len(v.aus) != 60 || v.GOP() != 30 {
			t.Fatalf("%s: %d access units, GOP %d; want 60 and 30", c.preset, len(v.aus), v.GOP())
		}
		for i, au := range v.aus {
			want := []int{h264.TypeSlice}
			if i%30 == 0 {
				want = []int{h264.TypeSPS, h264.TypePPS, h264.TypeIDR}
			}
			var got []int
			for _, n := range au {
				got = append(got, h264.Type(n))
			}
			if !slices.Equal(got, want) || h264.IsKeyframe(au) != (i%30 == 0) {
				t.Fatalf("%s: access unit %d has NAL units %v, want %v", c.preset, i, got, want)
			}
		}
		// About 1 Mbit/s, and small enough to commit.
		if bps := len(raw) * 8 / 4; bps < 800_000 || bps > 1_200_000 || len(raw) > 600<<10 {
			t.Errorf("%s: %d bytes, %d bit/s", c.preset, len(raw), bps)
		}
	}
	if _, err := LoadVideo("320x240"); err == nil {
		t.Error("an unknown preset loaded")
	}
}

func TestTimeline(t *testing.T) {
	tl := timeline{phase: 12345}
	for _, n := range []uint64{0, 1, 14, 15, 29, 30, 26_700_000_000} {
		at := tl.timeOf(n)
		if got := tl.frameAt(at); got != n {
			t.Errorf("frame %d shows from %v, but frameAt says %d there", n, at, got)
		}
		if got := tl.frameAt(at.Add(-time.Nanosecond)); n > 0 && got != n-1 {
			t.Errorf("just before frame %d, frameAt says %d", n, got)
		}
		if tl.pts(n) != 12345+int64(n)*6000 {
			t.Errorf("pts(%d) = %d", n, tl.pts(n))
		}
	}
	// PTS counts 90 kHz ticks since the Unix epoch: a frame's time.
	now := time.Unix(1_800_000_000, 500_000_000)
	n := tl.frameAt(now)
	if d := now.Sub(time.Unix(tl.pts(n)/h264.Timescale, tl.pts(n)%h264.Timescale*int64(time.Second)/h264.Timescale)); d < 0 || d >= time.Second/VideoFPS {
		t.Errorf("frame showing at %v has PTS %d", now, tl.pts(n))
	}
}

func mustFrames(t testing.TB, v *Video, key []byte, device, home string, first, last uint64) []VideoFrame {
	t.Helper()
	f, err := v.Frames(key, device, home, first, last)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestVideoWatermark(t *testing.T) {
	v := loadVideo(t, Video360p)
	frames := mustFrames(t, v, testKey, testDevice, testHome, 29, 31)
	for i, f := range frames {
		n := uint64(29 + i)
		got, err := VerifyVideoWatermark(testKey, f.NALUs)
		want := VideoWatermark{DeviceID: testDevice, HomeID: testHome, Seq: n, PTS: int64(n) * 6000}
		if err != nil || got != want {
			t.Fatalf("frame %d: %+v, %v; want %+v", n, got, err, want)
		}
		if f.Seq != n || f.PTS != want.PTS || f.Keyframe != (n == 30) || f.Keyframe != f.AccessUnit().Keyframe() {
			t.Fatalf("frame %d: seq %d pts %d keyframe %v", n, f.Seq, f.PTS, f.Keyframe)
		}
		// Data is the Annex-B form of NALUs.
		nalus, err := h264.SplitAnnexB(f.Data)
		if err != nil || !slices.EqualFunc(nalus, f.NALUs, bytes.Equal) {
			t.Fatalf("frame %d: Data and NALUs differ", n)
		}
	}
	// The same arguments make the same bytes.
	if again := mustFrames(t, v, testKey, testDevice, testHome, 30, 30); !bytes.Equal(again[0].Data, frames[1].Data) {
		t.Fatal("frame 30 made twice differs")
	}

	if _, err := VerifyVideoWatermark(otherKey, frames[0].NALUs); !errors.Is(err, ErrBadWatermark) {
		t.Errorf("another key: %v, want ErrBadWatermark", err)
	}
	plain := v.aus[1]
	if _, err := VerifyVideoWatermark(testKey, plain); !errors.Is(err, ErrNoWatermark) {
		t.Errorf("no watermark: %v, want ErrNoWatermark", err)
	}
	// Every changed byte of the watermark's SEI NAL unit is caught.
	sei := slices.IndexFunc(frames[0].NALUs, func(n []byte) bool { return h264.Type(n) == h264.TypeSEI })
	orig := frames[0].NALUs[sei]
	for i := 1; i < len(orig); i++ {
		for _, x := range []byte{0x01, 0x80} {
			changed := slices.Clone(orig)
			changed[i] ^= x
			au := slices.Clone(frames[0].NALUs)
			au[sei] = changed
			if w, err := VerifyVideoWatermark(testKey, au); err == nil {
				t.Fatalf("byte %d ^ %#x of the SEI: still verifies as %+v", i, x, w)
			} else if !errors.Is(err, ErrBadWatermark) && !errors.Is(err, ErrNoWatermark) {
				t.Fatalf("byte %d: error %v is neither kind", i, err)
			}
		}
	}
	// One watermark per access unit, never two.
	twice, err := h264.InsertSEI(frames[0].NALUs, orig)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyVideoWatermark(testKey, twice); !errors.Is(err, ErrBadWatermark) {
		t.Errorf("two watermarks: %v, want ErrBadWatermark", err)
	}
	// A watermark moved to another frame still names its own camera and
	// frame: it attributes, it does not bind the picture.
	moved, err := h264.InsertSEI(plain, orig)
	if err != nil {
		t.Fatal(err)
	}
	if w, err := VerifyVideoWatermark(testKey, moved); err != nil || w.Seq != 29 {
		t.Errorf("moved watermark: %+v, %v", w, err)
	}

	for _, c := range []struct {
		key          []byte
		device, home string
	}{
		{[]byte("short"), testDevice, testHome},
		{testKey, "", testHome},
		{testKey, testDevice, "home with spaces"},
		{testKey, string(bytes.Repeat([]byte("a"), 65)), testHome},
	} {
		if _, err := VideoWatermarkSEI(c.key, c.device, c.home, 1, 1); err == nil {
			t.Errorf("watermark for key %q device %q home %q made", c.key, c.device, c.home)
		}
	}
	if _, err := VerifyVideoWatermark([]byte("short"), frames[0].NALUs); err == nil {
		t.Error("verified with a short key")
	}
}

func checkMP4(t *testing.T, b []byte, chunk int) {
	t.Helper()
	var c media.MP4Checker
	for len(b) > 0 {
		n := min(chunk, len(b))
		if _, err := c.Write(b[:n]); err != nil {
			t.Fatalf("server's checker refuses the clip: %v", err)
		}
		b = b[n:]
	}
	if err := c.Close(); err != nil {
		t.Fatalf("server's checker refuses the clip: %v", err)
	}
}

// movieDuration reads the mvhd box of a progressive MP4: its duration in
// its timescale's units.
func movieDuration(t *testing.T, b []byte) time.Duration {
	t.Helper()
	for off := 0; off+8 <= len(b); {
		size := int(binary.BigEndian.Uint32(b[off:]))
		if string(b[off+4:off+8]) == "moov" && string(b[off+12:off+16]) == "mvhd" && b[off+16] == 0 {
			scale := binary.BigEndian.Uint32(b[off+16+12:])
			d := binary.BigEndian.Uint32(b[off+16+16:])
			return time.Duration(d) * time.Second / time.Duration(scale)
		}
		if size < 8 {
			break
		}
		off += size
	}
	t.Fatal("no moov with a version 0 mvhd")
	return 0
}

func TestBuildClip(t *testing.T) {
	v := loadVideo(t, Video360p)
	frames := mustFrames(t, v, testKey, testDevice, testHome, 60, 104) // 3 s
	clip, err := BuildClip(frames)
	if err != nil {
		t.Fatal(err)
	}
	for _, chunk := range []int{1, 7, 4096, len(clip)} {
		checkMP4(t, clip, chunk)
	}
	if d := movieDuration(t, clip); d != 3*time.Second {
		t.Errorf("duration %v, want 3s", d)
	}
	// A few hundred KiB at 640x360.
	if len(clip) > 450<<10 {
		t.Errorf("a 3 s clip is %d bytes", len(clip))
	}
	got, err := ClipFrames(clip)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(frames) {
		t.Fatalf("%d frames back, want %d", len(got), len(frames))
	}
	for i, au := range got {
		w, err := VerifyVideoWatermark(testKey, au.NALUs)
		if err != nil || w.Seq != frames[i].Seq || w.DeviceID != testDevice || w.HomeID != testHome {
			t.Fatalf("frame %d: %+v, %v", i, w, err)
		}
		if au.PTS != int64(i)*frameTicks || au.Keyframe() != frames[i].Keyframe || !slices.EqualFunc(au.NALUs, frames[i].NALUs, bytes.Equal) {
			t.Fatalf("frame %d differs in the clip", i)
		}
	}
	if _, err := BuildClip(nil); err == nil {
		t.Error("a clip without frames was built")
	}
	if _, err := BuildClip(frames[1:]); err == nil {
		t.Error("a clip starting on a P frame was built")
	}
	if _, err := ClipFrames(clip[:len(clip)-10]); err == nil {
		t.Error("a cut clip reads")
	}
}

// videoCamera is the camera of a fleet, never run, with one camera, in home testHome as
// a hello would have said, on a clock the test sets.
func videoCamera(t *testing.T, cfg Config) (*Camera, *fakeClock) {
	t.Helper()
	clock := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	cfg.Server = "http://127.0.0.1:1"
	cfg.WatermarkKey = testKey
	cfg.Now = clock.now
	cfg.Renderer = newTestRenderer(t)
	f, err := NewFleet(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c, err := f.Add("cam", Credentials{DeviceID: testDevice, Token: "cvd_test"})
	if err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	c.homeID = testHome
	c.mu.Unlock()
	return c, clock
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestStream(t *testing.T) {
	c, clock := videoCamera(t, Config{})
	s, err := c.Stream()
	if err != nil {
		t.Fatal(err)
	}
	if s2, _ := c.Stream(); s2 != s {
		t.Fatal("a second stream for one camera")
	}
	ctx := t.Context()
	sub := s.Subscribe()
	due := c.tl.frameAt(clock.now())
	first, err := sub.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Starts at the newest keyframe, then catches up to now at once.
	if !first.Keyframe || first.Seq > due || due-first.Seq >= 30 {
		t.Fatalf("first frame %d (keyframe %v), due %d", first.Seq, first.Keyframe, due)
	}
	prev := first
	for range due - first.Seq {
		f, err := sub.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if f.Seq != prev.Seq+1 || f.PTS != prev.PTS+frameTicks {
			t.Fatalf("frame %d (pts %d) after %d (pts %d)", f.Seq, f.PTS, prev.Seq, prev.PTS)
		}
		prev = f
	}
	// Then one frame per 1/15 s of the clock, each watermarked.
	var seqs []uint64
	for range 40 {
		clock.add(time.Second / VideoFPS)
		f, err := sub.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		w, err := VerifyVideoWatermark(testKey, f.NALUs)
		if err != nil || w.Seq != f.Seq || w.PTS != f.PTS || w.DeviceID != testDevice || w.HomeID != testHome {
			t.Fatalf("frame %d: %+v, %v", f.Seq, w, err)
		}
		if f.Keyframe != (f.Seq%30 == 0) {
			t.Fatalf("frame %d: keyframe %v", f.Seq, f.Keyframe)
		}
		seqs = append(seqs, f.Seq)
	}
	for i := range seqs[1:] {
		if seqs[i+1] != seqs[i]+1 {
			t.Fatalf("sequence %v is not consecutive", seqs)
		}
	}

	// A second subscriber shares the buffer: it starts at the newest
	// keyframe with the same bytes the first one got.
	other := s.Subscribe()
	if s.Subscribers() != 2 {
		t.Fatalf("%d subscribers", s.Subscribers())
	}
	f2, err := other.Next(ctx)
	if err != nil || !f2.Keyframe {
		t.Fatalf("second subscriber: %d, %v", f2.Seq, err)
	}
	again := mustFramesOf(t, c, f2.Seq)
	if !bytes.Equal(f2.Data, again.Data) {
		t.Fatal("the buffered frame differs from one made afresh")
	}

	// A reader 10 s behind skips to the newest keyframe.
	clock.add(10 * time.Second)
	due = c.tl.frameAt(clock.now())
	f, err := sub.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !f.Keyframe || f.Seq != due-due%30 || sub.Skipped() != 1 {
		t.Fatalf("after 10 s: frame %d keyframe %v skipped %d; due %d", f.Seq, f.Keyframe, sub.Skipped(), due)
	}

	// Close wakes a Next waiting on another goroutine.
	for f.Seq < due {
		if f, err = sub.Next(ctx); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan error, 1)
	go func() {
		_, err := sub.Next(ctx)
		done <- err
	}()
	sub.Close()
	if err := <-done; !errors.Is(err, ErrSubscriptionClosed) {
		t.Fatalf("Next after Close: %v", err)
	}
	sub.Close() // twice is fine
	other.Close()
	s.mu.Lock()
	ring := s.ring
	s.mu.Unlock()
	if s.Subscribers() != 0 || ring != nil {
		t.Fatal("the buffer is kept with nobody streaming")
	}
	// A context that ends stops a waiting Next.
	sub = s.Subscribe()
	defer sub.Close()
	for f, err = sub.Next(ctx); err == nil && f.Seq < c.tl.frameAt(clock.now()); f, err = sub.Next(ctx) {
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := sub.Next(cctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Next with an ended context: %v", err)
	}
}

func mustFramesOf(t *testing.T, c *Camera, n uint64) VideoFrame {
	t.Helper()
	f, err := c.f.video.frames(testKey, testDevice, testHome, c.tl, n, n)
	if err != nil {
		t.Fatal(err)
	}
	return f[0]
}

func TestStreamNeedsHome(t *testing.T) {
	c, _ := videoCamera(t, Config{})
	c.mu.Lock()
	c.homeID = ""
	c.mu.Unlock()
	if _, err := c.Stream(); err == nil {
		t.Fatal("a stream before the home is known")
	}
}

func TestEventClip(t *testing.T) {
	for _, preset := range []string{Video360p, Video720p} {
		c, clock := videoCamera(t, Config{VideoPreset: preset})
		at := clock.now()
		clip, err := c.eventClip(at, testHome)
		if err != nil {
			t.Fatal(err)
		}
		checkMP4(t, clip, 4096)
		frames, err := ClipFrames(clip)
		if err != nil {
			t.Fatal(err)
		}
		// From a keyframe 1 to 3 s before the event to 1 s after it.
		ev := c.tl.frameAt(at)
		w0, err := VerifyVideoWatermark(testKey, frames[0].NALUs)
		if err != nil || !frames[0].Keyframe() || ev-w0.Seq < 15 || ev-w0.Seq > 45 {
			t.Fatalf("%s: the clip starts at frame %d (%v), the event is at %d", preset, w0.Seq, err, ev)
		}
		wn, err := VerifyVideoWatermark(testKey, frames[len(frames)-1].NALUs)
		if err != nil || wn.Seq != c.tl.frameAt(at.Add(time.Second)) {
			t.Fatalf("%s: the clip ends at frame %d (%v)", preset, wn.Seq, err)
		}
		if d, want := movieDuration(t, clip), time.Duration(len(frames))*time.Second/VideoFPS; d != want.Truncate(time.Millisecond) || d < 2*time.Second || d > 4*time.Second {
			t.Errorf("%s: duration %v for %d frames", preset, d, len(frames))
		}
		if p, _, err := h264.ReadMP4(clip); err != nil || p.Codec() != c.f.video.Params().Codec() {
			t.Errorf("%s: %v %v", preset, p.Codec(), err)
		}

		// While the camera streams, pre-roll comes from its buffer: the
		// same bytes.
		s, err := c.Stream()
		if err != nil {
			t.Fatal(err)
		}
		sub := s.Subscribe()
		if _, err := sub.Next(t.Context()); err != nil {
			t.Fatal(err)
		}
		buffered, err := c.eventClip(at, testHome)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buffered, clip) {
			t.Errorf("%s: the clip made from the buffer differs", preset)
		}
		sub.Close()
	}
	if _, err := NewFleet(Config{Server: "http://127.0.0.1:1", WatermarkKey: testKey, VideoPreset: "1x1"}); err == nil {
		t.Error("a fleet with an unknown preset")
	}
}

// fuzzVideoKey is the key the committed corpus of FuzzVerifyVideoWatermark
// was made with.
var fuzzVideoKey = fuzzKey

func FuzzVerifyVideoWatermark(f *testing.F) {
	v := loadVideo(f, Video360p)
	frames := mustFrames(f, v, fuzzVideoKey, testDevice, testHome, 1, 1)
	sei := frames[0].NALUs[0]
	f.Add(h264.AppendAnnexB(nil, [][]byte{sei, {0x41, 0x9A}}))
	f.Add(h264.AppendAnnexB(nil, [][]byte{sei, sei, {0x41, 0x9A}}))
	f.Fuzz(func(t *testing.T, data []byte) {
		nalus, err := h264.SplitAnnexB(data)
		if err != nil {
			return
		}
		w, err := VerifyVideoWatermark(fuzzVideoKey, nalus)
		if err != nil {
			if !errors.Is(err, ErrNoWatermark) && !errors.Is(err, ErrBadWatermark) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		// Whatever verifies holds exactly the SEI VideoWatermarkSEI makes.
		want, err := VideoWatermarkSEI(fuzzVideoKey, w.DeviceID, w.HomeID, w.Seq, w.PTS)
		if err != nil {
			t.Fatalf("verified fields %+v make no watermark: %v", w, err)
		}
		got, _ := h264.UserData([][]byte{want}, h264.UUID([]byte(videoMarkUUID)))
		have, _ := h264.UserData(nalus, h264.UUID([]byte(videoMarkUUID)))
		if len(got) != 1 || len(have) != 1 || !bytes.Equal(got[0], have[0]) {
			t.Fatalf("verified payload %x is not the one made for %+v", have, w)
		}
	})
}
