package camera

import (
	"bytes"
	"image"
	"image/jpeg"
	"sync"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/media"
)

func TestRenderFrame(t *testing.T) {
	r := newTestRenderer(t)
	wm := mustWatermark(t, testKey, testDevice, testHome, 5)
	f := Frame{Name: "front door", DeviceID: testDevice, Time: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC), Seq: 5}
	img, err := r.Render(f, wm)
	if err != nil {
		t.Fatal(err)
	}
	if err := media.CheckJPEG(img); err != nil {
		t.Fatalf("the server would refuse the frame: %v", err)
	}
	if len(img) > 1<<20 {
		t.Fatalf("frame is %d bytes, over the 1 MiB thumbnail limit", len(img))
	}
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(img))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Width != FrameWidth || cfg.Height != FrameHeight {
		t.Fatalf("frame is %dx%d", cfg.Width, cfg.Height)
	}
	if info, err := VerifyWatermark(testKey, img); err != nil || info.Seq != 5 || info.DeviceID != testDevice || info.HomeID != testHome {
		t.Fatalf("watermark: %+v, %v", info, err)
	}
	// The same frame renders to the same bytes (a retried upload is the
	// same event), and a frame without a watermark has none.
	again, err := r.Render(f, wm)
	if err != nil || !bytes.Equal(img, again) {
		t.Fatalf("rendering is not deterministic (err %v)", err)
	}
	plain, err := r.Render(f, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyWatermark(testKey, plain); err == nil {
		t.Fatal("a frame rendered without a watermark verifies")
	}
}

// The frame spliced from pre-encoded background rows and freshly encoded
// overlay rows decodes to exactly the picture a plain whole-frame encode of
// the same image decodes to.
func TestRenderSplicedRowsMatchWholeEncode(t *testing.T) {
	r := newTestRenderer(t)
	for _, f := range []Frame{
		{Name: "front door", DeviceID: testDevice, Time: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC), Seq: 1},
		{Name: "garden", DeviceID: testDevice, Time: time.Date(2026, 11, 23, 12, 0, 7, 300e6, time.UTC), Seq: 987654, Index: 2},
	} {
		spliced, err := r.Render(f, nil)
		if err != nil {
			t.Fatal(err)
		}
		fb := r.bufs.Get().(*frameBuf)
		r.compose(fb, f, true)
		var whole bytes.Buffer
		if err := jpeg.Encode(&whole, fb.img, &jpeg.Options{Quality: DefaultQuality}); err != nil {
			t.Fatal(err)
		}
		a, err := jpeg.Decode(bytes.NewReader(spliced))
		if err != nil {
			t.Fatalf("spliced frame does not decode: %v", err)
		}
		b, err := jpeg.Decode(bytes.NewReader(whole.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		ya, yb := a.(*image.YCbCr), b.(*image.YCbCr)
		if !bytes.Equal(ya.Y, yb.Y) || !bytes.Equal(ya.Cb, yb.Cb) || !bytes.Equal(ya.Cr, yb.Cr) {
			t.Fatalf("frame %+v: spliced and whole encodes decode differently", f)
		}
	}
}

func TestRenderShowsChange(t *testing.T) {
	r := newTestRenderer(t)
	base := Frame{Name: "cam", DeviceID: testDevice, Time: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC), Seq: 1}
	a, err := r.Render(base, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []Frame{
		{Name: base.Name, DeviceID: base.DeviceID, Time: base.Time, Seq: 2},
		{Name: base.Name, DeviceID: base.DeviceID, Time: base.Time.Add(200 * time.Millisecond), Seq: 1},
		{Name: "other", DeviceID: base.DeviceID, Time: base.Time, Seq: 1},
	} {
		b, err := r.Render(f, nil)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(a, b) {
			t.Errorf("frame %+v renders like %+v", f, base)
		}
	}
	x0, y0 := boxPosition(base.Time, 1)
	x1, y1 := boxPosition(base.Time.Add(200*time.Millisecond), 1)
	if x0 == x1 && y0 == y1 {
		t.Error("the box does not move in 200 ms")
	}
}

func TestBoxStaysInFrame(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 5000 {
		x, y := boxPosition(start.Add(time.Duration(i)*37*time.Millisecond), uint64(i))
		if x < 0 || y < 0 || x+boxSize > FrameWidth || y+boxSize > FrameHeight || x%2 != 0 || y%2 != 0 {
			t.Fatalf("box at %d,%d", x, y)
		}
	}
}

func TestRenderConcurrently(t *testing.T) {
	r := newTestRenderer(t)
	var wg sync.WaitGroup
	results := make([][]byte, 8)
	for i := range results {
		wg.Go(func() {
			b, err := r.Render(Frame{Name: "cam", DeviceID: testDevice, Seq: uint64(i % 2)}, nil)
			if err != nil {
				t.Error(err)
			}
			results[i] = b
		})
	}
	wg.Wait()
	for i := 2; i < len(results); i++ {
		if !bytes.Equal(results[i], results[i%2]) {
			t.Fatalf("concurrent renders of the same frame differ (%d)", i)
		}
	}
}

func TestNewRendererQuality(t *testing.T) {
	if _, err := NewRenderer(101); err == nil {
		t.Fatal("quality 101 was taken")
	}
}

// BenchmarkRenderFrame is the cost of one watermarked 640x360 frame:
// copy the shared background, draw the overlay, encode at quality 75.
func BenchmarkRenderFrame(b *testing.B) {
	r := newTestRenderer(b)
	wm := mustWatermark(b, testKey, testDevice, testHome, 1)
	t0 := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	var size int
	for i := 0; b.Loop(); i++ {
		img, err := r.Render(Frame{Name: "cam", DeviceID: testDevice, Time: t0.Add(time.Duration(i) * time.Second), Seq: uint64(i)}, wm)
		if err != nil {
			b.Fatal(err)
		}
		size = len(img)
	}
	b.ReportMetric(float64(size), "bytes/frame")
}

// BenchmarkRenderFrameParallel renders on every core, as a fleet does.
func BenchmarkRenderFrameParallel(b *testing.B) {
	r := newTestRenderer(b)
	wm := mustWatermark(b, testKey, testDevice, testHome, 1)
	b.RunParallel(func(pb *testing.PB) {
		var i uint64
		for pb.Next() {
			i++
			if _, err := r.Render(Frame{Name: "cam", DeviceID: testDevice, Time: time.Unix(int64(i), 0), Seq: i}, wm); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkWholeFrameEncode is the plain way, for comparison: encode every
// row of the frame each time.
func BenchmarkWholeFrameEncode(b *testing.B) {
	r := newTestRenderer(b)
	fb := r.bufs.Get().(*frameBuf)
	r.compose(fb, Frame{Name: "cam", DeviceID: testDevice, Seq: 1}, true)
	var buf bytes.Buffer
	for b.Loop() {
		buf.Reset()
		if err := jpeg.Encode(&buf, fb.img, &jpeg.Options{Quality: DefaultQuality}); err != nil {
			b.Fatal(err)
		}
	}
}
