package audit

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/camvault/camvault/internal/authz"
	"github.com/camvault/camvault/internal/domain"
)

// Bounds of what an entry says beyond its action.
const (
	maxDetail = 80
	maxClient = 40
)

type userAgentKey struct{}

// WithUserAgent returns ctx carrying the User-Agent of the request it
// serves: entries recorded under it say which kind of device (Describe)
// the action came from. It is described only when an entry is recorded.
func WithUserAgent(ctx context.Context, userAgent string) context.Context {
	return context.WithValue(ctx, userAgentKey{}, clip(userAgent, 512))
}

// ClientFrom describes the User-Agent WithUserAgent put in ctx, or "".
func ClientFrom(ctx context.Context) string {
	ua, _ := ctx.Value(userAgentKey{}).(string)
	return Describe(ua)
}

// Describe names the kind of device a User-Agent says it is, coarsely
// enough to say nothing about the person ("Firefox on Android",
// "Chrome on macOS", "curl"): the household reads it to tell their own
// phone from someone else's laptop. Versions are left out.
func Describe(userAgent string) string {
	ua := userAgent
	if ua == "" {
		return ""
	}
	browser := ""
	for _, b := range []struct{ token, name string }{
		{"Edg/", "Edge"}, {"OPR/", "Opera"}, {"SamsungBrowser/", "Samsung Internet"}, {"Firefox/", "Firefox"},
		{"CriOS/", "Chrome"}, {"FxiOS/", "Firefox"}, {"Chrome/", "Chrome"}, {"Chromium/", "Chromium"}, {"Safari/", "Safari"},
	} {
		if strings.Contains(ua, b.token) {
			browser = b.name
			break
		}
	}
	system := ""
	for _, o := range []struct{ token, name string }{
		{"Android", "Android"}, {"iPhone", "iOS"}, {"iPad", "iPadOS"}, {"CrOS", "ChromeOS"},
		{"Windows", "Windows"}, {"Mac OS X", "macOS"}, {"Macintosh", "macOS"}, {"Linux", "Linux"},
	} {
		if strings.Contains(ua, o.token) {
			system = o.name
			break
		}
	}
	switch {
	case browser != "" && system != "":
		return browser + " on " + system
	case browser != "":
		return browser
	}
	// Not a browser: its first product token, without the version.
	product, _, _ := strings.Cut(ua, "/")
	product, _, _ = strings.Cut(product, " ")
	product = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return -1
	}, product)
	if product == "" {
		return "an unnamed client"
	}
	if system != "" {
		return clip(product, 24) + " on " + system
	}
	return clip(product, 24)
}

// clip cuts s to at most n bytes, on a character boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// Recorder appends to a home's chain; *Log is one.
type Recorder interface {
	Record(ctx context.Context, homeID string, e Entry) error
}

// RecordChange records on a home's chain a change p, a person, made to it
// (action, and detail in a few words), with result ok. A nil r records
// nothing.
func RecordChange(ctx context.Context, r Recorder, homeID string, p authz.Principal, action, detail string) error {
	if r == nil {
		return nil
	}
	if err := r.Record(ctx, homeID, Entry{ActorKind: domain.PrincipalPerson, ActorID: p.AccountID, Action: action,
		Detail: detail, Result: ResultOK}); err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	return nil
}

// LoginNewDevice is a person's login from a device their account had not
// logged in from, recorded on each of their homes.
const LoginNewDevice = "account.login"

// Memberships lists an account's homes; the store is one.
type Memberships interface {
	Memberships(ctx context.Context, accountID string) ([]domain.Membership, error)
}

// RecordLogin records a login of accountID from a new device on every home
// the account is a member of.
func RecordLogin(ctx context.Context, r Recorder, st Memberships, accountID string) error {
	ms, err := st.Memberships(ctx, accountID)
	if err != nil {
		return fmt.Errorf("list the account's homes: %w", err)
	}
	for _, m := range ms {
		if err := r.Record(ctx, m.Home.ID, Entry{ActorKind: domain.PrincipalPerson, ActorID: accountID, Action: LoginNewDevice,
			Detail: "new device", Result: ResultOK}); err != nil {
			return fmt.Errorf("audit %s: %w", LoginNewDevice, err)
		}
	}
	return nil
}
