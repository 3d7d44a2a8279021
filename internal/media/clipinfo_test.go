package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The fixtures of testdata/clips (make.sh) and what ffprobe says of them.
var clipFixtures = []struct {
	file string
	want ClipInfo
}{
	{"h264.mp4", ClipInfo{Codec: CodecH264, DurationMS: 2000, Width: 320, Height: 180}},
	{"h264-frag.mp4", ClipInfo{Codec: CodecH264, DurationMS: 2000, Width: 320, Height: 180}},
	{"h264-3s-frag.mp4", ClipInfo{Codec: CodecH264, DurationMS: 3000, Width: 640, Height: 360}},
	{"h265.mp4", ClipInfo{Codec: CodecH265, DurationMS: 2000, Width: 320, Height: 180}},
	{"h265-frag.mp4", ClipInfo{Codec: CodecH265, DurationMS: 2000, Width: 320, Height: 180}},
}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "clips", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// clipInfo streams b through an MP4Checker in chunks of chunk bytes.
func clipInfo(b []byte, chunk int) (ClipInfo, error) {
	var c MP4Checker
	for len(b) > 0 {
		n := min(chunk, len(b))
		if _, err := c.Write(b[:n]); err != nil {
			return ClipInfo{}, err
		}
		b = b[n:]
	}
	if err := c.Close(); err != nil {
		return ClipInfo{}, err
	}
	return c.Info(), nil
}

func TestClipInfoFixtures(t *testing.T) {
	for _, f := range clipFixtures {
		b := readFixture(t, f.file)
		for _, chunk := range []int{1, 7, 4096, len(b)} {
			got, err := clipInfo(b, chunk)
			if err != nil {
				t.Fatalf("%s in chunks of %d: %v", f.file, chunk, err)
			}
			if got != f.want {
				t.Errorf("%s in chunks of %d: %+v, want %+v", f.file, chunk, got, f.want)
			}
		}
		got, err := ReadClipInfo(bytes.NewReader(b))
		if err != nil || got != f.want {
			t.Errorf("ReadClipInfo(%s) = %+v, %v", f.file, got, err)
		}
	}
}

func TestClipInfoRefusesOtherCodecs(t *testing.T) {
	_, err := clipInfo(readFixture(t, "mjpeg.mp4"), 1000)
	if !errors.Is(err, ErrClipCodec) {
		t.Fatalf("Motion JPEG clip: %v, want %v", err, ErrClipCodec)
	}
	// A movie with no track at all.
	_, err = clipInfo(append(append(box("ftyp", []byte("isom\x00\x00\x02\x00isomiso2")), box("moov", make([]byte, 100))...), box("mdat", make([]byte, 5000))...), 1000)
	if err == nil {
		t.Fatal("a movie without tracks accepted")
	}
}

// TestClipInfoTruncated cuts every fixture at many points: none is
// accepted, and none panics.
func TestClipInfoTruncated(t *testing.T) {
	for _, f := range clipFixtures {
		b := readFixture(t, f.file)
		for cut := 0; cut < len(b); cut += 1 + cut/3 {
			if _, err := clipInfo(b[:cut], 512); err == nil {
				t.Errorf("%s cut at %d of %d accepted", f.file, cut, len(b))
			}
		}
	}
}

// find returns the offset of the first box of type typ in b (its size
// field), searching the bytes, or fails.
func find(t *testing.T, b []byte, typ string) int {
	t.Helper()
	i := bytes.Index(b, []byte(typ))
	if i < 4 {
		t.Fatalf("no %s box", typ)
	}
	return i - 4
}

