package onvif

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Client talks to one camera's ONVIF services. It is safe for concurrent
// use. The camera's clock offset and service addresses are read once, on
// first need, and kept.
type Client struct {
	xaddr string
	creds credentials
	hc    *http.Client

	// The clock, the retry backoff and when subscriptions are renewed are
	// fields so tests in this package can shorten waits; nothing outside
	// the package changes them.
	now         func() time.Time
	backoffBase time.Duration
	backoffMax  time.Duration
	renewLeft   time.Duration

	mu          sync.Mutex
	offset      time.Duration // camera clock minus ours
	offsetKnown bool
	caps        *Capabilities
}

// NewClient returns a client for the device service at xaddr (as found by
// Discover, e.g. "http://192.168.1.20/onvif/device_service"). hc may be nil;
// the client then uses its own that does not follow redirects. Each request
// is bounded by the context and by a per-request timeout.
func NewClient(xaddr, username, password string, hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return &Client{
		xaddr:       xaddr,
		creds:       credentials{username: username, password: password},
		hc:          hc,
		now:         time.Now,
		backoffBase: time.Second,
		backoffMax:  30 * time.Second,
		renewLeft:   renewWhenLeft,
	}
}

// call sends an authenticated request to a service address.
func (c *Client) call(ctx context.Context, addr, action, extraHeader, body string, timeout time.Duration, out any) error {
	off, err := c.clockOffset(ctx)
	if err != nil {
		return err
	}
	tok, err := usernameToken(c.creds, c.now().Add(off))
	if err != nil {
		return err
	}
	return post(ctx, c.hc, addr, action, envelope(tok+extraHeader, body), timeout, out)
}

type systemDateAndTime struct {
	UTC struct {
		Date struct {
			Year  int `xml:"Year"`
			Month int `xml:"Month"`
			Day   int `xml:"Day"`
		} `xml:"Date"`
		Time struct {
			Hour   int `xml:"Hour"`
			Minute int `xml:"Minute"`
			Second int `xml:"Second"`
		} `xml:"Time"`
	} `xml:"SystemDateAndTime>UTCDateTime"`
}

// clockOffset reads the camera's clock once (GetSystemDateAndTime needs no
// credentials) so that the UsernameToken's Created is in the camera's time:
// cameras refuse tokens created too far from their own clock, and a camera
// without NTP drifts by minutes. A camera that does not answer the
// operation with a fault is used with no offset.
func (c *Client) clockOffset(ctx context.Context) (time.Duration, error) {
	c.mu.Lock()
	if c.offsetKnown {
		off := c.offset
		c.mu.Unlock()
		return off, nil
	}
	c.mu.Unlock()

	var r systemDateAndTime
	before := c.now()
	err := post(ctx, c.hc, c.xaddr, nsDevice+"/GetSystemDateAndTime",
		envelope("", `<tds:GetSystemDateAndTime/>`), callTimeout, &r)
	after := c.now()
	var fe *FaultError
	var off time.Duration
	switch {
	case errors.As(err, &fe):
		// Answered, but not this: use our own clock.
	case err != nil:
		return 0, fmt.Errorf("onvif GetSystemDateAndTime: %w", err)
	default:
		u := r.UTC
		cam := time.Date(u.Date.Year, time.Month(u.Date.Month), u.Date.Day, u.Time.Hour, u.Time.Minute, u.Time.Second, 0, time.UTC)
		if u.Date.Year >= 1970 && u.Date.Year < 3000 {
			mid := before.Add(after.Sub(before) / 2)
			off = cam.Sub(mid).Truncate(time.Second)
		}
	}
	c.mu.Lock()
	c.offset, c.offsetKnown = off, true
	c.mu.Unlock()
	return off, nil
}

// ClockOffset is the camera's clock minus the bridge's, as read once from
// the camera (zero when the camera does not tell).
func (c *Client) ClockOffset(ctx context.Context) (time.Duration, error) {
	return c.clockOffset(ctx)
}

// DeviceInfo is what GetDeviceInformation tells.
type DeviceInfo struct {
	Manufacturer, Model, Firmware, Serial, HardwareID string
}

// GetDeviceInformation reads the camera's manufacturer, model, firmware
// version and serial number.
func (c *Client) GetDeviceInformation(ctx context.Context) (DeviceInfo, error) {
	var r struct {
		Manufacturer    string `xml:"Manufacturer"`
		Model           string `xml:"Model"`
		FirmwareVersion string `xml:"FirmwareVersion"`
		SerialNumber    string `xml:"SerialNumber"`
		HardwareID      string `xml:"HardwareId"`
	}
	if err := c.call(ctx, c.xaddr, nsDevice+"/GetDeviceInformation", "", `<tds:GetDeviceInformation/>`, callTimeout, &r); err != nil {
		return DeviceInfo{}, fmt.Errorf("onvif GetDeviceInformation: %w", err)
	}
	return DeviceInfo{
		Manufacturer: clean(r.Manufacturer), Model: clean(r.Model), Firmware: clean(r.FirmwareVersion),
		Serial: clean(r.SerialNumber), HardwareID: clean(r.HardwareID),
	}, nil
}

// Capabilities are the service addresses the client uses.
type Capabilities struct {
	Media      string // media service (ver10) address; empty if none
	Media2     string // media service ver20 address, from GetServices; empty if none
	Events     string // events service address; empty if none
	PullPoints bool   // the events service offers PullPoint subscriptions
}

