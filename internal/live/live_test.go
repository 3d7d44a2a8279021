package live_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/apperr"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/live"
	"github.com/camvault/camvault/internal/media"
	"github.com/camvault/camvault/internal/media/h264"
	st "github.com/camvault/camvault/internal/servicetest"
	"github.com/camvault/camvault/internal/sim/camera"
	"github.com/camvault/camvault/internal/sim/simtest"
)

var wmKey = []byte("live-test-watermark-key-00000001")

// fast tunes the services for tests: short grace and renewals.
func fast(o *st.Options) {
	o.Gateway.LiveGrace = 300 * time.Millisecond
	o.Live.Renew = 100 * time.Millisecond
}

// streamer runs a simulated camera with cam's credentials (it streams
// when asked) and returns it once it is connected.
func streamer(t *testing.T, url string, cam st.Camera) *camera.Camera {
	t.Helper()
	return simtest.StartCamera(t, url, cam.DeviceID, cam.Token, wmKey)
}

func next(t *testing.T, s *live.Session) live.Frame {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), st.Patience)
	defer cancel()
	f, err := s.Next(ctx)
	if err != nil {
		t.Fatalf("next frame: %v", err)
	}
	return f
}

// checkFrame verifies that f is cam's: its label and its watermark.
func checkFrame(t *testing.T, f live.Frame, cam st.Camera) {
	t.Helper()
	if f.Label.Home != cam.HomeID || f.Label.Device != cam.DeviceID || f.Label.Epoch == 0 {
		t.Fatalf("frame label %+v, want camera %s of home %s", f.Label, cam.DeviceID, cam.HomeID)
	}
	nalus, err := h264.SplitAnnexB(f.AU)
	if err != nil {
		t.Fatal(err)
	}
	w, err := camera.VerifyVideoWatermark(wmKey, nalus)
	if err != nil || w.DeviceID != cam.DeviceID || w.HomeID != cam.HomeID {
		t.Fatalf("watermark %+v, %v; want camera %s of home %s", w, err, cam.DeviceID, cam.HomeID)
	}
	if f.Keyframe != h264.IsKeyframe(nalus) {
		t.Fatalf("frame %d: keyframe flag %v, access unit says %v", f.Seq, f.Keyframe, h264.IsKeyframe(nalus))
	}
}

// endsWith waits for the session to end and checks why.
func endsWith(t *testing.T, s *live.Session, want error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), st.Patience)
	defer cancel()
	for {
		_, err := s.Next(ctx)
		if err == nil {
			continue
		}
		if !errors.Is(err, want) {
			t.Fatalf("session ended with %v, want %v", err, want)
		}
		return
	}
}

