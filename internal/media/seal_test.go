package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"

	"pgregory.net/rapid"

	"github.com/camvault/camvault/internal/keys"
)

func sealBytes(t interface{ Fatal(...any) }, dk keys.DataKey, l Label, pt []byte) []byte {
	out, err := io.ReadAll(Seal(dk, l, bytes.NewReader(pt)))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func keyOf(dk keys.DataKey) func(string) (keys.DataKey, error) {
	return func(string) (keys.DataKey, error) { return dk, nil }
}

func TestRoundTripAndRanges(t *testing.T) {
	dk, _ := keys.NewDataKey()
	l := Label{"home", "dev", "evt", "clip"}
	for _, size := range []int{0, 1, SegmentSize - 1, SegmentSize, SegmentSize + 1, 3*SegmentSize + 17} {
		pt := bytes.Repeat([]byte{1, 2, 3, 4, 5, 6, 7}, size/7+1)[:size]
		sealed := sealBytes(t, dk, l, pt)
		b, err := Open(bytes.NewReader(sealed), int64(len(sealed)), keyOf(dk))
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		if b.Size() != int64(size) || b.Label != l {
			t.Fatalf("size %d: opened size %d label %v", size, b.Size(), b.Label)
		}
		got, err := io.ReadAll(io.NewSectionReader(b, 0, b.Size()))
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("size %d: plaintext differs (%v)", size, err)
		}
		if size > 10 {
			buf := make([]byte, 9)
			if _, err := b.ReadAt(buf, int64(size-10)); err != nil || !bytes.Equal(buf, pt[size-10:size-1]) {
				t.Fatalf("size %d: range read differs: %v", size, err)
			}
		}
	}
}

// TestSealBytes: a plaintext sealed whole is the same format as one sealed
// as a stream (same size, same label, same segments' contexts): it opens
// to the same bytes, and a blob cut at a segment boundary does not.
func TestSealBytes(t *testing.T) {
	dk, _ := keys.NewDataKey()
	l := Label{"home", "dev", "evt", "thumbnail"}
	for _, size := range []int{0, 1, SegmentSize - 1, SegmentSize, SegmentSize + 1, 3*SegmentSize + 17} {
		pt := bytes.Repeat([]byte{9, 8, 7, 6, 5}, size/5+1)[:size]
		sealed := SealBytes(dk, l, pt)
		if streamed := sealBytes(t, dk, l, pt); len(sealed) != len(streamed) || !bytes.Equal(sealed[:9], streamed[:9]) {
			t.Fatalf("size %d: %d bytes sealed whole, %d as a stream", size, len(sealed), len(streamed))
		}
		b, err := Open(bytes.NewReader(sealed), int64(len(sealed)), keyOf(dk))
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		got, err := io.ReadAll(io.NewSectionReader(b, 0, b.Size()))
		if err != nil || !bytes.Equal(got, pt) || b.Label != l {
			t.Fatalf("size %d: opens to other bytes or label (%v)", size, err)
		}
		if size > SegmentSize {
			cut := sealed[:len(sealed)-(len(sealed)-9-len(l.encode()))%sealedSize]
			if _, err := Open(bytes.NewReader(cut), int64(len(cut)), keyOf(dk)); err == nil {
				t.Fatalf("size %d: cut at a segment boundary, it opens", size)
			}
		}
	}
}

// TestOpensOnlyInItsContext is invariant 1 for media: a blob sealed for one
// (home, device, event, kind) does not open for any other, however its
// header is rewritten, nor under another home's key.
func TestOpensOnlyInItsContext(t *testing.T) {
	dk, _ := keys.NewDataKey()
	other, _ := keys.NewDataKey()
	part := rapid.StringMatching(`[a-z0-9]{1,8}`)
	rapid.Check(t, func(t *rapid.T) {
		l := Label{part.Draw(t, "home"), part.Draw(t, "device"), part.Draw(t, "event"), rapid.SampledFrom([]Kind{KindThumbnail, KindClip}).Draw(t, "kind")}
		alt := Label{part.Draw(t, "home2"), part.Draw(t, "device2"), part.Draw(t, "event2"), rapid.SampledFrom([]Kind{KindThumbnail, KindClip}).Draw(t, "kind2")}
		pt := rapid.SliceOfN(rapid.Byte(), 0, 2*SegmentSize+5).Draw(t, "plaintext")
		sealed := sealBytes(t, dk, l, pt)
		if _, err := Open(bytes.NewReader(sealed), int64(len(sealed)), keyOf(other)); err == nil {
			t.Fatalf("opens under another home's key")
		}
		if alt == l {
			return
		}
		// Relabel: the same segments under another label's header.
		relabelled := relabel(sealed, alt)
		if _, err := Open(bytes.NewReader(relabelled), int64(len(relabelled)), keyOf(dk)); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("sealed for %v opens as %v: %v", l, alt, err)
		}
	})
}

func relabel(sealed []byte, l Label) []byte {
	n := binary.BigEndian.Uint32(sealed[5:9])
	label := l.encode()
	out := append([]byte(magic), version)
	out = binary.BigEndian.AppendUint32(out, uint32(len(label)))
	out = append(out, label...)
	return append(out, sealed[9+n:]...)
}

func TestTruncatedOrReorderedDoesNotOpen(t *testing.T) {
	dk, _ := keys.NewDataKey()
	l := Label{"h", "d", "e", "clip"}
	pt := bytes.Repeat([]byte("x"), 3*SegmentSize+100)
	sealed := sealBytes(t, dk, l, pt)
	hdr := len(sealed) - (3*sealedSize + 100 + keys.Overhead)

	cut := sealed[:hdr+2*sealedSize] // ends exactly at a segment boundary
	if _, err := Open(bytes.NewReader(cut), int64(len(cut)), keyOf(dk)); err == nil {
		t.Fatal("blob cut at a segment boundary opens")
	}
	swapped := bytes.Clone(sealed)
	copy(swapped[hdr:hdr+sealedSize], sealed[hdr+sealedSize:hdr+2*sealedSize])
	copy(swapped[hdr+sealedSize:hdr+2*sealedSize], sealed[hdr:hdr+sealedSize])
	b, err := Open(bytes.NewReader(swapped), int64(len(swapped)), keyOf(dk))
	if err == nil {
		_, err = io.ReadAll(io.NewSectionReader(b, 0, b.Size()))
	}
	if err == nil {
		t.Fatal("blob with swapped segments reads")
	}
}

func FuzzOpen(f *testing.F) {
	dk, _ := keys.NewDataKey()
	f.Add(sealBytes(f, dk, Label{"h", "d", "e", "thumbnail"}, []byte("jpeg bytes")))
	f.Add([]byte("CVMB\x01\x00\x00\x00\x04abcd"))
	f.Fuzz(func(t *testing.T, b []byte) {
		blob, err := Open(bytes.NewReader(b), int64(len(b)), keyOf(dk))
		if err != nil {
			return
		}
		_, _ = io.ReadAll(io.NewSectionReader(blob, 0, blob.Size()))
	})
}
