package web_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/camvault/camvault/internal/server"
)

// TestBrowserAccountData: in a real Chromium, a person prepares their
// data and downloads it from the Account page, then deletes the account
// (a wrong password first, told on the page), confirming the dialog.
func TestBrowserAccountData(t *testing.T) {
	bctx := browser(t)
	opts := server.DefaultOptions()
	opts.Export.Poll = 20 * time.Millisecond
	srv := startServerWith(t, opts)
	const pw = "correct horse battery staple"
	eve := newPerson(t, bctx, srv.URL, "eve", "eve@example.com")
	eve.signup(pw)

	eve.open("/account", "#export-start")
	eve.do("prepare my data", chromedp.Click(css("#export-start")), chromedp.WaitVisible(css("#export-status")))
	loc := get(eve, "where", chromedp.Location())
	path := strings.TrimPrefix(loc, srv.URL)
	path = strings.SplitN(path, "#", 2)[0]
	if !strings.HasPrefix(path, "/account?export=") {
		t.Fatalf("preparing the data led to %s", loc)
	}
	eve.reloadUntil(path, "#export-download")
	href := eve.attr("#export-download", "href")
	if status, body := eve.fetch(href, nil); status != 200 || !strings.HasPrefix(body, "PK") {
		t.Fatalf("download %s: %d, %.20q", href, status, body)
	}

	eve.open("/account", "#delete-password")
	eve.do("delete with a wrong password",
		chromedp.SendKeys(css("#delete-password"), "not my password"),
		chromedp.Click(css("#delete-account")),
		chromedp.WaitVisible(css("#delete-problem")))
	if txt := eve.text("#delete-problem"); !strings.Contains(txt, "password is wrong") {
		t.Fatalf("the refusal says %q", txt)
	}
	eve.do("delete", chromedp.SendKeys(css("#delete-password"), pw), chromedp.Click(css("#delete-account")))
	// The click navigates: read the new page once it is there.
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(eve.ctx, 5*time.Second)
		body, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
		cancel()
		if err == nil && strings.Contains(body, "Your account is deleted") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after deleting: %v %.300s", err, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	eve.open("/account", "#email") // signed out: the login page
}
