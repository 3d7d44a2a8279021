// Package onviftest is an in-process ONVIF camera for tests: the device,
// media and events (PullPoint) services over HTTP on 127.0.0.1, with
// WS-Security UsernameToken digests checked the way cameras check them, and
// a WS-Discovery responder. It speaks only what the bridge asks of a camera
// (docs/design/onvif.md).
package onviftest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Profile is one media profile the camera offers.
type Profile struct {
	Token       string
	Name        string
	Encoding    string // "H264", "H265", ...
	Width       int
	Height      int
	StreamURI   string
	SnapshotURI string // empty: GetSnapshotUri answers ActionNotSupported
}

// Config describes the camera.
type Config struct {
	// Username and Password are the only credentials accepted; "admin" and
	// "password" when empty.
	Username, Password string
	Manufacturer       string
	Model              string
	Firmware           string
	Serial             string
	// Name and Hardware are announced as onvif://www.onvif.org/name/ and
	// /hardware/ scopes in discovery.
	Name, Hardware string
	// EndpointRef is the discovery endpoint reference; a random urn:uuid
	// when empty.
	EndpointRef string
	// Profiles are the media profiles; a main H.265 2560x1440 and a sub
	// H.264 640x360 profile with rtsp://127.0.0.1:554/... addresses when
	// empty.
	Profiles []Profile
	// ClockOffset sets the camera's clock ahead of (or behind) the real
	// one; UsernameTokens are checked against the camera's clock.
	ClockOffset time.Duration
	// NoEvents leaves the events service out of GetCapabilities.
	NoEvents bool
	// Media2 adds the media service ver20 (announced by GetServices) and
	// makes the ver10 one leave out profiles whose encoding its schema does
	// not name (H.265), as cameras do. Without it, GetServices answers
	// ActionNotSupported, as older cameras do.
	Media2 bool
	// MotionSource is the VideoSourceConfigurationToken named in motion
	// notifications; "VideoSourceConfig_1" when empty.
	MotionSource string
}

// Camera is a running test camera.
type Camera struct {
	cfg    Config
	srv    *httptest.Server
	closed chan struct{}
	once   sync.Once

	mu           sync.Mutex
	wake         chan struct{} // closed and replaced when motion is queued
	queue        []motionNote
	subs         map[string]time.Time // subscription id -> termination (real clock)
	nextSub      int
	subscribes   int
	unsubscribes int
	renews       int
	nonces       map[string]bool
}

type motionNote struct {
	at     time.Time
	active bool
}

// Namespaces of the camera's answers.
const (
	nsSOAP     = "http://www.w3.org/2003/05/soap-envelope"
	nsDevice   = "http://www.onvif.org/ver10/device/wsdl"
	nsMedia    = "http://www.onvif.org/ver10/media/wsdl"
	nsMedia2   = "http://www.onvif.org/ver20/media/wsdl"
	nsEvents   = "http://www.onvif.org/ver10/events/wsdl"
	nsSchema   = "http://www.onvif.org/ver10/schema"
	nsWSNT     = "http://docs.oasis-open.org/wsn/b-2"
	nsWSA      = "http://www.w3.org/2005/08/addressing"
	nsTopics   = "http://www.onvif.org/ver10/topics"
	nsError    = "http://www.onvif.org/ver10/error"
	nsSubParam = "http://camvault.invalid/onviftest/subscription"

	digestType = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"

	maxRequest  = 1 << 20
	maxNonces   = 4096
	createdSkew = 5 * time.Minute
)

