package media

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// jpegFixtures are the JPEGs made by libjpeg (testdata/jpeg/make.sh): those
// image/jpeg decodes, those the check must refuse, and those only libjpeg
// reads.
func jpegFixtures(t testing.TB) (good, refused, libjpegOnly map[string][]byte) {
	t.Helper()
	names, err := filepath.Glob("testdata/jpeg/*.jpg")
	if err != nil || len(names) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	good, refused, libjpegOnly = map[string][]byte{}, map[string][]byte{}, map[string][]byte{}
	for _, name := range names {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		switch base := filepath.Base(name); {
		case strings.HasPrefix(base, "arithmetic"), strings.HasPrefix(base, "unfinished"):
			refused[base] = b
		case strings.HasPrefix(base, "libjpeg-only"):
			libjpegOnly[base] = b
		default:
			good[base] = b
		}
	}
	for _, name := range []string{"testdata/progressive.jpg", "../../docs/samples/snapshot.jpg"} {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		good[name] = b
	}
	return good, refused, libjpegOnly
}

// encodedJPEGs are pictures made by image/jpeg's encoder, grey and colour,
// at sizes that are and are not whole MCUs and at several qualities.
func encodedJPEGs(t testing.TB) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, size := range []image.Point{{1, 1}, {7, 9}, {16, 16}, {17, 33}, {64, 36}, {320, 240}} {
		for _, q := range []int{1, 50, 90, 100} {
			gray := image.NewGray(image.Rect(0, 0, size.X, size.Y))
			col := image.NewYCbCr(image.Rect(0, 0, size.X, size.Y), image.YCbCrSubsampleRatio420)
			for i := range gray.Pix {
				gray.Pix[i] = byte(i%size.X*3 + rng.IntN(40))
			}
			copy(col.Y, gray.Pix)
			for i := range col.Cb {
				col.Cb[i], col.Cr[i] = byte(100+rng.IntN(50)), byte(120+rng.IntN(30))
			}
			for kind, img := range map[string]image.Image{"gray": gray, "ycbcr": col} {
				var buf bytes.Buffer
				if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: q}); err != nil {
					t.Fatal(err)
				}
				out[fmt.Sprintf("%s %dx%d q%d", kind, size.X, size.Y, q)] = buf.Bytes()
			}
		}
	}
	return out
}

// goDecodes reports whether image/jpeg decodes b completely.
func goDecodes(b []byte) error {
	_, err := jpeg.Decode(bytes.NewReader(b))
	return err
}

// sameVerdict fails when scanJPEG and image/jpeg disagree on b, except
// for a refusal for one of the check's limits.
func sameVerdict(t *testing.T, name string, b []byte) {
	t.Helper()
	err := scanJPEG(b)
	var lim *jpegLimitError
	if errors.As(err, &lim) {
		return
	}
	if derr := goDecodes(b); (err == nil) != (derr == nil) {
		t.Errorf("%s: check says %v, image/jpeg says %v", name, err, derr)
	}
}

