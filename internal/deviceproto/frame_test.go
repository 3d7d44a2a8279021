package deviceproto

import (
	"bytes"
	"errors"
	"testing"
)

func TestFrameRoundTrip(t *testing.T) {
	h := FrameHeader{Version: FrameVersion, Flags: FlagKeyframe, Epoch: 1<<63 + 7, Seq: 42, PTS: -3}
	au := []byte{0, 0, 0, 1, 0x65, 1, 2}
	got, gotAU, err := DecodeFrame(EncodeFrame(h, au))
	if err != nil || got != h || !bytes.Equal(gotAU, au) || !got.Keyframe() {
		t.Fatalf("got %+v %x %v, want %+v %x", got, gotAU, err, h, au)
	}
}

func TestDecodeFrameRefuses(t *testing.T) {
	ok := FrameHeader{Version: FrameVersion, Epoch: 1}
	for name, tc := range map[string]struct {
		b    []byte
		want error
	}{
		"short":     {make([]byte, FrameHeaderSize-1), ErrFrameShort},
		"version":   {EncodeFrame(FrameHeader{Version: 2}, []byte{1}), ErrFrameVersion},
		"flags":     {EncodeFrame(FrameHeader{Version: FrameVersion, Flags: 2}, []byte{1}), ErrFrameVersion},
		"empty":     {EncodeFrame(ok, nil), ErrFrameSize},
		"too large": {EncodeFrame(ok, make([]byte, MaxFrame+1)), ErrFrameSize},
	} {
		if _, _, err := DecodeFrame(tc.b); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
	if _, _, err := DecodeFrame(EncodeFrame(ok, make([]byte, MaxFrame))); err != nil {
		t.Errorf("a frame of MaxFrame: %v", err)
	}
}
