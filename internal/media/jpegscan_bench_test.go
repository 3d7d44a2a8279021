package media

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"math/rand/v2"
	"os"
	"syscall"
	"testing"
)

// fullDecodeCheck is the check before scanJPEG, less its size limit: the
// marker walk, then image/jpeg's whole decode.
func fullDecodeCheck(b []byte) error {
	if err := checkJPEGMarkers(b); err != nil {
		return err
	}
	if _, err := jpeg.DecodeConfig(bytes.NewReader(b)); err != nil {
		return err
	}
	_, err := jpeg.Decode(bytes.NewReader(b))
	return err
}

// cameraThumbnail is the ingest benchmark's picture
// (internal/sim/bench/ingest): 320x240, 4:2:0, a gradient with noise, at
// the best quality that fits in 30 KiB.
func cameraThumbnail(tb testing.TB) []byte {
	rng := rand.New(rand.NewPCG(7, 0x63616d7661756c74))
	img := image.NewYCbCr(image.Rect(0, 0, 320, 240), image.YCbCrSubsampleRatio420)
	base := rng.IntN(256)
	for y := range 240 {
		for x := range 320 {
			img.Y[y*img.YStride+x] = uint8(max(0, min(255, base+x/3+y/4+rng.IntN(48)-24)))
		}
	}
	for i := range img.Cb {
		img.Cb[i], img.Cr[i] = uint8(112+rng.IntN(32)), uint8(112+rng.IntN(32))
	}
	for q := 90; q >= 10; q -= 5 {
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: q}); err != nil {
			tb.Fatal(err)
		}
		if buf.Len() <= 30<<10 {
			return buf.Bytes()
		}
	}
	tb.Fatal("no quality fits")
	return nil
}

// scaledSnapshot is the quickstart's camera picture (640x360) scaled to
// width x height (bilinear luma, nearest chroma) and encoded at quality 75
// by image/jpeg: a large thumbnail as smooth as a camera's.
func scaledSnapshot(tb testing.TB, width, height int) []byte {
	f, err := os.ReadFile("../../docs/samples/snapshot.jpg")
	if err != nil {
		tb.Fatal(err)
	}
	m, err := jpeg.Decode(bytes.NewReader(f))
	if err != nil {
		tb.Fatal(err)
	}
	src := m.(*image.YCbCr)
	sw, sh := src.Rect.Dx(), src.Rect.Dy()
	dst := image.NewYCbCr(image.Rect(0, 0, width, height), image.YCbCrSubsampleRatio420)
	luma := func(x, y int) float64 { return float64(src.Y[src.YOffset(x, y)]) }
	for y := range height {
		fy := float64(y) * float64(sh-1) / float64(height-1)
		y0 := int(fy)
		y1, ty := min(y0+1, sh-1), fy-float64(y0)
		for x := range width {
			fx := float64(x) * float64(sw-1) / float64(width-1)
			x0 := int(fx)
			x1, tx := min(x0+1, sw-1), fx-float64(x0)
			v := (luma(x0, y0)*(1-tx)+luma(x1, y0)*tx)*(1-ty) + (luma(x0, y1)*(1-tx)+luma(x1, y1)*tx)*ty
			dst.Y[y*dst.YStride+x] = uint8(v + 0.5)
			if x%2 == 0 && y%2 == 0 {
				ci, si := dst.COffset(x, y), src.COffset(x0, y0)
				dst.Cb[ci], dst.Cr[ci] = src.Cb[si], src.Cr[si]
			}
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, dst, &jpeg.Options{Quality: 75}); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// processCPU is the CPU time the process has used, in nanoseconds: on a
// machine others load, a steadier measure than the time a loop takes.
func processCPU(tb testing.TB) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkCheckJPEG compares, per picture, image/jpeg's full decode (what
// the check did before) with scanJPEG, through CheckJPEG. The crafted
// pictures are the costliest the check can be sent (jpegcraft_test.go);
// the full decode is run on the one of 2048x2048, the largest the check
// took before. cpu-ns/op is the process's CPU time per check (GC
// included).
//
//	go test ./internal/media -run XXX -bench CheckJPEG -benchtime 2s
func BenchmarkCheckJPEG(b *testing.B) {
	type pic struct {
		name   string
		data   []byte
		decode bool
	}
	pics := []pic{
		{"camera-320x240", cameraThumbnail(b), true},
		{"1920x1080", scaledSnapshot(b, 1920, 1080), true},
		{"3840x2160", scaledSnapshot(b, 3840, 2160), true},
		{"7680x4320", scaledSnapshot(b, 7680, 4320), true},
		{"crafted-progressive-2048", craftedProgressive(2048, true), true},
		{"crafted-progressive-8192", craftedProgressive(8192, true), false},
		{"crafted-progressive-8192-noDC", craftedProgressive(8192, false), false},
		{"crafted-dc-8192", craftedDC(8192), false},
	}
	for _, p := range pics {
		name := fmt.Sprintf("%s-%dKB", p.name, len(p.data)/1000)
		if p.decode {
			b.Run(name+"/decode", func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(p.data)))
				cpu := processCPU(b)
				for b.Loop() {
					if err := fullDecodeCheck(p.data); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(processCPU(b)-cpu)/float64(b.N), "cpu-ns/op")
			})
		}
		b.Run(name+"/scan", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(p.data)))
			cpu := processCPU(b)
			for b.Loop() {
				_ = CheckJPEG(p.data) // the crafted ones without all their coefficients are refused at the end
			}
			b.ReportMetric(float64(processCPU(b)-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}