// NewCamera starts a camera on 127.0.0.1.
func NewCamera(cfg Config) (*Camera, error) {
	if cfg.Username == "" {
		cfg.Username = "admin"
	}
	if cfg.Password == "" {
		cfg.Password = "password"
	}
	if cfg.MotionSource == "" {
		cfg.MotionSource = "VideoSourceConfig_1"
	}
	if cfg.EndpointRef == "" {
		var u [16]byte
		if _, err := rand.Read(u[:]); err != nil {
			return nil, fmt.Errorf("endpoint reference: %w", err)
		}
		cfg.EndpointRef = fmt.Sprintf("urn:uuid:%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
	}
	if len(cfg.Profiles) == 0 {
		cfg.Profiles = []Profile{
			{Token: "main", Name: "mainStream", Encoding: "H265", Width: 2560, Height: 1440,
				StreamURI: "rtsp://127.0.0.1:554/main", SnapshotURI: "http://127.0.0.1/snapshot.jpg"},
			{Token: "sub", Name: "subStream", Encoding: "H264", Width: 640, Height: 360,
				StreamURI: "rtsp://127.0.0.1:554/sub"},
		}
	}
	c := &Camera{
		cfg:    cfg,
		closed: make(chan struct{}),
		wake:   make(chan struct{}),
		subs:   make(map[string]time.Time),
		nonces: make(map[string]bool),
	}
	c.srv = httptest.NewServer(http.HandlerFunc(c.serve))
	return c, nil
}

// URL is the device service address.
func (c *Camera) URL() string { return c.srv.URL + "/onvif/device_service" }

// EndpointRef is the camera's discovery endpoint reference.
func (c *Camera) EndpointRef() string { return c.cfg.EndpointRef }

// Close ends pending PullMessages and stops the server, waiting for its
// handlers.
func (c *Camera) Close() {
	c.once.Do(func() { close(c.closed) })
	c.srv.Close()
}

// SetMotion queues a RuleEngine/CellMotionDetector/Motion notification
// (IsMotion = active) for the next PullMessages of any subscription.
func (c *Camera) SetMotion(active bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.queue = append(c.queue, motionNote{at: time.Now().Add(c.cfg.ClockOffset), active: active})
	close(c.wake)
	c.wake = make(chan struct{})
}

// Subscriptions is how many PullPoint subscriptions are open.
func (c *Camera) Subscriptions() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.subs)
}

// Subscribes is how many PullPoint subscriptions were ever created.
func (c *Camera) Subscribes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.subscribes
}

// Unsubscribes is how many subscriptions were ended by Unsubscribe.
func (c *Camera) Unsubscribes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.unsubscribes
}

// Renews is how many times a subscription was renewed.
func (c *Camera) Renews() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.renews
}

// DropSubscriptions forgets every subscription, as a camera does when it
// reboots: their next PullMessages fails.
func (c *Camera) DropSubscriptions() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.subs)
	close(c.wake)
	c.wake = make(chan struct{})
}

// request is what the camera reads of a SOAP request.
type request struct {
	Header struct {
		Security struct {
			Username string `xml:"UsernameToken>Username"`
			Password struct {
				Type  string `xml:"Type,attr"`
				Value string `xml:",chardata"`
			} `xml:"UsernameToken>Password"`
			Nonce   string `xml:"UsernameToken>Nonce"`
			Created string `xml:"UsernameToken>Created"`
		} `xml:"Security"`
		SubscriptionID string `xml:"SubscriptionId"`
	} `xml:"Header"`
	Body struct {
		Inner []byte `xml:",innerxml"`
	} `xml:"Body"`
}

// operation is the body's first element.
type operation struct {
	XMLName        xml.Name
	ProfileToken   string `xml:"ProfileToken"`
	Timeout        string `xml:"Timeout"`
	MessageLimit   int    `xml:"MessageLimit"`
	TerminationISO string `xml:"TerminationTime"`
	InitialISO     string `xml:"InitialTerminationTime"`
}

