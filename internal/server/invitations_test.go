package server_test

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
)

// invite is POST /api/v1/homes/{home}/members, which must answer 202
// with an invitation; it returns the invitation's ID.
func (e *env) invite(owner person, home, email, role string) string {
	e.t.Helper()
	inv, _ := e.must(202, "POST", "/api/v1/homes/"+home+"/members", owner.token, map[string]any{"email": email, "role": role}).body["invitation"].(map[string]any)
	id, _ := inv["id"].(string)
	return id
}

// TestInvitationsAPI follows the API contract for homes and members (the
// routes as api/openapi.json describes them): sharing is an invitation,
// 202 and alike for any email; nothing is shared until the invitee
// accepts; the invitee lists, accepts or declines, and anyone else gets
// 404 exactly as for a missing one.
func TestInvitationsAPI(t *testing.T) {
	e := newEnv(t)
	ann, bob, mallory := e.signup("ann"), e.signup("bob"), e.signup("mallory")
	home := e.home(ann, "Ann's house")
	cam := e.pairCamera(ann, home)

	// 202 {"invitation": {"id", "expires_at"}}, the same whether or not
	// the email has an account.
	known := e.must(202, "POST", "/api/v1/homes/"+home+"/members", ann.token, map[string]any{"email": bob.email, "role": "viewer", "devices": []string{cam.id}})
	unknown := e.must(202, "POST", "/api/v1/homes/"+home+"/members", ann.token, map[string]any{"email": "nobody-" + bob.email, "role": "viewer", "devices": []string{cam.id}})
	shape := func(r resp) (keys []string, expires string) {
		inv, _ := r.body["invitation"].(map[string]any)
		expires, _ = inv["expires_at"].(string)
		return append(slices.Sorted(maps.Keys(r.body)), slices.Sorted(maps.Keys(inv))...), expires
	}
	kk, ke := shape(known)
	uk, ue := shape(unknown)
	if !slices.Equal(kk, []string{"invitation", "expires_at", "id"}) || !slices.Equal(kk, uk) || ke != ue || len(known.raw) != len(unknown.raw) {
		t.Fatalf("invitation answers differ: %s and %s", known.raw, unknown.raw)
	}
	if at, err := time.Parse(time.RFC3339, ke); err != nil || !at.Equal(e.clock.Now().Add(7*24*time.Hour)) {
		t.Fatalf("expires_at %q, want a week from now", ke)
	}
	for _, h := range []string{"Content-Type", "Content-Length"} {
		if known.header.Get(h) != unknown.header.Get(h) {
			t.Fatalf("header %s differs: %q and %q", h, known.header.Get(h), unknown.header.Get(h))
		}
	}
	invID, _ := known.body["invitation"].(map[string]any)["id"].(string)

	// Nothing is shared yet.
	e.must(404, "GET", "/api/v1/homes/"+home, bob.token, nil)
	e.must(404, "GET", "/api/v1/devices/"+cam.id, bob.token, nil)

	// GET /api/v1/invitations: the invitee's, with exactly the fields of
	// the contract; nobody else's.
	list := e.must(200, "GET", "/api/v1/invitations", bob.token, nil)
	var got struct {
		Invitations []map[string]any `json:"invitations"`
	}
	if err := json.Unmarshal(list.raw, &got); err != nil || len(got.Invitations) != 1 {
		t.Fatalf("bob's invitations: %s", list.raw)
	}
	inv := got.Invitations[0]
	if keys := slices.Sorted(maps.Keys(inv)); !slices.Equal(keys, []string{"expires_at", "home_name", "id", "invited_by", "role"}) ||
		inv["id"] != invID || inv["home_name"] != "Ann's house" || inv["role"] != "viewer" || inv["invited_by"] != ann.email || inv["expires_at"] != ke {
		t.Fatalf("bob's invitation: %v", inv)
	}
	if n := len(e.must(200, "GET", "/api/v1/invitations", mallory.token, nil).body["invitations"].([]any)); n != 0 {
		t.Fatalf("mallory lists %d invitations", n)
	}
	e.must(401, "GET", "/api/v1/invitations", "", nil)

	// Anyone but the invitee: 404, exactly as a missing invitation.
	missing := strings.Repeat("q", 26)
	for _, p := range []struct{ method, path, missingPath string }{
		{"POST", "/api/v1/invitations/" + invID + "/accept", "/api/v1/invitations/" + missing + "/accept"},
		{"DELETE", "/api/v1/invitations/" + invID, "/api/v1/invitations/" + missing},
		{"POST", "/api/v1/invitations/not-an-id/accept", "/api/v1/invitations/" + missing + "/accept"},
	} {
		got, want := e.call(p.method, p.path, mallory.token, nil), e.call(p.method, p.missingPath, mallory.token, nil)
		if got.status != 404 || want.status != 404 || string(got.raw) != string(want.raw) {
			t.Errorf("%s %s as mallory: %d %s; missing: %d %s", p.method, p.path, got.status, got.raw, want.status, want.raw)
		}
	}
	e.must(404, "GET", "/api/v1/homes/"+home, mallory.token, nil)

	// The home's managers see what waits; a stranger gets 404.
	pending := e.must(200, "GET", "/api/v1/homes/"+home+"/invitations", ann.token, nil).body["invitations"].([]any)
	if len(pending) != 2 {
		t.Fatalf("the home's pending invitations: %v", pending)
	}
	e.must(404, "GET", "/api/v1/homes/"+home+"/invitations", mallory.token, nil)

	// Bob accepts: 204, and membership begins, limited to the camera.
	e.must(204, "POST", "/api/v1/invitations/"+invID+"/accept", bob.token, nil)
	e.must(200, "GET", "/api/v1/homes/"+home, bob.token, nil)
	e.must(200, "GET", "/api/v1/devices/"+cam.id, bob.token, nil)
	e.must(404, "POST", "/api/v1/invitations/"+invID+"/accept", bob.token, nil) // single use
	// A viewer sees neither the home's invitations nor can cancel one.
	e.must(403, "GET", "/api/v1/homes/"+home+"/invitations", bob.token, nil)
	other, _ := pending[0].(map[string]any)["id"].(string)
	if other == invID {
		other, _ = pending[1].(map[string]any)["id"].(string)
	}
	e.must(404, "DELETE", "/api/v1/invitations/"+other, bob.token, nil)

	// A member's role and cameras change directly (PATCH), at once.
	m := e.must(200, "PATCH", "/api/v1/homes/"+home+"/members/"+bob.id, ann.token, map[string]any{"role": "admin"})
	if m.str("role") != "admin" || m.str("account_id") != bob.id {
		t.Fatalf("changed member: %s", m.raw)
	}
	e.must(404, "PATCH", "/api/v1/homes/"+home+"/members/"+mallory.id, ann.token, map[string]any{"role": "viewer"})
	e.must(403, "PATCH", "/api/v1/homes/"+home+"/members/"+ann.id, bob.token, map[string]any{"role": "viewer"})

	// The inviter cancels the other one (204), then it is gone.
	e.must(204, "DELETE", "/api/v1/invitations/"+other, ann.token, nil)
	e.must(404, "DELETE", "/api/v1/invitations/"+other, ann.token, nil)

	// The invitee declines (204); an expired invitation cannot be
	// accepted.
	declined := e.invite(ann, home, mallory.email, "viewer")
	e.must(204, "DELETE", "/api/v1/invitations/"+declined, mallory.token, nil)
	e.must(404, "POST", "/api/v1/invitations/"+declined+"/accept", mallory.token, nil)
	expiring := e.invite(ann, home, mallory.email, "viewer")
	e.clock.Advance(7*24*time.Hour + time.Second)
	// The old sessions went idle meanwhile.
	ann.token, mallory.token = e.login(ann.email, ann.password), e.login(mallory.email, mallory.password)
	e.must(404, "POST", "/api/v1/invitations/"+expiring+"/accept", mallory.token, nil)
	e.must(404, "GET", "/api/v1/homes/"+home, mallory.token, nil)

	// An email that had no account when invited: its owner signs up with
	// it and accepts.
	later := e.invite(ann, home, "later-"+bob.email, "viewer")
	cat := e.signupAs("later-"+bob.email, "a newcomer's long password")
	e.must(204, "POST", "/api/v1/invitations/"+later+"/accept", cat.token, nil)
	e.must(200, "GET", "/api/v1/homes/"+home, cat.token, nil)

	// Every step is in the home's audit log.
	var actions []string
	for _, a := range e.must(200, "GET", "/api/v1/homes/"+home+"/audit", ann.token, nil).body["entries"].([]any) {
		actions = append(actions, a.(map[string]any)["action"].(string))
	}
	for _, want := range []string{"invitation.create", "invitation.accept", "invitation.cancel", "invitation.decline"} {
		if !slices.Contains(actions, want) {
			t.Errorf("the audit log has no %s: %v", want, actions)
		}
	}
}
