package homes_test

import (
	"testing"
	"time"

	"github.com/camvault/camvault/internal/apperr"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/servicetest"
	"github.com/camvault/camvault/internal/sim/camera"
	"github.com/camvault/camvault/internal/sim/simtest"
)

// warmOptions: a short live grace, so the tests see streams lapse soon.
func warmOptions(o *servicetest.Options) { o.Gateway.LiveGrace = 200 * time.Millisecond }

// simCamera runs a simulated camera with cam's credentials and returns it
// once it is connected.
func simCamera(t *testing.T, url string, cam servicetest.Camera) *camera.Camera {
	t.Helper()
	return simtest.StartCamera(t, url, cam.DeviceID, cam.Token, []byte("homes-test-watermark-key-0000001"))
}

func TestKeepWarm(t *testing.T) {
	t.Parallel()
	e := servicetest.New(t, warmOptions)
	ctx := e.Ctx()
	ann, bob := e.Person("ann"), e.Person("bob")
	home := e.Home(ann, "Home")
	warm, other := e.Camera(ann, home), e.Camera(ann, home)
	e.Share(ann, home, bob, domain.RoleViewer)
	warmSim := simCamera(t, e.DeviceURL(), warm)
	otherSim := simCamera(t, e.DeviceURL(), other)
	if e.Gateway.Streaming(warm.DeviceID) != 0 {
		t.Fatal("a camera streams before it is kept warm or watched")
	}

	// A viewer may not, as for renaming.
	_, err := e.Homes.SetKeepWarm(ctx, bob.Principal, warm.DeviceID, true)
	servicetest.WantCode(t, "a viewer keeps a camera warm", err, apperr.Forbidden)
	if d, _ := e.Homes.Device(ctx, ann.Principal, warm.DeviceID); d.KeepWarm {
		t.Fatal("a viewer's refused change was stored")
	}

	d, err := e.Homes.SetKeepWarm(ctx, ann.Principal, warm.DeviceID, true)
	if err != nil || !d.KeepWarm || d.ID != warm.DeviceID {
		t.Fatalf("keep warm: %+v %v", d, err)
	}
	if d, err := e.Homes.Device(ctx, bob.Principal, warm.DeviceID); err != nil || !d.KeepWarm {
		t.Fatalf("the camera as a member reads it: %+v %v", d, err)
	}
	// Streaming with no viewer at all.
	simtest.WaitFor(t, "the kept-warm camera streams", func() bool {
		return e.Gateway.Streaming(warm.DeviceID) != 0 && warmSim.Streaming() != 0
	})
	epoch := e.Gateway.Streaming(warm.DeviceID)

	// Past the grace period: the other camera, asked for once after the
	// first was kept warm, stops a grace period later; the kept-warm one
	// still streams the same stream.
	if _, err := e.Gateway.WantLive(ctx, domain.Device{ID: other.DeviceID, HomeID: home}); err != nil {
		t.Fatal(err)
	}
	simtest.WaitFor(t, "the camera asked for once starts", func() bool { return otherSim.Streaming() != 0 })
	simtest.WaitFor(t, "the camera asked for once stops after the grace period", func() bool {
		return e.Gateway.Streaming(other.DeviceID) == 0
	})
	if got := e.Gateway.Streaming(warm.DeviceID); got != epoch {
		t.Fatalf("past the grace period the kept-warm camera streams epoch %d, want %d", got, epoch)
	}

	// No longer kept warm: the stream lapses after the grace.
	d, err = e.Homes.SetKeepWarm(ctx, ann.Principal, warm.DeviceID, false)
	if err != nil || d.KeepWarm {
		t.Fatalf("no longer keep warm: %+v %v", d, err)
	}
	simtest.WaitFor(t, "the camera no longer kept warm stops after the grace period", func() bool {
		return e.Gateway.Streaming(warm.DeviceID) == 0 && warmSim.Streaming() == 0
	})
}

// A camera kept warm while it was offline starts streaming when it
// connects, having read the setting itself.
func TestKeepWarmOnConnect(t *testing.T) {
	t.Parallel()
	e := servicetest.New(t, warmOptions)
	ann := e.Person("ann")
	home := e.Home(ann, "Home")
	cam := e.Camera(ann, home)
	if _, err := e.Homes.SetKeepWarm(e.Ctx(), ann.Principal, cam.DeviceID, true); err != nil {
		t.Fatalf("keep an offline camera warm: %v", err)
	}
	sim := simCamera(t, e.DeviceURL(), cam)
	simtest.WaitFor(t, "the kept-warm camera streams once connected", func() bool {
		return e.Gateway.Streaming(cam.DeviceID) != 0 && sim.Streaming() != 0
	})
}

// A camera connected to another node is told over the bus.
func TestKeepWarmOtherNode(t *testing.T) {
	t.Parallel()
	e := servicetest.New(t, warmOptions)
	ann := e.Person("ann")
	home := e.Home(ann, "Home")
	cam := e.Camera(ann, home)
	n2 := e.NewNode()
	sim := simCamera(t, n2.DeviceURL(), cam)
	if _, err := e.Homes.SetKeepWarm(e.Ctx(), ann.Principal, cam.DeviceID, true); err != nil {
		t.Fatal(err)
	}
	simtest.WaitFor(t, "the camera streams on its node", func() bool {
		return n2.Gateway.Streaming(cam.DeviceID) != 0 && sim.Streaming() != 0
	})
	if _, err := e.Homes.SetKeepWarm(e.Ctx(), ann.Principal, cam.DeviceID, false); err != nil {
		t.Fatal(err)
	}
	simtest.WaitFor(t, "the camera stops on its node after the grace period", func() bool {
		return n2.Gateway.Streaming(cam.DeviceID) == 0
	})
}
