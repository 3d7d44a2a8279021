package servicetest
import ("testing";"bytes";"github.com/camvault/camvault/internal/media")
func TestMP4Info(t *testing.T){
	info, err := media.ReadClipInfo(bytes.NewReader(MP4(10000)))
	if err != nil { t.Fatal(err) }
	want := media.ClipInfo{Codec: MP4Codec, DurationMS: MP4DurationMS, Width: MP4Width, Height: MP4Height}
	if info != want { t.Fatalf("%+v, want %+v", info, want) }
}
