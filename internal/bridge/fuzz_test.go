package bridge

import (
	"bytes"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/media/h264"
)

// FuzzCameraStream: whatever NAL units a camera sends, the bridge's
// assembly and remux return an error or a clip, never panic, and a clip
// it makes starts with a keyframe.
func FuzzCameraStream(f *testing.F) {
	for _, seed := range []struct {
		path  string
		codec Codec
	}{{"../sim/camera/fixtures/640x360.h264", H264}, {"testdata/640x360.h265", H265}} {
		aus := loadStream(f, seed.path, seed.codec, time.Unix(0, 0))
		var b []byte
		for _, au := range aus[:4] {
			b = append(b, annexB(au.NALUs)...)
		}
		f.Add(b, seed.codec == H265)
	}
	f.Fuzz(func(t *testing.T, b []byte, h265 bool) {
		codec := H264
		if h265 {
			codec = H265
		}
		nalus, err := h264.SplitAnnexB(b)
		if err != nil {
			return
		}
		asm := newAssembler(codec, ParamSets{})
		var aus []AccessUnit
		// One access unit per NAL unit group of three: enough to mix
		// parameter sets, keyframes and slices in any order.
		for i := 0; i < len(nalus) && len(aus) < 64; i += 3 {
			au, ok, err := asm.assemble(nalus[i:min(i+3, len(nalus))], int64(i)*3000, time.Unix(0, int64(i)))
			if err != nil || !ok {
				continue
			}
			if len(aus) == 0 && !au.Key {
				continue
			}
			aus = append(aus, au)
		}
		clip, err := writeClip(codec, aus, nil)
		if err != nil {
			return
		}
		if !bytes.Contains(clip[:min(len(clip), 64)], []byte("ftyp")) {
			t.Fatal("a clip without ftyp")
		}
	})
}
