package onvif

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Profile is one media profile: a video source encoded one way.
type Profile struct {
	Token    string
	Name     string
	Encoding string // "H264", "H265", "JPEG", "MPEG4", as the camera names it
	Width    int
	Height   int
}

// maxProfiles bounds how many profiles of a response are kept.
const maxProfiles = 32

// GetProfiles lists the camera's media profiles (media service ver10).
// Profiles without a video encoder are left out.
func (c *Client) GetProfiles(ctx context.Context) ([]Profile, error) {
	media, err := c.mediaAddr(ctx)
	if err != nil {
		return nil, err
	}
	var r struct {
		Profiles []struct {
			Token string `xml:"token,attr"`
			Name  string `xml:"Name"`
			VEC   *struct {
				Encoding   string `xml:"Encoding"`
				Resolution struct {
					Width  int `xml:"Width"`
					Height int `xml:"Height"`
				} `xml:"Resolution"`
			} `xml:"VideoEncoderConfiguration"`
		} `xml:"Profiles"`
	}
	if err := c.call(ctx, media, nsMedia+"/GetProfiles", "", `<trt:GetProfiles/>`, callTimeout, &r); err != nil {
		return nil, fmt.Errorf("onvif GetProfiles: %w", err)
	}
	var out []Profile
	for _, p := range r.Profiles {
		if len(out) == maxProfiles {
			break
		}
		if p.VEC == nil || strings.TrimSpace(p.Token) == "" {
			continue
		}
		w, h := p.VEC.Resolution.Width, p.VEC.Resolution.Height
		if w < 0 || h < 0 || w > 1<<15 || h > 1<<15 {
			w, h = 0, 0
		}
		out = append(out, Profile{
			Token:    clean(p.Token),
			Name:     clean(p.Name),
			Encoding: strings.ToUpper(clean(p.VEC.Encoding)),
			Width:    w,
			Height:   h,
		})
	}
	return out, nil
}

func (c *Client) mediaAddr(ctx context.Context) (string, error) {
	caps, err := c.GetCapabilities(ctx)
	if err != nil {
		return "", err
	}
	if caps.Media == "" {
		return "", fmt.Errorf("onvif: no media service: %w", ErrNotSupported)
	}
	return caps.Media, nil
}

type mediaURI struct {
	URI string `xml:"MediaUri>Uri"`
}

// GetStreamURI asks for the RTSP address of a profile's stream
// (RTP-Unicast over RTSP). The address is the camera's; it is checked to be
// rtsp:// or rtsps:// and bounded, nothing more.
func (c *Client) GetStreamURI(ctx context.Context, profileToken string) (string, error) {
	media, err := c.mediaAddr(ctx)
	if err != nil {
		return "", err
	}
	var r mediaURI
	body := `<trt:GetStreamUri><trt:StreamSetup><tt:Stream>RTP-Unicast</tt:Stream><tt:Transport><tt:Protocol>RTSP</tt:Protocol></tt:Transport></trt:StreamSetup>` +
		`<trt:ProfileToken>` + esc(profileToken) + `</trt:ProfileToken></trt:GetStreamUri>`
	if err := c.call(ctx, media, nsMedia+"/GetStreamUri", "", body, callTimeout, &r); err != nil {
		return "", fmt.Errorf("onvif GetStreamUri: %w", err)
	}
	u, err := checkURI(r.URI, "rtsp", "rtsps")
	if err != nil {
		return "", fmt.Errorf("onvif GetStreamUri: %w", err)
	}
	return u, nil
}

// GetSnapshotURI asks for the HTTP address of a profile's JPEG snapshot.
func (c *Client) GetSnapshotURI(ctx context.Context, profileToken string) (string, error) {
	media, err := c.mediaAddr(ctx)
	if err != nil {
		return "", err
	}
	var r mediaURI
	body := `<trt:GetSnapshotUri><trt:ProfileToken>` + esc(profileToken) + `</trt:ProfileToken></trt:GetSnapshotUri>`
	if err := c.call(ctx, media, nsMedia+"/GetSnapshotUri", "", body, callTimeout, &r); err != nil {
		return "", fmt.Errorf("onvif GetSnapshotUri: %w", err)
	}
	u, err := checkURI(r.URI, "http", "https")
	if err != nil {
		return "", fmt.Errorf("onvif GetSnapshotUri: %w", err)
	}
	return u, nil
}

func checkURI(s string, schemes ...string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", errors.New("camera returned no address")
	}
	if len(s) > maxAddr {
		return "", errors.New("address too long")
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("address: %w", err)
	}
	for _, sc := range schemes {
		if strings.EqualFold(u.Scheme, sc) && u.Host != "" {
			return s, nil
		}
	}
	return "", fmt.Errorf("address scheme %q is not %s", u.Scheme, strings.Join(schemes, " or "))
}

// Stream is one profile with its addresses.
type Stream struct {
	Profile
	StreamURI   string
	SnapshotURI string // empty when the camera offers none
}

// MediaInfo is what the bridge needs to record and show a camera.
type MediaInfo struct {
	// Main is the profile with the highest resolution.
	Main Stream
	// Sub is the lowest-resolution H.264 profile other than Main, if any
	// (HasSub). The bridge uses it for live view when Main is H.265, which
	// browsers cannot all play.
	Sub    Stream
	HasSub bool
}

// Media picks the main and sub-stream profiles and asks for their
// addresses. A snapshot address is asked for the main profile only; a
// camera that does not offer one leaves it empty.
func (c *Client) Media(ctx context.Context) (MediaInfo, error) {
	profiles, err := c.GetProfiles(ctx)
	if err != nil {
		return MediaInfo{}, err
	}
	main, sub, hasSub, ok := pickProfiles(profiles)
	if !ok {
		return MediaInfo{}, errors.New("onvif: the camera has no video profile")
	}
	var mi MediaInfo
	mi.Main.Profile = main
	if mi.Main.StreamURI, err = c.GetStreamURI(ctx, main.Token); err != nil {
		return MediaInfo{}, err
	}
	if mi.Main.SnapshotURI, err = c.GetSnapshotURI(ctx, main.Token); err != nil {
		if errors.Is(err, ErrUnauthorized) || ctx.Err() != nil {
			return MediaInfo{}, err
		}
		// Snapshots are optional: a camera without them still streams.
		mi.Main.SnapshotURI = ""
	}
	if hasSub {
		mi.Sub.Profile, mi.HasSub = sub, true
		if mi.Sub.StreamURI, err = c.GetStreamURI(ctx, sub.Token); err != nil {
			return MediaInfo{}, err
		}
	}
	return mi, nil
}

// pickProfiles chooses the main profile (the most pixels; the first of
// equals) and the sub-stream (the fewest pixels among the other H.264
// profiles).
func pickProfiles(ps []Profile) (main, sub Profile, hasSub, ok bool) {
	mi := -1
	for i, p := range ps {
		if mi < 0 || p.Width*p.Height > ps[mi].Width*ps[mi].Height {
			mi = i
		}
	}
	if mi < 0 {
		return Profile{}, Profile{}, false, false
	}
	si := -1
	for i, p := range ps {
		if i == mi || p.Encoding != "H264" {
			continue
		}
		if si < 0 || p.Width*p.Height < ps[si].Width*ps[si].Height {
			si = i
		}
	}
	if si >= 0 {
		return ps[mi], ps[si], true, true
	}
	return ps[mi], Profile{}, false, true
}
