package audit

import (
	"context"
	"strings"
	"unicode/utf8"
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
