package push_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/push"
	"github.com/camvault/camvault/internal/servicetest"
)

// BenchmarkEventToPush measures an event's way to a subscribed browser:
// from the start of the camera's upload to the push decrypted by the
// browser (an in-process push service on loopback), with the service told
// of the event as the server tells it. Goal: p99 under 2 s.
func BenchmarkEventToPush(b *testing.B) {
	e := servicetest.New(b)
	svc := push.New(push.Config{AllowPrivateTargets: true}, e.Store, e.Events, e.Homes, e.Keys, e.Log)
	e.Events.WithAnnouncer(svc)
	ctx, cancel := context.WithCancel(b.Context())
	done := make(chan struct{})
	go func() { defer close(done); svc.Run(ctx) }()
	defer func() { cancel(); <-done }()
	vapid, err := svc.VAPID(ctx)
	if err != nil {
		b.Fatal(err)
	}
	ann := e.Person("ann")
	cam := e.Camera(ann, e.Home(ann, "Home"))
	br := newBrowser(b, vapid.Public)
	in := br.subscription()
	if _, err := svc.Create(ctx, ann.Principal, in); err != nil {
		b.Fatal(err)
	}
	var lat []float64
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		start := time.Now()
		e.Upload(cam, fmt.Sprintf("bench-%d", i), e.Clock.Now(), 0)
		for br.count() < i+1 {
			time.Sleep(200 * time.Microsecond)
		}
		lat = append(lat, float64(time.Since(start).Microseconds())/1000)
	}
	b.StopTimer()
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(lat[len(lat)/2], "p50-ms")
		b.ReportMetric(lat[len(lat)*99/100], "p99-ms")
		b.ReportMetric(lat[len(lat)-1], "max-ms")
	}
}