// GetCapabilities reads the media and events service addresses with
// GetCapabilities, and the media ver20 address with GetServices when the
// camera offers it (kept after the first success). Addresses on another host than the device service
// are moved onto the device service's host (see serviceAddr).
func (c *Client) GetCapabilities(ctx context.Context) (Capabilities, error) {
	c.mu.Lock()
	if c.caps != nil {
		caps := *c.caps
		c.mu.Unlock()
		return caps, nil
	}
	c.mu.Unlock()
	var r struct {
		Media struct {
			XAddr string `xml:"XAddr"`
		} `xml:"Capabilities>Media"`
		Events struct {
			XAddr              string `xml:"XAddr"`
			WSPullPointSupport string `xml:"WSPullPointSupport"`
		} `xml:"Capabilities>Events"`
	}
	if err := c.call(ctx, c.xaddr, nsDevice+"/GetCapabilities", "",
		`<tds:GetCapabilities><tds:Category>All</tds:Category></tds:GetCapabilities>`, callTimeout, &r); err != nil {
		return Capabilities{}, fmt.Errorf("onvif GetCapabilities: %w", err)
	}
	var caps Capabilities
	var err error
	if a := strings.TrimSpace(r.Media.XAddr); a != "" {
		if caps.Media, err = serviceAddr(c.xaddr, a); err != nil {
			return Capabilities{}, fmt.Errorf("onvif GetCapabilities: media: %w", err)
		}
	}
	if a := strings.TrimSpace(r.Events.XAddr); a != "" {
		if caps.Events, err = serviceAddr(c.xaddr, a); err != nil {
			return Capabilities{}, fmt.Errorf("onvif GetCapabilities: events: %w", err)
		}
		// Cameras that leave the flag out mostly do support PullPoints
		// (it is mandatory from profile S); only an explicit false says no.
		caps.PullPoints = strings.TrimSpace(r.Events.WSPullPointSupport) != "false"
	}
	if caps.Media2, err = c.media2Addr(ctx); err != nil {
		return Capabilities{}, err
	}
	c.mu.Lock()
	c.caps = &caps
	c.mu.Unlock()
	return caps, nil
}

// maxServices bounds the services of a GetServices answer looked at.
const maxServices = 64

// media2Addr asks GetServices for the media ver20 service. A camera that
// answers with a fault (most older ones do not implement GetServices) has
// none.
func (c *Client) media2Addr(ctx context.Context) (string, error) {
	var r struct {
		Services []struct {
			Namespace string `xml:"Namespace"`
			XAddr     string `xml:"XAddr"`
		} `xml:"Service"`
	}
	err := c.call(ctx, c.xaddr, nsDevice+"/GetServices", "",
		`<tds:GetServices><tds:IncludeCapability>false</tds:IncludeCapability></tds:GetServices>`, callTimeout, &r)
	var fe *FaultError
	switch {
	case errors.Is(err, ErrUnauthorized):
		return "", fmt.Errorf("onvif GetServices: %w", err)
	case errors.As(err, &fe):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("onvif GetServices: %w", err)
	}
	for i, s := range r.Services {
		if i == maxServices {
			break
		}
		if strings.TrimSpace(s.Namespace) != nsMedia2 || strings.TrimSpace(s.XAddr) == "" {
			continue
		}
		a, err := serviceAddr(c.xaddr, strings.TrimSpace(s.XAddr))
		if err != nil {
			return "", fmt.Errorf("onvif GetServices: media2: %w", err)
		}
		return a, nil
	}
	return "", nil
}

// SupportsEvents tells whether the camera has an events service with
// PullPoint subscriptions, which WatchMotion needs.
func (c *Client) SupportsEvents(ctx context.Context) (bool, error) {
	caps, err := c.GetCapabilities(ctx)
	if err != nil {
		return false, err
	}
	return caps.Events != "" && caps.PullPoints, nil
}

// maxAddr bounds any address a camera hands us.
const maxAddr = 2048

// serviceAddr checks an address the camera returned for one of its own
// services (or a subscription) and keeps it on the device service's host:
// cameras behind port forwarding or with a stale configuration report their
// internal address, and the bridge must not be steered to post requests
// (carrying a fresh UsernameToken) to another machine on the LAN. The
// scheme, path and query of the returned address are kept; if its host
// differs, the device service's scheme and host:port are used instead.
func serviceAddr(device, addr string) (string, error) {
	if len(addr) > maxAddr {
		return "", errors.New("address too long")
	}
	d, err := url.Parse(device)
	if err != nil {
		return "", fmt.Errorf("device address: %w", err)
	}
	u, err := url.Parse(addr)
	if err != nil {
		return "", fmt.Errorf("address: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("address %q is not http(s)", addr)
	}
	if u.Hostname() != d.Hostname() {
		u.Scheme, u.Host = d.Scheme, d.Host
	}
	u.User = nil
	u.Fragment = ""
	return u.String(), nil
}

// clean trims and bounds a text field a camera returned.
func clean(s string) string {
	const max = 256
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, strings.ToValidUTF8(strings.TrimSpace(s), ""))
	if len(s) > max {
		s = strings.ToValidUTF8(s[:max], "")
	}
	return s
}
