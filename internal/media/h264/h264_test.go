package h264

import (
	"bytes"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"

	"github.com/camvault/camvault/internal/media"
)

// small.h264 (testdata/make.sh): 6 pictures, 176x100, an IDR every 3, two
// slices per picture, a delimiter before each, x264's SEI in the first.
func readSmall(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/small.h264")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func smallAUs(t *testing.T) [][][]byte {
	t.Helper()
	nalus, err := SplitAnnexB(readSmall(t))
	if err != nil {
		t.Fatal(err)
	}
	aus, err := AccessUnits(nalus)
	if err != nil {
		t.Fatal(err)
	}
	return aus
}

func types(nalus [][]byte) []int {
	var out []int
	for _, n := range nalus {
		out = append(out, Type(n))
	}
	return out
}

func TestAccessUnitsOfAStream(t *testing.T) {
	aus := smallAUs(t)
	if len(aus) != 6 {
		t.Fatalf("%d access units, want 6", len(aus))
	}
	want := [][]int{
		{TypeAUD, TypeSPS, TypePPS, TypeSEI, TypeIDR, TypeIDR},
		{TypeAUD, TypeSlice, TypeSlice},
		{TypeAUD, TypeSlice, TypeSlice},
		{TypeAUD, TypeSPS, TypePPS, TypeIDR, TypeIDR},
		{TypeAUD, TypeSlice, TypeSlice},
		{TypeAUD, TypeSlice, TypeSlice},
	}
	for i, au := range aus {
		if got := types(au); !slices.Equal(got, want[i]) {
			t.Errorf("access unit %d: NAL unit types %v, want %v", i, got, want[i])
		}
		if key := IsKeyframe(au); key != (i%3 == 0) {
			t.Errorf("access unit %d: keyframe %v", i, key)
		}
	}
	p, err := FindParams(aus[0])
	if err != nil {
		t.Fatal(err)
	}
	if p.Width != 176 || p.Height != 100 {
		t.Errorf("picture %dx%d, want 176x100 (cropped from 176x112)", p.Width, p.Height)
	}
	if p.Profile != 66 || p.Constraints&0x40 == 0 {
		t.Errorf("profile %d constraints %#x: want constrained baseline", p.Profile, p.Constraints)
	}
	if c := p.Codec(); !strings.HasPrefix(c, "avc1.42c0") || len(c) != len("avc1.42c00d") {
		t.Errorf("codec %q", c)
	}
	if _, err := FindParams(aus[1]); err == nil {
		t.Error("parameters found in a P picture")
	}

	// Without delimiters the slices still group into the same pictures.
	var bare [][]byte
	for _, au := range aus {
		for _, n := range au {
			if Type(n) != TypeAUD {
				bare = append(bare, n)
			}
		}
	}
	regrouped, err := AccessUnits(bare)
	if err != nil {
		t.Fatal(err)
	}
	if len(regrouped) != 6 {
		t.Fatalf("without delimiters: %d access units, want 6", len(regrouped))
	}
	for i := range regrouped {
		if !slices.Equal(types(regrouped[i]), want[i][1:]) {
			t.Errorf("without delimiters, access unit %d: %v", i, types(regrouped[i]))
		}
	}
}

