package onvif

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/camvault/camvault/internal/onvif/onviftest"
)

func newCamera(t *testing.T, cfg onviftest.Config) *onviftest.Camera {
	t.Helper()
	cam, err := onviftest.NewCamera(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cam.Close)
	return cam
}

// serveDiscovery runs the camera's responder on a loopback socket until the
// test ends and returns the socket's address.
func serveDiscovery(t *testing.T, cam *onviftest.Camera) string {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cam.ServeDiscovery(ctx, conn) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServeDiscovery: %v", err)
		}
		conn.Close()
	})
	return conn.LocalAddr().String()
}

func TestDiscoverFindsCameraByName(t *testing.T) {
	cam := newCamera(t, onviftest.Config{Name: "Front Door", Hardware: "RLC-810A"})
	target := serveDiscovery(t, cam)

	// The probe is sent twice, so the camera answers twice; one device.
	devs, err := Discover(context.Background(), DiscoverConfig{Target: target, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) != 1 {
		t.Fatalf("found %d devices, want 1: %+v", len(devs), devs)
	}
	d := devs[0]
	if d.Name != "Front Door" || d.Hardware != "RLC-810A" {
		t.Errorf("name %q hardware %q, want Front Door / RLC-810A", d.Name, d.Hardware)
	}
	if d.EndpointRef != cam.EndpointRef() {
		t.Errorf("endpoint %q, want %q", d.EndpointRef, cam.EndpointRef())
	}
	if len(d.XAddrs) != 1 || d.XAddrs[0] != cam.URL() {
		t.Errorf("xaddrs %v, want [%s]", d.XAddrs, cam.URL())
	}
	// The address found is one the client can use.
	if _, err := NewClient(d.XAddrs[0], "admin", "password", nil).GetDeviceInformation(context.Background()); err != nil {
		t.Fatalf("GetDeviceInformation at the discovered address: %v", err)
	}
}

func TestDiscoverStopsAtMaxDevices(t *testing.T) {
	a := newCamera(t, onviftest.Config{Name: "a"})
	target := serveDiscovery(t, a)
	devs, err := Discover(context.Background(), DiscoverConfig{Target: target, Timeout: time.Minute, MaxDevices: 1})
	if err != nil || len(devs) != 1 || devs[0].Name != "a" {
		t.Fatalf("Discover = %+v, %v; want camera a", devs, err)
	}
}

// A responder that answers with hostile datagrams before the real match:
// a match for another probe, malformed XML, a match with no usable address.
func TestDiscoverIgnoresOtherProbesAndJunk(t *testing.T) {
	real := newCamera(t, onviftest.Config{Name: "real"})
	other := newCamera(t, onviftest.Config{Name: "impostor"})
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 64<<10)
		n, from, err := conn.ReadFromUDP(buf)
		if err != nil {
			t.Errorf("read probe: %v", err)
			return
		}
		probe := string(buf[:n])
		i := strings.Index(probe, "<a:MessageID>")
		j := strings.Index(probe, "</a:MessageID>")
		if i < 0 || j < i {
			t.Errorf("probe without MessageID: %s", probe)
			return
		}
		id := probe[i+len("<a:MessageID>") : j]
		noAddr := strings.Replace(string(other.ProbeMatch(id)), other.URL(), "ftp://x/", 1)
		for _, d := range [][]byte{
			other.ProbeMatch("uuid:00000000-0000-4000-8000-000000000000"),
			[]byte("<Envelope><Body><ProbeMatches><ProbeMatch>"),
			[]byte(noAddr),
			[]byte(strings.Repeat("<a>", 20000)),
			real.ProbeMatch(id),
		} {
			if _, err := conn.WriteToUDP(d, from); err != nil {
				t.Errorf("write: %v", err)
			}
		}
	}()
	devs, err := Discover(context.Background(), DiscoverConfig{Target: conn.LocalAddr().String(), Timeout: time.Second})
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) != 1 || devs[0].Name != "real" {
		t.Fatalf("found %+v, want only the camera that answered our probe", devs)
	}
}

