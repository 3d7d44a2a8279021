package h264

import (
	"bytes"
	"errors"
	"fmt"
	"math"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4/seekablebuffer"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/pmp4"
)

// trackID is the ID of the one track of camvault's MP4 files.
const trackID = 1

// durations returns how long each access unit shows: until the next one's
// PTS, and the last until end. PTS must increase (camvault's streams have
// no B-frames: decoding order is presentation order).
func durations(aus []AccessUnit, end int64) ([]uint32, error) {
	if len(aus) == 0 {
		return nil, errors.New("h264: no access units")
	}
	out := make([]uint32, len(aus))
	var total uint64
	for i, au := range aus {
		next := end
		if i+1 < len(aus) {
			next = aus[i+1].PTS
		}
		if next <= au.PTS || uint64(next-au.PTS) > math.MaxUint32 {
			return nil, fmt.Errorf("h264: access unit %d: PTS %d then %d: times must increase, by less than 2^32", i, au.PTS, next)
		}
		out[i] = uint32(next - au.PTS)
		if total += uint64(out[i]); total > math.MaxUint32 {
			return nil, errors.New("h264: more than 2^32 ticks of video")
		}
	}
	return out, nil
}

// WriteMP4 returns a progressive MP4 file (ftyp, moov, mdat) with one
// H.264 track holding the access units, which start with a keyframe that
// carries the SPS and PPS. end is when the last one stops showing; the
// movie's duration is end - aus[0].PTS, its timeline starts at 0. The
// samples keep every NAL unit, SEI included.
func WriteMP4(aus []AccessUnit, end int64) ([]byte, error) {
	if len(aus) == 0 || !aus[0].Keyframe() {
		return nil, errors.New("h264: a movie must start with a keyframe")
	}
	params, err := FindParams(aus[0].NALUs)
	if err != nil {
		return nil, err
	}
	durs, err := durations(aus, end)
	if err != nil {
		return nil, err
	}
	track := &pmp4.Track{ID: trackID, TimeScale: Timescale, Codec: &codecs.H264{SPS: params.SPS, PPS: params.PPS}}
	size := 0
	for i, au := range aus {
		payload, err := AppendAVCC(nil, au.NALUs)
		if err != nil {
			return nil, fmt.Errorf("access unit %d: %w", i, err)
		}
		size += len(payload)
		track.Samples = append(track.Samples, &pmp4.Sample{
			Duration: durs[i], IsNonSyncSample: !au.Keyframe(), PayloadSize: uint32(len(payload)),
			GetPayload: func() ([]byte, error) { return payload, nil },
		})
	}
	if size > math.MaxUint32-8 {
		return nil, errors.New("h264: more than 4 GiB of video for one movie")
	}
	var buf bytes.Buffer
	buf.Grow(size + 1024 + 16*len(aus))
	if err := (&pmp4.Presentation{Tracks: []*pmp4.Track{track}}).Marshal(&buf); err != nil {
		return nil, fmt.Errorf("h264: write MP4: %w", err)
	}
	return buf.Bytes(), nil
}

// ReadMP4 reads back a progressive MP4 file's H.264 track: its parameter
// sets (from the sample description) and its access units, with PTS from
// the start of the track's timeline.
func ReadMP4(b []byte) (Params, []AccessUnit, error) {
	var pres pmp4.Presentation
	if err := pres.Unmarshal(bytes.NewReader(b)); err != nil {
		return Params{}, nil, fmt.Errorf("h264: read MP4: %w", err)
	}
	for _, t := range pres.Tracks {
		codec, ok := t.Codec.(*codecs.H264)
		if !ok {
			continue
		}
		params, err := ParseParams(codec.SPS, codec.PPS)
		if err != nil {
			return Params{}, nil, fmt.Errorf("h264: MP4 sample description: %w", err)
		}
		// Samples may not claim more bytes than the file has: reading them
		// costs at most its size.
		var total uint64
		for i, s := range t.Samples {
			if s == nil || s.GetPayload == nil {
				return Params{}, nil, fmt.Errorf("h264: MP4 sample %d is in no chunk", i)
			}
			total += uint64(s.PayloadSize)
		}
		if total > uint64(len(b)) {
			return Params{}, nil, fmt.Errorf("h264: MP4 samples claim %d bytes of a %d-byte file", total, len(b))
		}
		aus := make([]AccessUnit, 0, len(t.Samples))
		var dts int64
		for i, s := range t.Samples {
			payload, err := s.GetPayload()
			if err != nil {
				return Params{}, nil, fmt.Errorf("h264: MP4 sample %d: %w", i, err)
			}
			nalus, err := SplitAVCC(payload)
			if err != nil {
				return Params{}, nil, fmt.Errorf("MP4 sample %d: %w", i, err)
			}
			aus = append(aus, AccessUnit{PTS: dts + int64(s.PTSOffset), NALUs: nalus})
			dts += int64(s.Duration)
		}
		return params, aus, nil
	}
	return Params{}, nil, errors.New("h264: MP4 has no H.264 track")
}

// InitSegment returns the initialization segment of a fragmented MP4 with
// one H.264 track (ftyp, then moov with no samples): what Media Source
// Extensions take before the fragments (Fragment) of the stream.
func InitSegment(p Params) ([]byte, error) {
	init := fmp4.Init{Tracks: []*fmp4.InitTrack{{ID: trackID, TimeScale: Timescale,
		Codec: &codecs.H264{SPS: p.SPS, PPS: p.PPS}}}}
	var buf seekablebuffer.Buffer
	if err := init.Marshal(&buf); err != nil {
		return nil, fmt.Errorf("h264: write init segment: %w", err)
	}
	return buf.Bytes(), nil
}

// Fragment returns one fragment (moof, mdat) of the track InitSegment
// describes: the access units, decoded from aus[0].PTS on (which must not
// be negative), the last showing until end. seq is the fragment's
// sequence number: 1 for the first of a stream, counting up. A fragment a
// player may start at begins with a keyframe.
func Fragment(seq uint32, aus []AccessUnit, end int64) ([]byte, error) {
	durs, err := durations(aus, end)
	if err != nil {
		return nil, err
	}
	if aus[0].PTS < 0 {
		return nil, fmt.Errorf("h264: fragment starts at negative time %d", aus[0].PTS)
	}
	track := &fmp4.PartTrack{ID: trackID, BaseTime: uint64(aus[0].PTS)}
	for i, au := range aus {
		payload, err := AppendAVCC(nil, au.NALUs)
		if err != nil {
			return nil, fmt.Errorf("access unit %d: %w", i, err)
		}
		track.Samples = append(track.Samples, &fmp4.Sample{Duration: durs[i], IsNonSyncSample: !au.Keyframe(), Payload: payload})
	}
	var buf seekablebuffer.Buffer
	if err := (&fmp4.Part{SequenceNumber: seq, Tracks: []*fmp4.PartTrack{track}}).Marshal(&buf); err != nil {
		return nil, fmt.Errorf("h264: write fragment: %w", err)
	}
	return buf.Bytes(), nil
}
