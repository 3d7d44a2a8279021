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

type videoEncoder struct {
	Encoding   string `xml:"Encoding"`
	Resolution struct {
		Width  int `xml:"Width"`
		Height int `xml:"Height"`
	} `xml:"Resolution"`
}

// GetProfiles lists the camera's media profiles, from the media service
// ver20 when the camera has one (it names H.265 as such; ver10's encodings
// predate it) and ver10 otherwise. Profiles without a video encoder are
// left out.
func (c *Client) GetProfiles(ctx context.Context) ([]Profile, error) {
	media, v2, err := c.mediaAddr(ctx)
	if err != nil {
		return nil, err
	}
	var r struct {
		Profiles []struct {
			Token string        `xml:"token,attr"`
			Name  string        `xml:"Name"`
			VEC1  *videoEncoder `xml:"VideoEncoderConfiguration"`
			VEC2  *videoEncoder `xml:"Configurations>VideoEncoder"`
		} `xml:"Profiles"`
	}
	action, body := nsMedia+"/GetProfiles", `<trt:GetProfiles/>`
	if v2 {
		action, body = nsMedia2+"/GetProfiles", `<tr2:GetProfiles><tr2:Type>VideoEncoder</tr2:Type></tr2:GetProfiles>`
	}
	if err := c.call(ctx, media, action, "", body, callTimeout, &r); err != nil {
		return nil, fmt.Errorf("onvif GetProfiles: %w", err)
	}
	var out []Profile
	for _, p := range r.Profiles {
		if len(out) == maxProfiles {
			break
		}
		vec := p.VEC1
		if v2 {
			vec = p.VEC2
		}
		if vec == nil || strings.TrimSpace(p.Token) == "" {
			continue
		}
		w, h := vec.Resolution.Width, vec.Resolution.Height
		if w < 0 || h < 0 || w > 1<<15 || h > 1<<15 {
			w, h = 0, 0
		}
		out = append(out, Profile{
			Token:    clean(p.Token),
			Name:     clean(p.Name),
			Encoding: encoding(vec.Encoding),
			Width:    w,
			Height:   h,
		})
	}
	return out, nil
}

// encoding names an encoding the way this package reports it: "H264" and
// "H265" whatever spelling the camera used, others upper-cased.
func encoding(e string) string {
	switch u := strings.ToUpper(clean(e)); u {
	case "H.264", "AVC", "H264":
		return "H264"
	case "H.265", "HEVC", "H265":
		return "H265"
	default:
		return u
	}
}

// mediaAddr is the media service to ask, and whether it is ver20.
func (c *Client) mediaAddr(ctx context.Context) (string, bool, error) {
	caps, err := c.GetCapabilities(ctx)
	if err != nil {
		return "", false, err
	}
	if caps.Media2 != "" {
		return caps.Media2, true, nil
	}
	if caps.Media == "" {
		return "", false, fmt.Errorf("onvif: no media service: %w", ErrNotSupported)
	}
	return caps.Media, false, nil
}

type mediaURI struct {
	URI1 string `xml:"MediaUri>Uri"` // ver10
	URI2 string `xml:"Uri"`          // ver20
}

func (m mediaURI) uri() string {
	if m.URI2 != "" {
		return m.URI2
	}
	return m.URI1
}

// GetStreamURI asks for the RTSP address of a profile's stream
// (RTP-Unicast over RTSP). The address is the camera's; it is checked to be
// rtsp:// or rtsps:// and bounded, nothing more.
func (c *Client) GetStreamURI(ctx context.Context, profileToken string) (string, error) {
	media, v2, err := c.mediaAddr(ctx)
	if err != nil {
		return "", err
	}
	var r mediaURI
	action := nsMedia + "/GetStreamUri"
	body := `<trt:GetStreamUri><trt:StreamSetup><tt:Stream>RTP-Unicast</tt:Stream><tt:Transport><tt:Protocol>RTSP</tt:Protocol></tt:Transport></trt:StreamSetup>` +
		`<trt:ProfileToken>` + esc(profileToken) + `</trt:ProfileToken></trt:GetStreamUri>`
	if v2 {
		action = nsMedia2 + "/GetStreamUri"
		body = `<tr2:GetStreamUri><tr2:Protocol>RTSP</tr2:Protocol><tr2:ProfileToken>` + esc(profileToken) + `</tr2:ProfileToken></tr2:GetStreamUri>`
	}
	if err := c.call(ctx, media, action, "", body, callTimeout, &r); err != nil {
		return "", fmt.Errorf("onvif GetStreamUri: %w", err)
	}
	u, err := checkURI(r.uri(), "rtsp", "rtsps")
	if err != nil {
		return "", fmt.Errorf("onvif GetStreamUri: %w", err)
	}
	return u, nil
}

// GetSnapshotURI asks for the HTTP address of a profile's JPEG snapshot.
func (c *Client) GetSnapshotURI(ctx context.Context, profileToken string) (string, error) {
	media, v2, err := c.mediaAddr(ctx)
	if err != nil {
		return "", err
	}
	var r mediaURI
	action := nsMedia + "/GetSnapshotUri"
	body := `<trt:GetSnapshotUri><trt:ProfileToken>` + esc(profileToken) + `</trt:ProfileToken></trt:GetSnapshotUri>`
	if v2 {
		action = nsMedia2 + "/GetSnapshotUri"
		body = `<tr2:GetSnapshotUri><tr2:ProfileToken>` + esc(profileToken) + `</tr2:ProfileToken></tr2:GetSnapshotUri>`
	}
	if err := c.call(ctx, media, action, "", body, callTimeout, &r); err != nil {
		return "", fmt.Errorf("onvif GetSnapshotUri: %w", err)
	}
	u, err := checkURI(r.uri(), "http", "https")
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
