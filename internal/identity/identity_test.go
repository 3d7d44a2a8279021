package identity_test

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/apperr"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/identity"
	"github.com/camvault/camvault/internal/servicetest"
)

var client = identity.Client{Address: "192.0.2.1", UserAgent: "test"}

func TestAccountsAndLogin(t *testing.T) {
	t.Parallel()
	e := servicetest.New(t)
	ctx := e.Ctx()
	accountID, err := e.Identity.CreateAccount(ctx, " Ann@Example.com ", "correct horse battery")
	if err != nil || !id.Valid(accountID) {
		t.Fatalf("create account: %q %v", accountID, err)
	}
	_, err = e.Identity.CreateAccount(ctx, "ann@example.COM", "another good passphrase")
	servicetest.WantCode(t, "the same email again", err, apperr.Conflict)
	_, err = e.Identity.CreateAccount(ctx, "bob@example.com", "short")
	servicetest.WantCode(t, "a weak password", err, apperr.WeakPassword)
	_, err = e.Identity.CreateAccount(ctx, "Bob <bob@example.com>", "correct horse battery")
	servicetest.WantCode(t, "a display name for an email", err, apperr.Invalid)

	_, wrong := e.Identity.Login(ctx, "ann@example.com", "wrong horse battery", client)
	_, unknown := e.Identity.Login(ctx, "nobody@example.com", "correct horse battery", client)
	if apperr.CodeOf(wrong) != apperr.Unauthorized || wrong.Error() != unknown.Error() {
		t.Fatalf("a wrong password (%v) and an unknown email (%v) must answer alike", wrong, unknown)
	}
	l, err := e.Identity.Login(ctx, "ANN@example.com", "correct horse battery", client)
	if err != nil || !strings.HasPrefix(l.Token, "cvs_") || l.AccountID != accountID || !l.ExpiresAt.Equal(e.Clock.Now().Add(30*24*time.Hour)) {
		t.Fatalf("login: %+v %v", l, err)
	}
	p, err := e.Identity.Authenticate(ctx, l.Token)
	if err != nil || p.Kind != domain.PrincipalPerson || p.AccountID != accountID || !id.Valid(p.SessionID) {
		t.Fatalf("authenticate: %+v %v", p, err)
	}
	for _, tok := range []string{"", "cvs_", l.Token + "x", "cvd_" + strings.TrimPrefix(l.Token, "cvs_")} {
		_, err := e.Identity.Authenticate(ctx, tok)
		servicetest.WantCode(t, "a token that is not a session's", err, apperr.Unauthorized)
	}

	if a, err := e.Identity.Account(ctx, accountID); err != nil || a.Email != "ann@example.com" {
		t.Fatalf("account: %+v %v", a, err)
	}
	_, err = e.Identity.Account(ctx, id.New())
	servicetest.WantCode(t, "an account that does not exist", err, apperr.NotFound)

	// An email's index is the one its account has; an email nobody has
	// gets one just the same.
	stored, err := e.Store.AccountByID(ctx, accountID)
	if err != nil {
		t.Fatal(err)
	}
	if email, index, err := e.Identity.EmailIndex(" Ann@Example.com"); err != nil || email != "ann@example.com" || !bytes.Equal(index, stored.EmailIndex) {
		t.Fatalf("email index: %q %x %v; the account's is %x", email, index, err, stored.EmailIndex)
	}
	if _, index, err := e.Identity.EmailIndex("nobody@example.com"); err != nil || len(index) == 0 || bytes.Equal(index, stored.EmailIndex) {
		t.Fatalf("index of an email nobody has: %x %v", index, err)
	}
	_, _, err = e.Identity.EmailIndex("Ann <ann@example.com>")
	servicetest.WantCode(t, "the index of a display name", err, apperr.Invalid)
}

