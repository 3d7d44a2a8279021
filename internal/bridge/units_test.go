package bridge

import (
	"bytes"
	"image"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/pmp4"

	"github.com/camvault/camvault/internal/bridge/bridgetest"
	"github.com/camvault/camvault/internal/media/h264"
)

// loadStream reads a fixture as the bridge would receive it: access units
// through the assembler, 15 a second from t0.
func loadStream(t testing.TB, path string, codec Codec, t0 time.Time) []AccessUnit {
	t.Helper()
	raw, params, err := bridgetest.LoadVideo(path, codec == H265)
	if err != nil {
		t.Fatal(err)
	}
	var ps ParamSets
	if codec == H265 {
		ps = ParamSets{VPS: params[0], SPS: params[1], PPS: params[2]}
	} else {
		ps = ParamSets{SPS: params[0], PPS: params[1]}
	}
	asm := newAssembler(codec, ps)
	var out []AccessUnit
	for i, nalus := range raw {
		au, ok, err := asm.assemble(nalus, int64(i)*6000, t0.Add(time.Duration(i)*time.Second/15))
		if err != nil || !ok {
			t.Fatalf("access unit %d: %v %v", i, ok, err)
		}
		out = append(out, au)
	}
	return out
}

// A clip cut from the ring starts at the keyframe at or before the
// pre-roll's start and ends at the post-roll's end, and remuxes to an MP4
// of the camera's codec that starts with a keyframe, for both codecs.
func TestRingCutAndClip(t *testing.T) {
	for _, tc := range []struct {
		path  string
		codec Codec
	}{{"../sim/camera/fixtures/640x360.h264", H264}, {"testdata/640x360.h265", H265}} {
		t.Run(string(tc.codec), func(t *testing.T) {
			t0 := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
			aus := loadStream(t, tc.path, tc.codec, t0)
			r := newRing(time.Minute, 64<<20)
			for i, au := range aus {
				r.add(au, i == 0)
			}
			// Motion at 2.5 s with a 1 s pre-roll: the keyframe at 0 or 2 s
			// (one every 2 s) at or before 1.5 s is at 0.
			at := t0.Add(2500 * time.Millisecond)
			cut := r.cut(at.Add(-time.Second), at.Add(time.Second))
			if len(cut) == 0 || !cut[0].Key || !cut[0].At.Equal(t0) {
				t.Fatalf("cut starts at %v (key %v), want the keyframe at 0", cut[0].At.Sub(t0), cut[0].Key)
			}
			if last := cut[len(cut)-1].At; last.After(at.Add(time.Second)) || at.Add(time.Second).Sub(last) > time.Second/15 {
				t.Fatalf("cut ends at %v", last.Sub(t0))
			}
			clip, err := writeClip(tc.codec, cut, nil)
			if err != nil {
				t.Fatal(err)
			}
			var pres pmp4.Presentation
			if err := pres.Unmarshal(bytes.NewReader(clip)); err != nil {
				t.Fatal(err)
			}
			tr := pres.Tracks[0]
			switch tr.Codec.(type) {
			case *codecs.H264:
				if tc.codec != H264 {
					t.Fatal("H.264 track for an H.265 stream")
				}
			case *codecs.H265:
				if tc.codec != H265 {
					t.Fatal("H.265 track for an H.264 stream")
				}
			}
			if len(tr.Samples) != len(cut) || tr.Samples[0].IsNonSyncSample {
				t.Fatalf("%d samples (want %d), first sync %v", len(tr.Samples), len(cut), !tr.Samples[0].IsNonSyncSample)
			}
			// The pictures are the camera's own bytes.
			p, err := tr.Samples[1].GetPayload()
			if err != nil || !bytes.Equal(p, mustAVCC(t, cut[1].NALUs)) {
				t.Fatalf("sample 1 is not the camera's picture: %v", err)
			}
		})
	}
}