func (c *Camera) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, maxRequest+1))
	if err != nil || len(data) > maxRequest {
		c.fault(w, "env:Sender", "ter:InvalidArgVal", "request too large or unreadable")
		return
	}
	var req request
	if err := xml.Unmarshal(data, &req); err != nil {
		c.fault(w, "env:Sender", "ter:WellFormed", "malformed request")
		return
	}
	var op operation
	if err := xml.Unmarshal(req.Body.Inner, &op); err != nil {
		c.fault(w, "env:Sender", "ter:WellFormed", "malformed body")
		return
	}
	name := op.XMLName.Local
	if name != "GetSystemDateAndTime" && !c.authorized(req) {
		c.fault(w, "env:Sender", "ter:NotAuthorized", "Sender not Authorized")
		return
	}
	switch r.URL.Path {
	case "/onvif/device_service":
		c.device(w, name)
	case "/onvif/media_service":
		c.media(w, name, op)
	case "/onvif/media2_service":
		if !c.cfg.Media2 {
			http.NotFound(w, r)
			return
		}
		c.media2(w, name, op)
	case "/onvif/events_service":
		if c.cfg.NoEvents || name != "CreatePullPointSubscription" {
			c.notSupported(w)
			return
		}
		c.createPullPoint(w, op)
	case "/onvif/subscription":
		c.subscription(r.Context(), w, name, op, strings.TrimSpace(req.Header.SubscriptionID))
	default:
		http.NotFound(w, r)
	}
}

// authorized checks the UsernameToken: the username, a PasswordDigest of
// a fresh nonce, a Created within five minutes of the camera's clock.
func (c *Camera) authorized(req request) bool {
	s := req.Header.Security
	if s.Username != c.cfg.Username || s.Password.Type != digestType {
		return false
	}
	nonce, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s.Nonce))
	if err != nil || len(nonce) == 0 {
		return false
	}
	created, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(s.Created))
	if err != nil {
		return false
	}
	now := time.Now().Add(c.cfg.ClockOffset)
	if created.Before(now.Add(-createdSkew)) || created.After(now.Add(createdSkew)) {
		return false
	}
	h := sha1.New()
	h.Write(nonce)
	h.Write([]byte(strings.TrimSpace(s.Created)))
	h.Write([]byte(c.cfg.Password))
	want := base64.StdEncoding.EncodeToString(h.Sum(nil))
	if subtle.ConstantTimeCompare([]byte(want), []byte(strings.TrimSpace(s.Password.Value))) != 1 {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.nonces[s.Nonce] {
		return false // replayed
	}
	if len(c.nonces) >= maxNonces {
		clear(c.nonces)
	}
	c.nonces[s.Nonce] = true
	return true
}

