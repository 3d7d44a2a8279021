package servicetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"image"
	"image/jpeg"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/camvault/camvault/internal/authz"
	"github.com/camvault/camvault/internal/deviceproto"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/events"
	"github.com/camvault/camvault/internal/gateway"
	"github.com/camvault/camvault/internal/identity"
)

// Person is an account, logged in through the identity service.
type Person struct {
	authz.Principal
	Email    string
	Password string
	Token    string // the session token
}

// Person creates an account named after name and logs it in.
func (e *Env) Person(name string) Person {
	e.t.Helper()
	ctx := e.Ctx()
	p := Person{Email: e.unique(name) + "@example.com", Password: "correct horse battery " + name}
	if _, err := e.Identity.CreateAccount(ctx, p.Email, p.Password); err != nil {
		e.t.Fatalf("create account %s: %v", p.Email, err)
	}
	l, err := e.Identity.Login(ctx, p.Email, p.Password, identity.Client{Address: "192.0.2.1", UserAgent: "servicetest"})
	if err != nil {
		e.t.Fatalf("log in %s: %v", p.Email, err)
	}
	p.Token = l.Token
	if p.Principal, err = e.Identity.Authenticate(ctx, l.Token); err != nil {
		e.t.Fatalf("authenticate %s: %v", p.Email, err)
	}
	return p
}

// Home creates a home owned by owner and returns its ID.
func (e *Env) Home(owner Person, name string) string {
	e.t.Helper()
	h, err := e.Homes.Create(e.Ctx(), owner.Principal, name)
	if err != nil {
		e.t.Fatalf("create home: %v", err)
	}
	return h.ID
}

// Share makes with a member of the home, as role, limited to devices when
// any are given: owner invites with's email, and with accepts.
func (e *Env) Share(owner Person, homeID string, with Person, role domain.Role, devices ...string) {
	e.t.Helper()
	inv, err := e.Homes.Invite(e.Ctx(), owner.Principal, homeID, with.Email, role, devices)
	if err != nil {
		e.t.Fatalf("invite %s: %v", with.Email, err)
	}
	if err := e.Homes.AcceptInvitation(e.Ctx(), with.Principal, inv.ID); err != nil {
		e.t.Fatalf("%s accepting the invitation: %v", with.Email, err)
	}
}

// Camera is a paired camera: its principal and its device token.
type Camera struct {
	authz.Principal
	Token string
}

// Camera pairs a camera into the home with a code owner makes.
func (e *Env) Camera(owner Person, homeID string) Camera {
	e.t.Helper()
	ctx := e.Ctx()
	code, err := e.Homes.CreatePairingCode(ctx, owner.Principal, homeID)
	if err != nil {
		e.t.Fatalf("pairing code: %v", err)
	}
	paired, err := e.Homes.Pair(ctx, code.Code, "CV-1", "1.0.0", "192.0.2.1")
	if err != nil {
		e.t.Fatalf("pair: %v", err)
	}
	p, err := e.Homes.AuthenticateDevice(ctx, paired.DeviceToken)
	if err != nil {
		e.t.Fatalf("authenticate camera: %v", err)
	}
	return Camera{Principal: p, Token: paired.DeviceToken}
}

// Uploaded is an event a camera uploaded, with the media it sent.
type Uploaded struct {
	ID    string
	Thumb []byte
	Clip  []byte // nil: no clip
}

// Upload sends an event from cam as a camera does, with a fresh thumbnail
// and, when clipSize > 0, a clip of about that size.
func (e *Env) Upload(cam Camera, eventID string, started time.Time, clipSize int) Uploaded {
	e.t.Helper()
	ctx := e.Ctx()
	up := Uploaded{Thumb: JPEG(e.t)}
	if clipSize > 0 {
		up.Clip = MP4(clipSize)
	}
	u, err := e.Events.Begin(ctx, cam.Principal, events.Meta{EventID: eventID, StartedAt: started, Kind: "motion"})
	if err != nil {
		e.t.Fatalf("begin upload %s: %v", eventID, err)
	}
	if id, ok := u.Existing(); ok {
		up.ID = id
		return up
	}
	if err := u.Thumbnail(ctx, bytes.NewReader(up.Thumb)); err != nil {
		e.t.Fatalf("thumbnail of %s: %v", eventID, err)
	}
	if up.Clip != nil {
		if err := u.Clip(ctx, bytes.NewReader(up.Clip)); err != nil {
			e.t.Fatalf("clip of %s: %v", eventID, err)
		}
	}
	if up.ID, _, err = u.Commit(ctx); err != nil {
		e.t.Fatalf("commit %s: %v", eventID, err)
	}
	return up
}