func TestSessions(t *testing.T) {
	t.Parallel()
	e := servicetest.New(t)
	ctx := e.Ctx()
	ann, bob := e.Person("ann"), e.Person("bob")
	e.Clock.Advance(time.Minute)
	long := identity.Client{Address: "198.51.100.7", UserAgent: strings.Repeat("u", 300)}
	second, err := e.Identity.Login(ctx, ann.Email, ann.Password, long)
	if err != nil {
		t.Fatal(err)
	}

	list, err := e.Identity.Sessions(ctx, ann.Principal)
	if err != nil || len(list) != 2 {
		t.Fatalf("sessions: %+v %v", list, err)
	}
	newest, first := list[0], list[1]
	if newest.Current || !first.Current || first.ID != ann.SessionID {
		t.Errorf("newest first, the current one marked: %+v", list)
	}
	if newest.Client.Address != long.Address || len(newest.Client.UserAgent) != 256 || first.Client != (identity.Client{Address: "192.0.2.1", UserAgent: "servicetest"}) {
		t.Errorf("clients kept: %+v and %+v", newest.Client, first.Client)
	}

	err = e.Identity.EndSession(ctx, bob.Principal, newest.ID)
	servicetest.WantCode(t, "end another account's session", err, apperr.NotFound)
	if _, err := e.Identity.Authenticate(ctx, second.Token); err != nil {
		t.Fatalf("a session someone else failed to end: %v", err)
	}
	if err := e.Identity.EndSession(ctx, ann.Principal, newest.ID); err != nil {
		t.Fatal(err)
	}
	_, err = e.Identity.Authenticate(ctx, second.Token)
	servicetest.WantCode(t, "an ended session", err, apperr.Unauthorized)

	if err := e.Identity.Logout(ctx, bob.Principal); err != nil {
		t.Fatal(err)
	}
	_, err = e.Identity.Authenticate(ctx, bob.Token)
	servicetest.WantCode(t, "a logged-out session", err, apperr.Unauthorized)

	third, err := e.Identity.Login(ctx, ann.Email, ann.Password, client)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Identity.LogoutEverywhere(ctx, ann.Principal); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{ann.Token, third.Token} {
		_, err := e.Identity.Authenticate(ctx, tok)
		servicetest.WantCode(t, "a session after logging out everywhere", err, apperr.Unauthorized)
	}
}

func TestSessionExpiryAndIdle(t *testing.T) {
	t.Parallel()
	e := servicetest.New(t, func(o *servicetest.Options) {
		o.Identity.IdleTimeout = time.Hour
		o.Identity.SessionTTL = 3 * time.Hour
	})
	ctx := e.Ctx()
	ann := e.Person("ann")

	// Used every 50 minutes it stays, until its absolute lifetime ends.
	for range 3 {
		e.Clock.Advance(50 * time.Minute)
		if _, err := e.Identity.Authenticate(ctx, ann.Token); err != nil {
			t.Fatalf("a session used within its idle timeout: %v", err)
		}
	}
	e.Clock.Advance(40 * time.Minute) // 3 h 10 min after login
	_, err := e.Identity.Authenticate(ctx, ann.Token)
	servicetest.WantCode(t, "a session past its lifetime", err, apperr.Unauthorized)

	idle, err := e.Identity.Login(ctx, ann.Email, ann.Password, client)
	if err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(time.Hour)
	_, err = e.Identity.Authenticate(ctx, idle.Token)
	servicetest.WantCode(t, "a session idle for the timeout", err, apperr.Unauthorized)

	// The sweep removes what is refused on use anyway.
	if _, err := e.Identity.Login(ctx, ann.Email, ann.Password, client); err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(2 * time.Hour)
	if n, err := e.Identity.SweepSessions(ctx); err != nil || n != 1 {
		t.Fatalf("sweep: %d %v, want the one idle session", n, err)
	}
}

