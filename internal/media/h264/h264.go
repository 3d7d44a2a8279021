// Package h264 handles H.264 video the way camvault carries it: Annex-B
// elementary streams cut into access units, keyframes, parameter sets and
// the picture size, SEI user-data messages (which the simulated cameras
// watermark every picture with), and MP4 files: a progressive movie for an
// event clip, and fragmented MP4 (an init segment, then fragments) for live
// delivery.
//
// Both the server and the simulation use it; it imports nothing of
// either. The sequence parameter set and the MP4 boxes are read and written
// by github.com/bluenviron/mediacommon; the Annex-B splitting, the grouping
// into access units and the SEI messages are here. Every parser does work
// linear in its input and allocates at most in proportion to it, so hostile
// input costs bounded work (docs/design/README.md, invariant 13).
package h264

import "errors"

// Timescale is the clock PTS values count in: 90 kHz, as in RTP and
// MPEG-TS.
const Timescale = 90000

// NAL unit types (ITU-T H.264, Table 7-1) camvault looks at.
const (
	TypeSlice = 1 // a coded slice of a non-IDR picture
	TypeIDR   = 5 // a coded slice of an IDR picture: a keyframe
	TypeSEI   = 6 // supplemental enhancement information
	TypeSPS   = 7 // sequence parameter set
	TypePPS   = 8 // picture parameter set
	TypeAUD   = 9 // access unit delimiter
)

// ErrNoPicture is returned for an access unit without a coded picture.
var ErrNoPicture = errors.New("h264: access unit has no picture (no slice NAL unit)")

// An AccessUnit is one coded picture and the NAL units that go with it
// (parameter sets, SEI), in decoding order, with its presentation time.
type AccessUnit struct {
	PTS   int64    // presentation time in Timescale units
	NALUs [][]byte // without start codes or length prefixes
}

// Keyframe reports whether the access unit is an IDR picture: decoding
// can start at it.
func (au AccessUnit) Keyframe() bool { return IsKeyframe(au.NALUs) }

// Type is the type of a NAL unit, from its header byte (0, unspecified,
// for an empty one).
func Type(nalu []byte) int {
	if len(nalu) == 0 {
		return 0
	}
	return int(nalu[0] & 0x1F)
}

// isVCL reports whether a NAL unit type carries picture data (the slice
// types of a primary coded picture; camvault's streams have no data
// partitioning).
func isVCL(t int) bool { return t == TypeSlice || t == TypeIDR }

// IsKeyframe reports whether the NAL units of an access unit hold an IDR
// picture.
func IsKeyframe(nalus [][]byte) bool {
	for _, n := range nalus {
		if Type(n) == TypeIDR {
			return true
		}
	}
	return false
}

// ParamSets returns the first SPS and the first PPS among the NAL units of
// an access unit (nil when there is none).
func ParamSets(nalus [][]byte) (sps, pps []byte) {
	for _, n := range nalus {
		switch Type(n) {
		case TypeSPS:
			if sps == nil {
				sps = n
			}
		case TypePPS:
			if pps == nil {
				pps = n
			}
		}
	}
	return sps, pps
}
