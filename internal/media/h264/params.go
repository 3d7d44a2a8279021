package h264

import (
	"errors"
	"fmt"

	mch264 "github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
)

// MaxSide bounds a picture's width and height.
const MaxSide = 4096

// Params are a stream's parameter sets and what a player needs from them.
type Params struct {
	SPS, PPS      []byte // the NAL units, header byte included
	Width, Height int    // the displayed picture, cropping applied
	Profile       byte   // profile_idc: 66 baseline, 77 main, 100 high
	Constraints   byte   // the constraint_set flags byte
	Level         byte   // level_idc: 30 is level 3.0
}

// ParseParams reads an SPS and a PPS.
func ParseParams(sps, pps []byte) (Params, error) {
	if Type(sps) != TypeSPS {
		return Params{}, errors.New("h264: not a sequence parameter set")
	}
	if Type(pps) != TypePPS || len(pps) < 2 {
		return Params{}, errors.New("h264: not a picture parameter set")
	}
	var s mch264.SPS
	if err := s.Unmarshal(sps); err != nil {
		return Params{}, fmt.Errorf("h264: sequence parameter set: %w", err)
	}
	// Bound the macroblock counts before Width and Height multiply them.
	if s.PicWidthInMbsMinus1 >= MaxSide/16 || s.PicHeightInMapUnitsMinus1 >= MaxSide/16 {
		return Params{}, fmt.Errorf("h264: picture larger than %dx%d", MaxSide, MaxSide)
	}
	p := Params{SPS: sps, PPS: pps, Width: s.Width(), Height: s.Height(),
		Profile: s.ProfileIdc, Level: s.LevelIdc}
	for i, f := range [...]bool{s.ConstraintSet0Flag, s.ConstraintSet1Flag, s.ConstraintSet2Flag,
		s.ConstraintSet3Flag, s.ConstraintSet4Flag, s.ConstraintSet5Flag} {
		if f {
			p.Constraints |= 0x80 >> i
		}
	}
	if p.Width <= 0 || p.Height <= 0 || p.Width > MaxSide || p.Height > MaxSide {
		return Params{}, fmt.Errorf("h264: picture size %dx%d out of range", p.Width, p.Height)
	}
	return p, nil
}

// FindParams reads the SPS and PPS an access unit carries in-band (a
// keyframe of a camvault camera always does).
func FindParams(nalus [][]byte) (Params, error) {
	sps, pps := ParamSets(nalus)
	if sps == nil || pps == nil {
		return Params{}, errors.New("h264: access unit carries no SPS and PPS")
	}
	return ParseParams(sps, pps)
}

// Codec is the codecs parameter of the stream's MIME type (RFC 6381), as a
// video element or Media Source Extensions want it:
// video/mp4; codecs="avc1.42c01e".
func (p Params) Codec() string {
	return fmt.Sprintf("avc1.%02x%02x%02x", p.Profile, p.Constraints, p.Level)
}
