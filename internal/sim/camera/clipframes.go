package camera

import (
	"fmt"

	"github.com/camvault/camvault/internal/media/h264"
)

// ClipFrames returns the access units of a clip BuildClip made, one per
// sample, with their times from the clip's start: what a receiver that
// checks every frame's watermark (VerifyVideoWatermark) reads back.
func ClipFrames(mp4 []byte) ([]h264.AccessUnit, error) {
	_, aus, err := h264.ReadMP4(mp4)
	if err != nil {
		return nil, fmt.Errorf("clip: %w", err)
	}
	if len(aus) == 0 {
		return nil, fmt.Errorf("clip: no frames")
	}
	return aus, nil
}