func TestSplitAnnexB(t *testing.T) {
	// 3- and 4-byte start codes, leading and trailing zeros, an empty
	// NAL unit between two start codes.
	in := []byte{0, 0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3, 0, 0, 0, 0, 1, 0, 0, 1, 0x65, 9, 0, 0}
	got, err := SplitAnnexB(in)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]byte{{0x67, 1, 2}, {0x68, 3}, {0x65, 9}}
	if !slices.EqualFunc(got, want, bytes.Equal) {
		t.Fatalf("got %x, want %x", got, want)
	}
	if back, err := SplitAnnexB(AppendAnnexB(nil, got)); err != nil || !slices.EqualFunc(back, want, bytes.Equal) {
		t.Fatalf("round trip: %x, %v", back, err)
	}
	for name, bad := range map[string][]byte{
		"empty":             nil,
		"no start code":     {0x65, 1, 2, 3},
		"junk before":       {7, 0, 0, 1, 0x65, 1},
		"only start codes":  {0, 0, 1, 0, 0, 0, 1},
		"forbidden bit set": {0, 0, 1, 0xE5, 1},
	} {
		if _, err := SplitAnnexB(bad); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestAccessUnitsNeedPictures(t *testing.T) {
	idr := []byte{0x65, 0x88}
	sps := []byte{0x67, 0x42}
	for name, nalus := range map[string][][]byte{
		"nothing":             nil,
		"no slice":            {sps},
		"parameters at end":   {idr, sps},
		"SEI after last one":  {idr, {0x06, 5, 0x80}},
		"delimiter after one": {idr, {0x09, 0xF0}},
	} {
		if _, err := AccessUnits(nalus); !errors.Is(err, ErrNoPicture) {
			t.Errorf("%s: %v, want ErrNoPicture", name, err)
		}
	}
	// A slice continuing a picture (first_mb_in_slice > 0) stays in it;
	// one starting a picture begins the next access unit.
	aus, err := AccessUnits([][]byte{idr, {0x65, 0x40}, {0x41, 0x9A}, {0x41, 0x20}})
	if err != nil || len(aus) != 2 || len(aus[0]) != 2 || len(aus[1]) != 2 {
		t.Fatalf("%v %v", aus, err)
	}
}

func TestAVCC(t *testing.T) {
	au := [][]byte{{0x67, 1}, {0x65, 0, 0, 1, 2}}
	b, err := AppendAVCC(nil, au)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, []byte{0, 0, 0, 2, 0x67, 1, 0, 0, 0, 5, 0x65, 0, 0, 1, 2}) {
		t.Fatalf("%x", b)
	}
	back, err := SplitAVCC(b)
	if err != nil || !slices.EqualFunc(back, au, bytes.Equal) {
		t.Fatalf("%x %v", back, err)
	}
	if _, err := SplitAVCC(b[:len(b)-1]); err == nil {
		t.Error("a cut sample splits")
	}
	if _, err := AppendAVCC(nil, [][]byte{{}}); err == nil {
		t.Error("an empty NAL unit was length-prefixed")
	}
}

var testUUID = UUID{0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}

// hasStartCode reports whether b holds 00 00 00, 00 00 01 or 00 00 02,
// which emulation prevention must rule out inside a NAL unit.
func hasStartCode(b []byte) bool {
	for i := 0; i+2 < len(b); i++ {
		if b[i] == 0 && b[i+1] == 0 && b[i+2] <= 2 {
			return true
		}
	}
	return false
}

func TestSEIRoundTrip(t *testing.T) {
	payloads := [][]byte{
		nil,
		{0, 0, 0, 0, 0, 1, 0, 0, 2, 0, 0, 3, 0, 0},
		bytes.Repeat([]byte{0}, 300), // size coded with a 0xFF run
		[]byte("hello"),
	}
	for _, p := range payloads {
		sei := UserDataSEI(testUUID, p)
		if Type(sei) != TypeSEI || hasStartCode(sei) {
			t.Fatalf("payload %x: SEI %x is not a proper NAL unit", p, sei)
		}
		got, err := UserData([][]byte{sei}, testUUID)
		if err != nil || len(got) != 1 || !bytes.Equal(got[0], p) {
			t.Fatalf("payload %x: read back %x, %v", p, got, err)
		}
		if other, err := UserData([][]byte{sei}, UUID{1}); err != nil || len(other) != 0 {
			t.Fatalf("another UUID's messages: %x, %v", other, err)
		}
	}
	// Escaping: 00 00 0x gets a 03 in front, and unescaping removes it.
	raw := []byte{0, 0, 0, 0, 0, 3, 7, 0, 0, 4}
	esc := AppendEscaped(nil, raw)
	if !bytes.Equal(esc, []byte{0, 0, 3, 0, 0, 3, 0, 3, 7, 0, 0, 4}) {
		t.Fatalf("escaped %x", esc)
	}
	if !bytes.Equal(Unescape(esc), raw) {
		t.Fatalf("unescaped %x", Unescape(esc))
	}
}

