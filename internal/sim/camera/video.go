package camera

import (
	"embed"
	"fmt"
	"time"

	"github.com/camvault/camvault/internal/media/h264"
)

// The camera's video (docs/device-protocol.md, "Video"): H.264, 15 frames a
// second, an IDR every 2 s, about 1 Mbit/s, looped from a fixture encoded
// once (fixtures/make.sh) with every access unit watermarked as it goes
// out.

// Video presets: the picture size a camera streams.
const (
	Video360p = "640x360" // the default
	Video720p = "1280x720"
)

// VideoFPS is the frame rate of every camera's stream.
const VideoFPS = 15

// frameTicks is the time between frames in h264.Timescale units.
const frameTicks = h264.Timescale / VideoFPS

//go:embed fixtures/640x360.h264 fixtures/1280x720.h264
var fixtures embed.FS

// Video is a loaded fixture: the access units a camera loops. One is
// shared, read only, by every camera of a fleet.
type Video struct {
	preset string
	params h264.Params
	aus    [][][]byte // NAL units of each access unit, in decoding order; no SEI
	gop    uint64     // frames from one IDR to the next
}

// LoadVideo reads and checks the fixture of a preset (Video360p or
// Video720p): the access units split, every GOP the same length and closed
// (an IDR with SPS and PPS, then P pictures), the whole a number of GOPs so
// that it loops, and the picture the preset's size.
func LoadVideo(preset string) (*Video, error) {
	var w, h int
	if _, err := fmt.Sscanf(preset, "%dx%d", &w, &h); err != nil || (preset != Video360p && preset != Video720p) {
		return nil, fmt.Errorf("video preset %q is not %s or %s", preset, Video360p, Video720p)
	}
	b, err := fixtures.ReadFile("fixtures/" + preset + ".h264")
	if err != nil {
		return nil, fmt.Errorf("video fixture: %w", err)
	}
	nalus, err := h264.SplitAnnexB(b)
	if err != nil {
		return nil, fmt.Errorf("video fixture %s: %w", preset, err)
	}
	aus, err := h264.AccessUnits(nalus)
	if err != nil {
		return nil, fmt.Errorf("video fixture %s: %w", preset, err)
	}
	v := &Video{preset: preset, aus: aus}
	for i, au := range aus {
		if h264.IsKeyframe(au) {
			if i > 0 && v.gop == 0 {
				v.gop = uint64(i)
			}
			if v.gop != 0 && uint64(i)%v.gop != 0 {
				return nil, fmt.Errorf("video fixture %s: IDR at access unit %d breaks the GOP of %d", preset, i, v.gop)
			}
			p, err := h264.FindParams(au)
			if err != nil {
				return nil, fmt.Errorf("video fixture %s, access unit %d: %w", preset, i, err)
			}
			if i == 0 {
				v.params = p
			}
		} else if i == 0 || (v.gop != 0 && uint64(i)%v.gop == 0) {
			return nil, fmt.Errorf("video fixture %s: access unit %d should be an IDR", preset, i)
		}
	}
	if v.gop == 0 {
		v.gop = uint64(len(aus)) // one GOP
	}
	if uint64(len(aus))%v.gop != 0 {
		return nil, fmt.Errorf("video fixture %s: %d access units are not whole GOPs of %d", preset, len(aus), v.gop)
	}
	if v.params.Width != w || v.params.Height != h {
		return nil, fmt.Errorf("video fixture %s: the picture is %dx%d", preset, v.params.Width, v.params.Height)
	}
	return v, nil
}

// Preset is the video's preset, e.g. "640x360".
func (v *Video) Preset() string { return v.preset }

// Params are the stream's parameter sets, picture size and codec string.
func (v *Video) Params() h264.Params { return v.params }

// GOP is the number of frames from one IDR to the next.
func (v *Video) GOP() int { return int(v.gop) }

// keyframeAtOrBefore is the number of the last IDR frame at or before
// frame n.
func (v *Video) keyframeAtOrBefore(n uint64) uint64 { return n - n%v.gop }

// frame makes frame n of a camera's stream: the fixture's access unit n
// (modulo its length) with the camera's watermark put before the picture.
// The same arguments give the same bytes.
func (v *Video) frame(key []byte, device, home string, tl timeline, n uint64) (VideoFrame, error) {
	pts := tl.pts(n)
	sei, err := VideoWatermarkSEI(key, device, home, n, pts)
	if err != nil {
		return VideoFrame{}, err
	}
	nalus, err := h264.InsertSEI(v.aus[n%uint64(len(v.aus))], sei)
	if err != nil {
		return VideoFrame{}, fmt.Errorf("video frame %d: %w", n, err)
	}
	size := 0
	for _, nalu := range nalus {
		size += 4 + len(nalu)
	}
	data := h264.AppendAnnexB(make([]byte, 0, size), nalus)
	// The frame's NAL units are views of its Annex-B bytes.
	off := 0
	for i, nalu := range nalus {
		off += 4
		nalus[i] = data[off : off+len(nalu) : off+len(nalu)]
		off += len(nalu)
	}
	return VideoFrame{Seq: n, PTS: pts, Keyframe: n%v.gop == 0, Data: data, NALUs: nalus}, nil
}

// VideoFrame is one access unit of a camera's stream.
type VideoFrame struct {
	// Seq numbers the camera's frames: consecutive within a stream, and
	// increasing for as long as the clock does (PTS is the camera's video
	// origin plus Seq frames).
	Seq uint64
	// PTS is the presentation time in h264.Timescale (90 kHz) ticks since
	// the Unix epoch: when the picture was "taken".
	PTS int64
	// Keyframe: an IDR picture, SPS and PPS before it; a decoder can start
	// here.
	Keyframe bool
	// Data is the access unit as the camera sends it: Annex-B, each NAL
	// unit after a 4-byte start code, the watermark SEI included. NALUs
	// are its NAL units, views of Data. Shared: do not modify.
	Data  []byte
	NALUs [][]byte
}

// AccessUnit is the frame for the h264 package (clips, fragments).
func (f VideoFrame) AccessUnit() h264.AccessUnit { return h264.AccessUnit{PTS: f.PTS, NALUs: f.NALUs} }

// timeline maps a camera's frame numbers to times. Frame n shows from
// PTS phase + n/15 s on, counted in 90 kHz ticks since the Unix epoch;
// the phase, less than a GOP, differs from camera to camera, so cameras
// do not all send their large IDR frames at the same moment.
type timeline struct {
	phase int64 // ticks
}

func (tl timeline) pts(n uint64) int64 { return tl.phase + int64(n)*frameTicks }

// ticks is t in 90 kHz ticks since the Unix epoch, rounded down.
func ticks(t time.Time) int64 {
	return t.Unix()*h264.Timescale + int64(t.Nanosecond())*h264.Timescale/int64(time.Second)
}

// frameAt is the frame showing at t (frame 0 before the origin).
func (tl timeline) frameAt(t time.Time) uint64 {
	d := ticks(t) - tl.phase
	if d < 0 {
		return 0
	}
	return uint64(d / frameTicks)
}

// timeOf is the first instant frame n shows.
func (tl timeline) timeOf(n uint64) time.Time {
	p := tl.pts(n)
	sec, rem := p/h264.Timescale, p%h264.Timescale
	// Rounded up, so that frameAt(timeOf(n)) is n.
	ns := (rem*int64(time.Second) + h264.Timescale - 1) / h264.Timescale
	return time.Unix(sec, ns)
}