// JPEG is a real JPEG of random pixels, different every call.
func JPEG(t testing.TB) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 32, 24))
	_, _ = rand.Read(img.Pix)
	for i := 3; i < len(img.Pix); i += 4 {
		img.Pix[i] = 0xFF
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// MP4 is an MP4 file as the upload check wants it: ftyp, a moov of one
// H.264 track (MP4Moov), then an mdat of size random bytes. Nothing reads
// the pictures.
func MP4(size int) []byte {
	mdat := make([]byte, size)
	_, _ = rand.Read(mdat)
	out := mp4Box("ftyp", []byte("isom\x00\x00\x02\x00isomiso2"))
	out = append(out, MP4Moov()...)
	return append(out, mp4Box("mdat", mdat)...)
}

// The clip info of MP4Moov.
const (
	MP4Codec      = "h264"
	MP4DurationMS = 4000
	MP4Width      = 1920
	MP4Height     = 1080
)

func mp4Box(typ string, payload ...[]byte) []byte {
	n := 8
	for _, p := range payload {
		n += len(p)
	}
	b := binary.BigEndian.AppendUint32(make([]byte, 0, n), uint32(n))
	b = append(b, typ...)
	for _, p := range payload {
		b = append(b, p...)
	}
	return b
}

// MP4Moov is a movie box (moov) of one H.264 video track, 1920x1080 and
// 4 s long, with no sample tables: what the upload check reads of a clip.
func MP4Moov() []byte {
	u32 := func(vs ...uint32) []byte {
		var b []byte
		for _, v := range vs {
			b = binary.BigEndian.AppendUint32(b, v)
		}
		return b
	}
	// Each full box starts with its version and flags.
	mvhd := mp4Box("mvhd", u32(0, 0, 0, 1000, MP4DurationMS, 0x10000), []byte{1, 0, 0, 0}, make([]byte, 8+36+24), u32(2))
	tkhd := mp4Box("tkhd", u32(7, 0, 0, 1, 0, MP4DurationMS), make([]byte, 16+36), u32(MP4Width<<16, MP4Height<<16))
	mdhd := mp4Box("mdhd", u32(0, 0, 0, 90000, MP4DurationMS*90), []byte{0x55, 0xC4, 0, 0})
	hdlr := mp4Box("hdlr", u32(0, 0), []byte("vide"), make([]byte, 12), []byte("Video\x00"))
	entry := append(make([]byte, 7), 1) // reserved, data reference index 1
	entry = append(entry, make([]byte, 16)...)
	entry = binary.BigEndian.AppendUint16(entry, MP4Width)
	entry = binary.BigEndian.AppendUint16(entry, MP4Height)
	entry = append(entry, make([]byte, 50)...)
	stsd := mp4Box("stsd", u32(0, 1), mp4Box("avc1", entry))
	return mp4Box("moov", mvhd, mp4Box("trak", tkhd, mp4Box("mdia", mdhd, hdlr, mp4Box("minf", mp4Box("stbl", stsd)))))
}

// Conn is a camera's live connection as the camera sees it.
type Conn struct {
	t    testing.TB
	ws   *websocket.Conn
	msgs chan map[string]any
	done chan websocket.StatusCode
}

// DeviceURL is the base URL of an HTTP server that takes cameras'
// connections (any path) to the Env's gateway, authenticated by their
// device tokens as the API authenticates them: what a simulated camera
// (internal/sim/camera) connects to.
func (e *Env) DeviceURL() string {
	if e.deviceURL == "" {
		e.deviceURL = e.serveDevices(e.Gateway)
	}
	return e.deviceURL
}

func (e *Env) serveDevices(g *gateway.Gateway) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := e.Homes.AuthenticateDevice(r.Context(), strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		if err := g.Serve(w, r, p); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
		}
	}))
	e.t.Cleanup(func() { srv.CloseClientConnections(); srv.Close() })
	return srv.URL
}

// Connect opens cam's live connection to the gateway, authenticated by
// its device token as the API authenticates it, and waits for the hello.
func (e *Env) Connect(cam Camera) *Conn {
	e.t.Helper()
	ws, _, err := websocket.Dial(e.Ctx(), "ws"+strings.TrimPrefix(e.DeviceURL(), "http"), &websocket.DialOptions{
		Subprotocols: []string{deviceproto.Subprotocol}, HTTPHeader: http.Header{"Authorization": {"Bearer " + cam.Token}}})
	if err != nil {
		e.t.Fatalf("connect camera: %v", err)
	}
	c := &Conn{t: e.t, ws: ws, msgs: make(chan map[string]any, 16), done: make(chan websocket.StatusCode, 1)}
	go func() {
		for {
			_, data, err := ws.Read(context.Background())
			if err != nil {
				c.done <- websocket.CloseStatus(err)
				return
			}
			var m map[string]any
			_ = json.Unmarshal(data, &m)
			c.msgs <- m
		}
	}()
	e.t.Cleanup(func() { ws.CloseNow() })
	if hello := c.Next(); hello["type"] != string(deviceproto.TypeHello) || hello["device_id"] != cam.DeviceID {
		e.t.Fatalf("first message %v, want the hello for %s", hello, cam.DeviceID)
	}
	return c
}

// Next is the next message the camera received.
func (c *Conn) Next() map[string]any {
	c.t.Helper()
	select {
	case m := <-c.msgs:
		return m
	case <-time.After(Patience):
		c.t.Fatal("the camera received nothing")
		return nil
	}
}

// Closed waits for the server to end the connection and returns the close
// status it gave.
func (c *Conn) Closed() websocket.StatusCode {
	c.t.Helper()
	for {
		select {
		case <-c.msgs: // messages sent before the close
		case code := <-c.done:
			return code
		case <-time.After(Patience):
			c.t.Fatal("the connection was not closed")
			return 0
		}
	}
}