func TestClipInfoHostile(t *testing.T) {
	frag := readFixture(t, "h264-frag.mp4")
	prog := readFixture(t, "h265.mp4")
	edit := func(b []byte, f func([]byte)) []byte {
		c := append([]byte{}, b...)
		f(c)
		return c
	}
	moovAt := find(t, prog, "moov")
	moovSize := int(binary.BigEndian.Uint32(prog[moovAt:]))
	cases := map[string]struct {
		b    []byte
		want string
	}{
		"trun sample count past its box": {edit(frag, func(c []byte) {
			binary.BigEndian.PutUint32(c[find(t, c, "trun")+12:], 0xFFFFFFFF)
		}), "runs past"},
		"box in moov smaller than its header": {edit(prog, func(c []byte) {
			binary.BigEndian.PutUint32(c[find(t, c, "mvhd"):], 4)
		}), "size"},
		"box in moov past its parent": {edit(prog, func(c []byte) {
			binary.BigEndian.PutUint32(c[find(t, c, "trak"):], 1<<20)
		}), "moov"},
		"no video handler": {edit(prog, func(c []byte) {
			copy(c[find(t, c, "hdlr")+16:], "soun")
		}), ErrClipCodec.Error()},
		"unknown sample entry": {edit(prog, func(c []byte) {
			copy(c[find(t, c, "hvc1")+4:], "vp09")
		}), ErrClipCodec.Error()},
		"zero timescale": {edit(prog, func(c []byte) {
			binary.BigEndian.PutUint32(c[find(t, c, "mdhd")+20:], 0)
		}), "timescale"},
		"zero width": {edit(prog, func(c []byte) {
			binary.BigEndian.PutUint32(c[find(t, c, "hvc1")+32:], 0)
			binary.BigEndian.PutUint32(c[find(t, c, "tkhd")+84:], 0)
		}), "picture is 0x"},
		"a duration of years": {edit(prog, func(c []byte) {
			binary.BigEndian.PutUint32(c[find(t, c, "mdhd")+20:], 1)
			binary.BigEndian.PutUint32(c[find(t, c, "mdhd")+24:], 0xFFFFFFFF)
		}), "lasts more than"},
		"two moov boxes": {append(append([]byte{}, prog[:moovAt+moovSize]...), prog[moovAt:]...), "more than one moov"},
		"moof before moov": {append(append(append([]byte{}, frag[:find(t, frag, "moov")]...),
			frag[find(t, frag, "moof"):]...), frag[find(t, frag, "moov"):find(t, frag, "moof")]...), "before the moov"},
		"moov over its cap": {append(append([]byte{}, prog[:moovAt]...),
			box("moov", make([]byte, MaxMoovBox))...), "larger than"},
		"moof over its cap": {append(append([]byte{}, frag[:find(t, frag, "moof")]...),
			box("moof", make([]byte, MaxMoofBox))...), "larger than"},
	}
	for name, c := range cases {
		_, err := clipInfo(c.b, 4096)
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q", name, err, c.want)
		}
	}
}

// TestClipInfoMoovToEnd reads a movie box of size 0, which runs to the
// end of the file.
func TestClipInfoMoovToEnd(t *testing.T) {
	prog := readFixture(t, "h264.mp4")
	at := find(t, prog, "moov")
	size := int(binary.BigEndian.Uint32(prog[at:]))
	// ftyp, then mdat, then moov to the end.
	b := append([]byte{}, prog[:at]...)
	b = append(b, prog[at+size:]...)
	moov := append([]byte{}, prog[at:at+size]...)
	binary.BigEndian.PutUint32(moov, 0)
	b = append(b, moov...)
	got, err := clipInfo(b, 300)
	if err != nil {
		t.Fatal(err)
	}
	if want := clipFixtures[0].want; got != want {
		t.Fatalf("%+v, want %+v", got, want)
	}
}

// TestClipInfoFragmentDurations checks the sources of a fragmented
// clip's duration: each sample's own in trun, the track fragment's
// default (tfhd), the track's default (trex), and the movie's declared
// fragment duration (mehd) when no fragment says.
func TestClipInfoFragmentDurations(t *testing.T) {
	for _, tc := range []struct {
		name string
		clip []byte
		ms   int64
	}{
		{"per sample", craftFragmented(craft{samples: 30, perSample: 1000}), 2000},
		{"tfhd default", craftFragmented(craft{samples: 30, tfhdDefault: 500}), 1000},
		{"trex default", craftFragmented(craft{samples: 45, trexDefault: 1000}), 3000},
		{"mehd only", craftFragmented(craft{mehd: 4500}), 4500},
		{"other track's fragments", craftFragmented(craft{samples: 30, perSample: 1000, fragTrack: 2, mehd: 1000}), 1000},
	} {
		got, err := clipInfo(tc.clip, 64)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		want := ClipInfo{Codec: CodecH264, DurationMS: tc.ms, Width: 1920, Height: 1080}
		if got != want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, want)
		}
	}
	// Samples past the bound, in runs that hold no per-sample fields and
	// so cost no bytes each.
	huge := craftFragmented(craft{samples: maxClipSamples/2 + 1, trexDefault: 1, fragments: 2})
	if _, err := clipInfo(huge, 4096); err == nil || !strings.Contains(err.Error(), "samples") {
		t.Fatalf("more than %d samples: %v", maxClipSamples, err)
	}
}

// craft describes a fragmented clip of one H.264 track (ID 1, timescale
// 15000, 1920x1080) that craftFragmented writes.
type craft struct {
	samples     int    // per fragment
	fragments   int    // default 1
	perSample   uint32 // each sample's duration in trun, if not 0
	tfhdDefault uint32 // tfhd's default duration, if not 0
	trexDefault uint32
	mehd        uint32 // in the movie timescale (1000)
	fragTrack   uint32 // the fragments' track ID; default 1
}

