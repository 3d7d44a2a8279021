package push_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/apperr"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/push"
	"github.com/camvault/camvault/internal/servicetest"
)

// newService runs the push service on e's parts until the test ends.
func newService(t *testing.T, e *servicetest.Env) *push.Service {
	t.Helper()
	svc := push.New(push.Config{AllowPrivateTargets: true, Poll: 20 * time.Millisecond,
		Retries: []time.Duration{100 * time.Millisecond, 100 * time.Millisecond}}, e.Store, e.Events, e.Homes, e.Keys, e.Log)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { svc.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	return svc
}

func subscribe(t *testing.T, svc *push.Service, who servicetest.Person, b *browser, f push.Filter) string {
	t.Helper()
	in := b.subscription()
	in.Filter = f
	id, err := svc.Create(t.Context(), who.Principal, in)
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	return id
}

// TestPushesOnlyWhatEachPersonMaySee: each member's browsers are told of a
// new event, decrypted as a browser would, with the camera's name and
// nothing more; a kind filter, quiet hours and a removal from the home
// stop them; another household never hears of it; a push service that
// fails is retried, and one that says the subscription is gone ends it.
func TestPushesOnlyWhatEachPersonMaySee(t *testing.T) {
	e := servicetest.New(t)
	svc := newService(t, e)
	ctx := t.Context()
	vapid, err := svc.VAPID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ann, bob, zed := e.Person("ann"), e.Person("bob"), e.Person("zed")
	home, zedHome := e.Home(ann, "Home"), e.Home(zed, "Zed's")
	cam, zedCam := e.Camera(ann, home), e.Camera(zed, zedHome)
	if _, err := e.Homes.RenameDevice(ctx, ann.Principal, cam.DeviceID, "Porch"); err != nil {
		t.Fatal(err)
	}
	e.Share(ann, home, bob, domain.RoleViewer)

	annPhone, bobAll, bobPeople, annQuiet, zedPhone := newBrowser(t, vapid.Public), newBrowser(t, vapid.Public),
		newBrowser(t, vapid.Public), newBrowser(t, vapid.Public), newBrowser(t, vapid.Public)
	subscribe(t, svc, ann, annPhone, push.Filter{Devices: []string{cam.DeviceID}})
	subscribe(t, svc, bob, bobAll, push.Filter{})
	subscribe(t, svc, bob, bobPeople, push.Filter{Kinds: []domain.EventKind{"person"}})
	now := time.Now().UTC()
	subscribe(t, svc, ann, annQuiet, push.Filter{Quiet: &push.Quiet{From: now.Add(-time.Hour).Format("15:04"), To: now.Add(time.Hour).Format("15:04")}})
	zedSub := subscribe(t, svc, zed, zedPhone, push.Filter{})

	// A push service that fails at first: retried.
	annPhone.answer = []int{503}
	ev := e.Upload(cam, "ev-1", e.Clock.Now().Add(-time.Second), 0)
	got := annPhone.payloads(1)[0]
	if got.EventID != ev.ID || got.HomeID != home || got.Camera != "Porch" || got.Kind != "motion" ||
		got.URL != "/events/"+ev.ID || got.ThumbnailURL != "/api/v1/events/"+ev.ID+"/thumbnail" {
		t.Fatalf("ann's notification: %+v", got)
	}
	if p := bobAll.payloads(1)[0]; p.EventID != ev.ID {
		t.Fatalf("bob's notification: %+v", p)
	}

	// Removed from the home: bob hears of nothing more.
	if err := e.Homes.RemoveMember(ctx, ann.Principal, home, bob.AccountID); err != nil {
		t.Fatal(err)
	}
	ev2 := e.Upload(cam, "ev-2", e.Clock.Now(), 0)
	ev3 := e.Upload(cam, "ev-3", e.Clock.Now(), 0)
	if got := annPhone.payloads(3); got[1].EventID != ev2.ID && got[2].EventID != ev2.ID || got[2].EventID != ev3.ID && got[1].EventID != ev3.ID {
		t.Fatalf("ann's notifications: %+v", got)
	}

	// Zed hears of his own home only; his push service then says his
	// subscription is gone, which ends it.
	zev := e.Upload(zedCam, "ev-z", e.Clock.Now(), 0)
	if got := zedPhone.payloads(1); len(got) != 1 || got[0].EventID != zev.ID {
		t.Fatalf("zed's notifications: %+v", got)
	}
	zedPhone.mu.Lock()
	zedPhone.answer = []int{410}
	zedPhone.mu.Unlock()
	e.Upload(zedCam, "ev-z2", e.Clock.Now(), 0)
	for deadline := time.Now().Add(10 * time.Second); ; {
		list, err := svc.List(ctx, zed.Principal)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("zed's subscription %s outlived its push service's 410", zedSub)
		}
		time.Sleep(10 * time.Millisecond)
	}

	if n := bobAll.count(); n != 1 {
		t.Errorf("bob, removed from the home, was told of %d events, want the 1 before", n)
	}
	if n := bobPeople.count(); n != 0 {
		t.Errorf("bob's browser for people only was told of %d motion events", n)
	}
	if n := annQuiet.count(); n != 0 {
		t.Errorf("a browser in its quiet hours was told of %d events", n)
	}
	for _, b := range []*browser{annPhone, bobAll} {
		for _, p := range b.payloads(0) {
			if p.HomeID != home {
				t.Errorf("a notification of another home: %+v", p)
			}
		}
	}
}

