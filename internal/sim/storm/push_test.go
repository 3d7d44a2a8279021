package storm

import (
	"encoding/json"
	"testing"

	webpush "github.com/SherClockHolmes/webpush-go"
)

// The storm's browsers must count as foreign any push that is not their
// household's: one encrypted to another household's browser, or naming
// another home, or not signed with the server's VAPID key.
func TestPushesCountOtherHouseholds(t *testing.T) {
	accts := []*account{{index: 0, home: "homeA"}, {index: 1, home: "homeB"}}
	p, err := newPushes(accts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.close)
	priv, pub, err := webpush.GenerateVAPIDKeys()
	if err != nil {
		t.Fatal(err)
	}
	p.vapid = pub
	otherPriv, otherPub, _ := webpush.GenerateVAPIDKeys()
	send := func(to, keysOf int, home, vapidPriv, vapidPub string) {
		t.Helper()
		p256dh, auth := p.browsers[keysOf].Keys()
		msg, _ := json.Marshal(map[string]string{"event_id": "e1", "home_id": home})
		res, err := webpush.SendNotification(msg, &webpush.Subscription{Endpoint: p.base + "/push/" + string(rune('0'+to)),
			Keys: webpush.Keys{P256dh: p256dh, Auth: auth}}, &webpush.Options{Subscriber: "https://camvault.invalid/", TTL: 60,
			VAPIDPublicKey: vapidPub, VAPIDPrivateKey: vapidPriv})
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	send(0, 0, "homeA", priv, pub)
	if p.received.Load() != 1 || p.foreign.Load() != 0 {
		t.Fatalf("its own push: received %d, foreign %d", p.received.Load(), p.foreign.Load())
	}
	for _, c := range []struct {
		name         string
		to, keysOf   int
		home         string
		priv, public string
	}{
		{"encrypted to another household's browser", 0, 1, "homeA", priv, pub},
		{"naming another home", 0, 0, "homeB", priv, pub},
		{"not signed by the server", 1, 1, "homeB", otherPriv, otherPub},
	} {
		before := p.foreign.Load()
		send(c.to, c.keysOf, c.home, c.priv, c.public)
		if p.foreign.Load() != before+1 {
			t.Errorf("%s: not counted as foreign", c.name)
		}
	}
	if p.received.Load() != 1 {
		t.Errorf("received %d, want only the household's own", p.received.Load())
	}
}