func fullBox(typ string, flags uint32, payload ...[]byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, flags)
	for _, p := range payload {
		b = append(b, p...)
	}
	return box(typ, b)
}

func u32(vs ...uint32) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.BigEndian.AppendUint32(b, v)
	}
	return b
}

func craftFragmented(c craft) []byte {
	if c.fragments == 0 {
		c.fragments = 1
	}
	if c.fragTrack == 0 {
		c.fragTrack = 1
	}
	mvhd := fullBox("mvhd", 0, u32(0, 0, 1000, 0, 0x10000), []byte{1, 0, 0, 0}, make([]byte, 8), make([]byte, 36), make([]byte, 24), u32(2))
	tkhd := fullBox("tkhd", 7, u32(0, 0, 1, 0, 0), make([]byte, 8), make([]byte, 8), make([]byte, 36), u32(1920<<16, 1080<<16))
	mdhd := fullBox("mdhd", 0, u32(0, 0, 15000, 0), []byte{0x55, 0xC4, 0, 0})
	hdlr := fullBox("hdlr", 0, u32(0), []byte("vide"), make([]byte, 12), []byte("Video\x00"))
	entry := append(make([]byte, 6), 0, 1)
	entry = append(entry, make([]byte, 16)...)
	entry = append(entry, 0x07, 0x80, 0x04, 0x38) // 1920x1080
	entry = append(entry, make([]byte, 50)...)
	stsd := fullBox("stsd", 0, u32(1), box("avc1", entry))
	trak := box("trak", append(tkhd, box("mdia", append(append(mdhd, hdlr...), box("minf", box("stbl", stsd))...))...))
	mvex := fullBox("trex", 0, u32(1, 1, c.trexDefault, 0, 0))
	if c.mehd != 0 {
		mvex = append(fullBox("mehd", 0, u32(c.mehd)), mvex...)
	}
	out := box("ftyp", []byte("isom\x00\x00\x02\x00isomiso6"))
	out = append(out, box("moov", append(append(mvhd, trak...), box("mvex", mvex)...))...)
	for f := 0; f < c.fragments && c.samples > 0; f++ {
		var tfhd []byte
		if c.tfhdDefault != 0 {
			tfhd = fullBox("tfhd", 0x020008, u32(c.fragTrack, c.tfhdDefault))
		} else {
			tfhd = fullBox("tfhd", 0x020000, u32(c.fragTrack))
		}
		var trun []byte
		if c.perSample != 0 {
			entries := make([]byte, 0, 4*c.samples)
			for range c.samples {
				entries = binary.BigEndian.AppendUint32(entries, c.perSample)
			}
			trun = fullBox("trun", 0x000100, u32(uint32(c.samples)), entries)
		} else {
			trun = fullBox("trun", 0, u32(uint32(c.samples)))
		}
		moof := box("moof", append(fullBox("mfhd", 0, u32(uint32(f+1))), box("traf", append(tfhd, trun...))...))
		out = append(out, moof...)
		out = append(out, box("mdat", []byte{0, 0, 0, 0})...)
	}
	return out
}

// emptyMdat returns b with its top-level mdat boxes emptied: the boxes
// the reader reads, in a seed small enough for the fuzzer to mutate.
func emptyMdat(b []byte) []byte {
	var out []byte
	for len(b) >= 8 {
		n := int(binary.BigEndian.Uint32(b))
		if n < 8 || n > len(b) {
			break
		}
		if string(b[4:8]) == "mdat" {
			out = append(out, box("mdat", nil)...)
		} else {
			out = append(out, b[:n]...)
		}
		b = b[n:]
	}
	return out
}

// FuzzClipInfo streams arbitrary bytes through the checker: whatever
// they are, the work is bounded and nothing panics; an accepted clip has
// an info within the bounds.
func FuzzClipInfo(f *testing.F) {
	for _, c := range clipFixtures {
		f.Add(emptyMdat(readFixture(f, c.file)))
	}
	f.Add(craftFragmented(craft{samples: 3, perSample: 1000}))
	f.Add(craftFragmented(craft{samples: 3, tfhdDefault: 500, mehd: 100}))
	f.Add(testMP4())
	f.Fuzz(func(t *testing.T, b []byte) {
		info, err := clipInfo(b, 1000)
		if err != nil {
			return
		}
		if info.Codec != CodecH264 && info.Codec != CodecH265 {
			t.Fatalf("accepted with codec %q", info.Codec)
		}
		if info.DurationMS < 0 || info.DurationMS > maxClipDuration || info.Width <= 0 || info.Height <= 0 ||
			info.Width > maxClipSide || info.Height > maxClipSide {
			t.Fatalf("accepted with info %+v", info)
		}
	})
}