func (c *Camera) device(w http.ResponseWriter, op string) {
	switch op {
	case "GetSystemDateAndTime":
		t := time.Now().Add(c.cfg.ClockOffset).UTC()
		c.reply(w, fmt.Sprintf(`<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>`+
			`<tt:DateTimeType>Manual</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings>`+
			`<tt:UTCDateTime><tt:Time><tt:Hour>%d</tt:Hour><tt:Minute>%d</tt:Minute><tt:Second>%d</tt:Second></tt:Time>`+
			`<tt:Date><tt:Year>%d</tt:Year><tt:Month>%d</tt:Month><tt:Day>%d</tt:Day></tt:Date></tt:UTCDateTime>`+
			`</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>`,
			t.Hour(), t.Minute(), t.Second(), t.Year(), int(t.Month()), t.Day()))
	case "GetDeviceInformation":
		c.reply(w, `<tds:GetDeviceInformationResponse><tds:Manufacturer>`+esc(c.cfg.Manufacturer)+`</tds:Manufacturer>`+
			`<tds:Model>`+esc(c.cfg.Model)+`</tds:Model><tds:FirmwareVersion>`+esc(c.cfg.Firmware)+`</tds:FirmwareVersion>`+
			`<tds:SerialNumber>`+esc(c.cfg.Serial)+`</tds:SerialNumber><tds:HardwareId>`+esc(c.cfg.Hardware)+`</tds:HardwareId>`+
			`</tds:GetDeviceInformationResponse>`)
	case "GetCapabilities":
		events := ""
		if !c.cfg.NoEvents {
			events = `<tt:Events><tt:XAddr>` + c.srv.URL + `/onvif/events_service</tt:XAddr>` +
				`<tt:WSSubscriptionPolicySupport>false</tt:WSSubscriptionPolicySupport>` +
				`<tt:WSPullPointSupport>true</tt:WSPullPointSupport>` +
				`<tt:WSPausableSubscriptionManagerInterfaceSupport>false</tt:WSPausableSubscriptionManagerInterfaceSupport></tt:Events>`
		}
		c.reply(w, `<tds:GetCapabilitiesResponse><tds:Capabilities>`+
			`<tt:Device><tt:XAddr>`+c.URL()+`</tt:XAddr></tt:Device>`+events+
			`<tt:Media><tt:XAddr>`+c.srv.URL+`/onvif/media_service</tt:XAddr>`+
			`<tt:StreamingCapabilities><tt:RTPMulticast>false</tt:RTPMulticast><tt:RTP_TCP>true</tt:RTP_TCP><tt:RTP_RTSP_TCP>true</tt:RTP_RTSP_TCP></tt:StreamingCapabilities></tt:Media>`+
			`</tds:Capabilities></tds:GetCapabilitiesResponse>`)
	case "GetServices":
		if !c.cfg.Media2 {
			c.notSupported(w)
			return
		}
		service := func(ns, addr string) string {
			return `<tds:Service><tds:Namespace>` + ns + `</tds:Namespace><tds:XAddr>` + addr + `</tds:XAddr>` +
				`<tds:Version><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tds:Version></tds:Service>`
		}
		body := `<tds:GetServicesResponse>` + service(nsDevice, c.URL()) + service(nsMedia, c.srv.URL+"/onvif/media_service")
		if !c.cfg.NoEvents {
			body += service(nsEvents, c.srv.URL+"/onvif/events_service")
		}
		body += service(nsMedia2, c.srv.URL+"/onvif/media2_service") + `</tds:GetServicesResponse>`
		c.reply(w, body)
	default:
		c.notSupported(w)
	}
}

// media1Encoding tells whether the media ver10 schema names an encoding.
func media1Encoding(e string) bool { return e == "JPEG" || e == "MPEG4" || e == "H264" }

func (c *Camera) media2(w http.ResponseWriter, op string, o operation) {
	switch op {
	case "GetProfiles":
		var b strings.Builder
		b.WriteString(`<tr2:GetProfilesResponse>`)
		for _, p := range c.cfg.Profiles {
			fmt.Fprintf(&b, `<tr2:Profiles token="%s" fixed="true"><tr2:Name>%s</tr2:Name><tr2:Configurations>`+
				`<tr2:VideoEncoder token="enc_%s" GovLength="50" Profile="Main"><tt:Name>%s</tt:Name><tt:UseCount>1</tt:UseCount><tt:Encoding>%s</tt:Encoding>`+
				`<tt:Resolution><tt:Width>%d</tt:Width><tt:Height>%d</tt:Height></tt:Resolution><tt:Quality>5</tt:Quality></tr2:VideoEncoder>`+
				`</tr2:Configurations></tr2:Profiles>`,
				esc(p.Token), esc(p.Name), esc(p.Token), esc(p.Name), esc(p.Encoding), p.Width, p.Height)
		}
		b.WriteString(`</tr2:GetProfilesResponse>`)
		c.reply(w, b.String())
	case "GetStreamUri", "GetSnapshotUri":
		p, ok := c.profile(strings.TrimSpace(o.ProfileToken))
		if !ok {
			c.fault(w, "env:Sender", "ter:InvalidArgVal", "no such profile")
			return
		}
		uri := p.StreamURI
		if op == "GetSnapshotUri" {
			uri = p.SnapshotURI
			if uri == "" {
				c.notSupported(w)
				return
			}
		}
		c.reply(w, `<tr2:`+op+`Response><tr2:Uri>`+esc(uri)+`</tr2:Uri></tr2:`+op+`Response>`)
	default:
		c.notSupported(w)
	}
}

