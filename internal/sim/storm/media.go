package storm

import (
	"github.com/camvault/camvault/internal/sim/camera"
)

// verdict is what checking one media response found.
type verdict struct {
	frames     int // frames checked
	foreign    int // frames without a valid watermark, or of a camera not in the viewer's home
	mislabeled int // frames of the viewer's own cameras, but not of the event's camera
}

// checkMedia checks every frame of a thumbnail or clip the viewer of ac
// received for an event of device.
func checkMedia(key []byte, ac *account, device, kind string, body []byte) verdict {
	var frames [][]byte
	if kind == "clip" {
		var err error
		if frames, err = camera.ClipFrames(body); err != nil && len(frames) == 0 {
			return verdict{frames: 1, foreign: 1}
		} else if err != nil {
			frames = append(frames, nil) // the unreadable rest counts as one bad frame
		}
	} else {
		frames = [][]byte{body}
	}
	var v verdict
	for _, f := range frames {
		v.frames++
		info, err := camera.VerifyWatermark(key, f)
		switch {
		case err != nil, info.HomeID != ac.home, !ac.devices[info.DeviceID]:
			v.foreign++
		case info.DeviceID != device:
			v.mislabeled++
		}
	}
	return v
}
