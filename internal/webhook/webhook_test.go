package webhook

import (
	"net"
	"testing"

	"github.com/camvault/camvault/internal/egress"
)

// TestSignMatchesTheStandardWebhooksVector: the signature of the
// specification's published example, which every receiver library checks
// against.
func TestSignMatchesTheStandardWebhooksVector(t *testing.T) {
	got, err := Sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Fatalf("signature %q, want %q", got, want)
	}
	if _, err := Sign("whsec_not base64!", "msg", 1, nil); err == nil {
		t.Fatal("a secret that is not base64 signed something")
	}
}

// TestURLsChecked: the URLs refused whatever they resolve to, and those
// allowed with private targets.
func TestURLsChecked(t *testing.T) {
	ctx := t.Context()
	for _, u := range []string{"http://93.184.215.14/", "https://127.0.0.1/", "https://[::1]/", "https://localhost/", "https://a.localhost/",
		"https://10.0.0.1/", "https://u:p@93.184.215.14/", "https://93.184.215.14/#x", "mailto:a@b", "/relative", "https://"} {
		if _, err := egress.CheckURL(ctx, u, false, net.DefaultResolver); err == nil {
			t.Errorf("%q accepted", u)
		}
	}
	for _, u := range []string{"https://93.184.215.14/hook?token=x", "https://[2606:4700::1111]:8443/h"} {
		if _, err := egress.CheckURL(ctx, u, false, net.DefaultResolver); err != nil {
			t.Errorf("%q refused: %v", u, err)
		}
	}
	for _, u := range []string{"http://192.168.1.20:8123/api/webhook/x", "https://localhost/"} {
		if _, err := egress.CheckURL(ctx, u, true, net.DefaultResolver); err != nil {
			t.Errorf("%q refused with private targets allowed: %v", u, err)
		}
	}
}