func (c *Camera) media(w http.ResponseWriter, op string, o operation) {
	switch op {
	case "GetProfiles":
		var b strings.Builder
		b.WriteString(`<trt:GetProfilesResponse>`)
		for _, p := range c.cfg.Profiles {
			if c.cfg.Media2 && !media1Encoding(p.Encoding) {
				continue
			}
			fmt.Fprintf(&b, `<trt:Profiles token="%s" fixed="true"><tt:Name>%s</tt:Name>`+
				`<tt:VideoSourceConfiguration token="VideoSourceConfig_1"><tt:Name>VideoSource_1</tt:Name><tt:UseCount>2</tt:UseCount><tt:SourceToken>VideoSource_1</tt:SourceToken><tt:Bounds x="0" y="0" width="%d" height="%d"/></tt:VideoSourceConfiguration>`+
				`<tt:VideoEncoderConfiguration token="enc_%s"><tt:Name>%s</tt:Name><tt:UseCount>1</tt:UseCount><tt:Encoding>%s</tt:Encoding>`+
				`<tt:Resolution><tt:Width>%d</tt:Width><tt:Height>%d</tt:Height></tt:Resolution><tt:Quality>5</tt:Quality></tt:VideoEncoderConfiguration></trt:Profiles>`,
				esc(p.Token), esc(p.Name), p.Width, p.Height, esc(p.Token), esc(p.Name), esc(p.Encoding), p.Width, p.Height)
		}
		b.WriteString(`</trt:GetProfilesResponse>`)
		c.reply(w, b.String())
	case "GetStreamUri", "GetSnapshotUri":
		p, ok := c.profile(strings.TrimSpace(o.ProfileToken))
		if !ok {
			c.fault(w, "env:Sender", "ter:InvalidArgVal", "no such profile")
			return
		}
		uri := p.StreamURI
		if op == "GetSnapshotUri" {
			uri = p.SnapshotURI
			if uri == "" {
				c.notSupported(w)
				return
			}
		}
		c.reply(w, `<trt:`+op+`Response><trt:MediaUri><tt:Uri>`+esc(uri)+`</tt:Uri>`+
			`<tt:InvalidAfterConnect>false</tt:InvalidAfterConnect><tt:InvalidAfterReboot>false</tt:InvalidAfterReboot><tt:Timeout>PT0S</tt:Timeout></trt:MediaUri></trt:`+op+`Response>`)
	default:
		c.notSupported(w)
	}
}

func (c *Camera) profile(token string) (Profile, bool) {
	for _, p := range c.cfg.Profiles {
		if p.Token == token {
			return p, true
		}
	}
	return Profile{}, false
}

// maxSubscriptions bounds open subscriptions, as cameras do (often 5 to 20).
const maxSubscriptions = 8

func (c *Camera) createPullPoint(w http.ResponseWriter, o operation) {
	life := isoDuration(o.InitialISO, time.Minute)
	c.mu.Lock()
	if len(c.subs) >= maxSubscriptions {
		c.mu.Unlock()
		c.fault(w, "env:Receiver", "ter:Action", "too many subscriptions")
		return
	}
	c.nextSub++
	id := strconv.Itoa(c.nextSub)
	c.subs[id] = time.Now().Add(life)
	c.subscribes++
	c.mu.Unlock()
	now := time.Now().Add(c.cfg.ClockOffset).UTC()
	c.reply(w, `<tev:CreatePullPointSubscriptionResponse><tev:SubscriptionReference>`+
		`<wsa:Address>`+c.srv.URL+`/onvif/subscription</wsa:Address>`+
		`<wsa:ReferenceParameters><sp:SubscriptionId xmlns:sp="`+nsSubParam+`">`+id+`</sp:SubscriptionId></wsa:ReferenceParameters>`+
		`</tev:SubscriptionReference><wsnt:CurrentTime>`+stamp(now)+`</wsnt:CurrentTime>`+
		`<wsnt:TerminationTime>`+stamp(now.Add(life))+`</wsnt:TerminationTime></tev:CreatePullPointSubscriptionResponse>`)
}

