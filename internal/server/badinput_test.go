package server_test

import (
	"strings"
	"testing"
)

// TestBadInputChangesNothing sends malformed, oversize and invalid bodies
// to every route that takes one: each gets 400 or 413 with a message, and
// nothing is created or changed.
func TestBadInputChangesNothing(t *testing.T) {
	e := newEnv(t)
	ann := e.signup("ann")
	home := e.home(ann, "Home")
	cam := e.pairCamera(ann, home)
	big := `{"email":"` + strings.Repeat("a", 70<<10) + `@example.com","password":"x"}`

	cases := []struct {
		name, method, path, tok string
		body                    any
		status                  int
	}{
		{"malformed", "POST", "/api/v1/accounts", "", `{"email": "a@example.com",`, 400},
		{"not an object", "POST", "/api/v1/accounts", "", `["a@example.com"]`, 400},
		{"empty", "POST", "/api/v1/accounts", "", ``, 400},
		{"two objects", "POST", "/api/v1/accounts", "", `{"email":"two@example.com","password":"long enough pass"}{}`, 400},
		{"wrong type", "POST", "/api/v1/accounts", "", `{"email": 42, "password": "long enough pass"}`, 400},
		{"unknown field", "POST", "/api/v1/accounts", "", `{"email":"u@example.com","password":"long enough pass","admin":true}`, 400},
		{"oversize", "POST", "/api/v1/accounts", "", big, 413},
		{"bad email", "POST", "/api/v1/accounts", "", map[string]string{"email": "not-an-email", "password": "long enough pass"}, 400},
		{"display-name email", "POST", "/api/v1/accounts", "", map[string]string{"email": "Eve <eve@example.com>", "password": "long enough pass"}, 400},
		{"short password", "POST", "/api/v1/accounts", "", map[string]string{"email": "weak@example.com", "password": "short"}, 400},
		{"common password", "POST", "/api/v1/accounts", "", map[string]string{"email": "weak@example.com", "password": "password123"}, 400},
		{"one-letter password", "POST", "/api/v1/accounts", "", map[string]string{"email": "weak@example.com", "password": "aaaaaaaaaaaaaa"}, 400},
		{"password is email", "POST", "/api/v1/accounts", "", map[string]string{"email": "weakling@example.com", "password": "weakling@example.com"}, 400},
		{"login malformed", "POST", "/api/v1/sessions", "", `{"email":`, 400},
		{"home no name", "POST", "/api/v1/homes", ann.token, map[string]string{"name": "  "}, 400},
		{"home long name", "POST", "/api/v1/homes", ann.token, map[string]string{"name": strings.Repeat("x", 65)}, 400},
		{"home control chars", "POST", "/api/v1/homes", ann.token, map[string]string{"name": "a\x00b"}, 400},
		{"home wrong type", "POST", "/api/v1/homes", ann.token, `{"name": ["x"]}`, 400},
		{"member bad role", "POST", "/api/v1/homes/" + home + "/members", ann.token, map[string]any{"email": ann.email, "role": "owner"}, 400},
		{"member admin limited", "POST", "/api/v1/homes/" + home + "/members", ann.token, map[string]any{"email": ann.email, "role": "admin", "devices": []string{cam.id}}, 400},
		{"member bad device", "POST", "/api/v1/homes/" + home + "/members", ann.token, map[string]any{"email": ann.email, "role": "viewer", "devices": []string{"../etc"}}, 400},
		{"member bad email", "POST", "/api/v1/homes/" + home + "/members", ann.token, map[string]any{"email": "Eve <eve@example.com>", "role": "viewer"}, 400},
		{"member unknown field", "POST", "/api/v1/homes/" + home + "/members", ann.token, `{"email":"eve@example.com","role":"viewer","account_id":"x"}`, 400},
		{"member change bad role", "PATCH", "/api/v1/homes/" + home + "/members/" + ann.id, ann.token, map[string]any{"role": "owner"}, 400},
		{"pair bad model", "POST", "/api/v1/devices/pair", "", map[string]string{"code": "AAAA-BBBB-CCCC", "model": "", "firmware": "1"}, 400},
		{"pair unknown field", "POST", "/api/v1/devices/pair", "", `{"code":"AAAA-BBBB-CCCC","model":"m","firmware":"1","home_id":"x"}`, 400},
		{"rename missing name", "PATCH", "/api/v1/devices/" + cam.id, ann.token, `{}`, 400},
		{"rename empty", "PATCH", "/api/v1/devices/" + cam.id, ann.token, map[string]string{"name": ""}, 400},
		{"rename wrong type", "PATCH", "/api/v1/devices/" + cam.id, ann.token, `{"name": 7}`, 400},
		{"keep warm wrong type", "PATCH", "/api/v1/devices/" + cam.id, ann.token, `{"keep_warm": "yes"}`, 400},
		{"keep warm and an empty name", "PATCH", "/api/v1/devices/" + cam.id, ann.token, `{"keep_warm": true, "name": ""}`, 400},
	}
	for _, c := range cases {
		r := e.call(c.method, c.path, c.tok, c.body)
		if r.status != c.status {
			t.Errorf("%s: %s %s: %d %s, want %d", c.name, c.method, c.path, r.status, r.raw, c.status)
			continue
		}
		if msg, _ := r.body["error"].(map[string]any)["message"].(string); msg == "" {
			t.Errorf("%s: no error message: %s", c.name, r.raw)
		}
	}
	// Nothing was created or changed.
	for _, email := range []string{"a@example.com", "two@example.com", "u@example.com", "weak@example.com", "weakling@example.com"} {
		if r := e.call("POST", "/api/v1/sessions", "", map[string]string{"email": email, "password": "long enough pass"}); r.status != 401 {
			t.Errorf("account %s exists after bad input: %d", email, r.status)
		}
	}
	if n := len(e.must(200, "GET", "/api/v1/homes", ann.token, nil).body["homes"].([]any)); n != 1 {
		t.Errorf("%d homes after bad input, want 1", n)
	}
	if n := len(e.must(200, "GET", "/api/v1/homes/"+home+"/members", ann.token, nil).body["members"].([]any)); n != 1 {
		t.Errorf("%d members after bad input, want 1", n)
	}
	if n := len(e.must(200, "GET", "/api/v1/homes/"+home+"/invitations", ann.token, nil).body["invitations"].([]any)); n != 0 {
		t.Errorf("%d invitations after bad input, want none", n)
	}
	if name := e.must(200, "GET", "/api/v1/devices/"+cam.id, ann.token, nil).str("name"); name != "CV-1" {
		t.Errorf("camera name %q after bad input", name)
	}
	// A body with the wrong content type is refused too.
	r := e.call("POST", "/api/v1/homes", ann.token, nil)
	if r.status != 400 {
		t.Errorf("empty body: %d", r.status)
	}
}