func TestInsertSEI(t *testing.T) {
	aus := smallAUs(t)
	sei := UserDataSEI(testUUID, []byte{0, 0, 1, 9})
	for i, au := range aus {
		with, err := InsertSEI(au, sei)
		if err != nil {
			t.Fatal(err)
		}
		// Right before the first slice, after the delimiter, parameter
		// sets and x264's SEI.
		first := slices.IndexFunc(au, func(n []byte) bool { return isVCL(Type(n)) })
		if !bytes.Equal(with[first], sei) || len(with) != len(au)+1 {
			t.Fatalf("access unit %d: SEI not before the first slice: %v", i, types(with))
		}
		got, err := UserData(with, testUUID)
		if err != nil || len(got) != 1 || !bytes.Equal(got[0], []byte{0, 0, 1, 9}) {
			t.Fatalf("access unit %d: %x, %v", i, got, err)
		}
		aus[i] = with
	}
	// The stream still splits into the same access units.
	var stream []byte
	for _, au := range aus {
		stream = AppendAnnexB(stream, au)
	}
	nalus, err := SplitAnnexB(stream)
	if err != nil {
		t.Fatal(err)
	}
	again, err := AccessUnits(nalus)
	if err != nil || len(again) != len(aus) {
		t.Fatalf("%d access units, %v", len(again), err)
	}
	for i := range aus {
		if !slices.EqualFunc(again[i], aus[i], bytes.Equal) {
			t.Errorf("access unit %d changed", i)
		}
	}
	if _, err := InsertSEI([][]byte{{0x67, 1}}, sei); !errors.Is(err, ErrNoPicture) {
		t.Errorf("insert into no picture: %v", err)
	}
	if _, err := InsertSEI(aus[0], []byte{0x65, 1}); err == nil {
		t.Error("a slice inserted as SEI")
	}
}

func TestUserDataRejectsBadSEI(t *testing.T) {
	for name, sei := range map[string][]byte{
		"size past the end":  {0x06, 5, 40, 1, 2, 3, 0x80},
		"header cut short":   {0x06, 0xFF, 0xFF},
		"no trailing bits":   {0x06, 5, 0},
		"type with no size":  {0x06, 5},
		"empty SEI NAL unit": {0x06},
	} {
		if _, err := UserData([][]byte{sei}, testUUID); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	// Several messages in one SEI NAL unit: ours is found among them.
	rbsp := []byte{1, 2, 0xAA, 0xBB, 5, 17}
	rbsp = append(rbsp, testUUID[:]...)
	rbsp = append(rbsp, 0x42, 0x80)
	got, err := UserData([][]byte{AppendEscaped([]byte{0x06}, rbsp)}, testUUID)
	if err != nil || len(got) != 1 || !bytes.Equal(got[0], []byte{0x42}) {
		t.Fatalf("%x %v", got, err)
	}
}

// withPTS gives the access units times 1/15 s apart from start.
func withPTS(aus [][][]byte, start int64) []AccessUnit {
	out := make([]AccessUnit, len(aus))
	for i, au := range aus {
		out[i] = AccessUnit{PTS: start + int64(i)*6000, NALUs: au}
	}
	return out
}

func TestMP4RoundTrip(t *testing.T) {
	aus := withPTS(smallAUs(t), 1_000_000)
	end := aus[len(aus)-1].PTS + 6000
	file, err := WriteMP4(aus, end)
	if err != nil {
		t.Fatal(err)
	}
	var c media.MP4Checker
	if _, err := c.Write(file); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("the server's check refuses the movie: %v", err)
	}
	p, back, err := ReadMP4(file)
	if err != nil {
		t.Fatal(err)
	}
	if p.Width != 176 || p.Height != 100 {
		t.Errorf("%dx%d", p.Width, p.Height)
	}
	if len(back) != len(aus) {
		t.Fatalf("%d samples, want %d", len(back), len(aus))
	}
	for i := range back {
		if back[i].PTS != int64(i)*6000 || !slices.EqualFunc(back[i].NALUs, aus[i].NALUs, bytes.Equal) || back[i].Keyframe() != aus[i].Keyframe() {
			t.Errorf("sample %d differs: PTS %d", i, back[i].PTS)
		}
	}

	if _, err := WriteMP4(aus[1:], end); err == nil {
		t.Error("a movie starting on a P picture was written")
	}
	if _, err := WriteMP4(aus, aus[len(aus)-1].PTS); err == nil {
		t.Error("a movie whose last picture lasts no time was written")
	}
	if _, _, err := ReadMP4(file[:len(file)-100]); err == nil {
		t.Error("a cut movie reads")
	}
}

