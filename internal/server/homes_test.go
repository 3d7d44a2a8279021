package server_test

import (
	"strings"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/server"
)

func TestHomesDevicesAndPairing(t *testing.T) {
	e := newEnv(t)
	ann := e.signup("ann")
	home := e.home(ann, "Ann's flat")

	homes := e.must(200, "GET", "/api/v1/homes", ann.token, nil).body["homes"].([]any)
	if len(homes) != 1 || homes[0].(map[string]any)["role"] != "owner" || homes[0].(map[string]any)["name"] != "Ann's flat" {
		t.Fatalf("homes = %v", homes)
	}

	cam := e.pairCamera(ann, home)
	self := e.must(200, "GET", "/api/v1/device", cam.token, nil)
	if self.str("device_id") != cam.id || self.str("home_id") != home {
		t.Fatalf("device sees itself as %s", self.raw)
	}
	devs := e.must(200, "GET", "/api/v1/homes/"+home+"/devices", ann.token, nil).body["devices"].([]any)
	if len(devs) != 1 || devs[0].(map[string]any)["id"] != cam.id || devs[0].(map[string]any)["online"] != false {
		t.Fatalf("devices = %v", devs)
	}
	d := e.must(200, "PATCH", "/api/v1/devices/"+cam.id, ann.token, map[string]string{"name": "Front door"})
	e.remember("Front door")
	if d.str("name") != "Front door" {
		t.Fatalf("renamed device = %s", d.raw)
	}
	if got := e.must(200, "GET", "/api/v1/devices/"+cam.id, ann.token, nil).str("name"); got != "Front door" {
		t.Fatalf("device name %q", got)
	}
	if d.body["keep_warm"] != false {
		t.Fatalf("a camera never kept warm: %s", d.raw)
	}
	d = e.must(200, "PATCH", "/api/v1/devices/"+cam.id, ann.token, map[string]bool{"keep_warm": true})
	if d.body["keep_warm"] != true || d.str("name") != "Front door" {
		t.Fatalf("kept warm: %s", d.raw)
	}
	d = e.must(200, "PATCH", "/api/v1/devices/"+cam.id, ann.token, map[string]any{"name": "Front door", "keep_warm": false})
	if d.body["keep_warm"] != false || d.str("name") != "Front door" {
		t.Fatalf("renamed and no longer kept warm: %s", d.raw)
	}

	// A device token never works on a person route, nor a person token on
	// a device route.
	e.must(401, "GET", "/api/v1/me", cam.token, nil)
	e.must(401, "GET", "/api/v1/homes", cam.token, nil)
	e.must(401, "GET", "/api/v1/device", ann.token, nil)

	// Unpairing kills the device token at once.
	e.must(204, "DELETE", "/api/v1/devices/"+cam.id, ann.token, nil)
	e.must(401, "GET", "/api/v1/device", cam.token, nil)
	e.must(404, "GET", "/api/v1/devices/"+cam.id, ann.token, nil)

	// A waiting invitation keeps its email sealed and indexed, never in
	// the clear.
	invited := "invited-" + ann.email
	e.remember(invited)
	e.invite(ann, home, invited, "viewer")

	e.scanAtRest()
}

func TestPairingCodes(t *testing.T) {
	e := newEnv(t, func(o *server.Options) { o.Homes.PairFailures = 4 })
	ann := e.signup("ann")
	home := e.home(ann, "Home")
	code := e.must(201, "POST", "/api/v1/homes/"+home+"/pairing-codes", ann.token, nil).str("code")
	pair := func(c string) int {
		return e.call("POST", "/api/v1/devices/pair", "", map[string]string{"code": c, "model": "CV-1", "firmware": "1.0"}).status
	}
	// Typed sloppily (lower case, no dashes) it still works, once.
	if s := pair(strings.ToLower(strings.ReplaceAll(code, "-", ""))); s != 201 {
		t.Fatalf("first use: %d", s)
	}
	if s := pair(code); s != 404 {
		t.Fatalf("second use: %d, want 404", s)
	}
	// Expired codes do not pair.
	late := e.must(201, "POST", "/api/v1/homes/"+home+"/pairing-codes", ann.token, nil).str("code")
	e.clock.Advance(11 * time.Minute)
	if s := pair(late); s != 404 {
		t.Fatalf("expired code: %d, want 404", s)
	}
	// Guessing is throttled per client address.
	pair("AAAA-BBBB-CCCC")
	pair("not a code")
	if s := pair("AAAA-BBBB-CCCD"); s != 429 {
		t.Fatalf("after four wrong codes: %d, want 429", s)
	}
}

