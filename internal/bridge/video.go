package bridge

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	mch264 "github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	mch265 "github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/camvault/camvault/internal/media/h264"
)

// Codec is a camera stream's video codec.
type Codec string

// The codecs the bridge passes through. Nothing is transcoded: a clip
// and a live stream carry the camera's own access units.
const (
	H264 Codec = "h264"
	H265 Codec = "h265"
)

// String is the codec's usual name.
func (c Codec) String() string {
	switch c {
	case H264:
		return "H.264"
	case H265:
		return "H.265"
	}
	return string(c)
}

// AccessUnit is one picture of a camera's stream, as NAL units without
// start codes. Its NAL units are never modified once it is made, so
// clips and live viewers share them.
type AccessUnit struct {
	PTS   int64     // presentation time, 90 kHz ticks since the stream began
	At    time.Time // when the bridge received it
	NALUs [][]byte
	Key   bool // a random-access picture with its parameter sets before it
	size  int
}

// Size is the bytes of its NAL units.
func (au AccessUnit) Size() int { return au.size }

// AudioFrame is one AAC access unit of a camera's stream (1024 samples),
// passed through to clips as it came.
type AudioFrame struct {
	At   time.Time // when it plays, on the bridge's clock
	Data []byte
}

// AudioTrack is a clip's audio: the stream's AAC configuration and the
// frames that play along the clip's pictures.
type AudioTrack struct {
	Config mpeg4audio.AudioSpecificConfig
	Frames []AudioFrame
}

// ParamSets are a stream's parameter sets: VPS (H.265 only), SPS and PPS.
type ParamSets struct {
	VPS, SPS, PPS []byte
}

// complete reports whether every parameter set the codec needs is known.
func (p ParamSets) complete(c Codec) bool {
	return len(p.SPS) > 0 && len(p.PPS) > 0 && (c == H264 || len(p.VPS) > 0)
}

// maxAccessUnit bounds one picture: a 4K camera's keyframe is a few
// hundred KiB; anything past this is not a picture (and live frames are
// held to deviceproto.MaxFrame anyway).
const maxAccessUnit = 4 << 20

// assembler turns the access units a camera sends into ones that stand
// alone: it learns the parameter sets from the session description and
// from the stream, drops access delimiters, and puts the parameter sets
// before every random-access picture, where cameras that send them only
// in the SDP leave them out. A decoder, a clip and a live viewer may then
// start at any keyframe.
type assembler struct {
	codec  Codec
	params ParamSets
}

func newAssembler(c Codec, p ParamSets) *assembler { return &assembler{codec: c, params: p} }

// errNoParams: a keyframe came before any parameter sets were known.
var errNoParams = errors.New("keyframe before the stream's parameter sets")

// assemble returns the access unit made of nalus, received at at with the
// presentation time pts. It returns false for one to skip (empty, or a
// keyframe whose parameter sets are not known yet).
func (a *assembler) assemble(nalus [][]byte, pts int64, at time.Time) (AccessUnit, bool, error) {
	out := make([][]byte, 0, len(nalus)+3)
	size := 0
	key := false
	var sawParams bool
	for _, n := range nalus {
		if len(n) == 0 {
			continue
		}
		switch a.kind(n) {
		case naluAUD:
			continue
		case naluVPS:
			a.params.VPS, sawParams = bytes.Clone(n), true
		case naluSPS:
			a.params.SPS, sawParams = bytes.Clone(n), true
		case naluPPS:
			a.params.PPS, sawParams = bytes.Clone(n), true
		case naluKey:
			key = true
		}
		size += len(n)
		out = append(out, n)
	}
	if len(out) == 0 {
		return AccessUnit{}, false, nil
	}
	if size > maxAccessUnit {
		return AccessUnit{}, false, fmt.Errorf("a picture of %d bytes, more than %d", size, maxAccessUnit)
	}
	if key && !sawParams {
		if !a.params.complete(a.codec) {
			return AccessUnit{}, false, errNoParams
		}
		var ps [][]byte
		if a.codec == H265 {
			ps = append(ps, a.params.VPS)
		}
		ps = append(ps, a.params.SPS, a.params.PPS)
		for _, p := range ps {
			size += len(p)
		}
		out = append(ps, out...)
	}
	return AccessUnit{PTS: pts, At: at, NALUs: out, Key: key, size: size}, true, nil
}

type naluKind int

const (
	naluOther naluKind = iota
	naluAUD
	naluVPS
	naluSPS
	naluPPS
	naluKey // a slice of a random-access picture
)

func (a *assembler) kind(n []byte) naluKind {
	if a.codec == H265 {
		if len(n) < 2 {
			return naluOther
		}
		switch t := mch265.NALUType((n[0] >> 1) & 0x3f); {
		case t == mch265.NALUType_AUD_NUT:
			return naluAUD
		case t == mch265.NALUType_VPS_NUT:
			return naluVPS
		case t == mch265.NALUType_SPS_NUT:
			return naluSPS
		case t == mch265.NALUType_PPS_NUT:
			return naluPPS
		case t >= mch265.NALUType_BLA_W_LP && t <= mch265.NALUType_CRA_NUT:
			return naluKey
		}
		return naluOther
	}
	switch mch264.NALUType(n[0] & 0x1f) {
	case mch264.NALUTypeAccessUnitDelimiter:
		return naluAUD
	case mch264.NALUTypeSPS:
		return naluSPS
	case mch264.NALUTypePPS:
		return naluPPS
	case mch264.NALUTypeIDR:
		return naluKey
	}
	return naluOther
}

// annexB is the access unit with a start code before each NAL unit: the
// form of a live frame (docs/device-protocol.md, "Video"). The framing is
// the same for H.265.
func annexB(nalus [][]byte) []byte {
	return h264.AppendAnnexB(make([]byte, 0, auSize(nalus)+4*len(nalus)), nalus)
}

func auSize(nalus [][]byte) int {
	n := 0
	for _, u := range nalus {
		n += len(u)
	}
	return n
}

// Resolution reads the picture size from an SPS.
func (p ParamSets) Resolution(c Codec) (width, height int, err error) {
	switch c {
	case H264:
		var s mch264.SPS
		if err := s.Unmarshal(p.SPS); err != nil {
			return 0, 0, fmt.Errorf("read the H.264 SPS: %w", err)
		}
		return s.Width(), s.Height(), nil
	case H265:
		var s mch265.SPS
		if err := s.Unmarshal(p.SPS); err != nil {
			return 0, 0, fmt.Errorf("read the H.265 SPS: %w", err)
		}
		return s.Width(), s.Height(), nil
	}
	return 0, 0, fmt.Errorf("unknown codec %q", c)
}
