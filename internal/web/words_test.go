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
// the password rule is the API's, roles read as English, and sharing
// with an email nobody signed up with says so, as the API does.
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
	bob.signup("bob@example.com")
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

	// Sharing with an email that has no account says so.
	res, page := alice.do("POST", "/homes/"+home+"/members", srv.URL, url.Values{"csrf": {csrf}, "email": {"nobody@example.com"}, "role": {"viewer"}}, nil)
	if res.StatusCode != http.StatusNotFound || !strings.Contains(page, "no account has this email; ask them to sign up first") {
		t.Errorf("sharing with an unknown email: %d, page without the API's message", res.StatusCode)
	}
	if strings.Contains(page, "not yours to see") {
		t.Error("sharing with an unknown email ends on the not-found page")
	}

	for role, want := range map[string]string{"viewer": "You are a viewer", "admin": "You are an admin"} {
		res, _ := alice.do("POST", "/homes/"+home+"/members", srv.URL, url.Values{"csrf": {csrf}, "email": {"bob@example.com"}, "role": {role}}, nil)
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("share as %s: %d", role, res.StatusCode)
		}
		for _, path := range []string{"/cameras", "/sharing"} {
			if _, page := bob.do("GET", path, "", nil, nil); !strings.Contains(page, want) {
				t.Errorf("%s, shared with bob as %s, does not say %q", path, role, want)
			}
		}
	}
}

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
