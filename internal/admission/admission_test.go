package admission_test

import (
	"testing"

	"github.com/camvault/camvault/internal/admission"
	"github.com/camvault/camvault/internal/apperr"
)

// TestUploadSlots: a camera, then its home, run out of upload slots before
// the node does, so a household holding all of its own leaves the node's
// slots to the others; released slots are free again.
func TestUploadSlots(t *testing.T) {
	var refused []string
	c := admission.New(admission.Config{ConnectsPerSecond: 1, ConnectBurst: 1, UploadsPerSecond: 1000, UploadBurst: 1000,
		UploadsInFlight: 5, UploadsPerDevice: 2, UploadsPerHome: 3}, func(kind string) { refused = append(refused, kind) })
	take := func(device, home string) func() {
		t.Helper()
		release, err := c.Upload(device, home)
		if err != nil {
			t.Fatalf("upload of %s in %s refused: %v", device, home, err)
		}
		return release
	}
	refuse := func(device, home, kind string) {
		t.Helper()
		refused = nil
		if _, err := c.Upload(device, home); apperr.CodeOf(err) != apperr.Unavailable || len(refused) != 1 || refused[0] != kind {
			t.Fatalf("upload of %s in %s: %v (refused as %v); want refused as %s", device, home, err, refused, kind)
		}
	}
	a1 := take("cam-a1", "home-a")
	take("cam-a1", "home-a")
	refuse("cam-a1", "home-a", "upload_device")
	take("cam-a2", "home-a")
	refuse("cam-a3", "home-a", "upload_home")
	// Home A holds 3 of the node's 5: home B still gets the other 2.
	take("cam-b1", "home-b")
	take("cam-b2", "home-b")
	refuse("cam-c1", "home-c", "upload_in_flight")
	a1()
	a1() // releasing twice frees one slot only
	take("cam-a1", "home-a")
	refuse("cam-c1", "home-c", "upload_in_flight")
}