// live reports whether a subscription exists and has not ended.
func (c *Camera) live(id string) (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	end, ok := c.subs[id]
	if ok && time.Now().After(end) {
		delete(c.subs, id)
		return time.Time{}, false
	}
	return end, ok
}

func (c *Camera) subscription(ctx context.Context, w http.ResponseWriter, op string, o operation, id string) {
	end, ok := c.live(id)
	if !ok {
		c.fault(w, "env:Sender", "wsrf-rw:ResourceUnknownFault", "no such subscription")
		return
	}
	switch op {
	case "PullMessages":
		c.pull(ctx, w, o, id)
	case "Renew":
		life := isoDuration(o.TerminationISO, time.Minute)
		c.mu.Lock()
		if _, ok := c.subs[id]; ok {
			end = time.Now().Add(life)
			c.subs[id] = end
			c.renews++
		}
		c.mu.Unlock()
		now := time.Now().Add(c.cfg.ClockOffset).UTC()
		c.reply(w, `<wsnt:RenewResponse><wsnt:TerminationTime>`+stamp(end.Add(c.cfg.ClockOffset))+`</wsnt:TerminationTime>`+
			`<wsnt:CurrentTime>`+stamp(now)+`</wsnt:CurrentTime></wsnt:RenewResponse>`)
	case "Unsubscribe":
		c.mu.Lock()
		if _, ok := c.subs[id]; ok {
			delete(c.subs, id)
			c.unsubscribes++
		}
		c.mu.Unlock()
		c.reply(w, `<wsnt:UnsubscribeResponse/>`)
	default:
		c.notSupported(w)
	}
}

