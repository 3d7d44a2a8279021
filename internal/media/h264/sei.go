package h264

import (
	"bytes"
	"errors"
	"fmt"

	mch264 "github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
)

// seiUserDataUnregistered is the SEI payload type of user data identified
// by a UUID (ITU-T H.264, D.1.6).
const seiUserDataUnregistered = 5

// UUID identifies the kind of a user_data_unregistered SEI message
// (uuid_iso_iec_11578); whoever defines a message chooses one.
type UUID [16]byte

// UserDataSEI returns an SEI NAL unit holding one user_data_unregistered
// message: the UUID, then payload. Emulation prevention bytes are inserted
// where the message would otherwise look like a start code.
func UserDataSEI(uuid UUID, payload []byte) []byte {
	size := len(uuid) + len(payload)
	rbsp := make([]byte, 0, 1+size/255+1+size+1)
	rbsp = append(rbsp, seiUserDataUnregistered)
	for ; size >= 0xFF; size -= 0xFF {
		rbsp = append(rbsp, 0xFF)
	}
	rbsp = append(rbsp, byte(size))
	rbsp = append(rbsp, uuid[:]...)
	rbsp = append(rbsp, payload...)
	rbsp = append(rbsp, 0x80) // rbsp_trailing_bits: a stop bit, then alignment
	out := make([]byte, 0, 1+len(rbsp)+len(rbsp)/2)
	out = append(out, TypeSEI) // forbidden_zero_bit 0, nal_ref_idc 0
	return AppendEscaped(out, rbsp)
}

// AppendEscaped appends rbsp to dst with emulation prevention (ITU-T
// H.264, 7.4.1): after two zero bytes, a byte of 0 to 3 is preceded by
// 0x03, so no start code can appear inside a NAL unit.
func AppendEscaped(dst, rbsp []byte) []byte {
	zeros := 0
	for _, c := range rbsp {
		if zeros >= 2 && c <= 3 {
			dst = append(dst, 3)
			zeros = 0
		}
		dst = append(dst, c)
		if c == 0 {
			zeros++
		} else {
			zeros = 0
		}
	}
	return dst
}

// Unescape returns a NAL unit's payload without its emulation prevention
// bytes (a copy).
func Unescape(ebsp []byte) []byte { return mch264.EmulationPreventionRemove(ebsp) }

// InsertSEI returns the NAL units of an access unit with sei added before
// its first slice, after any delimiter, parameter sets and other SEI, where
// ITU-T H.264, 7.4.1.2.3 puts SEI. The NAL units are shared, not copied.
func InsertSEI(nalus [][]byte, sei []byte) ([][]byte, error) {
	if Type(sei) != TypeSEI {
		return nil, errors.New("h264: insert SEI: not an SEI NAL unit")
	}
	for i, n := range nalus {
		if isVCL(Type(n)) {
			out := make([][]byte, 0, len(nalus)+1)
			out = append(out, nalus[:i]...)
			out = append(out, sei)
			return append(out, nalus[i:]...), nil
		}
	}
	return nil, ErrNoPicture
}

// UserData returns the payloads (after the UUID) of the
// user_data_unregistered messages with uuid in the SEI NAL units of an
// access unit, in order. An SEI NAL unit that does not parse is an error:
// what it holds cannot be known.
func UserData(nalus [][]byte, uuid UUID) ([][]byte, error) {
	var out [][]byte
	for i, n := range nalus {
		if Type(n) != TypeSEI {
			continue
		}
		msgs, err := seiMessages(Unescape(n[1:]))
		if err != nil {
			return nil, fmt.Errorf("h264: SEI NAL unit %d: %w", i, err)
		}
		for _, m := range msgs {
			if m.typ == seiUserDataUnregistered && len(m.payload) >= len(uuid) && bytes.Equal(m.payload[:len(uuid)], uuid[:]) {
				out = append(out, m.payload[len(uuid):])
			}
		}
	}
	return out, nil
}

type seiMessage struct {
	typ     int
	payload []byte
}

// seiMessages parses an SEI RBSP (ITU-T H.264, 7.3.2.3): messages, each a
// payload type and size (coded as runs of 0xFF plus a last byte) and the
// payload, up to the trailing bits.
func seiMessages(rbsp []byte) ([]seiMessage, error) {
	var out []seiMessage
	pos := 0
	// more_rbsp_data: anything but the final byte of trailing bits (a stop
	// bit and alignment zeros: 0x80) is another message.
	for pos < len(rbsp) && !(pos == len(rbsp)-1 && rbsp[pos] == 0x80) {
		var v [2]int // payload type, then payload size
		for k := range v {
			for pos < len(rbsp) && rbsp[pos] == 0xFF {
				v[k] += 0xFF
				pos++
			}
			if pos >= len(rbsp) {
				return nil, errors.New("SEI message header cut short")
			}
			v[k] += int(rbsp[pos])
			pos++
		}
		if v[1] > len(rbsp)-pos {
			return nil, fmt.Errorf("SEI message of %d bytes, %d left", v[1], len(rbsp)-pos)
		}
		out = append(out, seiMessage{typ: v[0], payload: rbsp[pos : pos+v[1]]})
		pos += v[1]
	}
	if pos >= len(rbsp) {
		return nil, errors.New("SEI has no trailing bits")
	}
	return out, nil
}
