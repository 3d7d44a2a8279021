package h264

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	mch264 "github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
)

var startCode = []byte{0, 0, 1}

// SplitAnnexB returns the NAL units of an Annex-B byte stream (ITU-T
// H.264, Annex B): what lies between start codes (00 00 01, or 00 00 00 01),
// without the zero bytes that pad a NAL unit's end. They are sub-slices of
// b. Only zero bytes may come before the first start code; a NAL unit whose
// forbidden_zero_bit is set is an error.
func SplitAnnexB(b []byte) ([][]byte, error) {
	first := bytes.Index(b, startCode)
	if first < 0 {
		return nil, errors.New("h264: not an Annex-B stream: no start code")
	}
	for i, c := range b[:first] {
		if c != 0 {
			return nil, fmt.Errorf("h264: not an Annex-B stream: byte %d before the first start code", i)
		}
	}
	var out [][]byte
	pos := first + len(startCode)
	for {
		end := len(b)
		next := bytes.Index(b[pos:], startCode)
		if next >= 0 {
			end = pos + next
		}
		nalu := b[pos:end]
		for len(nalu) > 0 && nalu[len(nalu)-1] == 0 {
			nalu = nalu[:len(nalu)-1]
		}
		if len(nalu) > 0 {
			if nalu[0]&0x80 != 0 {
				return nil, fmt.Errorf("h264: NAL unit at byte %d has its forbidden_zero_bit set", pos)
			}
			out = append(out, nalu)
		}
		if next < 0 {
			break
		}
		pos = end + len(startCode)
	}
	if len(out) == 0 {
		return nil, errors.New("h264: Annex-B stream holds no NAL unit")
	}
	return out, nil
}

// AccessUnits groups NAL units, in decoding order, into access units the
// way ITU-T H.264, 7.4.1.2.3 delimits them: after a picture's slices, an
// access unit delimiter, SPS, PPS, SEI (or types 14 to 18), or the first
// slice of another picture (first_mb_in_slice 0) starts the next access
// unit. Every access unit must hold a picture. The NAL units are shared,
// not copied.
func AccessUnits(nalus [][]byte) ([][][]byte, error) {
	var out [][][]byte
	var cur [][]byte
	picture := false
	for _, n := range nalus {
		t := Type(n)
		if picture {
			boundary := false
			switch {
			case t == TypeAUD, t == TypeSPS, t == TypePPS, t == TypeSEI, t >= 14 && t <= 18:
				boundary = true
			case isVCL(t):
				boundary = firstMBZero(n)
			}
			if boundary {
				out = append(out, cur)
				cur, picture = nil, false
			}
		}
		cur = append(cur, n)
		if isVCL(t) {
			picture = true
		}
	}
	if !picture {
		if len(out) == 0 {
			return nil, ErrNoPicture
		}
		return nil, fmt.Errorf("%w: %d NAL units after the last picture", ErrNoPicture, len(cur))
	}
	return append(out, cur), nil
}

// firstMBZero reports whether a slice NAL unit starts a picture: its
// slice header's first field, first_mb_in_slice, is ue(v) coded, so it is 0
// exactly when the first bit after the NAL header is 1.
func firstMBZero(nalu []byte) bool { return len(nalu) >= 2 && nalu[1]&0x80 != 0 }

// AppendAnnexB appends the NAL units to dst, each after a 4-byte start
// code.
func AppendAnnexB(dst []byte, nalus [][]byte) []byte {
	for _, n := range nalus {
		dst = append(dst, 0, 0, 0, 1)
		dst = append(dst, n...)
	}
	return dst
}

// AppendAVCC appends the NAL units to dst, each after its length in 4
// bytes (ISO/IEC 14496-15, as MP4 samples hold them).
func AppendAVCC(dst []byte, nalus [][]byte) ([]byte, error) {
	for _, n := range nalus {
		if len(n) == 0 || uint64(len(n)) > math.MaxUint32 {
			return nil, fmt.Errorf("h264: NAL unit of %d bytes cannot be length-prefixed", len(n))
		}
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(n)))
		dst = append(dst, n...)
	}
	return dst, nil
}

// SplitAVCC returns the NAL units of an MP4 sample (each after its length
// in 4 bytes), sub-slices of b.
func SplitAVCC(b []byte) ([][]byte, error) {
	var au mch264.AVCC
	if err := au.Unmarshal(b); err != nil {
		return nil, fmt.Errorf("h264: length-prefixed access unit: %w", err)
	}
	return au, nil
}
