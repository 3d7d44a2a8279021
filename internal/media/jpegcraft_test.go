package media

import (
	"encoding/binary"
	"errors"
	"runtime"
	"strings"
	"testing"
)

// jpegWriter builds JPEGs segment by segment for tests: pictures no
// encoder makes, such as the costliest a check can be sent.
type jpegWriter struct {
	b    []byte
	acc  uint64 // pending entropy-coded bits, the oldest highest
	nacc uint
}

func newJPEGWriter() *jpegWriter { return &jpegWriter{b: []byte{0xFF, 0xD8}} }

func (w *jpegWriter) segment(marker byte, payload ...byte) {
	w.b = append(w.b, 0xFF, marker)
	w.b = binary.BigEndian.AppendUint16(w.b, uint16(2+len(payload)))
	w.b = append(w.b, payload...)
}

// frame writes a start-of-frame with 8-bit samples; comps are (id, hv)
// pairs, each using quantisation table 0.
func (w *jpegWriter) frame(marker byte, width, height int, comps ...[2]byte) {
	p := []byte{8, byte(height >> 8), byte(height), byte(width >> 8), byte(width), byte(len(comps))}
	for _, c := range comps {
		p = append(p, c[0], c[1], 0)
	}
	w.segment(marker, p...)
	q := make([]byte, 65)
	for i := 1; i < 65; i++ {
		q[i] = 1
	}
	w.segment(0xDB, q...)
}

// huffman writes a DHT of one table: counts[i] codes of length i+1.
func (w *jpegWriter) huffman(class, id byte, counts [16]byte, vals ...byte) {
	w.segment(0xC4, append(append([]byte{class<<4 | id}, counts[:]...), vals...)...)
}

// scan writes a start-of-scan for comps (id, table selectors) with the
// given spectral selection and successive approximation.
func (w *jpegWriter) scan(ss, se, ah, al byte, comps ...[2]byte) {
	p := []byte{byte(len(comps))}
	for _, c := range comps {
		p = append(p, c[0], c[1])
	}
	w.segment(0xDA, append(p, ss, se, ah<<4|al)...)
}

// bits appends the low n bits of v to the entropy-coded data.
func (w *jpegWriter) bits(v uint32, n uint) {
	w.acc = w.acc<<n | uint64(v)&(1<<n-1)
	w.nacc += n
	for w.nacc >= 8 {
		c := byte(w.acc >> (w.nacc - 8))
		w.b = append(w.b, c)
		if c == 0xFF {
			w.b = append(w.b, 0)
		}
		w.nacc -= 8
	}
}

// flush pads the entropy-coded data to a byte with one bits.
func (w *jpegWriter) flush() {
	if w.nacc > 0 {
		w.bits(0xFF, 8-w.nacc)
	}
}

func (w *jpegWriter) end() []byte {
	w.flush()
	return append(w.b, 0xFF, 0xD9)
}

// The crafted pictures' AC table: run-0 size-1 coefficients and
// end-of-band runs EOB0 to EOB14, fifteen codes of 4 bits and one of 5.
var craftedACCounts = [16]byte{3: 15, 4: 1}

func craftedACValues() []byte {
	v := []byte{0x01}
	for r := range 15 {
		v = append(v, byte(r<<4))
	}
	return v
}

// craftedACCode is the code of value rs in the crafted AC table.
func craftedACCode(rs byte) (uint32, uint) {
	for i, v := range craftedACValues() {
		if v == rs {
			if i < 15 {
				return uint32(i), 4
			}
			return 0x1E, 5
		}
	}
	panic("no such value")
}

// eobRuns writes end-of-band runs covering n blocks; after the first
// run's symbol it writes extra, the bits its first block needs.
func (w *jpegWriter) eobRuns(n int, extra func()) {
	for n > 0 {
		run := min(n, 32767)
		r := 0
		for 1<<(r+1) <= run {
			r++
		}
		w.bits(craftedACCode(byte(r << 4)))
		w.bits(uint32(run-1<<r), uint(r))
		if extra != nil {
			extra()
			extra = nil
		}
		n -= run
	}
}