// TestLoginThrottling: wrong passwords lock out the account only from the
// address they came from. The attack this stops: anyone who knew an email
// could lock its owner out for the whole window with a few wrong
// passwords, from anywhere.
func TestLoginThrottling(t *testing.T) {
	t.Parallel()
	e := servicetest.New(t, func(o *servicetest.Options) {
		o.Identity.AccountFailures = 3
		o.Identity.AddressFailures = 5
		o.Identity.UnknownAddressFailures = 6
		o.Identity.ThrottleWindow = 15 * time.Minute
	})
	ctx := e.Ctx()
	ann, bob, cat := e.Person("ann"), e.Person("bob"), e.Person("cat")
	from := func(addr string) identity.Client { return identity.Client{Address: addr} }

	// Per account and address: after three wrong passwords from one
	// address even the right one waits there, until the window ends;
	// from another address the right password gets in at once.
	for range 3 {
		_, err := e.Identity.Login(ctx, ann.Email, "wrong horse battery", from("198.51.100.1"))
		servicetest.WantCode(t, "a wrong password", err, apperr.Unauthorized)
	}
	_, err := e.Identity.Login(ctx, ann.Email, ann.Password, from("198.51.100.1"))
	servicetest.WantCode(t, "the right password from the guessing address", err, apperr.Throttled)
	if e, ok := apperr.As(err); !ok || e.RetryAfter <= 0 || e.RetryAfter > 15*time.Minute {
		t.Errorf("retry after %v", err)
	}
	if _, err := e.Identity.Login(ctx, ann.Email, ann.Password, from("198.51.100.2")); err != nil {
		t.Fatalf("the right password from another address, after wrong ones from the first: %v", err)
	}
	if _, err := e.Identity.Login(ctx, ann.Email, ann.Password, from("192.0.2.1")); err != nil {
		t.Fatalf("the right password from where ann always logs in: %v", err)
	}
	e.Clock.Advance(15 * time.Minute)
	if _, err := e.Identity.Login(ctx, ann.Email, ann.Password, from("198.51.100.1")); err != nil {
		t.Fatalf("after the window: %v", err)
	}

	// Per address: five failures on any accounts throttle that address
	// alone.
	for i := range 5 {
		_, err := e.Identity.Login(ctx, "nobody"+string(rune('a'+i))+"@example.com", "wrong horse battery", from("203.0.113.9"))
		servicetest.WantCode(t, "an unknown account", err, apperr.Unauthorized)
	}
	_, err = e.Identity.Login(ctx, bob.Email, bob.Password, from("203.0.113.9"))
	servicetest.WantCode(t, "a login from a throttled address", err, apperr.Throttled)
	if _, err := e.Identity.Login(ctx, bob.Email, bob.Password, from("203.0.113.10")); err != nil {
		t.Fatalf("another address: %v", err)
	}

	// Guesses spread over many addresses: past six failures from
	// addresses that never logged in to bob, a new address waits even
	// with the right password, and the addresses bob logged in from do
	// not.
	e.Clock.Advance(15 * time.Minute)
	for i := range 6 {
		_, err := e.Identity.Login(ctx, bob.Email, "wrong horse battery", from(fmt.Sprintf("198.18.0.%d", i+1)))
		servicetest.WantCode(t, "a wrong password from one of many addresses", err, apperr.Unauthorized)
	}
	_, err = e.Identity.Login(ctx, bob.Email, bob.Password, from("198.18.0.200"))
	servicetest.WantCode(t, "the right password from a new address, after many addresses guessed", err, apperr.Throttled)
	for _, known := range []string{"192.0.2.1", "203.0.113.10"} {
		if _, err := e.Identity.Login(ctx, bob.Email, bob.Password, from(known)); err != nil {
			t.Fatalf("the right password from %s, where bob logged in before: %v", known, err)
		}
	}

	// An IPv6 client counts as its /64: new addresses in it are the same
	// client; another /64 is another.
	for i := range 3 {
		_, err := e.Identity.Login(ctx, cat.Email, "wrong horse battery", from(fmt.Sprintf("2001:db8:1:2::%x", i+1)))
		servicetest.WantCode(t, "a wrong password over IPv6", err, apperr.Unauthorized)
	}
	_, err = e.Identity.Login(ctx, cat.Email, cat.Password, from("2001:db8:1:2:aaaa::1"))
	servicetest.WantCode(t, "another address of the guessing /64", err, apperr.Throttled)
	if _, err := e.Identity.Login(ctx, cat.Email, cat.Password, from("2001:db8:1:3::1")); err != nil {
		t.Fatalf("an address of another /64: %v", err)
	}
}