func TestParseProbeMatchesChecksRelatesTo(t *testing.T) {
	cam := newCamera(t, onviftest.Config{Name: "Garage%2F1 ü"})
	if got := parseProbeMatches(cam.ProbeMatch("uuid:a"), "uuid:b"); len(got) != 0 {
		t.Fatalf("match for another probe accepted: %+v", got)
	}
	got := parseProbeMatches(cam.ProbeMatch("uuid:a"), "uuid:a")
	if len(got) != 1 || got[0].Name != "Garage%2F1 ü" {
		t.Fatalf("got %+v, want the camera with its unescaped name", got)
	}
}

func TestDeviceInformationWithSkewedCameraClock(t *testing.T) {
	cam := newCamera(t, onviftest.Config{
		Manufacturer: "Reolink", Model: "RLC-810A", Firmware: "v3.1.0", Serial: "SN123",
		ClockOffset: 2 * time.Hour,
	})
	c := NewClient(cam.URL(), "admin", "password", nil)
	info, err := c.GetDeviceInformation(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := DeviceInfo{Manufacturer: "Reolink", Model: "RLC-810A", Firmware: "v3.1.0", Serial: "SN123"}
	if info != want {
		t.Errorf("info %+v, want %+v", info, want)
	}
	off, err := c.ClockOffset(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if d := off - 2*time.Hour; d < -time.Minute || d > time.Minute {
		t.Errorf("clock offset %v, want about 2h", off)
	}

	// Without the offset, the camera refuses the token as too old.
	unadjusted := NewClient(cam.URL(), "admin", "password", nil)
	unadjusted.offsetKnown = true
	if _, err := unadjusted.GetDeviceInformation(context.Background()); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("token on our clock: err %v, want ErrUnauthorized", err)
	}
}

func TestWrongPasswordSaysSo(t *testing.T) {
	cam := newCamera(t, onviftest.Config{Username: "admin", Password: "right"})
	c := NewClient(cam.URL(), "admin", "wrong", nil)
	_, err := c.GetDeviceInformation(context.Background())
	if !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("err %v, want ErrUnauthorized", err)
	}
	if !strings.Contains(err.Error(), "the camera refused the username or password") {
		t.Errorf("error %q does not say the credentials were refused", err)
	}
	if _, err := c.Media(context.Background()); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("Media: err %v, want ErrUnauthorized", err)
	}
	if _, err := NewClient(cam.URL(), "root", "right", nil).GetDeviceInformation(context.Background()); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("wrong username: err %v, want ErrUnauthorized", err)
	}
	if _, err := NewClient(cam.URL(), "admin", "right", nil).GetDeviceInformation(context.Background()); err != nil {
		t.Errorf("right credentials: %v", err)
	}
}

