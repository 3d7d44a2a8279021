// Package bridge connects a household's own IP cameras (RTSP, ONVIF) to a
// camvault server as ordinary devices. It runs on the household's network
// (a Raspberry Pi, a NAS): for each camera it keeps the camera's RTSP
// stream open, finds motion (the camera's ONVIF events, or by comparing
// its snapshots), cuts each event's clip from a ring of the last seconds
// of the stream (the camera's own pictures, remuxed to MP4 without
// transcoding), queues events on disk until the server acknowledges them,
// and holds the device connection through which the server asks for live
// video. Each camera is its own device with its own credential
// (invariant 2); the cameras' passwords never leave the bridge
// (docs/bridge.md).
package bridge

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Bridge runs the cameras of a state directory.
type Bridge struct {
	state *State
	opt   Options
	cams  []*Camera
}

// New prepares every camera of st.
func New(st *State, opt Options) (*Bridge, error) {
	opt.setDefaults()
	cfgs, err := st.Cameras()
	if err != nil {
		return nil, err
	}
	if len(cfgs) == 0 {
		return nil, fmt.Errorf("no cameras in %s: add one with camvault bridge pair", st.Dir())
	}
	b := &Bridge{state: st, opt: opt}
	for _, cfg := range cfgs {
		c, err := newCamera(st, cfg, opt)
		if err != nil {
			return nil, fmt.Errorf("camera %q: %w", cfg.Name, err)
		}
		b.cams = append(b.cams, c)
	}
	return b, nil
}

// Cameras returns the bridge's cameras.
func (b *Bridge) Cameras() []*Camera { return b.cams }

// Run runs every camera until ctx ends. A camera the server ended for
// good (removed in the app) stops alone; the others go on. It returns the
// errors of the cameras that stopped.
func (b *Bridge) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	errs := make([]error, len(b.cams))
	for i, c := range b.cams {
		wg.Go(func() {
			if err := c.Run(ctx); err != nil {
				errs[i] = fmt.Errorf("camera %q: %w", c.cfg.Name, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
