package storm

import (
	"bytes"
	"image/jpeg"
	"strings"
	"testing"

	"github.com/camvault/camvault/internal/media"
)

// TestHostilePictures: the crafted thumbnails are what the attack says
// they are. Crafted pictures decode (the bomb is the same with more
// scans: without the check's limit on scans each would cost a pass over
// 65,536 blocks), and the scan bomb is refused by the server's check for
// its scans; the twelve-scan picture and the largest one pass the check
// (so each costs a full decode in the check pool); all fit the thumbnail
// limit.
func TestHostilePictures(t *testing.T) {
	bomb, progressive := craftedJPEG(2000), craftedJPEG(11)
	big, err := largestPicture()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("scan bomb %d bytes, progressive %d bytes, largest %d bytes", len(bomb), len(progressive), len(big))
	if _, err := jpeg.Decode(bytes.NewReader(craftedJPEG(50))); err != nil {
		t.Errorf("a crafted picture of 51 scans does not decode: %v", err)
	}
	if err := media.CheckJPEG(bomb); err == nil || !strings.Contains(err.Error(), "scans") {
		t.Errorf("the scan bomb: %v; want it refused for its scans", err)
	}
	for name, b := range map[string][]byte{"progressive": progressive, "largest": big, "bomb": bomb} {
		if name != "bomb" {
			if err := media.CheckJPEG(b); err != nil {
				t.Errorf("%s picture refused: %v", name, err)
			}
		}
		if len(b) > 1<<20 {
			t.Errorf("%s picture: %d bytes, over the thumbnail limit", name, len(b))
		}
	}
}

// TestManyRanges: the range request asks for more ranges than the server
// answers in parts, and fits the server's header limit (32 KiB).
func TestManyRanges(t *testing.T) {
	h := manyRanges()
	if n := strings.Count(h, ",") + 1; n != 2000 || n <= media.MaxRanges {
		t.Errorf("%d ranges", n)
	}
	if len(h) > 24<<10 {
		t.Errorf("a Range header of %d bytes", len(h))
	}
}

// TestHouseholdAddresses: each household signs up from an address of its
// own, never the hostile household's or 127.0.0.1.
func TestHouseholdAddresses(t *testing.T) {
	seen := map[string]bool{}
	for i := range 70000 {
		a := householdAddr(i).String()
		if seen[a] || a == "127.0.0.1" || a == hostileAddr(0).String() || !householdAddr(i).IsLoopback() {
			t.Fatalf("household %d signs up from %s", i, a)
		}
		seen[a] = true
	}
}