func TestFragmentedMP4(t *testing.T) {
	aus := withPTS(smallAUs(t), 0)
	p, err := FindParams(aus[0].NALUs)
	if err != nil {
		t.Fatal(err)
	}
	init, err := InitSegment(p)
	if err != nil {
		t.Fatal(err)
	}
	var in fmp4.Init
	if err := in.Unmarshal(bytes.NewReader(init)); err != nil || len(in.Tracks) != 1 || in.Tracks[0].TimeScale != Timescale {
		t.Fatalf("init segment: %+v, %v", in, err)
	}
	// Two fragments, each starting with a keyframe.
	var stream []byte
	for i, part := range [][]AccessUnit{aus[:3], aus[3:]} {
		f, err := Fragment(uint32(i+1), part, part[len(part)-1].PTS+6000)
		if err != nil {
			t.Fatal(err)
		}
		stream = append(stream, f...)
	}
	var parts fmp4.Parts
	if err := parts.Unmarshal(stream); err != nil {
		t.Fatal(err)
	}
	if len(parts) != 2 || parts[1].SequenceNumber != 2 || parts[1].Tracks[0].BaseTime != 18000 {
		t.Fatalf("fragments read back wrong: %d parts", len(parts))
	}
	for i, s := range parts[1].Tracks[0].Samples {
		nalus, err := SplitAVCC(s.Payload)
		if err != nil || !slices.EqualFunc(nalus, aus[3+i].NALUs, bytes.Equal) || s.IsNonSyncSample == (i == 0) || s.Duration != 6000 {
			t.Errorf("fragment 2, sample %d differs", i)
		}
	}
	if _, err := Fragment(1, nil, 0); err == nil {
		t.Error("an empty fragment was written")
	}
}

func FuzzAccessUnits(f *testing.F) {
	f.Add(readSmall(f))
	f.Add(append([]byte{0, 0, 1}, UserDataSEI(testUUID, []byte{0, 0, 0, 1})...))
	f.Add([]byte{0, 0, 1, 0x06, 5, 0xFF, 0xFF, 0x10, 0x80, 0, 0, 1, 0x65, 0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		nalus, err := SplitAnnexB(b)
		if err != nil {
			return
		}
		for _, n := range nalus {
			if len(n) == 0 || n[len(n)-1] == 0 {
				t.Fatalf("NAL unit %x: empty or ends in zero", n)
			}
		}
		aus, err := AccessUnits(nalus)
		if err != nil {
			return
		}
		for _, au := range aus {
			_, _ = UserData(au, testUUID)
			_, _ = FindParams(au)
			// What UserDataSEI writes, UserData reads back, whatever the
			// payload.
			payload := bytes.Join(au, nil)
			if len(payload) > 4096 {
				payload = payload[:4096]
			}
			with, err := InsertSEI(au, UserDataSEI(testUUID, payload))
			if err != nil {
				t.Fatal(err)
			}
			got, err := UserData(with, testUUID)
			if err != nil {
				continue // another SEI of the access unit does not parse
			}
			if len(got) == 0 || !bytes.Equal(got[len(got)-1], payload) {
				t.Fatalf("payload %x read back as %x", payload, got)
			}
		}
	})
}

func FuzzReadMP4(f *testing.F) {
	nalus, err := SplitAnnexB(readSmall(f))
	if err != nil {
		f.Fatal(err)
	}
	aus, err := AccessUnits(nalus)
	if err != nil {
		f.Fatal(err)
	}
	movie, err := WriteMP4(withPTS(aus, 0), int64(len(aus))*6000)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(movie)
	f.Fuzz(func(t *testing.T, b []byte) {
		p, got, err := ReadMP4(b)
		if err != nil {
			return
		}
		if p.Width <= 0 || p.Height <= 0 {
			t.Fatalf("read %dx%d", p.Width, p.Height)
		}
		for _, au := range got {
			for _, n := range au.NALUs {
				if len(n) == 0 {
					t.Fatal("an empty NAL unit")
				}
			}
		}
	})
}