// TestOtherHouseholdSees404 checks every route that takes an ID: another
// account gets exactly what it would get for an ID that does not exist.
func TestOtherHouseholdSees404(t *testing.T) {
	e := newEnv(t)
	ann, mallory := e.signup("ann"), e.signup("mallory")
	home := e.home(ann, "Ann's house")
	cam := e.pairCamera(ann, home)
	missing := strings.Repeat("q", 26)

	type probe struct{ method, path, missingPath string }
	probes := []probe{
		{"GET", "/api/v1/homes/" + home, "/api/v1/homes/" + missing},
		{"GET", "/api/v1/homes/" + home + "/members", "/api/v1/homes/" + missing + "/members"},
		{"POST", "/api/v1/homes/" + home + "/members", "/api/v1/homes/" + missing + "/members"},
		{"DELETE", "/api/v1/homes/" + home + "/members/" + ann.id, "/api/v1/homes/" + missing + "/members/" + ann.id},
		{"PATCH", "/api/v1/homes/" + home + "/members/" + ann.id, "/api/v1/homes/" + missing + "/members/" + ann.id},
		{"GET", "/api/v1/homes/" + home + "/invitations", "/api/v1/homes/" + missing + "/invitations"},
		{"POST", "/api/v1/homes/" + home + "/pairing-codes", "/api/v1/homes/" + missing + "/pairing-codes"},
		{"GET", "/api/v1/homes/" + home + "/devices", "/api/v1/homes/" + missing + "/devices"},
		{"GET", "/api/v1/devices/" + cam.id, "/api/v1/devices/" + missing},
		{"PATCH", "/api/v1/devices/" + cam.id, "/api/v1/devices/" + missing},
		{"DELETE", "/api/v1/devices/" + cam.id, "/api/v1/devices/" + missing},
		{"GET", "/api/v1/devices/not-even-an-id", "/api/v1/devices/" + missing},
	}
	bodies := map[string]any{
		"POST /members": map[string]any{"email": mallory.email, "role": "viewer"},
		"PATCH":         map[string]string{"name": "Mine now"},
	}
	for _, p := range probes {
		var body any
		switch {
		case p.method == "PATCH" && strings.Contains(p.path, "/members/"):
			body = map[string]string{"role": "admin"}
		case p.method == "PATCH":
			body = bodies["PATCH"]
		case p.method == "POST" && strings.HasSuffix(p.path, "/members"):
			body = bodies["POST /members"]
		}
		got := e.call(p.method, p.path, mallory.token, body)
		want := e.call(p.method, p.missingPath, mallory.token, body)
		if got.status != 404 || want.status != 404 || string(got.raw) != string(want.raw) {
			t.Errorf("%s %s as a stranger: %d %s; missing object: %d %s", p.method, p.path, got.status, got.raw, want.status, want.raw)
		}
	}
	if n := len(e.must(200, "GET", "/api/v1/homes", mallory.token, nil).body["homes"].([]any)); n != 0 {
		t.Errorf("mallory lists %d homes", n)
	}
	// Nothing changed.
	if got := e.must(200, "GET", "/api/v1/devices/"+cam.id, ann.token, nil).str("name"); got == "Mine now" {
		t.Errorf("a stranger renamed the camera")
	}
}

func TestSharingAndRevocation(t *testing.T) {
	e := newEnv(t)
	ann, bob, cat := e.signup("ann"), e.signup("bob"), e.signup("cat")
	home := e.home(ann, "Shared home")
	front, back := e.pairCamera(ann, home), e.pairCamera(ann, home)

	// Bob: a viewer limited to the front camera.
	e.share(ann, home, bob, "viewer", front.id)
	devs := e.must(200, "GET", "/api/v1/homes/"+home+"/devices", bob.token, nil).body["devices"].([]any)
	if len(devs) != 1 || devs[0].(map[string]any)["id"] != front.id {
		t.Fatalf("bob sees %v, want only the front camera", devs)
	}
	e.must(200, "GET", "/api/v1/devices/"+front.id, bob.token, nil)
	hidden := e.call("GET", "/api/v1/devices/"+back.id, bob.token, nil)
	missing := e.call("GET", "/api/v1/devices/"+strings.Repeat("z", 26), bob.token, nil)
	if hidden.status != 404 || string(hidden.raw) != string(missing.raw) {
		t.Fatalf("camera not shared with bob: %d %s", hidden.status, hidden.raw)
	}
	// A viewer may look but not change or share.
	e.must(403, "PATCH", "/api/v1/devices/"+front.id, bob.token, map[string]string{"name": "x"})
	e.must(403, "DELETE", "/api/v1/devices/"+front.id, bob.token, nil)
	e.must(403, "POST", "/api/v1/homes/"+home+"/pairing-codes", bob.token, nil)
	e.must(403, "POST", "/api/v1/homes/"+home+"/members", bob.token, map[string]any{"email": cat.email, "role": "viewer"})

	// Cat: an admin, who may share and unshare but not remove the owner.
	e.share(ann, home, cat, "admin")
	e.must(200, "GET", "/api/v1/devices/"+back.id, cat.token, nil)
	e.must(403, "DELETE", "/api/v1/homes/"+home+"/members/"+ann.id, cat.token, nil)
	// Inviting the owner is an invitation they cannot accept.
	toOwner := e.invite(cat, home, ann.email, "viewer")
	e.must(409, "POST", "/api/v1/invitations/"+toOwner+"/accept", ann.token, nil)
	members := e.must(200, "GET", "/api/v1/homes/"+home+"/members", bob.token, nil).body["members"].([]any)
	if len(members) != 3 {
		t.Fatalf("members = %v", members)
	}

	// Unsharing takes effect on the very next request.
	e.must(204, "DELETE", "/api/v1/homes/"+home+"/members/"+bob.id, cat.token, nil)
	e.must(404, "GET", "/api/v1/devices/"+front.id, bob.token, nil)
	e.must(404, "GET", "/api/v1/homes/"+home, bob.token, nil)
	e.must(404, "DELETE", "/api/v1/homes/"+home+"/members/"+bob.id, ann.token, nil)

	// A member may leave.
	e.must(204, "DELETE", "/api/v1/homes/"+home+"/members/"+cat.id, cat.token, nil)
	e.must(404, "GET", "/api/v1/homes/"+home, cat.token, nil)

	// Limiting to a camera of another home is refused.
	other := e.home(cat, "Cat's home")
	catCam := e.pairCamera(cat, other)
	r := e.call("POST", "/api/v1/homes/"+home+"/members", ann.token, map[string]any{"email": bob.email, "role": "viewer", "devices": []string{catCam.id}})
	if r.status != 400 {
		t.Fatalf("share a foreign camera: %d %s", r.status, r.raw)
	}
	e.must(404, "GET", "/api/v1/homes/"+home, bob.token, nil)
}