// pull answers PullMessages with the queued notifications, waiting up to
// the request's Timeout for one; the wait ends early when the camera
// closes, the client goes away, or the subscription is dropped.
func (c *Camera) pull(ctx context.Context, w http.ResponseWriter, o operation, id string) {
	limit := o.MessageLimit
	if limit <= 0 || limit > 100 {
		limit = 100
	}
	timer := time.NewTimer(isoDuration(o.Timeout, 10*time.Second))
	defer timer.Stop()
	var got []motionNote
	for {
		c.mu.Lock()
		_, ok := c.subs[id]
		n := min(limit, len(c.queue))
		if ok {
			got = append(got, c.queue[:n]...)
			c.queue = c.queue[n:]
		}
		wake := c.wake
		c.mu.Unlock()
		if !ok {
			c.fault(w, "env:Sender", "wsrf-rw:ResourceUnknownFault", "no such subscription")
			return
		}
		if len(got) > 0 {
			break
		}
		select {
		case <-wake:
			continue
		case <-timer.C:
		case <-c.closed:
		case <-ctx.Done():
		}
		break
	}
	now := time.Now().Add(c.cfg.ClockOffset).UTC()
	end, _ := c.live(id)
	var b strings.Builder
	b.WriteString(`<tev:PullMessagesResponse><tev:CurrentTime>` + stamp(now) + `</tev:CurrentTime>` +
		`<tev:TerminationTime>` + stamp(end.Add(c.cfg.ClockOffset)) + `</tev:TerminationTime>`)
	for _, m := range got {
		fmt.Fprintf(&b, `<wsnt:NotificationMessage><wsnt:Topic Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">tns1:RuleEngine/CellMotionDetector/Motion</wsnt:Topic>`+
			`<wsnt:Message><tt:Message UtcTime="%s" PropertyOperation="Changed"><tt:Source>`+
			`<tt:SimpleItem Name="VideoSourceConfigurationToken" Value="%s"/><tt:SimpleItem Name="VideoAnalyticsConfigurationToken" Value="VideoAnalyticsConfig_1"/><tt:SimpleItem Name="Rule" Value="MyMotionDetectorRule"/>`+
			`</tt:Source><tt:Data><tt:SimpleItem Name="IsMotion" Value="%t"/></tt:Data></tt:Message></wsnt:Message></wsnt:NotificationMessage>`,
			stamp(m.at.UTC()), esc(c.cfg.MotionSource), m.active)
	}
	b.WriteString(`</tev:PullMessagesResponse>`)
	c.reply(w, b.String())
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

var isoRE = regexp.MustCompile(`^PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?$`)

// isoDuration reads the small subset of xs:duration cameras are sent
// (PT10S, PT1M, PT1H30M); anything else gives def.
func isoDuration(s string, def time.Duration) time.Duration {
	m := isoRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil || s == "PT" {
		return def
	}
	var d time.Duration
	if m[1] != "" {
		h, _ := strconv.Atoi(m[1])
		d += time.Duration(h) * time.Hour
	}
	if m[2] != "" {
		mi, _ := strconv.Atoi(m[2])
		d += time.Duration(mi) * time.Minute
	}
	if m[3] != "" {
		sec, _ := strconv.ParseFloat(m[3], 64)
		d += time.Duration(sec * float64(time.Second))
	}
	if d <= 0 || d > 24*time.Hour {
		return def
	}
	return d
}

func (c *Camera) notSupported(w http.ResponseWriter) {
	c.fault(w, "env:Receiver", "ter:ActionNotSupported", "Optional Action Not Implemented")
}

// fault answers a SOAP 1.2 fault the way ONVIF cameras do (HTTP 400 for
// Sender faults, 500 for Receiver ones).
func (c *Camera) fault(w http.ResponseWriter, code, sub, reason string) {
	status := http.StatusBadRequest
	if code == "env:Receiver" {
		status = http.StatusInternalServerError
	}
	body := `<env:Fault><env:Code><env:Value>` + code + `</env:Value><env:Subcode><env:Value>` + sub + `</env:Value></env:Subcode></env:Code>` +
		`<env:Reason><env:Text xml:lang="en">` + esc(reason) + `</env:Text></env:Reason></env:Fault>`
	c.write(w, status, body)
}

func (c *Camera) reply(w http.ResponseWriter, body string) { c.write(w, http.StatusOK, body) }

func (c *Camera) write(w http.ResponseWriter, status int, body string) {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>`)
	b.WriteString(`<env:Envelope xmlns:env="` + nsSOAP + `" xmlns:tds="` + nsDevice + `" xmlns:trt="` + nsMedia +
		`" xmlns:tr2="` + nsMedia2 + `" xmlns:tev="` + nsEvents + `" xmlns:tt="` + nsSchema + `" xmlns:wsnt="` + nsWSNT + `" xmlns:wsa="` + nsWSA +
		`" xmlns:tns1="` + nsTopics + `" xmlns:ter="` + nsError + `" xmlns:wsrf-rw="http://docs.oasis-open.org/wsrf/rw-2">`)
	b.WriteString(`<env:Body>` + body + `</env:Body></env:Envelope>`)
	w.Header().Set("Content-Type", "application/soap+xml; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// scopes are the discovery scopes the camera announces.
func (c *Camera) scopes() string {
	s := []string{
		"onvif://www.onvif.org/type/video_encoder",
		"onvif://www.onvif.org/Profile/Streaming",
		"onvif://www.onvif.org/location/country/nowhere",
	}
	if c.cfg.Name != "" {
		s = append(s, "onvif://www.onvif.org/name/"+url.PathEscape(c.cfg.Name))
	}
	if c.cfg.Hardware != "" {
		s = append(s, "onvif://www.onvif.org/hardware/"+url.PathEscape(c.cfg.Hardware))
	}
	return strings.Join(s, " ")
}