func TestWatchStreamsTheCamerasFrames(t *testing.T) {
	e := st.New(t, fast)
	owner := e.Person("owner")
	home := e.Home(owner, "home")
	cam := e.Camera(owner, home)
	sim := streamer(t, e.DeviceURL(), cam)
	if sim.Streaming() != 0 {
		t.Fatal("the camera streams before anyone watches")
	}

	s, err := e.Live.Watch(e.Ctx(), owner.Principal, cam.DeviceID)
	if err != nil {
		t.Fatal(err)
	}
	first := next(t, s)
	if !first.Keyframe {
		t.Fatalf("first frame %d is not a keyframe", first.Seq)
	}
	nalus, _ := h264.SplitAnnexB(first.AU)
	if sps, pps := h264.ParamSets(nalus); sps == nil || pps == nil {
		t.Fatal("the first frame carries no SPS and PPS")
	}
	checkFrame(t, first, cam)
	last := first.Seq
	for range 20 {
		f := next(t, s)
		checkFrame(t, f, cam)
		if f.Seq <= last {
			t.Fatalf("frame %d after %d", f.Seq, last)
		}
		last = f.Seq
	}
	w, err := e.Live.Watchers(e.Ctx(), owner.Principal, cam.DeviceID)
	if err != nil || len(w) != 1 || w[0].AccountID != owner.AccountID {
		t.Fatalf("watchers %+v, %v", w, err)
	}
	stranger := e.Person("stranger")
	if _, err := e.Live.Watchers(e.Ctx(), stranger.Principal, cam.DeviceID); apperr.CodeOf(err) != apperr.NotFound {
		t.Fatalf("a stranger's watchers: %v, want not found", err)
	}
	if _, err := e.Live.Watch(e.Ctx(), stranger.Principal, cam.DeviceID); apperr.CodeOf(err) != apperr.NotFound {
		t.Fatalf("a stranger watches: %v, want not found", err)
	}

	// A second viewer starts at once on the current group of pictures,
	// from the hub's memory.
	s2, err := e.Live.Watch(e.Ctx(), owner.Principal, cam.DeviceID)
	if err != nil {
		t.Fatal(err)
	}
	if f := next(t, s2); !f.Keyframe {
		t.Fatal("second viewer's first frame is not a keyframe")
	}
	s2.Close()

	// On demand: the last viewer leaving stops the camera after the grace.
	s.Close()
	if _, err := s.Next(e.Ctx()); !errors.Is(err, live.ErrEnded) {
		t.Fatalf("next after close: %v", err)
	}
	simtest.WaitFor(t, "the camera stops streaming after the grace period", func() bool { return sim.Streaming() == 0 })
	// Both looks and their ends are on record.
	entries, err := e.Audit.List(e.Ctx(), home, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var views, ends int
	for _, en := range entries {
		switch en.Action {
		case live.AuditView:
			views++
			if en.ActorID != owner.AccountID || en.DeviceID != cam.DeviceID {
				t.Fatalf("live.view entry %+v", en)
			}
		case live.AuditEnd:
			ends++
		}
	}
	if views != 2 || ends != 2 {
		t.Fatalf("%d live.view and %d live.end entries, want 2 and 2", views, ends)
	}
}

func TestWatchOfflineCamera(t *testing.T) {
	e := st.New(t, fast)
	owner := e.Person("owner")
	cam := e.Camera(owner, e.Home(owner, "home"))
	_, err := e.Live.Watch(e.Ctx(), owner.Principal, cam.DeviceID)
	if apperr.CodeOf(err) != apperr.CameraOffline || apperr.HTTPStatus(apperr.CodeOf(err)) != 409 {
		t.Fatalf("watching an offline camera: %v, want camera_offline (409)", err)
	}
}

func TestLimits(t *testing.T) {
	e := st.New(t, fast, func(o *st.Options) { o.Live.MaxViewersPerCamera = 2; o.Live.MaxSessionsPerHome = 3 })
	owner := e.Person("owner")
	home := e.Home(owner, "home")
	a, b := e.Camera(owner, home), e.Camera(owner, home)
	streamer(t, e.DeviceURL(), a)
	streamer(t, e.DeviceURL(), b)
	watch := func(cam st.Camera) (*live.Session, error) {
		s, err := e.Live.Watch(e.Ctx(), owner.Principal, cam.DeviceID)
		if err == nil {
			t.Cleanup(s.Close)
		}
		return s, err
	}
	for range 2 {
		if _, err := watch(a); err != nil {
			t.Fatal(err)
		}
	}
	_, err := watch(a)
	if apperr.CodeOf(err) != apperr.TooMany || apperr.HTTPStatus(apperr.CodeOf(err)) != 429 {
		t.Fatalf("third viewer of a camera: %v, want too_many (429)", err)
	}
	if _, err := watch(b); err != nil {
		t.Fatal(err)
	}
	if _, err := watch(b); apperr.CodeOf(err) != apperr.TooMany {
		t.Fatalf("fourth session of the home: %v, want too_many", err)
	}
}

func TestRevocationEndsTheSession(t *testing.T) {
	e := st.New(t, fast)
	owner := e.Person("owner")
	home := e.Home(owner, "home")
	cam := e.Camera(owner, home)
	other := e.Camera(owner, home)
	streamer(t, e.DeviceURL(), cam)

	watching := func(p st.Person) *live.Session {
		t.Helper()
		s, err := e.Live.Watch(e.Ctx(), p.Principal, cam.DeviceID)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		next(t, s)
		return s
	}
	t.Run("removed member", func(t *testing.T) {
		v := e.Person("viewer")
		e.Share(owner, home, v, domain.RoleViewer)
		s := watching(v)
		if err := e.Homes.RemoveMember(e.Ctx(), owner.Principal, home, v.AccountID); err != nil {
			t.Fatal(err)
		}
		endsWith(t, s, live.ErrRevoked)
	})
	t.Run("limited to other cameras", func(t *testing.T) {
		v := e.Person("viewer")
		e.Share(owner, home, v, domain.RoleViewer)
		s := watching(v)
		m, err := e.Store.Member(e.Ctx(), home, v.AccountID)
		if err != nil {
			t.Fatal(err)
		}
		m.Member.Devices = []string{other.DeviceID}
		if err := e.Store.PutMember(e.Ctx(), m.Member); err != nil {
			t.Fatal(err)
		}
		endsWith(t, s, live.ErrRevoked)
	})
	t.Run("logout", func(t *testing.T) {
		v := e.Person("viewer")
		e.Share(owner, home, v, domain.RoleViewer)
		s := watching(v)
		if err := e.Identity.Logout(e.Ctx(), v.Principal); err != nil {
			t.Fatal(err)
		}
		endsWith(t, s, live.ErrRevoked)
	})
	t.Run("logout everywhere", func(t *testing.T) {
		v := e.Person("viewer")
		e.Share(owner, home, v, domain.RoleViewer)
		s := watching(v)
		if err := e.Identity.LogoutEverywhere(e.Ctx(), v.Principal); err != nil {
			t.Fatal(err)
		}
		endsWith(t, s, live.ErrRevoked)
	})
	t.Run("unpair", func(t *testing.T) {
		s := watching(owner)
		if err := e.Homes.DeleteDevice(e.Ctx(), owner.Principal, cam.DeviceID); err != nil {
			t.Fatal(err)
		}
		endsWith(t, s, live.ErrRevoked)
	})
}

func TestForeignFrameIsBlockedAtTheLastStep(t *testing.T) {
	e := st.New(t, fast)
	alice, bob := e.Person("alice"), e.Person("bob")
	camA := e.Camera(alice, e.Home(alice, "a"))
	camB := e.Camera(bob, e.Home(bob, "b"))
	streamer(t, e.DeviceURL(), camA)
	streamer(t, e.DeviceURL(), camB)
	sa, err := e.Live.Watch(e.Ctx(), alice.Principal, camA.DeviceID)
	if err != nil {
		t.Fatal(err)
	}
	defer sa.Close()
	sb, err := e.Live.Watch(e.Ctx(), bob.Principal, camB.DeviceID)
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	next(t, sa)
	foreign := next(t, sb) // Bob's frame, as his camera's node labelled it

	// The hub of Alice's camera hands her Bob's frame.
	if !e.Live.Deliver(camA.DeviceID, foreign) {
		t.Fatal("no hub for Alice's camera")
	}
	ctx, cancel := context.WithTimeout(e.Ctx(), st.Patience)
	defer cancel()
	for {
		f, err := sa.Next(ctx)
		if err == nil {
			if f.Label.Home != camA.HomeID {
				t.Fatalf("Alice received a frame of home %s", f.Label.Home)
			}
			continue
		}
		if !errors.Is(err, media.ErrBlocked) || !errors.Is(err, live.ErrEnded) {
			t.Fatalf("session ended with %v, want blocked", err)
		}
		break
	}
	if e.Blocked.Load() != 1 {
		t.Fatalf("%d blocked, want 1 (toward the breaker)", e.Blocked.Load())
	}
	ins, err := e.Store.ListIncidents(e.Ctx(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(ins) != 1 || ins[0].Kind != domain.IncidentEgressBlocked || ins[0].RequesterID != alice.AccountID ||
		ins[0].LabelHome != camB.HomeID || ins[0].LabelDevice != camB.DeviceID || ins[0].LabelKind != string(media.KindLive) {
		t.Fatalf("incidents %+v", ins)
	}
	// Bob's own session is untouched.
	checkFrame(t, next(t, sb), camB)
}

func TestSlowViewerDropsToKeyframe(t *testing.T) {
	e := st.New(t, fast, func(o *st.Options) { o.Live.QueueFrames = 40 })
	owner := e.Person("owner")
	cam := e.Camera(owner, e.Home(owner, "home"))
	streamer(t, e.DeviceURL(), cam)
	slow, err := e.Live.Watch(e.Ctx(), owner.Principal, cam.DeviceID)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	quick, err := e.Live.Watch(e.Ctx(), owner.Principal, cam.DeviceID)
	if err != nil {
		t.Fatal(err)
	}
	defer quick.Close()
	// The quick viewer reads 60 consecutive frames (two groups of
	// pictures past the slow one's 40-frame queue) while the slow one
	// reads nothing.
	f := next(t, quick)
	for !f.Keyframe {
		f = next(t, quick)
	}
	prev := f.Seq
	for range 60 {
		f := next(t, quick)
		if f.Seq != prev+1 {
			t.Fatalf("the quick viewer skipped from %d to %d", prev, f.Seq)
		}
		prev = f.Seq
	}
	if slow.Dropped() == 0 {
		t.Fatal("the slow viewer dropped nothing")
	}
	if f := next(t, slow); !f.Keyframe {
		t.Fatalf("the slow viewer resumed on frame %d, not a keyframe", f.Seq)
	}
}

func TestFastStartCacheMismatchIsAMiss(t *testing.T) {
	e := st.New(t, fast, func(o *st.Options) { o.CacheFaults.Swap = 1 })
	owner := e.Person("owner")
	home := e.Home(owner, "home")
	a, b := e.Camera(owner, home), e.Camera(owner, home)
	streamer(t, e.DeviceURL(), a)
	streamer(t, e.DeviceURL(), b)
	for _, cam := range []st.Camera{a, b} { // both stream, both fill the cache
		s, err := e.Live.Watch(e.Ctx(), owner.Principal, cam.DeviceID)
		if err != nil {
			t.Fatal(err)
		}
		next(t, s)
		next(t, s)
		s.Close()
	}
	// A new hub fills from the cache, whose every answer is another key's.
	s, err := e.Live.Watch(e.Ctx(), owner.Principal, a.DeviceID)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	f := next(t, s)
	if !f.Keyframe {
		t.Fatal("first frame after a cache miss is not a keyframe")
	}
	checkFrame(t, f, a)
	if e.Mismatches.Load() == 0 || e.Cache.Stats().Mismatches == 0 {
		t.Fatal("no mismatch counted")
	}
}

func TestTwoNodes(t *testing.T) {
	e := st.New(t, fast)
	n2 := e.NewNode()
	owner := e.Person("owner")
	home := e.Home(owner, "home")
	cam := e.Camera(owner, home)
	sim := streamer(t, n2.DeviceURL(), cam) // the camera on node 2
	v := e.Person("viewer")
	e.Share(owner, home, v, domain.RoleViewer)
	s, err := e.Live.Watch(e.Ctx(), v.Principal, cam.DeviceID) // the viewer on node 1
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	f := next(t, s)
	if !f.Keyframe {
		t.Fatal("first frame is not a keyframe")
	}
	checkFrame(t, f, cam)
	for range 10 {
		checkFrame(t, next(t, s), cam)
	}
	if sim.Streaming() == 0 || n2.Gateway.Streaming(cam.DeviceID) == 0 {
		t.Fatal("the camera's node does not stream it")
	}
	if err := e.Homes.RemoveMember(e.Ctx(), owner.Principal, home, v.AccountID); err != nil {
		t.Fatal(err)
	}
	endsWith(t, s, live.ErrRevoked)
	s.Close()
	simtest.WaitFor(t, "the camera stops after the grace period", func() bool { return sim.Streaming() == 0 })
}