// The ring drops what is past its window or its byte bound, and a
// reconnect empties it.
func TestRingBounds(t *testing.T) {
	t0 := time.Now()
	aus := loadStream(t, "../sim/camera/fixtures/640x360.h264", H264, t0)
	r := newRing(time.Second, 1<<30)
	for _, au := range aus {
		r.add(au, false)
	}
	if d := r.aus[len(r.aus)-1].At.Sub(r.aus[0].At); d > time.Second {
		t.Fatalf("ring holds %v, window 1 s", d)
	}
	small := newRing(time.Hour, 100_000)
	for _, au := range aus {
		small.add(au, false)
	}
	if small.bytes > 100_000+aus[0].Size() {
		t.Fatalf("ring holds %d bytes, bound 100000", small.bytes)
	}
	small.add(aus[0], true)
	if len(small.aus) != 1 {
		t.Fatalf("a restart left %d access units", len(small.aus))
	}
	if got := small.cut(t0.Add(-2*time.Hour), t0.Add(-time.Hour)); got != nil {
		t.Fatal("a cut before every picture returned pictures")
	}
}

// A keyframe without its parameter sets gets them from the session
// description; delimiters are dropped; a keyframe before any parameter
// set is skipped with errNoParams.
func TestAssemblerParameterSets(t *testing.T) {
	sps, pps := []byte{0x67, 1, 2}, []byte{0x68, 3}
	idr, aud, slice := []byte{0x65, 0x88}, []byte{0x09, 0xF0}, []byte{0x41, 0x9A}
	a := newAssembler(H264, ParamSets{SPS: sps, PPS: pps})
	au, ok, err := a.assemble([][]byte{aud, idr}, 0, time.Now())
	if err != nil || !ok || !au.Key || len(au.NALUs) != 3 || !bytes.Equal(au.NALUs[0], sps) || !bytes.Equal(au.NALUs[1], pps) {
		t.Fatalf("keyframe: %+v %v %v", au, ok, err)
	}
	au, _, _ = a.assemble([][]byte{slice}, 3000, time.Now())
	if au.Key || len(au.NALUs) != 1 {
		t.Fatalf("non-key picture: %+v", au)
	}
	if _, _, err := newAssembler(H264, ParamSets{}).assemble([][]byte{idr}, 0, time.Now()); err != errNoParams {
		t.Fatalf("keyframe with no parameter sets known: %v", err)
	}
	// In-band parameter sets replace the SDP's.
	sps2 := []byte{0x67, 9, 9}
	au, _, _ = a.assemble([][]byte{sps2, pps, idr}, 6000, time.Now())
	if len(au.NALUs) != 3 || !bytes.Equal(a.params.SPS, sps2) {
		t.Fatalf("in-band SPS: %+v", a.params)
	}
}

func scene(w, h int, box image.Rectangle, base uint8) *image.YCbCr {
	img := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	for y := range h {
		for x := range w {
			v := base + uint8((x/16+y/16)%2*20)
			if image.Pt(x, y).In(box) {
				v = 250
			}
			img.Y[img.YOffset(x, y)] = v
		}
	}
	return img
}

// The detector sees a moving object in a watched zone, not a change of
// the whole picture's brightness, not motion in an ignored zone, and
// nothing when off.
func TestDetector(t *testing.T) {
	left, right := image.Rect(40, 200, 140, 300), image.Rect(500, 200, 600, 300)
	cases := []struct {
		name        string
		sensitivity int
		zones       string
		a, b        *image.YCbCr
		want        bool
	}{
		{"still", 50, "", scene(640, 360, left, 80), scene(640, 360, left, 80), false},
		{"lights", 50, "", scene(640, 360, image.Rectangle{}, 80), scene(640, 360, image.Rectangle{}, 130), false},
		{"moved", 50, "", scene(640, 360, left, 80), scene(640, 360, right, 80), true},
		{"moved where ignored", 50, "1000/1000", scene(640, 360, image.Rect(400, 0, 500, 100), 80), scene(640, 360, image.Rect(520, 0, 620, 100), 80), false},
		{"moved where watched", 50, "1000/1000", scene(640, 360, image.Rect(0, 0, 60, 100), 80), scene(640, 360, image.Rect(80, 0, 140, 100), 80), true},
		{"off", 0, "", scene(640, 360, left, 80), scene(640, 360, right, 80), false},
	}
	for _, tc := range cases {
		z, err := ParseZones(tc.zones)
		if err != nil {
			t.Fatal(err)
		}
		d := detector{sensitivity: tc.sensitivity, zones: z}
		if _, m, err := d.feed(tc.a); err != nil || m {
			t.Fatalf("%s: the first picture: %v %v", tc.name, m, err)
		}
		share, m, err := d.feed(tc.b)
		if err != nil || m != tc.want {
			t.Errorf("%s: motion %v (share %.3f), want %v (%v)", tc.name, m, share, tc.want, err)
		}
	}
	if _, _, err := (&detector{sensitivity: 50}).feed(scene(32, 18, image.Rectangle{}, 0)); err != errNoMotionCheck {
		t.Fatalf("a picture smaller than the grid: %v", err)
	}
}

