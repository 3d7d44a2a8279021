package servicetest

import (
	"bytes"
	"testing"

	"github.com/camvault/camvault/internal/media"
)

// TestMP4Info checks that the clip the tests upload passes the upload
// check with the info its constants declare.
func TestMP4Info(t *testing.T) {
	info, err := media.ReadClipInfo(bytes.NewReader(MP4(10000)))
	if err != nil {
		t.Fatal(err)
	}
	want := media.ClipInfo{Codec: MP4Codec, DurationMS: MP4DurationMS, Width: MP4Width, Height: MP4Height}
	if info != want {
		t.Fatalf("%+v, want %+v", info, want)
	}
}