func TestMediaPicksMainAndSub(t *testing.T) {
	cam := newCamera(t, onviftest.Config{Profiles: []onviftest.Profile{
		{Token: "p720", Name: "third", Encoding: "H264", Width: 1280, Height: 720, StreamURI: "rtsp://cam.test/720"},
		{Token: "pmjpeg", Name: "mjpeg", Encoding: "JPEG", Width: 320, Height: 180, StreamURI: "rtsp://cam.test/mjpeg"},
		{Token: "p360", Name: "sub", Encoding: "H264", Width: 640, Height: 360, StreamURI: "rtsp://cam.test/sub"},
		{Token: "pmain", Name: "main", Encoding: "H265", Width: 2560, Height: 1440,
			StreamURI: "rtsp://cam.test:554/h265Preview_01_main", SnapshotURI: "http://cam.test/cgi-bin/api.cgi?cmd=Snap&channel=0"},
	}})
	c := NewClient(cam.URL(), "admin", "password", nil)
	mi, err := c.Media(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	wantMain := Stream{
		Profile:     Profile{Token: "pmain", Name: "main", Encoding: "H265", Width: 2560, Height: 1440},
		StreamURI:   "rtsp://cam.test:554/h265Preview_01_main",
		SnapshotURI: "http://cam.test/cgi-bin/api.cgi?cmd=Snap&channel=0",
	}
	wantSub := Stream{
		Profile:   Profile{Token: "p360", Name: "sub", Encoding: "H264", Width: 640, Height: 360},
		StreamURI: "rtsp://cam.test/sub",
	}
	if mi.Main != wantMain {
		t.Errorf("main %+v, want %+v", mi.Main, wantMain)
	}
	if !mi.HasSub || mi.Sub != wantSub {
		t.Errorf("sub %+v (has %v), want %+v", mi.Sub, mi.HasSub, wantSub)
	}
}

// A camera with media ver20 names H.265 there; its ver10 service leaves
// the H.265 profile out, so picking from ver10 would make the 720p H.264
// profile the main one.
func TestMediaUsesMedia2(t *testing.T) {
	cam := newCamera(t, onviftest.Config{Media2: true, Profiles: []onviftest.Profile{
		{Token: "main", Encoding: "H265", Width: 3840, Height: 2160, StreamURI: "rtsps://cam.test/main", SnapshotURI: "https://cam.test/snap"},
		{Token: "p720", Encoding: "H264", Width: 1280, Height: 720, StreamURI: "rtsp://cam.test/720"},
		{Token: "p360", Encoding: "H264", Width: 640, Height: 360, StreamURI: "rtsp://cam.test/360"},
	}})
	c := NewClient(cam.URL(), "admin", "password", nil)
	mi, err := c.Media(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if mi.Main.Token != "main" || mi.Main.Encoding != "H265" || mi.Main.Width != 3840 ||
		mi.Main.StreamURI != "rtsps://cam.test/main" || mi.Main.SnapshotURI != "https://cam.test/snap" {
		t.Errorf("main %+v", mi.Main)
	}
	if !mi.HasSub || mi.Sub.Token != "p360" || mi.Sub.StreamURI != "rtsp://cam.test/360" {
		t.Errorf("sub %+v (has %v)", mi.Sub, mi.HasSub)
	}
	caps, err := c.GetCapabilities(context.Background())
	if err != nil || caps.Media2 == "" || caps.Media == "" {
		t.Errorf("capabilities %+v, %v; want both media services", caps, err)
	}
}

func TestMediaWithoutH264Sub(t *testing.T) {
	cam := newCamera(t, onviftest.Config{Profiles: []onviftest.Profile{
		{Token: "a", Encoding: "H265", Width: 1920, Height: 1080, StreamURI: "rtsp://cam.test/a"},
		{Token: "b", Encoding: "H265", Width: 640, Height: 360, StreamURI: "rtsp://cam.test/b"},
	}})
	mi, err := NewClient(cam.URL(), "admin", "password", nil).Media(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if mi.Main.Token != "a" || mi.HasSub || mi.Main.SnapshotURI != "" {
		t.Errorf("got %+v, want main a, no sub, no snapshot", mi)
	}
}

func TestMediaRefusesNonRTSPStream(t *testing.T) {
	cam := newCamera(t, onviftest.Config{Profiles: []onviftest.Profile{
		{Token: "a", Encoding: "H264", Width: 1920, Height: 1080, StreamURI: "file:///etc/passwd"},
	}})
	if _, err := NewClient(cam.URL(), "admin", "password", nil).Media(context.Background()); err == nil {
		t.Fatal("a file: stream address was accepted")
	}
}

func TestSupportsEvents(t *testing.T) {
	with := newCamera(t, onviftest.Config{})
	without := newCamera(t, onviftest.Config{NoEvents: true})
	if ok, err := NewClient(with.URL(), "admin", "password", nil).SupportsEvents(context.Background()); err != nil || !ok {
		t.Errorf("camera with events: %v, %v", ok, err)
	}
	c := NewClient(without.URL(), "admin", "password", nil)
	if ok, err := c.SupportsEvents(context.Background()); err != nil || ok {
		t.Errorf("camera without events: %v, %v", ok, err)
	}
	if err := c.WatchMotion(context.Background(), func(Motion) {}); !errors.Is(err, ErrNotSupported) {
		t.Errorf("WatchMotion without events: %v, want ErrNotSupported", err)
	}
}

// watch runs WatchMotion in a goroutine and returns the motions channel and
// a stop function that cancels it and returns its error.
func watch(t *testing.T, c *Client) (<-chan Motion, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan Motion, 16)
	done := make(chan error, 1)
	go func() { done <- c.WatchMotion(ctx, func(m Motion) { ch <- m }) }()
	var once sync.Once
	var err error
	stop := func() error {
		once.Do(func() { cancel(); err = <-done })
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return ch, stop
}

func next(t *testing.T, ch <-chan Motion) Motion {
	t.Helper()
	return <-ch
}

func TestWatchMotionDeliversInOrderAndUnsubscribes(t *testing.T) {
	cam := newCamera(t, onviftest.Config{ClockOffset: -90 * time.Minute, MotionSource: "VideoSourceConfig_7"})
	c := NewClient(cam.URL(), "admin", "password", nil)
	before := time.Now()
	ch, stop := watch(t, c)
	cam.SetMotion(true)
	cam.SetMotion(false)
	first, second := next(t, ch), next(t, ch)
	if !first.Active || second.Active {
		t.Fatalf("got active=%v then %v, want true then false", first.Active, second.Active)
	}
	for _, m := range []Motion{first, second} {
		if m.Source != "VideoSourceConfig_7" {
			t.Errorf("source %q, want VideoSourceConfig_7", m.Source)
		}
		// The camera's clock is 90 minutes behind; the times are moved
		// onto ours.
		if m.Time.Before(before.Add(-time.Minute)) {
			t.Errorf("motion time %v is not on our clock (started %v)", m.Time, before)
		}
	}
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("WatchMotion returned %v, want context.Canceled", err)
	}
	if n := cam.Unsubscribes(); n != 1 {
		t.Errorf("%d unsubscribes, want 1", n)
	}
	if n := cam.Subscriptions(); n != 0 {
		t.Errorf("%d subscriptions left open", n)
	}
}

func TestWatchMotionResubscribesAfterLoss(t *testing.T) {
	cam := newCamera(t, onviftest.Config{})
	c := NewClient(cam.URL(), "admin", "password", nil)
	c.backoffBase, c.backoffMax = time.Millisecond, 10*time.Millisecond
	ch, stop := watch(t, c)
	cam.SetMotion(true)
	if m := next(t, ch); !m.Active {
		t.Fatal("first motion not active")
	}
	cam.DropSubscriptions() // as if the camera rebooted
	cam.SetMotion(false)
	if m := next(t, ch); m.Active {
		t.Fatal("second motion active")
	}
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("WatchMotion returned %v", err)
	}
	if n := cam.Subscribes(); n < 2 {
		t.Errorf("%d subscriptions made, want a new one after the loss", n)
	}
	if n := cam.Subscriptions(); n != 0 {
		t.Errorf("%d subscriptions left open", n)
	}
}

func TestWatchMotionRenews(t *testing.T) {
	cam := newCamera(t, onviftest.Config{})
	c := NewClient(cam.URL(), "admin", "password", nil)
	c.renewLeft = 2 * subscriptionLifetime // renew before every pull
	ch, stop := watch(t, c)
	cam.SetMotion(true)
	if m := next(t, ch); !m.Active {
		t.Fatal("motion not active")
	}
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("WatchMotion returned %v", err)
	}
	if n := cam.Renews(); n < 1 {
		t.Errorf("%d renewals, want at least one", n)
	}
	if n := cam.Subscribes(); n != 1 {
		t.Errorf("%d subscriptions made, want 1 (renewed, not replaced)", n)
	}
}