// craftedProgressive is the costliest picture for the check that is a
// whole JPEG: side x side grey pixels, progressive, twelve scans (the
// most a thumbnail may have). Its DC scan costs a bit per block; its AC
// scans are end-of-band runs, 32,767 blocks in a few bytes: one first
// scan that makes a single coefficient non-zero, and ten refinements,
// each of which must look at every block's non-zero coefficients. With
// dc false the DC scan is left out: a few hundred bytes that cost the same
// AC work and are refused at the end, the DC coefficients unsent.
func craftedProgressive(side int, dc bool) []byte {
	w := newJPEGWriter()
	w.frame(0xC2, side, side, [2]byte{1, 0x11})
	blocks := ((side + 7) / 8) * ((side + 7) / 8)
	if dc {
		w.huffman(0, 0, [16]byte{0: 1}, 0) // one 1-bit code: a difference of 0
		w.scan(0, 0, 0, 0, [2]byte{1, 0x00})
		for n := blocks; n > 0; n -= min(n, 32) {
			w.bits(0, uint(min(n, 32)))
		}
		w.flush()
	}
	w.huffman(1, 0, craftedACCounts, craftedACValues()...)
	w.scan(1, 63, 0, 10, [2]byte{1, 0x00})
	w.bits(craftedACCode(0x01))
	w.bits(1, 1) // coefficient 1 of block 0 is +1<<10
	w.eobRuns(blocks, nil)
	w.flush()
	for al := 9; al >= 0; al-- {
		w.scan(1, 63, byte(al+1), byte(al), [2]byte{1, 0x00})
		w.eobRuns(blocks, func() { w.bits(0, 1) }) // block 0's correction bit
		w.flush()
	}
	return w.end()
}

// craftedDC is the costliest per byte: a colour picture of side x side
// whose DC scans cost a bit per block, as many as fit in 1 MiB. Its AC
// coefficients are never sent, so it is refused at the end.
func craftedDC(side int) []byte {
	w := newJPEGWriter()
	w.frame(0xC2, side, side, [2]byte{1, 0x11}, [2]byte{2, 0x11}, [2]byte{3, 0x11})
	w.huffman(0, 0, [16]byte{0: 1}, 0)
	blocks := 3 * ((side + 7) / 8) * ((side + 7) / 8)
	for len(w.b)+blocks/8+16 < 1<<20 {
		w.scan(0, 0, 0, 0, [2]byte{1, 0x00}, [2]byte{2, 0x00}, [2]byte{3, 0x00})
		for n := blocks; n > 0; n -= min(n, 32) {
			w.bits(0, uint(min(n, 32)))
		}
		w.flush()
	}
	return w.end()
}

// flatBaseline is a baseline grey picture of any size in six bits a
// block (a DC difference of 0, then end of block), built in no time.
func flatBaseline(width, height int) []byte {
	w := newJPEGWriter()
	w.frame(0xC0, width, height, [2]byte{1, 0x11})
	w.huffman(0, 0, [16]byte{1: 1}, 0) // "00": a difference of 0
	w.huffman(1, 0, [16]byte{3: 1}, 0) // "0000": end of block
	w.scan(0, 63, 0, 0, [2]byte{1, 0x00})
	for range ((width + 7) / 8) * ((height + 7) / 8) {
		w.bits(0, 6)
	}
	return w.end()
}

func TestCraftedJPEGs(t *testing.T) {
	// The builders make what image/jpeg decodes, at sizes it can afford here.
	for name, b := range map[string][]byte{
		"progressive": craftedProgressive(100, true),
		"flat":        flatBaseline(123, 45),
	} {
		if err := goDecodes(b); err != nil {
			t.Fatalf("%s: image/jpeg: %v", name, err)
		}
		if err := CheckJPEG(b); err != nil {
			t.Fatalf("%s refused: %v", name, err)
		}
	}
	if err := CheckJPEG(craftedProgressive(100, false)); err == nil {
		t.Fatal("a progressive picture without its DC coefficients accepted")
	}
}

// TestCheckJPEGDimensions: thumbnails up to 8192 pixels on a side are
// accepted (8K UHD, 7680x4320, and a margin), larger ones refused before
// any of their data is read.
func TestCheckJPEGDimensions(t *testing.T) {
	for _, size := range [][2]int{{3840, 2160}, {7680, 4320}, {4320, 7680}, {8192, 8192}, {8192, 1}} {
		if err := CheckJPEG(flatBaseline(size[0], size[1])); err != nil {
			t.Errorf("%dx%d refused: %v", size[0], size[1], err)
		}
	}
	for _, size := range [][2]int{{8193, 8}, {8, 8193}, {65535, 65535}} {
		w := newJPEGWriter()
		w.frame(0xC0, size[0], size[1], [2]byte{1, 0x11})
		err := CheckJPEG(w.end()) // a header and no data
		var lim *jpegLimitError
		if !errors.As(err, &lim) || !strings.Contains(err.Error(), "dimensions") {
			t.Errorf("%dx%d: %v; want it refused for its dimensions", size[0], size[1], err)
		}
	}
}

// TestCheckJPEGMemoryBounded: checking the costliest progressive picture
// at the size limit takes a bit per AC coefficient of the one component
// whose coefficients it sets (8 bytes a block, 8 MiB at 8192x8192), not
// a decoder's coefficient buffers and pixels (about 300 MiB here).
func TestCheckJPEGMemoryBounded(t *testing.T) {
	b := craftedProgressive(8192, true)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	err := CheckJPEG(b)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatalf("refused: %v", err)
	}
	if got, want := after.TotalAlloc-before.TotalAlloc, uint64(8<<20+64<<10); got > want {
		t.Fatalf("the check allocated %d bytes, want at most %d", got, want)
	}
}
