package server_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/camvault/camvault/internal/deviceclient"
	simcam "github.com/camvault/camvault/internal/sim/camera"
	"github.com/camvault/camvault/internal/websession"
)

// TestPartnerKillSwitch: disabling a partner stops every link of it at
// the next request and ends its live sessions (4403), without logging the
// person out or touching another partner; enabling it restores the links
// without anybody linking again. A person who loses access to a camera
// takes it from their partners too, and unlinking on the Account page
// stops the partner at once.
func TestPartnerKillSwitch(t *testing.T) {
	e := newEnv(t)
	owner, viewer := e.signup("ann"), e.signup("bob")
	home := e.home(owner, "Home")
	cam := e.pairCamera(owner, home)
	e.share(owner, home, viewer, "viewer")
	display, assistant := e.registerPartner("Hall Display"), e.registerPartner("Voice Assistant")
	dtok := e.link(display, viewer, []string{cam.id}, true)
	atok := e.link(assistant, viewer, []string{cam.id}, false)

	fleet, err := simcam.NewFleet(simcam.Config{
		Server: e.public.URL, WatermarkKey: []byte("partner kill switch"), EventInterval: time.Hour, EventJitter: -1, ClipFrames: -1,
		Backoff: deviceclient.Backoff{Base: 10 * time.Millisecond, Cap: 200 * time.Millisecond},
		Log:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fleet.Add("hall", simcam.Credentials{DeviceID: cam.id, Token: cam.token}); err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fleet.Run(ctx) }()
	t.Cleanup(func() { stop(); <-done })
	eventually(t, "the camera is online", func() bool { return e.online(owner.token, cam.id) })

	// The display watches live, as its consent allows; the assistant,
	// not allowed to, gets the missing camera's 404.
	dial := func(tok string) (*websocket.Conn, *http.Response, error) {
		u := "ws" + strings.TrimPrefix(e.public.URL, "http") + "/api/v1/devices/" + cam.id + "/live/mse"
		return websocket.Dial(t.Context(), u, &websocket.DialOptions{
			HTTPHeader: http.Header{"Authorization": {"Bearer " + tok}}, Subprotocols: []string{"camvault.live.v1"}})
	}
	if _, res, err := dial(atok.AccessToken); err == nil || res == nil || res.StatusCode != 404 {
		t.Fatalf("live for a partner without live consent: %v; want 404", err)
	}
	ws, _, err := dial(dtok.AccessToken)
	if err != nil {
		t.Fatalf("partner live: %v", err)
	}
	defer ws.CloseNow()
	ws.SetReadLimit(8 << 20)
	for range 3 {
		if _, _, err := ws.Read(t.Context()); err != nil {
			t.Fatalf("partner live read: %v", err)
		}
	}

	// The kill switch.
	e.setPartnerDisabled(display, true)
	for {
		if _, _, err := ws.Read(t.Context()); err != nil {
			if code := websocket.CloseStatus(err); code != 4403 {
				t.Fatalf("after the partner was disabled: %v; want close code 4403", err)
			}
			break
		}
	}
	if r := e.call("GET", "/api/v1/partner/devices", dtok.AccessToken, nil); r.status != 401 {
		t.Fatalf("disabled partner: %d, want 401", r.status)
	}
	if _, err := e.refresh(display, dtok.RefreshToken); !isInvalidGrant(err) && !isInvalidClient(err) {
		t.Fatalf("refresh while disabled: %v, want it refused", err)
	}
	if got := partnerDeviceIDs(t, e, atok.AccessToken); len(got) != 1 {
		t.Fatalf("another partner after the kill switch sees %v, want its camera", got)
	}
	e.must(200, "GET", "/api/v1/me", viewer.token, nil) // nobody was logged out

	// Enabled again, the same tokens work: nobody links again.
	e.setPartnerDisabled(display, false)
	if got := partnerDeviceIDs(t, e, dtok.AccessToken); len(got) != 1 || got[0] != cam.id {
		t.Fatalf("enabled partner sees %v, want %s", got, cam.id)
	}
	if _, err := e.refresh(display, dtok.RefreshToken); err != nil {
		t.Fatalf("refresh after enabling: %v", err)
	}

	// The person loses the camera: so do their partners, at the next
	// request.
	e.must(204, "DELETE", "/api/v1/homes/"+home+"/members/"+viewer.id, owner.token, nil)
	if got := partnerDeviceIDs(t, e, atok.AccessToken); len(got) != 0 {
		t.Fatalf("after the person was removed the partner sees %v, want nothing", got)
	}
	if r := e.call("GET", "/api/v1/devices/"+cam.id, atok.AccessToken, nil); r.status != 404 {
		t.Fatalf("camera after the person lost it: %d, want 404", r.status)
	}

	// Unlinking on the Account page stops the partner at once.
	otok := e.link(assistant, owner, []string{cam.id}, false)
	page := e.webPage(owner, "/account")
	m := regexp.MustCompile(`action="(/account/partners/[a-z2-7]{26}/unlink)"`).FindStringSubmatch(page)
	if m == nil || !strings.Contains(page, "Voice Assistant") {
		t.Fatalf("the Account page does not list the linked partner: %s", page)
	}
	e.postForm(owner, m[1], url.Values{})
	if r := e.call("GET", "/api/v1/partner/devices", otok.AccessToken, nil); r.status != 401 {
		t.Fatalf("after unlinking: %d, want 401", r.status)
	}
}

func isInvalidClient(err error) bool {
	return err != nil && strings.Contains(err.Error(), "invalid_client")
}

// webPage GETs a web page with the person's session cookie.
func (e *env) webPage(p person, path string) string {
	e.t.Helper()
	req, _ := http.NewRequestWithContext(e.t.Context(), "GET", e.public.URL+path, nil)
	req.AddCookie(&http.Cookie{Name: websession.CookieName, Value: p.token})
	res, err := e.public.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		e.t.Fatalf("GET %s: %d %s", path, res.StatusCode, b)
	}
	return string(b)
}

// postForm posts a web form with the person's cookie and CSRF token and
// wants the redirect a form answers with.
func (e *env) postForm(p person, path string, form url.Values) {
	e.t.Helper()
	form.Set("csrf", websession.CSRFToken(p.token))
	req, _ := http.NewRequestWithContext(e.t.Context(), "POST", e.public.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", e.public.URL)
	req.AddCookie(&http.Cookie{Name: websession.CookieName, Value: p.token})
	c := *e.public.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		b, _ := io.ReadAll(res.Body)
		e.t.Fatalf("POST %s: %d %s", path, res.StatusCode, b)
	}
}
