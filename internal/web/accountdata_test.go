package web_test

import (
	"archive/zip"
	"bytes"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/server"
)

var (
	shareSection = regexp.MustCompile(`id="share-([a-z0-9]+)"`)
	acceptForm   = regexp.MustCompile(`/invitations/([a-z0-9]+)/accept`)
)

// TestAccountDataAndDeletion goes through the Account page as a person
// does: prepare their data and download the zip, refused for anyone
// else; delete the account, refused with a wrong password and, while a
// home they own has another member, with a link to hand it over, which
// "Make owner" on the Sharing page does; then deleted.
func TestAccountDataAndDeletion(t *testing.T) {
	opts := server.DefaultOptions()
	opts.Export.Poll = 20 * time.Millisecond
	srv := startServerWith(t, opts)
	ann, bob := newClient(t, srv.URL), newClient(t, srv.URL)
	annCSRF, bobCSRF := ann.signup("ann@example.com"), bob.signup("bob@example.com")
	if res, _ := ann.do("POST", "/homes", srv.URL, url.Values{"csrf": {annCSRF}, "name": {"Ann's flat"}}, nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("create home: %d", res.StatusCode)
	}
	_, page := ann.do("GET", "/sharing", "", nil, nil)
	home := shareSection.FindStringSubmatch(page)[1]

	// Download my data.
	res, _ := ann.do("POST", "/account/exports", srv.URL, url.Values{"csrf": {annCSRF}}, nil)
	loc := res.Header.Get("Location")
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/account?export=") {
		t.Fatalf("start export: %d to %q", res.StatusCode, loc)
	}
	exportID := strings.TrimSuffix(strings.TrimPrefix(loc, "/account?export="), "#data")
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, page = ann.do("GET", "/account?export="+exportID, "", nil, nil)
		if strings.Contains(page, `id="export-download"`) {
			break
		}
		if strings.Contains(page, `data-status="failed"`) || time.Now().After(deadline) {
			t.Fatalf("export not ready: %s", page)
		}
		time.Sleep(20 * time.Millisecond)
	}
	res, body := ann.do("GET", "/account/exports/"+exportID+"/download", "", nil, nil)
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/zip" {
		t.Fatalf("download: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	z, err := zip.NewReader(bytes.NewReader([]byte(body)), int64(len(body)))
	if err != nil {
		t.Fatalf("the download is not a zip: %v", err)
	}
	f, err := z.Open("manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	manifest, _ := io.ReadAll(f)
	if !strings.Contains(string(manifest), "ann@example.com") || !strings.Contains(string(manifest), home) {
		t.Fatalf("manifest: %s", manifest)
	}
	if res, _ := bob.do("GET", "/account/exports/"+exportID+"/download", "", nil, nil); res.StatusCode != http.StatusNotFound {
		t.Fatalf("someone else's download: %d", res.StatusCode)
	}
	if _, page := bob.do("GET", "/account?export="+exportID, "", nil, nil); strings.Contains(page, exportID) {
		t.Fatal("someone else's export shows on the Account page")
	}

	// Bob joins Ann's home as an admin.
	if res, _ := ann.do("POST", "/homes/"+home+"/members", srv.URL, url.Values{"csrf": {annCSRF}, "email": {"bob@example.com"}, "role": {"admin"}}, nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("invite: %d", res.StatusCode)
	}
	_, page = bob.do("GET", "/sharing", "", nil, nil)
	inv := acceptForm.FindStringSubmatch(page)[1]
	if res, _ := bob.do("POST", "/invitations/"+inv+"/accept", srv.URL, url.Values{"csrf": {bobCSRF}}, nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("accept: %d", res.StatusCode)
	}

	// Delete account: a wrong password, then the shared home.
	res, _ = ann.do("POST", "/account/delete", srv.URL, url.Values{"csrf": {annCSRF}, "password": {"wrong"}}, nil)
	if loc := res.Header.Get("Location"); res.StatusCode != http.StatusSeeOther || !strings.Contains(loc, "delete=password") {
		t.Fatalf("delete with a wrong password: %d to %q", res.StatusCode, loc)
	}
	res, _ = ann.do("POST", "/account/delete", srv.URL, url.Values{"csrf": {annCSRF}, "password": {"correct horse battery staple"}}, nil)
	loc = res.Header.Get("Location")
	if res.StatusCode != http.StatusSeeOther || !strings.Contains(loc, "delete=shared&home="+home) {
		t.Fatalf("delete owning a shared home: %d to %q", res.StatusCode, loc)
	}
	_, page = ann.do("GET", strings.TrimSuffix(loc, "#delete"), "", nil, nil)
	if !strings.Contains(page, `href="/sharing#share-`+home+`"`) {
		t.Fatalf("the refusal does not link to the home's sharing: %s", page)
	}
	// Make owner: on Ann's Sharing page, for Bob the admin.
	_, page = ann.do("GET", "/sharing", "", nil, nil)
	if !strings.Contains(page, `action="/homes/`+home+`/owner"`) {
		t.Fatal("no Make owner for an admin on the owner's Sharing page")
	}
	if _, page := bob.do("GET", "/sharing", "", nil, nil); strings.Contains(page, `/owner"`) {
		t.Fatal("an admin is offered Make owner")
	}
	bobID := regexp.MustCompile(`name="account" value="([a-z0-9]+)"`).FindStringSubmatch(page)[1]
	res, _ = ann.do("POST", "/homes/"+home+"/owner", srv.URL, url.Values{"csrf": {annCSRF}, "account": {bobID}}, nil)
	if loc := res.Header.Get("Location"); res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/sharing?done=owner") {
		t.Fatalf("make owner: %d to %q", res.StatusCode, loc)
	}
	res, page = ann.do("POST", "/account/delete", srv.URL, url.Values{"csrf": {annCSRF}, "password": {"correct horse battery staple"}}, nil)
	if res.StatusCode != http.StatusOK || !strings.Contains(page, "Your account is deleted") {
		t.Fatalf("delete: %d %v %s", res.StatusCode, res.Header, page)
	}
	if res, _ := ann.do("GET", "/account", "", nil, nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("the deleted account's page: %d", res.StatusCode)
	}
	// Bob owns the home now, and it is still there for him.
	if _, page := bob.do("GET", "/sharing", "", nil, nil); !strings.Contains(page, `id="share-`+home+`"`) {
		t.Fatal("the handed-over home is gone")
	}
}
