package media

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// jpegSegments splits a JPEG after its start of image into its marker
// segments, each scan with its entropy-coded data.
func jpegSegments(t testing.TB, b []byte) (segs [][]byte) {
	t.Helper()
	for i := 2; i < len(b); {
		if b[i] != 0xFF {
			t.Fatalf("no marker at %d", i)
		}
		if b[i+1] == 0xD9 {
			return append(segs, b[i:i+2])
		}
		j := i + 2 + (int(b[i+2])<<8 | int(b[i+3]))
		if b[i+1] == 0xDA {
			for j+1 < len(b) && (b[j] != 0xFF || b[j+1] == 0x00 || (b[j+1] >= 0xD0 && b[j+1] <= 0xD7)) {
				j++
			}
		}
		segs = append(segs, b[i:j])
		i = j
	}
	t.Fatal("no end of image")
	return nil
}

// TestJPEGScansBounded: a progressive decode passes over the whole image
// once per scan, so a small file of thousands of one-coefficient scans
// cost seconds of CPU per upload. A picture with more scans than a camera
// sends is refused by counting its markers, before any decode; a
// progressive JPEG made the standard way (ten scans) and a baseline one
// (one) still pass.
func TestJPEGScansBounded(t *testing.T) {
	prog, err := os.ReadFile("testdata/progressive.jpg")
	if err != nil {
		t.Fatal(err)
	}
	baseline, err := os.ReadFile("../../docs/samples/snapshot.jpg")
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"baseline": baseline, "progressive": prog} {
		if err := CheckJPEG(b); err != nil {
			t.Errorf("%s JPEG refused: %v", name, err)
		}
	}
	hostile := repeatScan(t, prog, 2000)
	if err := CheckJPEG(hostile); err == nil || !strings.Contains(err.Error(), "scans") {
		t.Fatalf("a JPEG of 2,001 scans (%d bytes): %v; want it refused for its scans", len(hostile), err)
	}
	// Refused by the marker walk alone: nothing was decoded.
	if err := checkJPEGMarkers(hostile); err == nil {
		t.Fatal("the marker walk passed 2,001 scans")
	}
}

// repeatScan is the progressive picture prog with its headers and first
// scan, then its smallest scan over and over, n times: 2,000 times make
// a few tens of KB.
func repeatScan(t testing.TB, prog []byte, n int) []byte {
	segs := jpegSegments(t, prog)
	var head, scans [][]byte
	for _, s := range segs[:len(segs)-1] {
		if s[1] == 0xDA {
			scans = append(scans, s)
		} else if len(scans) == 0 {
			head = append(head, s)
		}
	}
	smallest := scans[1]
	for _, s := range scans[1:] {
		if len(s) < len(smallest) {
			smallest = s
		}
	}
	b := append([]byte{0xFF, 0xD8}, bytes.Join(head, nil)...)
	b = append(b, scans[0]...)
	b = append(b, bytes.Repeat(smallest, n)...)
	return append(b, 0xFF, 0xD9)
}