// TestSubscriptionsAreChecked: bad input is refused and changes nothing;
// a subscription is the person's own, and ends with their login session.
func TestSubscriptionsAreChecked(t *testing.T) {
	e := servicetest.New(t)
	svc := push.New(push.Config{}, e.Store, e.Events, e.Homes, e.Keys, e.Log) // private targets refused
	ctx := t.Context()
	vapid, err := svc.VAPID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	again, err := push.New(push.Config{}, e.Store, e.Events, e.Homes, e.Keys, e.Log).VAPID(ctx)
	if err != nil || again != vapid {
		t.Fatalf("a second node's VAPID keys differ: %v", err)
	}
	ann, zed := e.Person("ann"), e.Person("zed")
	zedCam := e.Camera(zed, e.Home(zed, "Zed's"))
	b := newBrowser(t, vapid.Public)
	good := b.subscription()
	good.Endpoint = "https://8.8.8.8/send/abc" // a public address: nothing to resolve
	for name, change := range map[string]func(*push.Subscribe){
		"a private endpoint":     func(s *push.Subscribe) { s.Endpoint = b.srv.URL + "/x" },
		"plain http":             func(s *push.Subscribe) { s.Endpoint = "http://8.8.8.8/x" },
		"a key that is no point": func(s *push.Subscribe) { s.Keys.P256dh = "AAAA" },
		"a short auth secret":    func(s *push.Subscribe) { s.Keys.Auth = "AAAA" },
		"another's camera":       func(s *push.Subscribe) { s.Devices = []string{zedCam.DeviceID} },
		"an unknown kind":        func(s *push.Subscribe) { s.Kinds = []domain.EventKind{"ghost"} },
		"quiet hours that are no times": func(s *push.Subscribe) {
			s.Quiet = &push.Quiet{From: "25:00", To: "07:00"}
		},
		"an unknown time zone": func(s *push.Subscribe) { s.Quiet = &push.Quiet{From: "22:00", To: "07:00", TZ: "Mars/Olympus"} },
	} {
		in := good
		change(&in)
		if _, err := svc.Create(ctx, ann.Principal, in); apperr.CodeOf(err) != apperr.Invalid {
			t.Errorf("%s: %v, want invalid", name, err)
		}
	}
	if list, _ := svc.List(ctx, ann.Principal); len(list) != 0 {
		t.Fatalf("refused subscriptions were stored: %+v", list)
	}
	if _, err := svc.Create(ctx, zedCam.Principal, good); apperr.CodeOf(err) != apperr.Forbidden {
		t.Errorf("a camera subscribing: %v", err)
	}
	id, err := svc.Create(ctx, ann.Principal, good)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Delete(ctx, zed.Principal, id); apperr.CodeOf(err) != apperr.NotFound {
		t.Errorf("zed deleting ann's subscription: %v", err)
	}
	if list, _ := svc.List(ctx, ann.Principal); len(list) != 1 || !list[0].Current {
		t.Fatalf("ann's subscriptions: %+v", list)
	}
	if err := e.Identity.Logout(ctx, ann.Principal); err != nil {
		t.Fatal(err)
	}
	if list, _ := svc.List(ctx, ann.Principal); len(list) != 0 {
		t.Fatalf("ann's subscriptions after logging out: %+v", list)
	}
}