func TestNormalizeEmail(t *testing.T) {
	for _, c := range []struct {
		in, want string
		ok       bool
	}{
		{"ann@example.com", "ann@example.com", true},
		{"  Ann.Lee+cams@Example.COM ", "ann.lee+cams@example.com", true},
		{"a@b.co", "a@b.co", true},
		{"", "", false},
		{"ann", "", false},
		{"ann@", "", false},
		{"@example.com", "", false},
		{"ann@localhost", "", false},
		{"ann@.example.com", "", false},
		{"ann@example.com.", "", false},
		{"Ann <ann@example.com>", "", false},
		{"ann@example.com (Ann)", "", false},
		{"ann lee@example.com", "", false},
		{"ann@example.com\nbcc@example.com", "", false},
		{strings.Repeat("a", 243) + "@example.com", "", false}, // 255 characters
	} {
		got, err := identity.NormalizeEmail(c.in)
		if c.ok && (err != nil || got != c.want) {
			t.Errorf("NormalizeEmail(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
		if !c.ok && apperr.CodeOf(err) != apperr.Invalid {
			t.Errorf("NormalizeEmail(%q) = %q, %v; want invalid", c.in, got, err)
		}
	}
}

// TestParallelGuessesCountedBeforeVerifying: 40 wrong passwords for one
// account sent at once are each counted before the password is verified,
// so no more than the limit of them are verified (answered 401); the rest
// are throttled. Counted after verifying, all 40 were checked against a
// limit of 10. It holds for the limit per account and address (all 40
// from one address) and for the one per account from unknown addresses
// (each from its own).
func TestParallelGuessesCountedBeforeVerifying(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		what string
		tune func(*identity.Config)
		from func(i int) string
	}{
		{"from one address", func(c *identity.Config) { c.AccountFailures = 10 }, func(int) string { return "198.51.100.1" }},
		{"from many addresses", func(c *identity.Config) { c.UnknownAddressFailures = 10 }, func(i int) string { return fmt.Sprintf("198.51.100.%d", i+1) }},
	} {
		t.Run(c.what, func(t *testing.T) {
			t.Parallel()
			e := servicetest.New(t, func(o *servicetest.Options) {
				o.Identity.AccountFailures, o.Identity.AddressFailures, o.Identity.UnknownAddressFailures = 1000, 1000, 1000
				c.tune(&o.Identity)
			})
			ctx := e.Ctx()
			ann := e.Person("ann")
			var wg sync.WaitGroup
			var verified, throttled atomic.Int64
			start := make(chan struct{})
			for i := range 40 {
				wg.Go(func() {
					<-start
					_, err := e.Identity.Login(ctx, ann.Email, "wrong horse battery", identity.Client{Address: c.from(i)})
					switch apperr.CodeOf(err) {
					case apperr.Unauthorized:
						verified.Add(1)
					case apperr.Throttled:
						throttled.Add(1)
					default:
						t.Errorf("a wrong guess: %v", err)
					}
				})
			}
			close(start)
			wg.Wait()
			if verified.Load() > 10 || verified.Load()+throttled.Load() != 40 {
				t.Fatalf("40 parallel wrong guesses: %d verified, %d throttled; want at most 10 verified", verified.Load(), throttled.Load())
			}
		})
	}
}

// TestPasswordHashingBounded: with every hashing slot taken, a login and
// a signup wait HashWait and are answered 503 instead of starting another
// argon2 (19 MiB each); with a slot free they go through.
func TestPasswordHashingBounded(t *testing.T) {
	t.Parallel()
	e := servicetest.New(t, func(o *servicetest.Options) {
		o.Identity.HashSlots = 1
		o.Identity.HashWait = 50 * time.Millisecond
	})
	ctx := e.Ctx()
	ann := e.Person("ann")
	release, err := identity.HoldHashSlot(e.Identity, ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.Identity.Login(ctx, ann.Email, ann.Password, identity.Client{Address: "198.51.100.1"})
	servicetest.WantCode(t, "a login with every hashing slot taken", err, apperr.Unavailable)
	_, err = e.Identity.CreateAccount(ctx, "cat@example.com", "a long pass phrase")
	servicetest.WantCode(t, "a signup with every hashing slot taken", err, apperr.Unavailable)
	release()
	if _, err := e.Identity.Login(ctx, ann.Email, ann.Password, identity.Client{Address: "198.51.100.1"}); err != nil {
		t.Fatalf("a login with a slot free: %v", err)
	}
}

// TestSignupsPerAddress: one address makes at most SignupsPerAddress
// accounts per window, every attempt counted; another address is not
// affected, and after the window the first may sign up again.
func TestSignupsPerAddress(t *testing.T) {
	t.Parallel()
	e := servicetest.New(t, func(o *servicetest.Options) {
		o.Identity.SignupsPerAddress = 3
		o.Identity.SignupWindow = time.Hour
	})
	ctx := e.Ctx()
	from := func(addr string) identity.Client { return identity.Client{Address: addr} }
	for i := range 3 {
		if _, err := e.Identity.SignUp(ctx, fmt.Sprintf("user%d@example.com", i), "a long pass phrase", from("203.0.113.5")); err != nil {
			t.Fatalf("sign-up %d: %v", i, err)
		}
	}
	_, err := e.Identity.SignUp(ctx, "user9@example.com", "a long pass phrase", from("203.0.113.5"))
	servicetest.WantCode(t, "a fourth sign-up from one address", err, apperr.Throttled)
	if _, err := e.Identity.SignUp(ctx, "other@example.com", "a long pass phrase", from("203.0.113.6")); err != nil {
		t.Fatalf("another address: %v", err)
	}
	e.Clock.Advance(time.Hour)
	if _, err := e.Identity.SignUp(ctx, "user9@example.com", "a long pass phrase", from("203.0.113.5")); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

// TestParallelGuessesFromOneAddress: the same for one address guessing at
// many accounts at once: no more than the address's limit are verified;
// a right password from that address afterwards waits like the rest, and
// right passwords do not use up an address's allowance.
func TestParallelGuessesFromOneAddress(t *testing.T) {
	t.Parallel()
	e := servicetest.New(t, func(o *servicetest.Options) {
		o.Identity.AccountFailures = 1000
		o.Identity.UnknownAddressFailures = 1000
		o.Identity.AddressFailures = 5
	})
	ctx := e.Ctx()
	ann := e.Person("ann")
	from := identity.Client{Address: "203.0.113.77"}
	for range 20 { // right passwords are taken back
		if _, err := e.Identity.Login(ctx, ann.Email, ann.Password, from); err != nil {
			t.Fatalf("a right password: %v", err)
		}
	}
	var wg sync.WaitGroup
	var verified atomic.Int64
	start := make(chan struct{})
	for i := range 40 {
		wg.Go(func() {
			<-start
			_, err := e.Identity.Login(ctx, fmt.Sprintf("nobody%d@example.com", i), "wrong horse battery", from)
			if apperr.CodeOf(err) == apperr.Unauthorized {
				verified.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	if verified.Load() > 5 {
		t.Fatalf("40 parallel guesses from one address: %d verified, want at most 5", verified.Load())
	}
	_, err := e.Identity.Login(ctx, ann.Email, ann.Password, from)
	servicetest.WantCode(t, "a right password from the throttled address", err, apperr.Throttled)
}
