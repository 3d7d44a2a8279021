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

// checkMedia checks every frame of a thumbnail (a JPEG) or clip (H.264
// video) the viewer of ac received for an event of device.
func checkMedia(key []byte, ac *account, device, kind string, body []byte) verdict {
	var v verdict
	count := func(home, dev string, err error) {
		v.frames++
		switch {
		case err != nil, home != ac.home, !ac.devices[dev]:
			v.foreign++
		case dev != device:
			v.mislabeled++
		}
	}
	if kind != "clip" {
		info, err := camera.VerifyWatermark(key, body)
		count(info.HomeID, info.DeviceID, err)
		return v
	}
	frames, err := camera.ClipFrames(body)
	if err != nil {
		return verdict{frames: 1, foreign: 1} // an unreadable clip counts as one bad frame
	}
	for _, f := range frames {
		info, err := camera.VerifyVideoWatermark(key, f.NALUs)
		count(info.HomeID, info.DeviceID, err)
	}
	return v
}
