package bridge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/camvault/camvault/internal/onvif"
)

// FromONVIF fills a pair request from a camera's ONVIF device service
// (host[:port], or its URL): the main stream, an H.264 sub-stream for
// live view when the main one is not H.264, and the snapshot address.
// Addresses given already are kept.
func FromONVIF(ctx context.Context, req *PairRequest, addr string) error {
	xaddr, err := onvifAddress(addr)
	if err != nil {
		return err
	}
	c := onvif.NewClient(xaddr, req.Username, req.Password, &http.Client{Timeout: 20 * time.Second})
	mi, err := c.Media(ctx)
	if err != nil {
		return fmt.Errorf("ONVIF %s: %w", xaddr, err)
	}
	if req.StreamURL == "" {
		req.StreamURL = mi.Main.StreamURI
	}
	if req.LiveURL == "" && !strings.EqualFold(mi.Main.Encoding, "H264") && mi.HasSub {
		req.LiveURL = mi.Sub.StreamURI
	}
	if req.SnapshotURL == "" {
		req.SnapshotURL = mi.Main.SnapshotURI
		if req.SnapshotURL == "" && mi.HasSub {
			req.SnapshotURL = mi.Sub.SnapshotURI
		}
	}
	req.ONVIF = xaddr
	return nil
}

// onvifAddress makes a device service URL of host[:port] or a URL.
func onvifAddress(addr string) (string, error) {
	addr = strings.TrimSpace(addr)
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	u, err := url.Parse(addr)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("ONVIF address %q: want host[:port] or http://host[:port]/onvif/device_service", addr)
	}
	u.User = nil
	if u.Path == "" || u.Path == "/" {
		u.Path = "/onvif/device_service"
	}
	return u.String(), nil
}

// Found is an ONVIF camera that answered discovery.
type Found struct {
	Name, Hardware, Address string
}

// Discover finds ONVIF cameras on the local network (WS-Discovery).
func Discover(ctx context.Context, timeout time.Duration) ([]Found, error) {
	devs, err := onvif.Discover(ctx, onvif.DiscoverConfig{Timeout: timeout})
	if err != nil {
		return nil, fmt.Errorf("discover: %w", err)
	}
	out := make([]Found, 0, len(devs))
	for _, d := range devs {
		f := Found{Name: d.Name, Hardware: d.Hardware}
		if len(d.XAddrs) > 0 {
			f.Address = d.XAddrs[0]
		}
		out = append(out, f)
	}
	return out, nil
}

// watchONVIF makes an event of each motion the camera reports over ONVIF.
// It returns false when the camera cannot report motion (no events, or
// it refused the credentials), for the caller to compare snapshots
// instead.
func (c *Camera) watchONVIF(ctx context.Context) bool {
	cl := onvif.NewClient(c.cfg.ONVIF, c.cfg.Username, c.sec.Password, &http.Client{Transport: c.opt.CameraTransport})
	for ctx.Err() == nil {
		err := cl.WatchMotion(ctx, func(m onvif.Motion) {
			if !m.Active {
				return
			}
			at := time.Now() // the bridge's clock: the ring's times are its own
			c.bg.Go(func() {
				if err := c.motion(ctx, at); err != nil && ctx.Err() == nil {
					c.log.Error("event lost", "err", err)
				}
			})
		})
		switch {
		case ctx.Err() != nil:
			return true
		case errors.Is(err, onvif.ErrNotSupported), errors.Is(err, onvif.ErrUnauthorized):
			c.log.Warn("the camera's ONVIF motion events cannot be used", "err", err)
			return false
		}
		c.log.Warn("ONVIF motion events lost; subscribing again", "err", err)
		sleep(ctx, 5*time.Second)
	}
	return true
}
