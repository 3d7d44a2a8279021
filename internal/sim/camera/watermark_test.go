package camera

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"
)

var (
	testKey  = []byte("0123456789abcdef0123456789abcdef")
	otherKey = []byte("fedcba9876543210fedcba9876543210")
)

const (
	testDevice = "aaaaaaaaaaaaaaaaaaaaaaaaaa"
	testHome   = "bbbbbbbbbbbbbbbbbbbbbbbbbb"
)

func newTestRenderer(t testing.TB) *Renderer {
	t.Helper()
	r, err := NewRenderer(0)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// plainJPEG is a rendered frame without a watermark.
func plainJPEG(t testing.TB, r *Renderer) []byte {
	t.Helper()
	b, err := r.Render(Frame{Name: "test", DeviceID: testDevice, Time: time.Unix(1_800_000_000, 0), Seq: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// comment is a COM segment holding text.
func comment(text string) []byte {
	seg := []byte{0xFF, 0xFE}
	seg = binary.BigEndian.AppendUint16(seg, uint16(2+len(text)))
	return append(seg, text...)
}

func mustWatermark(t testing.TB, key []byte, device, home string, seq uint64) []byte {
	t.Helper()
	seg, err := Watermark(key, device, home, seq)
	if err != nil {
		t.Fatal(err)
	}
	return seg
}

func withSegment(t testing.TB, jpeg, seg []byte) []byte {
	t.Helper()
	out, err := InsertWatermark(jpeg, seg)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestWatermarkRoundTrip(t *testing.T) {
	r := newTestRenderer(t)
	img := withSegment(t, plainJPEG(t, r), mustWatermark(t, testKey, testDevice, testHome, 42))
	if !bytes.Equal(img[2:4], []byte{0xFF, 0xFE}) {
		t.Fatalf("the watermark is not right after SOI: % x", img[:8])
	}
	info, err := VerifyWatermark(testKey, img)
	if err != nil {
		t.Fatal(err)
	}
	if want := (WatermarkInfo{DeviceID: testDevice, HomeID: testHome, Seq: 42}); info != want {
		t.Fatalf("got %+v, want %+v", info, want)
	}
}

func TestWatermarkText(t *testing.T) {
	seg := mustWatermark(t, testKey, testDevice, testHome, 7)
	text := string(seg[4:])
	prefix := "camvault-wm1 device=" + testDevice + " home=" + testHome + " seq=7 mac="
	if !strings.HasPrefix(text, prefix) || len(text) != len(prefix)+64 {
		t.Fatalf("watermark text %q", text)
	}
	if int(binary.BigEndian.Uint16(seg[2:4])) != len(seg)-2 {
		t.Fatal("segment length does not cover the text")
	}
}

func TestWatermarkRefusesForgeries(t *testing.T) {
	r := newTestRenderer(t)
	plain := plainJPEG(t, r)
	good := string(mustWatermark(t, testKey, testDevice, testHome, 42)[4:])
	mac := good[strings.LastIndex(good, "mac=")+4:]
	flipped := []byte(mac)
	flipped[10] = "0123456789abcdef"[(strings.IndexByte("0123456789abcdef", flipped[10])+1)%16]

	cases := []struct {
		name string
		img  []byte
		key  []byte
		want error
	}{
		{"missing", plain, testKey, ErrNoWatermark},
		{"not a JPEG", []byte("hello"), testKey, ErrNoWatermark},
		{"other key", withSegment(t, plain, mustWatermark(t, otherKey, testDevice, testHome, 42)), testKey, ErrBadWatermark},
		{"forged mac", withSegment(t, plain, comment(strings.Replace(good, mac, string(flipped), 1))), testKey, ErrBadWatermark},
		{"other seq, same mac", withSegment(t, plain, comment(strings.Replace(good, "seq=42", "seq=43", 1))), testKey, ErrBadWatermark},
		{"other home, same mac", withSegment(t, plain, comment(strings.Replace(good, testHome, "cccccccccccccccccccccccccc", 1))), testKey, ErrBadWatermark},
		{"device and home swapped", withSegment(t, plain, comment("camvault-wm1 device="+testHome+" home="+testDevice+" seq=42 mac="+mac)), testKey, ErrBadWatermark},
		{"fields reordered", withSegment(t, plain, comment("camvault-wm1 home="+testHome+" device="+testDevice+" seq=42 mac="+mac)), testKey, ErrBadWatermark},
		{"seq with a leading zero", withSegment(t, plain, comment(strings.Replace(good, "seq=42", "seq=042", 1))), testKey, ErrBadWatermark},
		{"uppercase mac", withSegment(t, plain, comment(strings.Replace(good, mac, strings.ToUpper(mac), 1))), testKey, ErrBadWatermark},
		{"extra field", withSegment(t, plain, comment(good+" extra=1")), testKey, ErrBadWatermark},
		{"two watermarks", withSegment(t, withSegment(t, plain, []byte(mustWatermark(t, testKey, testDevice, testHome, 42))),
			mustWatermark(t, testKey, testDevice, "cccccccccccccccccccccccccc", 42)), testKey, ErrBadWatermark},
		{"cut short", withSegment(t, plain, mustWatermark(t, testKey, testDevice, testHome, 42))[:40], testKey, ErrBadWatermark},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			info, err := VerifyWatermark(tc.key, tc.img)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %+v, %v; want %v", info, err, tc.want)
			}
		})
	}
}

// Moving a byte from one field to the next keeps the joined string but
// not the length-prefixed encoding the MAC covers.
func TestWatermarkFieldBoundaries(t *testing.T) {
	a := watermarkMAC(testKey, "ab", "c", 1)
	b := watermarkMAC(testKey, "a", "bc", 1)
	if bytes.Equal(a, b) {
		t.Fatal("moving a byte between fields keeps the MAC")
	}
	forged := "camvault-wm1 device=a home=bc seq=1 mac=" + hex.EncodeToString(a)
	if _, err := VerifyWatermark(testKey, withSegment(t, plainJPEG(t, newTestRenderer(t)), comment(forged))); !errors.Is(err, ErrBadWatermark) {
		t.Fatalf("got %v", err)
	}
}

// A watermark-looking comment after the start of scan is image data, not
// a header: it does not count.
func TestWatermarkOnlyInHeader(t *testing.T) {
	plain := plainJPEG(t, newTestRenderer(t))
	img := append(plain[:len(plain)-2:len(plain)-2], mustWatermark(t, testKey, testDevice, testHome, 1)...)
	img = append(img, 0xFF, 0xD9)
	if _, err := VerifyWatermark(testKey, img); !errors.Is(err, ErrNoWatermark) {
		t.Fatalf("got %v", err)
	}
}

func TestWatermarkRefusesBadInput(t *testing.T) {
	if _, err := Watermark([]byte("short"), testDevice, testHome, 1); err == nil {
		t.Error("a 5-byte key was taken")
	}
	for _, id := range []string{"", "has space", "has=equals", strings.Repeat("a", 65)} {
		if _, err := Watermark(testKey, id, testHome, 1); err == nil {
			t.Errorf("device %q was taken", id)
		}
		if _, err := Watermark(testKey, testDevice, id, 1); err == nil {
			t.Errorf("home %q was taken", id)
		}
	}
	if _, err := VerifyWatermark(nil, []byte{0xFF, 0xD8}); err == nil {
		t.Error("an empty key was taken")
	}
	if _, err := InsertWatermark([]byte("nope"), nil); err == nil {
		t.Error("InsertWatermark took a non-JPEG")
	}
}

// fuzzKey is the key the committed corpus was made with.
var fuzzKey = []byte("camvault-fuzz-watermark-key-0001")

func FuzzVerifyWatermark(f *testing.F) {
	seg, err := Watermark(fuzzKey, testDevice, testHome, 9)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(append([]byte{0xFF, 0xD8}, append(seg, 0xFF, 0xD9)...))
	f.Add([]byte{0xFF, 0xD8, 0xFF, 0xDA})
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := VerifyWatermark(fuzzKey, data)
		if err != nil {
			if !errors.Is(err, ErrNoWatermark) && !errors.Is(err, ErrBadWatermark) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		// Whatever verifies must hold exactly the segment Watermark makes.
		seg, err := Watermark(fuzzKey, info.DeviceID, info.HomeID, info.Seq)
		if err != nil {
			t.Fatalf("verified fields %+v do not make a watermark: %v", info, err)
		}
		if !bytes.Contains(data, seg[4:]) {
			t.Fatalf("verified %+v, but the data lacks its canonical text", info)
		}
	})
}
