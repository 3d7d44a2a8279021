package web_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/camvault/camvault/internal/identity"
)

var homeForm = regexp.MustCompile(`action="/homes/([a-z0-9]+)/pairing-codes"`)

// TestWords checks what the pages say where a newcomer first reads them:
// the password rule is the API's, roles read as English, and inviting an
// email nobody signed up with reads exactly as inviting one that has an
// account, as the API answers.
func TestWords(t *testing.T) {
	srv := startServer(t)

	// The signup form states and enforces the one password rule, as the
	// API document does.
	visitor := newClient(t, srv.URL)
	_, page := visitor.do("GET", "/signup", "", nil, nil)
	n := identity.MinPasswordLength
	for _, want := range []string{fmt.Sprintf(`minlength="%d"`, n), fmt.Sprintf("At least %d characters", n)} {
		if !strings.Contains(page, want) {
			t.Errorf("the signup page does not say %q", want)
		}
	}
	if regexp.MustCompile(`minlength="(1[1-9]|[2-9])"`).MatchString(page) {
		t.Errorf("the signup page has another password length than %d", n)
	}
	if got := openAPIPasswordMin(t); got != n {
		t.Errorf("api/openapi.json says passwords have at least %d characters; the rule is %d", got, n)
	}

	alice, bob := newClient(t, srv.URL), newClient(t, srv.URL)
	csrf := alice.signup("alice@example.com")
	bobCSRF := bob.signup("bob@example.com")
	if res, _ := alice.do("POST", "/homes", srv.URL, url.Values{"csrf": {csrf}, "name": {"Flat"}}, nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("create home: %d", res.StatusCode)
	}
	_, page = alice.do("GET", "/cameras", "", nil, nil)
	m := homeForm.FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no home on the cameras page")
	}
	home := m[1]
	if !strings.Contains(page, "You are the owner") {
		t.Error("the owner's cameras page does not say \"You are the owner\"")
	}

	// Inviting an email nobody signed up with answers exactly as inviting
	// one that has an account: the page says nothing about which emails
	// have accounts.
	invite := func(email, role string) (int, string) {
		res, _ := alice.do("POST", "/homes/"+home+"/members", srv.URL, url.Values{"csrf": {csrf}, "email": {email}, "role": {role}}, nil)
		return res.StatusCode, res.Header.Get("Location")
	}
	nobodyStatus, nobodyNext := invite("nobody@example.com", "viewer")
	bobStatus, bobNext := invite("bob@example.com", "viewer")
	if nobodyStatus != http.StatusSeeOther || nobodyStatus != bobStatus || nobodyNext != bobNext {
		t.Errorf("inviting an unknown email: %d to %q; a known one: %d to %q", nobodyStatus, nobodyNext, bobStatus, bobNext)
	}
	if _, page := alice.do("GET", nobodyNext, "", nil, nil); !strings.Contains(page, "Nothing is shared until they accept") {
		t.Error("the page after inviting does not say nothing is shared until they accept")
	}

	for role, want := range map[string]string{"viewer": "You are a viewer", "admin": "You are an admin"} {
		if status, _ := invite("bob@example.com", role); status != http.StatusSeeOther {
			t.Fatalf("invite as %s: %d", role, status)
		}
		_, page := bob.do("GET", "/sharing", "", nil, nil)
		m := invitationRow.FindStringSubmatch(page)
		if m == nil || !strings.Contains(page, "invites you to") {
			t.Fatalf("bob's sharing page shows no invitation as %s", role)
		}
		if res, _ := bob.do("POST", "/invitations/"+m[1]+"/accept", srv.URL, url.Values{"csrf": {bobCSRF}}, nil); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("accept as %s: %d", role, res.StatusCode)
		}
		for _, path := range []string{"/cameras", "/sharing"} {
			if _, page := bob.do("GET", path, "", nil, nil); !strings.Contains(page, want) {
				t.Errorf("%s, shared with bob as %s, does not say %q", path, role, want)
			}
		}
	}
}

var invitationRow = regexp.MustCompile(`data-invitation="([a-z0-9]+)"`)

// openAPIPasswordMin is the minLength api/openapi.json gives passwords.
func openAPIPasswordMin(t *testing.T) int {
	t.Helper()
	raw, err := os.ReadFile("../../api/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]struct {
					MinLength int `json:"minLength"`
				} `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	least := 0
	for _, s := range doc.Components.Schemas {
		if p, ok := s.Properties["password"]; ok && p.MinLength > 1 {
			if least != 0 && p.MinLength != least {
				t.Fatalf("api/openapi.json gives passwords two lengths: %d and %d", least, p.MinLength)
			}
			least = p.MinLength
		}
	}
	return least
}