func TestWatchMotionWrongPassword(t *testing.T) {
	cam := newCamera(t, onviftest.Config{Password: "right"})
	err := NewClient(cam.URL(), "admin", "wrong", nil).WatchMotion(context.Background(), func(Motion) {})
	if !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("err %v, want ErrUnauthorized", err)
	}
}

// hostile answers every request with body (after a valid clock reply).
func hostile(t *testing.T, status int, body func() []byte) *Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
		_, _ = w.Write(body())
	}))
	t.Cleanup(srv.Close)
	c := NewClient(srv.URL+"/onvif/device_service", "admin", "password", nil)
	c.offsetKnown = true
	return c
}

func TestOversizedResponse(t *testing.T) {
	c := hostile(t, http.StatusOK, func() []byte {
		return []byte(`<Envelope><Body><GetDeviceInformationResponse><Manufacturer>` +
			strings.Repeat("A", 2*MaxResponse) + `</Manufacturer></GetDeviceInformationResponse></Body></Envelope>`)
	})
	if _, err := c.GetDeviceInformation(context.Background()); !errors.Is(err, ErrResponseTooLarge) {
		t.Fatalf("err %v, want ErrResponseTooLarge", err)
	}
}

func TestMalformedResponses(t *testing.T) {
	for name, body := range map[string]string{
		"truncated":    `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><GetDeviceInformationResponse><Manufacturer>x`,
		"not xml":      `HTTP/1.0 200 OK garbage`,
		"not envelope": `<html><body>login</body></html>`,
		"no body":      `<Envelope><Header/></Envelope>`,
		"bad entity":   `<Envelope><Body><GetDeviceInformationResponse><Model>&evil;</Model></GetDeviceInformationResponse></Body></Envelope>`,
		"doctype":      `<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">]><Envelope><Body><R><Model>&a;</Model></R></Body></Envelope>`,
	} {
		t.Run(name, func(t *testing.T) {
			c := hostile(t, http.StatusOK, func() []byte { return []byte(body) })
			_, err := c.GetDeviceInformation(context.Background())
			if err == nil {
				t.Fatal("malformed response accepted")
			}
			if errors.Is(err, ErrUnauthorized) {
				t.Fatalf("malformed response reported as refused credentials: %v", err)
			}
		})
	}
}

