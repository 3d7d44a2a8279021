package camera

import (
	"errors"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/deviceclient"
)

// maxRand and zeroRand return, for n, always the same fraction of it.
func maxRand(n int64) int64  { return n - 1 }
func zeroRand(n int64) int64 { return 0 }

// A camera retries with the protocol's defaults: briskly while its
// failures are young, longer once they last, and never before the
// server's Retry-After, for connections and uploads alike.
func TestCameraRetriesFollowSchedule(t *testing.T) {
	s := newFakeServer(t)
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	f, _ := testFleet(t, s, func(c *Config) {
		c.Backoff = deviceclient.Backoff{}
		c.Now = func() time.Time { return now }
	})
	cam, err := f.Add("porch", Credentials{DeviceID: testDevice, Token: fakeToken})
	if err != nil {
		t.Fatal(err)
	}
	start := now
	for range 8 { // refused for 27 s, with the highest draws
		cam.scheduleReconnect(0, errors.New("connection refused"))
		due, _, _ := cam.ConnectDue()
		if due.Sub(now) > deviceclient.DefaultBackoffBrisk {
			t.Fatalf("%v into the outage the camera waits %v, past the brisk %v", now.Sub(start), due.Sub(now), deviceclient.DefaultBackoffBrisk)
		}
		now = due
	}
	now = start.Add(20 * time.Minute)
	cam.scheduleReconnect(0, errors.New("connection refused"))
	if due, _, _ := cam.ConnectDue(); due.Sub(now) != 2*time.Minute {
		t.Errorf("20 min into the outage the camera waits %v, want 2m (a tenth)", due.Sub(now))
	}
	cam.scheduleReconnect(7*time.Second, errors.New("503"))
	if due, _, _ := cam.ConnectDue(); due.Sub(now) != 2*time.Minute {
		t.Errorf("a Retry-After shorter than the backoff made the camera wait %v", due.Sub(now))
	}

	ev := queuedEvent{seq: 1}
	cam.settle(ev, uploadResult{outcome: outcomeRetry, retryAfter: 7 * time.Second, err: errors.New("503")})
	cam.mu.Lock()
	at := cam.retryAt
	cam.mu.Unlock()
	if want := now.Add(8*time.Second - 1); !at.Equal(want) {
		t.Errorf("after an upload's 503 with Retry-After 7 the camera retries in %v, want %v", at.Sub(now), want.Sub(now))
	}
	now = now.Add(8 * time.Second)
	cam.settle(ev, uploadResult{outcome: outcomeRetry, err: errors.New("reset")})
	cam.mu.Lock()
	at = cam.retryAt
	cam.mu.Unlock()
	if at.Sub(now) != 2*time.Second {
		t.Errorf("the second upload failure, 8 s into them, waits %v, want 2s", at.Sub(now))
	}
}
