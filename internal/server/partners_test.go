package server_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/server"
	"github.com/camvault/camvault/internal/sim/partnerlink"
)

// registerPartner registers a partner as `camvault admin partners add`
// does, on the running server's data directory.
func (e *env) registerPartner(name string) partnerlink.Partner {
	e.t.Helper()
	var out bytes.Buffer
	e.operator(func(o *server.Offline) error {
		return o.PartnerAdd(e.t.Context(), &out, name, "http://127.0.0.1:1/callback")
	})
	p := partnerlink.Partner{Server: e.public.URL, RedirectURI: "http://127.0.0.1:1/callback"}
	for _, line := range strings.Split(out.String(), "\n") {
		if v, ok := strings.CutPrefix(line, "client_id:"); ok {
			p.ClientID = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(line, "client_secret:"); ok {
			p.ClientSecret = strings.TrimSpace(v)
		}
	}
	if !id.Valid(p.ClientID) || !strings.HasPrefix(p.ClientSecret, "cvp_") {
		e.t.Fatalf("partners add printed %q", out.String())
	}
	e.remember(p.ClientSecret)
	return p
}

// operator runs an operator's task on the running server's data, as the
// admin commands do.
func (e *env) operator(task func(*server.Offline) error) {
	e.t.Helper()
	o, err := server.OpenOffline(e.t.Context(), server.Config{DataDir: e.data})
	if err != nil {
		e.t.Fatal(err)
	}
	defer o.Close()
	if err := task(o); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) setPartnerDisabled(p partnerlink.Partner, disabled bool) {
	e.t.Helper()
	e.operator(func(o *server.Offline) error {
		return o.PartnerSetDisabled(e.t.Context(), io.Discard, p.ClientID, disabled, "", nil)
	})
}

func (e *env) link(p partnerlink.Partner, who person, devices []string, live bool) *oauth2.Token {
	e.t.Helper()
	scopes := []string{"cameras"}
	if live {
		scopes = append(scopes, "live")
	}
	tok, err := partnerlink.Link(e.t.Context(), e.public.Client(), p, partnerlink.Consent{SessionToken: who.token, Devices: devices, Live: live}, scopes...)
	if err != nil {
		e.t.Fatalf("link %s: %v", who.email, err)
	}
	if !strings.HasPrefix(tok.AccessToken, "cvi_") || !strings.HasPrefix(tok.RefreshToken, "cvr_") || tok.Expiry.IsZero() {
		e.t.Fatalf("tokens %q, %q, expiry %v; want cvi_ and cvr_ tokens that expire", tok.AccessToken, tok.RefreshToken, tok.Expiry)
	}
	e.remember(tok.AccessToken, tok.RefreshToken)
	return tok
}

// refresh uses a refresh token once, as x/oauth2 does when the access
// token expired.
func (e *env) refresh(p partnerlink.Partner, refreshToken string) (*oauth2.Token, error) {
	ctx := context.WithValue(e.t.Context(), oauth2.HTTPClient, e.public.Client())
	return p.Config().TokenSource(ctx, &oauth2.Token{RefreshToken: refreshToken, Expiry: time.Now().Add(-time.Hour)}).Token()
}

func partnerDeviceIDs(t *testing.T, e *env, tok string) []string {
	t.Helper()
	r := e.must(200, "GET", "/api/v1/partner/devices", tok, nil)
	list, _ := r.body["devices"].([]any)
	out := []string{}
	for _, d := range list {
		out = append(out, d.(map[string]any)["id"].(string))
	}
	return out
}

// TestPartnerFlow drives the whole partner flow with golang.org/x/oauth2
// against the real server: the operator registers a partner, a person
// consents to one of two cameras, and the partner sees exactly that camera
// (invariant 12): its events, thumbnails and clips, while the other
// camera's answer is the 404 of a missing one. Every access is in the
// household's log with the partner as actor. Refresh tokens rotate, and a
// reused one revokes the link; RFC 7009 revocation works for both kinds.
func TestPartnerFlow(t *testing.T) {
	e := newEnv(t)
	owner := e.signup("ann")
	home := e.home(owner, "Maple Street "+id.New())
	chosen, other := e.pairCamera(owner, home), e.pairCamera(owner, home)
	started := time.Now().Add(-time.Minute).UTC().Truncate(time.Second)
	seen := e.upload(chosen, "chosen-1", started, 2048)
	unseen := e.upload(other, "other-1", started.Add(time.Second), 2048)
	p := e.registerPartner("Kitchen Display")

	tok := e.link(p, owner, []string{chosen.id}, false)

	if got := partnerDeviceIDs(t, e, tok.AccessToken); len(got) != 1 || got[0] != chosen.id {
		t.Fatalf("partner devices %v, want only the consented camera %s", got, chosen.id)
	}
	list, _ := e.events(tok.AccessToken, "")
	if ids := eventIDs(list); len(ids) != 1 || ids[0] != seen.id {
		t.Fatalf("partner events %v, want only %s", ids, seen.id)
	}
	e.must(200, "GET", "/api/v1/events/"+seen.id, tok.AccessToken, nil)
	if r := e.must(200, "GET", "/api/v1/events/"+seen.id+"/thumbnail", tok.AccessToken, nil); !bytes.Equal(r.raw, seen.thumb) {
		t.Fatal("the partner got other bytes than the consented camera's thumbnail")
	}
	if r := e.must(200, "GET", "/api/v1/events/"+seen.id+"/clip", tok.AccessToken, nil); !bytes.Equal(r.raw, seen.clip) {
		t.Fatal("the partner got other bytes than the consented camera's clip")
	}

	// The other camera answers exactly as a camera or event that does not
	// exist.
	missing := e.call("GET", "/api/v1/events/"+id.New(), tok.AccessToken, nil)
	for _, path := range []string{"/api/v1/events/" + unseen.id, "/api/v1/events/" + unseen.id + "/thumbnail", "/api/v1/events/" + unseen.id + "/clip"} {
		if r := e.call("GET", path, tok.AccessToken, nil); r.status != 404 || !bytes.Equal(r.raw, missing.raw) {
			t.Fatalf("%s for the unconsented camera: %d %s; want the missing event's 404 %s", path, r.status, r.raw, missing.raw)
		}
	}
	missingDev := e.call("GET", "/api/v1/devices/"+id.New(), tok.AccessToken, nil)
	if r := e.call("GET", "/api/v1/devices/"+other.id, tok.AccessToken, nil); r.status != 404 || !bytes.Equal(r.raw, missingDev.raw) {
		t.Fatalf("the unconsented camera: %d %s; want the missing camera's 404", r.status, r.raw)
	}
	if r := e.call("GET", "/api/v1/events?device="+other.id, tok.AccessToken, nil); r.status != 404 {
		t.Fatalf("events of the unconsented camera: %d, want 404", r.status)
	}
	// Live was not consented: the live routes answer as for a missing camera.
	if r := e.call("GET", "/api/v1/devices/"+chosen.id+"/live/mse", tok.AccessToken, nil); r.status != 404 {
		t.Fatalf("live without consent: %d, want 404", r.status)
	}
	// A partner token opens no person route.
	for _, path := range []string{"/api/v1/homes", "/api/v1/me", "/api/v1/sessions", "/api/v1/homes/" + home + "/devices"} {
		if r := e.call("GET", path, tok.AccessToken, nil); r.status != 401 {
			t.Fatalf("%s with a partner token: %d, want 401", path, r.status)
		}
	}

	// The household's log names the partner as the actor of each look.
	audit := e.must(200, "GET", "/api/v1/homes/"+home+"/audit", owner.token, nil)
	entries, _ := audit.body["entries"].([]any)
	looks := map[string]bool{}
	for _, raw := range entries {
		en := raw.(map[string]any)
		if en["actor_kind"] == "integration" {
			if en["actor_id"] != p.ClientID || !strings.Contains(en["actor"].(string), "Kitchen Display") {
				t.Fatalf("partner audit entry %v, want the partner as actor", en)
			}
			looks[en["action"].(string)] = true
		}
	}
	for _, action := range []string{"event.view", "thumbnail.view", "clip.view"} {
		if !looks[action] {
			t.Fatalf("no %s by the partner in the household's log: %v", action, entries)
		}
	}

	// Refresh tokens rotate; the rotated one, used again, revokes the link.
	next, err := e.refresh(p, tok.RefreshToken)
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if next.RefreshToken == tok.RefreshToken || next.AccessToken == tok.AccessToken {
		t.Fatal("refreshing did not rotate the tokens")
	}
	partnerDeviceIDs(t, e, next.AccessToken)
	if _, err := e.refresh(p, tok.RefreshToken); !isInvalidGrant(err) {
		t.Fatalf("reusing a rotated refresh token: %v, want invalid_grant", err)
	}
	for _, at := range []string{tok.AccessToken, next.AccessToken} {
		if r := e.call("GET", "/api/v1/partner/devices", at, nil); r.status != 401 {
			t.Fatalf("after refresh token reuse: %d, want 401 (the link is revoked)", r.status)
		}
	}
	if _, err := e.refresh(p, next.RefreshToken); !isInvalidGrant(err) {
		t.Fatalf("the newest refresh token after reuse: %v, want invalid_grant", err)
	}

	// RFC 7009: an access token stops at once; a refresh token ends the link.
	tok = e.link(p, owner, []string{chosen.id}, false)
	revoke(t, e, p, tok.AccessToken, 200)
	if r := e.call("GET", "/api/v1/partner/devices", tok.AccessToken, nil); r.status != 401 {
		t.Fatalf("revoked access token: %d, want 401", r.status)
	}
	revoke(t, e, p, "cvi_"+strings.Repeat("a", 52), 200) // unknown: no error
	revoke(t, e, p, tok.RefreshToken, 200)
	if _, err := e.refresh(p, tok.RefreshToken); !isInvalidGrant(err) {
		t.Fatalf("revoked refresh token: %v, want invalid_grant", err)
	}
	// Another partner cannot revoke this partner's tokens.
	tok = e.link(p, owner, []string{chosen.id}, false)
	q := e.registerPartner("Other Assistant")
	revoke(t, e, q, tok.AccessToken, 400)
	partnerDeviceIDs(t, e, tok.AccessToken)

	// Consent is refused for a camera the person does not see, and
	// changes nothing.
	stranger := e.signup("mallory")
	if _, err := partnerlink.Link(t.Context(), e.public.Client(), p, partnerlink.Consent{SessionToken: stranger.token, Devices: []string{chosen.id}}, "cameras"); err == nil {
		t.Fatal("a stranger consented to another household's camera")
	}
	if _, err := partnerlink.Link(t.Context(), e.public.Client(), p, partnerlink.Consent{SessionToken: owner.token, Deny: true}, "cameras"); !errors.Is(err, partnerlink.ErrDenied) {
		t.Fatalf("deny: %v, want the partner told access_denied", err)
	}
	e.scanAtRest()
}

func isInvalidGrant(err error) bool {
	var re *oauth2.RetrieveError
	return errors.As(err, &re) && re.ErrorCode == "invalid_grant"
}

func revoke(t *testing.T, e *env, p partnerlink.Partner, tok string, want int) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "POST", e.public.URL+"/oauth2/revoke", strings.NewReader(url.Values{"token": {tok}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(p.ClientID), url.QueryEscape(p.ClientSecret))
	res, err := e.public.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != want {
		t.Fatalf("revoke: %d %s, want %d", res.StatusCode, body, want)
	}
}