func TestFaults(t *testing.T) {
	for _, tc := range []struct {
		body   string
		status int
		want   error
	}{
		{`<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body><e:Fault><e:Code><e:Value>e:Receiver</e:Value><e:Subcode><e:Value>ter:ActionNotSupported</e:Value><e:Subcode><e:Value>ter:NoSuchService</e:Value></e:Subcode></e:Subcode></e:Code><e:Reason><e:Text>nope</e:Text></e:Reason></e:Fault></e:Body></e:Envelope>`, 500, ErrNotSupported},
		{`<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Body><SOAP-ENV:Fault><faultcode>wsse:FailedAuthentication</faultcode><faultstring>bad</faultstring></SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>`, 500, ErrUnauthorized},
		{``, http.StatusUnauthorized, ErrUnauthorized},
	} {
		c := hostile(t, tc.status, func() []byte { return []byte(tc.body) })
		if _, err := c.GetDeviceInformation(context.Background()); !errors.Is(err, tc.want) {
			t.Errorf("body %.60q: err %v, want %v", tc.body, err, tc.want)
		}
	}
}

func TestServiceAddrStaysOnDeviceHost(t *testing.T) {
	for _, tc := range []struct{ addr, want string }{
		{"http://192.168.1.20/onvif/media", "http://192.168.1.20/onvif/media"},
		{"http://10.0.0.9:8080/onvif/Media?x=1", "http://192.168.1.20:80/onvif/Media?x=1"},
		{"https://user:pw@192.168.1.20:443/onvif/events", "https://192.168.1.20:443/onvif/events"},
	} {
		got, err := serviceAddr("http://192.168.1.20:80/onvif/device_service", tc.addr)
		if err != nil || got != tc.want {
			t.Errorf("serviceAddr(%q) = %q, %v; want %q", tc.addr, got, err, tc.want)
		}
	}
	for _, bad := range []string{"file:///etc/passwd", "gopher://x/", strings.Repeat("h", 3000)} {
		if got, err := serviceAddr("http://192.168.1.20/onvif/device_service", bad); err == nil {
			t.Errorf("serviceAddr(%.40q) = %q, want an error", bad, got)
		}
	}
}

func TestReferenceParametersCannotInject(t *testing.T) {
	var r struct {
		P refParams `xml:"ReferenceParameters"`
	}
	in := `<x><ReferenceParameters><a:Id xmlns:a="urn:a">1&lt;/a:Id&gt;&lt;Evil/&gt;</a:Id><bad-Name-Ok>2</bad-Name-Ok></ReferenceParameters></x>`
	if _, err := decodeEnvelope([]byte(`<Envelope><Body>`+in+`</Body></Envelope>`), &r); err != nil {
		t.Fatal(err)
	}
	h := r.P.header()
	if strings.Contains(h, "<Evil/>") || !strings.Contains(h, "&lt;Evil/&gt;") || !strings.Contains(h, `xmlns:rp0="urn:a"`) {
		t.Fatalf("header %q", h)
	}
}

func TestCleanBoundsCameraTexts(t *testing.T) {
	for _, in := range []string{strings.Repeat("\xff", 1000), strings.Repeat("é", 300), "a\x00b\nc\x7f", "  x  "} {
		out := clean(in)
		if len(out) > 256 || !utf8.ValidString(out) || strings.ContainsAny(out, "\x00\n\x7f") {
			t.Errorf("clean(%.20q) = %.40q", in, out)
		}
	}
	if clean("  Front Door  ") != "Front Door" {
		t.Error("clean changed a plain name")
	}
}