func TestScanJPEGAcceptsWhatDecodes(t *testing.T) {
	good, refused, libjpegOnly := jpegFixtures(t)
	for name, b := range encodedJPEGs(t) {
		good[name] = b
	}
	for name, b := range good {
		if err := goDecodes(b); err != nil {
			t.Fatalf("%s: image/jpeg does not decode a fixture: %v", name, err)
		}
		if err := CheckJPEG(b); err != nil {
			t.Errorf("%s refused: %v", name, err)
		}
	}
	for name, b := range refused {
		if err := CheckJPEG(b); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
	// What image/jpeg cannot read the check refuses too; should image/jpeg
	// learn to, this fails and the fixture moves to the good ones.
	for name, b := range libjpegOnly {
		if err := goDecodes(b); err == nil {
			t.Errorf("%s: image/jpeg now decodes it", name)
		}
		sameVerdict(t, name, b)
	}
}

// TestScanJPEGCutShort: every JPEG cut anywhere before its end, with an
// end-of-image marker put back, is refused, and wherever image/jpeg
// refuses it the check does too.
func TestScanJPEGCutShort(t *testing.T) {
	good, _, _ := jpegFixtures(t)
	for name, b := range encodedJPEGs(t) {
		good[name] = b
	}
	for name, b := range good {
		// Every cut in a small file, 300 spread over a larger one, and
		// image/jpeg's verdict on a third of those.
		step := max(1, len(b)/300)
		for i, cut := 0, 2; cut < len(b)-2; i, cut = i+1, cut+step {
			c := append(append([]byte{}, b[:cut]...), 0xFF, 0xD9)
			if err := CheckJPEG(c); err == nil {
				t.Errorf("%s cut at %d of %d accepted", name, cut, len(b))
			}
			if step == 1 || i%3 == 0 {
				sameVerdict(t, fmt.Sprintf("%s cut at %d", name, cut), c)
			}
		}
	}
}

// TestScanJPEGRefusesOtherProcesses: what cameras never send, image/jpeg
// cannot decode either: lossless, hierarchical and arithmetic-coded
// frames, and 12-bit samples.
func TestScanJPEGRefusesOtherProcesses(t *testing.T) {
	b := testJPEG(t)
	sof := bytes.Index(b, []byte{0xFF, 0xC0})
	for name, patch := range map[string]func(c []byte){
		"lossless (SOF3)":           func(c []byte) { c[sof+1] = 0xC3 },
		"hierarchical (SOF5)":       func(c []byte) { c[sof+1] = 0xC5 },
		"arithmetic (SOF9)":         func(c []byte) { c[sof+1] = 0xC9 },
		"progressive arith (SOF10)": func(c []byte) { c[sof+1] = 0xCA },
		"12-bit":                    func(c []byte) { c[sof+4] = 12 },
		"12-bit extended (SOF1)":    func(c []byte) { c[sof+1], c[sof+4] = 0xC1, 12 },
	} {
		c := append([]byte{}, b...)
		patch(c)
		if err := CheckJPEG(c); err == nil {
			t.Errorf("%s accepted", name)
		}
		sameVerdict(t, name, c)
	}
}

// FuzzScanJPEG holds the check to image/jpeg: within the check's limits
// (jpegLimitError), it accepts exactly what image/jpeg decodes. Pictures
// too large to decode here are only checked not to crash it.
func FuzzScanJPEG(f *testing.F) {
	good, refused, libjpegOnly := jpegFixtures(f)
	prog := good["testdata/progressive.jpg"]
	for _, set := range []map[string][]byte{good, refused, libjpegOnly} {
		for _, b := range set {
			f.Add(b)
			f.Add(append(append([]byte{}, b[:len(b)*2/3]...), 0xFF, 0xD9)) // cut, end marker put back
		}
	}
	for name, b := range encodedJPEGs(f) {
		if !strings.Contains(name, "320x240") {
			f.Add(b)
		}
	}
	f.Add(repeatScan(f, prog, 11)) // twelve scans, the most allowed
	f.Add(repeatScan(f, prog, 30))
	f.Add(craftedProgressive(64, true))
	f.Add(flatBaseline(19, 11))
	f.Fuzz(func(t *testing.T, b []byte) {
		err := scanJPEG(b)
		var lim *jpegLimitError
		if errors.As(err, &lim) {
			return
		}
		if cfg, cerr := jpeg.DecodeConfig(bytes.NewReader(b)); cerr == nil && cfg.Width*cfg.Height > 1<<20 {
			return
		}
		if derr := goDecodes(b); (err == nil) != (derr == nil) {
			t.Fatalf("check says %v, image/jpeg says %v", err, derr)
		}
	})
}

// TestCheckJPEGProgressiveCutAtScan: a progressive picture cut just
// before one of its scans, with an end marker put back, is a JPEG
// image/jpeg decodes (a blurrier picture) but not the whole file: the
// check refuses it, since its scans leave coefficients unsent.
func TestCheckJPEGProgressiveCutAtScan(t *testing.T) {
	good, _, _ := jpegFixtures(t)
	n := 0
	for name, b := range good {
		if !bytes.Contains(b, []byte{0xFF, 0xC2}) {
			continue
		}
		for _, seg := range jpegSegments(t, b)[1:] {
			if seg[1] != 0xDA {
				continue
			}
			at := bytes.Index(b, seg)
			if bytes.LastIndex(b[:at], []byte{0xFF, 0xDA}) < 0 {
				continue // the first scan
			}
			cut := append(append([]byte{}, b[:at]...), 0xFF, 0xD9)
			if err := goDecodes(cut); err != nil {
				t.Fatalf("%s cut before the scan at %d: image/jpeg: %v", name, at, err)
			}
			err := CheckJPEG(cut)
			var lim *jpegLimitError
			if !errors.As(err, &lim) || !strings.Contains(err.Error(), "unsent") {
				t.Errorf("%s cut before the scan at %d: %v; want it refused as unfinished", name, at, err)
			}
			n++
		}
	}
	if n < 10 {
		t.Fatalf("only %d cuts tried", n)
	}
}

// TestScanJPEGRestartMarkers: restart markers must come in sequence, one
// after each interval; one missing, repeated or out of order is refused
// (image/jpeg refuses them too).
func TestScanJPEGRestartMarkers(t *testing.T) {
	good, _, _ := jpegFixtures(t)
	for _, name := range []string{"restart-rows.jpg", "restart-3.jpg", "p444-restart.jpg"} {
		b := good[name]
		var rst []int // where each restart marker is
		for i := bytes.Index(b, []byte{0xFF, 0xDA}); i+1 < len(b); i++ {
			if b[i] == 0xFF && b[i+1] >= 0xD0 && b[i+1] <= 0xD7 {
				rst = append(rst, i)
			}
		}
		if len(rst) < 2 {
			t.Fatalf("%s has %d restart markers", name, len(rst))
		}
		at := rst[1]
		for what, c := range map[string][]byte{
			"missing":      append(append([]byte{}, b[:at]...), b[at+2:]...),
			"repeated":     append(append([]byte{}, b[:at+2]...), b[at:]...),
			"out of order": append(append(append([]byte{}, b[:at+1]...), 0xD0+(b[at+1]-0xD0+1)%8), b[at+2:]...),
		} {
			if err := CheckJPEG(c); err == nil {
				t.Errorf("%s with restart marker %d %s accepted", name, 2, what)
			}
			sameVerdict(t, name+" "+what, c)
		}
	}
}
