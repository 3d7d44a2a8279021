package web_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserInvitations: sharing a home, in a real Chromium, is an
// invitation the invitee answers in the web app. Alice invites Carol, who
// has no account yet, and Dave; nothing is theirs until they answer. Carol
// signs up with the invited email, finds the invitation where she lands,
// accepts, and has the home; Dave declines and has nothing; Alice takes
// back a third invitation before it is answered, and makes Carol an
// admin directly.
func TestBrowserInvitations(t *testing.T) {
	bctx := browser(t)
	srv := startServer(t)
	const pass = "correct horse battery staple"

	alice := newPerson(t, bctx, srv.URL, "alice", "alice@example.com")
	alice.signup(pass)
	alice.do("create home", chromedp.WaitVisible(css("#create-home")), chromedp.Click(css("#create-home")),
		chromedp.WaitVisible(css(`button[id^="add-camera-"]`)))
	dave := newPerson(t, bctx, srv.URL, "dave", "dave@example.com")
	dave.signup(pass)

	invite := func(email string) {
		t.Helper()
		alice.open("/sharing", `input[name="email"]`)
		alice.do("invite "+email, chromedp.SendKeys(css(`input[name="email"]`), email), chromedp.Click(css(`button[id$="-submit"]`)),
			chromedp.WaitVisible(css(".notice")), chromedp.WaitVisible(css(`tr[data-invited="`+email+`"]`)))
	}
	invite("carol@example.com") // no account yet
	invite("dave@example.com")
	invite("eve@example.com")

	// Carol signs up with the invited email and lands on Cameras, where
	// the invitation waits with who sent it and to which home; the home
	// is not hers yet.
	carol := newPerson(t, bctx, srv.URL, "carol", "carol@example.com")
	carol.signup(pass)
	carol.open("/cameras", ".invitation")
	if got := carol.text(".invitation p"); !strings.Contains(got, "alice@example.com invites you to Home as a viewer") {
		t.Fatalf("carol's invitation reads %q", got)
	}
	if n := carol.count("#create-home"); n != 1 {
		t.Fatal("carol, invited but not yet accepting, is not offered to set up her own home")
	}
	if bad := get(carol, "find unlabelled controls", chromedp.Evaluate[[]string](unlabelled)); len(bad) > 0 {
		t.Errorf("/cameras with an invitation: controls without a label: %q", bad)
	}
	carol.do("accept", chromedp.Click(css(`.invitation button[id^="accept-"]`)), chromedp.WaitVisible(css(".notice")))
	if got := carol.text(".home .role"); got != "You are a viewer" {
		t.Fatalf("carol after accepting: %q", got)
	}
	if n := carol.count(".invitation"); n != 0 {
		t.Fatal("the accepted invitation is still shown")
	}

	// Dave, who logs in to the timeline, finds it there and declines.
	dave.open("/events", ".invitation")
	dave.do("decline", chromedp.Click(css(`.invitation button[id^="decline-"]`)), chromedp.WaitVisible(css(".notice")))
	if n := dave.count(".invitation"); n != 0 {
		t.Fatal("the declined invitation is still shown")
	}
	if status, body := dave.fetch("/api/v1/homes", nil); status != 200 || !strings.Contains(body, `"homes":[]`) {
		t.Fatalf("dave's homes after declining: %d %s", status, body)
	}

	// Alice sees Carol as a member, Dave gone from what waits, and takes
	// Eve's invitation back.
	alice.open("/sharing", `tr[data-member="carol@example.com"]`)
	if n := alice.count(`tr[data-invited="dave@example.com"]`); n != 0 {
		t.Fatal("dave's declined invitation still waits")
	}
	alice.do("take back", chromedp.Click(css(`tr[data-invited="eve@example.com"] button`)), chromedp.WaitVisible(css(".notice")))
	if n := alice.count(`tr[data-invited]`); n != 0 {
		t.Fatalf("%d invitations still wait after taking the last one back", n)
	}
	// A member's role changes directly, without a new invitation.
	row := `tr[data-member="carol@example.com"] `
	alice.do("make carol an admin", chromedp.Click(css(row+"summary")), chromedp.Click(css(row+`input[name="role"][value="admin"]`)),
		// The page already shows a notice (the invitation taken back):
		// remove it, so the one waited for is the answer's.
		chromedp.Evaluate[chromedp.Void](`document.querySelectorAll(".notice").forEach(n => n.remove())`),
		chromedp.Click(css(row+`.member-change button`)), chromedp.WaitVisible(css(".notice")))
	if got := alice.text(row + "td:nth-child(2)"); got != "admin" {
		t.Fatalf("carol's role after the change: %q", got)
	}
	carol.open("/cameras", ".home .role")
	if got := carol.text(".home .role"); got != "You are an admin" {
		t.Fatalf("carol after the change: %q", got)
	}
	// Who watched says who joined, declined and was invited.
	alice.open("/activity", ".activity")
	log := get(alice, "read the activity", chromedp.Evaluate[string](`document.querySelector(".activity").innerText`))
	for _, want := range []string{"carol@example.com accepted an invitation and joined the home", "dave@example.com declined an invitation to the home",
		"alice@example.com invited someone to the home", "alice@example.com took back an invitation to the home"} {
		if !strings.Contains(log, want) {
			t.Errorf("the activity page does not say %q:\n%s", want, log)
		}
	}
	if status, body := alice.fetch("/api/v1/homes", nil); status != 200 || !strings.Contains(body, `"name":"Home"`) {
		t.Fatalf("alice's homes: %d %s", status, body)
	}
	if status, body := carol.fetch("/api/v1/homes", nil); status != 200 || !strings.Contains(body, `"role":"admin"`) {
		t.Fatalf("carol's homes: %d %s", status, body)
	}
}
