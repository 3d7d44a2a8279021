package bridge

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"time"

	mch264 "github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	mch265 "github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/pmp4"
	"github.com/camvault/camvault/internal/media/h264"
)

// clipTimescale is the clip track's timescale: RTP's 90 kHz video clock.
const clipTimescale = 90000

// dtsExtractor gives an access unit's decoding time: pictures with
// B-frames are decoded before they are shown.
type dtsExtractor interface {
	Extract(au [][]byte, pts int64) (int64, error)
}

// writeClip remuxes access units, the first a keyframe, into a
// progressive MP4 file (ftyp, moov, mdat) with one video track: the
// camera's own pictures, not transcoded. Decoding times come from the
// codec's picture order, so a camera that sends B-frames gets a clip that
// plays in order. The last picture shows as long as the one before it.
func writeClip(codec Codec, aus []AccessUnit, audio *AudioTrack) ([]byte, error) {
	if len(aus) == 0 || !aus[0].Key {
		return nil, errors.New("a clip must start with a keyframe")
	}
	var params ParamSets
	a := newAssembler(codec, ParamSets{})
	for _, n := range aus[0].NALUs {
		switch a.kind(n) {
		case naluVPS:
			params.VPS = n
		case naluSPS:
			params.SPS = n
		case naluPPS:
			params.PPS = n
		}
	}
	if !params.complete(codec) {
		return nil, fmt.Errorf("the clip's first keyframe lacks the %s parameter sets", codec)
	}
	track := &pmp4.Track{ID: 1, TimeScale: clipTimescale}
	var dts dtsExtractor
	switch codec {
	case H264:
		track.Codec = &codecs.H264{SPS: params.SPS, PPS: params.PPS}
		d := &mch264.DTSExtractor{}
		d.Initialize()
		dts = d
	case H265:
		track.Codec = &codecs.H265{VPS: params.VPS, SPS: params.SPS, PPS: params.PPS}
		d := &mch265.DTSExtractor{}
		d.Initialize()
		dts = d
	default:
		return nil, fmt.Errorf("unknown codec %q", codec)
	}
	base := aus[0].PTS
	dtss := make([]int64, len(aus))
	for i, au := range aus {
		d, err := dts.Extract(au.NALUs, au.PTS-base)
		if err != nil {
			return nil, fmt.Errorf("picture %d: %w", i, err)
		}
		if i > 0 && d <= dtss[i-1] {
			return nil, fmt.Errorf("picture %d: decoding time does not increase", i)
		}
		dtss[i] = d
	}
	size := 0
	for i, au := range aus {
		var dur int64
		switch {
		case i+1 < len(aus):
			dur = dtss[i+1] - dtss[i]
		case i > 0:
			dur = dtss[i] - dtss[i-1]
		default:
			dur = clipTimescale / 15
		}
		off := au.PTS - base - dtss[i]
		if dur <= 0 || dur > math.MaxUint32 || off < math.MinInt32 || off > math.MaxInt32 {
			return nil, fmt.Errorf("picture %d: times out of range", i)
		}
		payload, err := h264.AppendAVCC(make([]byte, 0, au.Size()+4*len(au.NALUs)), au.NALUs) // the framing is the same for H.265
		if err != nil {
			return nil, fmt.Errorf("picture %d: %w", i, err)
		}
		size += len(payload)
		track.Samples = append(track.Samples, &pmp4.Sample{
			Duration: uint32(dur), PTSOffset: int32(off), IsNonSyncSample: !au.Key,
			PayloadSize: uint32(len(payload)),
			GetPayload:  func() ([]byte, error) { return payload, nil },
		})
	}
	tracks := []*pmp4.Track{track}
	if audio != nil && len(audio.Frames) > 0 && audio.Config.SampleRate > 0 {
		at, n := audioTrack(audio, aus[0].At)
		tracks = append(tracks, at)
		size += n
	}
	var buf bytes.Buffer
	buf.Grow(size + 4096 + 32*len(aus))
	if err := (&pmp4.Presentation{Tracks: tracks}).Marshal(&buf); err != nil {
		return nil, fmt.Errorf("write the clip: %w", err)
	}
	return buf.Bytes(), nil
}

// audioTrack is a clip's AAC track: the frames as they came, 1024
// samples each, starting as long after the clip's first picture (start)
// as the first frame plays after it.
func audioTrack(a *AudioTrack, start time.Time) (*pmp4.Track, int) {
	rate := int64(a.Config.SampleRate)
	t := &pmp4.Track{ID: 2, TimeScale: uint32(rate), Codec: &codecs.MPEG4Audio{Config: a.Config}}
	if d := a.Frames[0].At.Sub(start); d > 0 {
		t.TimeOffset = int32(min(int64(d)*rate/int64(time.Second), math.MaxInt32))
	}
	size := 0
	for _, f := range a.Frames {
		payload := f.Data
		size += len(payload)
		t.Samples = append(t.Samples, &pmp4.Sample{
			Duration: mpeg4audio.SamplesPerAccessUnit, PayloadSize: uint32(len(payload)),
			GetPayload: func() ([]byte, error) { return payload, nil },
		})
	}
	return t, size
}
