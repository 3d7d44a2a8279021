package web_test

import (
	"net/http"
	"testing"

	"github.com/camvault/camvault/internal/id"
)

// TestLiveRoutesGuarded: the live routes keep the session and CSRF rules
// of the rest of the API, and answer 404 for a camera that is not there.
func TestLiveRoutesGuarded(t *testing.T) {
	device := id.New()
	sdp := map[string]string{"Content-Type": "application/sdp"}

	// A camera that is not there: 404, as for one the caller may not see.
	c := newClient(t, startServer(t).URL)
	csrf := c.signup("viewer@example.com")
	for _, r := range []struct{ method, path string }{
		{"POST", "/api/v1/devices/" + device + "/live/whep"},
		{"GET", "/api/v1/devices/" + device + "/live/mse"},
		{"DELETE", "/api/v1/devices/" + device + "/live/whep/" + id.New()},
	} {
		res, body := c.do(r.method, r.path, c.base, nil, map[string]string{"Content-Type": "application/sdp", "X-CSRF-Token": csrf})
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("%s %s of a camera that is not there: %d %s, want 404", r.method, r.path, res.StatusCode, body)
		}
	}

	// The cookie alone is not enough to post an offer.
	path := "/api/v1/devices/" + device + "/live/whep"
	if res, _ := c.do("POST", path, c.base, nil, sdp); res.StatusCode != http.StatusForbidden {
		t.Errorf("offer with the cookie and no CSRF token: %d, want 403", res.StatusCode)
	}
	if res, _ := c.do("POST", path, "http://evil.example", nil, map[string]string{"Content-Type": "application/sdp", "X-CSRF-Token": csrf}); res.StatusCode != http.StatusForbidden {
		t.Errorf("offer from another origin: %d, want 403", res.StatusCode)
	}
	if res, _ := c.do("POST", path, c.base, nil, map[string]string{"Content-Type": "text/plain", "X-CSRF-Token": csrf}); res.StatusCode != http.StatusBadRequest {
		t.Errorf("offer that is not SDP: %d, want 400", res.StatusCode)
	}
	if res, _ := c.do("GET", "/api/v1/devices/"+device+"/live/mse", "http://evil.example", nil,
		map[string]string{"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
			"Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Protocol": "camvault.live.v1"}); res.StatusCode != http.StatusForbidden {
		t.Error("a page of another origin opened the live WebSocket with the viewer's cookie")
	}
	if res, _ := c.do("GET", "/api/v1/devices/"+device+"/live/mse", "", nil, nil); res.StatusCode == http.StatusSwitchingProtocols {
		t.Error("upgraded without a WebSocket handshake")
	}
}