func TestParseZones(t *testing.T) {
	for _, bad := range []string{"0000/0000", "11/111", "12/11", strings.Repeat("1", 33)} {
		if _, err := ParseZones(bad); err == nil {
			t.Errorf("zones %q accepted", bad)
		}
	}
	z, err := ParseZones("01,10")
	if err != nil || !z.watched(gridW-1, 0) || z.watched(0, 0) || !z.watched(0, gridH-1) {
		t.Fatalf("zones 01,10: %+v %v", z, err)
	}
}

// The queue keeps events oldest first across a restart, removes a write a
// crash cut short, and past its bound drops the oldest and counts it.
func TestQueueDurableAndBounded(t *testing.T) {
	dir := t.TempDir()
	q, err := openQueue(dir, 3, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := q.put("ev-"+string(rune('a'+i)), "multipart/form-data; boundary=x", []byte("body")); err != nil {
			t.Fatal(err)
		}
	}
	if q.dropped.Load() != 2 {
		t.Fatalf("dropped %d, want 2", q.dropped.Load())
	}
	if err := os.WriteFile(filepath.Join(dir, "x.event.tmp"), []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	q2, err := openQueue(dir, 3, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	files, err := q2.list()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, f := range files {
		ids = append(ids, f.eventID)
	}
	if strings.Join(ids, ",") != "ev-c,ev-d,ev-e" {
		t.Fatalf("queue after a restart: %v", ids)
	}
	if _, err := os.Stat(filepath.Join(dir, "x.event.tmp")); err == nil {
		t.Fatal("a cut-short write was left")
	}
	ctype, body, err := q2.read(files[0])
	if err != nil || ctype != "multipart/form-data; boundary=x" || string(body) != "body" {
		t.Fatalf("read: %q %q %v", ctype, body, err)
	}
	small, err := openQueue(t.TempDir(), 100, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a", "b", "c"} {
		if err := small.put(id, "t", []byte("0123456789")); err != nil {
			t.Fatal(err)
		}
	}
	if files, _ := small.list(); len(files) != 1 || files[0].eventID != "c" {
		t.Fatalf("byte bound: %+v", files)
	}
}

// A key file others can read is refused; a sealed value does not open
// for another camera or field.
func TestStateKeyAndSealing(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(t.TempDir(), "k")
	st, err := OpenState(filepath.Join(dir, "s"), key, true)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := st.seal("dev-1", "password", "hunter2")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := st.open("dev-1", "password", sealed); err != nil || got != "hunter2" {
		t.Fatalf("open: %q %v", got, err)
	}
	if _, err := st.open("dev-2", "password", sealed); err == nil {
		t.Fatal("a sealed password opened for another camera")
	}
	if _, err := st.open("dev-1", "device_token", sealed); err == nil {
		t.Fatal("a sealed password opened as a device token")
	}
	if err := os.Chmod(key, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenState(filepath.Join(dir, "s"), key, false); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("a key others can read: %v", err)
	}
	if err := os.Chmod(filepath.Join(dir, "s"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(key, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenState(filepath.Join(dir, "s"), key, false); err != nil {
		t.Fatal(err)
	}
	if info, _ := os.Stat(filepath.Join(dir, "s")); info.Mode().Perm() != 0o700 {
		t.Fatalf("an open state directory was left %v", info.Mode().Perm())
	}
}

func mustAVCC(t *testing.T, nalus [][]byte) []byte {
	t.Helper()
	b, err := h264.AppendAVCC(nil, nalus)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
