package media

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
)

// scanJPEG checks that b is a whole JPEG by decoding its entropy-coded data
// at the Huffman level only: every symbol and its extra bits, so every
// block of every scan is accounted for, with no dequantisation, inverse DCT
// or colour conversion and no coefficient kept (a progressive picture's
// refinement scans need to know which coefficients are non-zero: one bit
// each, 8 bytes per 8x8 block).
//
// Within the limits it sets (jpegLimitError), it accepts exactly what
// image/jpeg's Decode accepts, walking the file the same way: the same
// markers and segment checks, the same Huffman decoding (even of tables
// that give more codes than fit), the same count of blocks per scan and
// restart interval, the same tolerance of bytes between a scan's last block
// and the next marker, and an end at the first end-of-image marker. The
// differential fuzz test FuzzScanJPEG holds it to that.
//
// Its work is one pass over the bytes plus, per scan, a step per MCU row,
// a step per restart interval and, for a progressive AC scan, a step per
// block that an end-of-band run covers (a bit count on a word; nothing at
// all while the component has no non-zero coefficient), so at most
// MaxJPEGScans passes over the blocks of a picture of at most maxJPEGSide
// pixels on a side, however few bytes declare them.
func scanJPEG(b []byte) error {
	s := jpegScanner{b: b}
	return s.run()
}

// jpegLimitError is a refusal for a limit of this check rather than a
// fault image/jpeg would find: a size or scan count beyond a thumbnail's,
// or a picture whose scans leave coefficients unsent (a progressive file
// cut at a scan boundary with its end marker put back).
type jpegLimitError struct{ msg string }

func (e *jpegLimitError) Error() string { return e.msg }

func limitErrorf(format string, a ...any) error {
	return &jpegLimitError{fmt.Sprintf(format, a...)}
}

// JPEG markers the check acts on (ITU-T T.81 table B.1).
const (
	mSOF0 = 0xC0 // baseline sequential
	mSOF1 = 0xC1 // extended sequential, Huffman
	mSOF2 = 0xC2 // progressive, Huffman
	mDHT  = 0xC4
	mRST0 = 0xD0
	mRST7 = 0xD7
	mSOI  = 0xD8
	mEOI  = 0xD9
	mSOS  = 0xDA
	mDQT  = 0xDB
	mDRI  = 0xDD
	mAPP0 = 0xE0
	mAPPE = 0xEE // Adobe's: says how a 4-component picture is coded
	mAPPF = 0xEF
	mCOM  = 0xFE
)

var (
	errJPEGShort   = errors.New("its entropy-coded data ends before its last block")
	errJPEGBadCode = errors.New("a bad Huffman code")
)

type jpegComponent struct {
	id   byte
	h, v int
}

// huffTable is a decoding table built as image/jpeg builds its own, so
// that even a table with more codes than fit decodes the same way: an
// 8-bit look-up table for short codes, canonical code ranges for the rest.
type huffTable struct {
	n      int32       // number of codes; 0 while undefined
	lut    [256]uint16 // symbol<<8 | code length+1, 0 for longer codes
	vals   [256]byte
	minC   [16]int32
	maxC   [16]int32
	valIdx [16]int32
	// fast decodes, from the next 9 bits, a code and the bits of the
	// difference or coefficient it announces when they fit in 9:
	// run<<8 | bits used, or fastEOB | bits used for an end of block;
	// 0 otherwise (a run of ends of band, ZRL, a longer code). Only for a table whose codes fit in the code space; for one
	// that gives more, only image/jpeg's own way says what it decodes.
	fast [1 << fastBits]uint16
}

const (
	fastBits = 9
	fastEOB  = 0x8000
)

func (t *huffTable) build(class byte, counts *[16]int32, vals []byte) {
	copy(t.vals[:], vals)
	t.n = int32(len(vals))
	clear(t.lut[:])
	var x, code uint32
	for i := range uint32(8) {
		code <<= 1
		for range counts[i] {
			base := uint8(code << (7 - i)) // wraps like image/jpeg's for too many codes
			v := uint16(t.vals[x])<<8 | uint16(2+i)
			for k := range uint8(1) << (7 - i) {
				t.lut[base|k] = v
			}
			code++
			x++
		}
	}
	var c, idx int32
	for i, n := range counts {
		if n == 0 {
			t.minC[i], t.maxC[i], t.valIdx[i] = -1, -1, -1
		} else {
			t.minC[i], t.maxC[i], t.valIdx[i] = c, c+n-1, idx
			c += n
			idx += n
		}
		c <<= 1
	}
	clear(t.fast[:])
	var space int32 // of 1<<16
	for i, n := range counts {
		space += n << (15 - i)
	}
	if space > 1<<16 {
		return
	}
	code, x = 0, 0
	for i := range uint32(fastBits) {
		code <<= 1
		for range counts[i] {
			v := t.vals[x]
			size, run := uint32(v), uint32(0)
			if class == 1 {
				size, run = uint32(v&0x0F), uint32(v>>4)
			}
			e := uint16(run<<8 | (i + 1 + size))
			if class == 1 && v == 0 {
				e |= fastEOB
			}
			if used := i + 1 + size; (class == 0 || size > 0 || v == 0) && used <= fastBits {
				base := code << (fastBits - 1 - i)
				for k := range uint32(1) << (fastBits - 1 - i) {
					t.fast[base|k] = e
				}
			}
			code++
			x++
		}
	}
}

// bitReader reads the bits of one entropy-coded segment: bytes with a
// stuffed zero after each 0xFF, ended by a marker or the end of the file.
// It never makes up bits past the end: a symbol that needs them is an
// error, as in image/jpeg.
type bitReader struct {
	b     []byte
	start int    // where the segment began
	p     int    // next byte to load
	acc   uint64 // the low n bits are unread, the next one highest
	n     uint
	end   bool // met a marker or the end of b
}

func (r *bitReader) reset(p int) {
	r.start, r.p, r.acc, r.n, r.end = p, p, 0, 0, false
}

func (r *bitReader) fill() {
	for r.n <= 56 && !r.end {
		// Eight bytes at once when none of them is 0xFF.
		if r.p+8 <= len(r.b) {
			w := binary.BigEndian.Uint64(r.b[r.p:])
			if x := ^w; (x-0x0101010101010101)&^x&0x8080808080808080 == 0 {
				k := (64 - r.n) / 8
				r.acc = r.acc<<(8*k) | w>>(64-8*k)
				r.n += 8 * k
				r.p += int(k)
				return
			}
		}
		if r.p >= len(r.b) {
			r.end = true
			return
		}
		c := r.b[r.p]
		if c == 0xFF {
			if r.p+1 >= len(r.b) || r.b[r.p+1] != 0 {
				r.end = true
				return
			}
			r.p += 2
		} else {
			r.p++
		}
		r.acc = r.acc<<8 | uint64(c)
		r.n += 8
	}
}

// skip consumes k bits, reporting whether there were that many.
func (r *bitReader) skip(k int) bool {
	if k <= int(r.n) {
		r.n -= uint(k)
		return true
	}
	return r.skipMore(k)
}

func (r *bitReader) skipMore(k int) bool {
	for k > 0 {
		if r.n == 0 {
			r.fill()
			if r.n == 0 {
				return false
			}
		}
		t := min(uint(k), r.n)
		r.n -= t
		k -= int(t)
	}
	return true
}

// read consumes and returns k ≤ 16 bits.
func (r *bitReader) read(k uint) (uint32, bool) {
	if r.n < k {
		r.fill()
		if r.n < k {
			return 0, false
		}
	}
	r.n -= k
	return uint32(r.acc>>r.n) & (1<<k - 1), true
}

// symbol decodes one Huffman-coded value. The look-up table is used when
// 8 bits are left in the segment, bit by bit otherwise, as in image/jpeg.
func (r *bitReader) symbol(t *huffTable) (byte, error) {
	if r.n < 8 {
		r.fill()
	}
	if r.n >= 8 {
		if v := t.lut[uint8(r.acc>>(r.n-8))]; v != 0 {
			r.n -= uint(v&0xFF) - 1
			return byte(v >> 8), nil
		}
	}
	return r.slowSymbol(t)
}

func (r *bitReader) slowSymbol(t *huffTable) (byte, error) {
	var code int32
	for i := range 16 {
		if r.n == 0 {
			r.fill()
			if r.n == 0 {
				return 0, errJPEGShort
			}
		}
		r.n--
		code = code<<1 | int32(r.acc>>r.n&1)
		if code <= t.maxC[i] {
			return t.vals[t.valIdx[i]+code-t.minC[i]], nil
		}
	}
	return 0, errJPEGBadCode
}

// pos is where the segment's data ends so far: after the last byte any of
// whose bits were used.
func (r *bitReader) pos() int {
	p := r.p
	for u := r.n / 8; u > 0; u-- {
		if p-2 >= r.start && r.b[p-1] == 0 && r.b[p-2] == 0xFF {
			p -= 2
		} else {
			p--
		}
	}
	return p
}

type jpegScanner struct {
	b []byte
	r bitReader

	nComp       int // 0 until the frame header
	comp        [4]jpegComponent
	width       int
	height      int
	mxx, myy    int // MCUs across and down
	baseline    bool
	progressive bool
	adobe       bool // an Adobe APP14 segment (a 4-component picture needs one)
	ri          int  // restart interval in MCUs, 0 for none
	huff        [2][4]huffTable
	scans       int
	eobRun      int // blocks left in an end-of-band run; lasts across scans, as in image/jpeg

	// nz[c][block] has bit k set when the block's zig-zag coefficient k
	// (1-63) is non-zero; nil while none of the component's is.
	nz [4][]uint64
	// sent[c][k] is the successive-approximation bit down to which
	// coefficient k of component c has been sent, -1 if not yet.
	sent [4][64]int8
}

// scanKind is what a scan sends of each block it covers.
type scanKind int

const (
	seqScan      scanKind = iota // all 64 coefficients (baseline, extended)
	dcFirstScan                  // progressive: the DC coefficient's high bits
	dcRefineScan                 // progressive: one more bit of it
	acFirstScan                  // progressive: the high bits of a band of AC coefficients
	acRefineScan                 // progressive: one more bit of a band
)

type jpegScan struct {
	kind   scanKind
	n      int // components in the scan
	comp   [4]int
	td, ta [4]byte
	zs, ze int // spectral selection, in zig-zag order
	ah, al int // successive approximation
}

func (s *jpegScanner) run() error {
	b := s.b
	if len(b) < 2 || b[0] != 0xFF || b[1] != mSOI {
		return errors.New("not a JPEG: no start-of-image marker")
	}
	s.r.b = b
	p := 2
	for {
		// The next marker, past any bytes a scan's data left (as image/jpeg does).
		if p+2 > len(b) {
			return errors.New("not a complete JPEG: no end-of-image marker")
		}
		t0, t1 := b[p], b[p+1]
		p += 2
		for t0 != 0xFF {
			if p >= len(b) {
				return errors.New("not a complete JPEG: no end-of-image marker")
			}
			t0, t1 = t1, b[p]
			p++
		}
		m := t1
		if m == 0 {
			continue
		}
		for m == 0xFF {
			if p >= len(b) {
				return errors.New("not a complete JPEG: no end-of-image marker")
			}
			m = b[p]
			p++
		}
		if m == mEOI {
			return s.finish()
		}
		if m >= mRST0 && m <= mRST7 {
			continue
		}
		if p+2 > len(b) {
			return errors.New("not a complete JPEG: a segment is cut short")
		}
		n := int(b[p])<<8 | int(b[p+1]) - 2
		p += 2
		if n < 0 {
			return errors.New("not a valid JPEG: a segment length below 2")
		}
		if p+n > len(b) {
			return errors.New("not a complete JPEG: a segment runs past the end")
		}
		seg := b[p : p+n]
		p += n
		var err error
		switch {
		case m == mSOF0 || m == mSOF1 || m == mSOF2:
			s.baseline, s.progressive = m == mSOF0, m == mSOF2
			err = s.frame(seg)
		case m == mDHT:
			err = s.tables(seg)
		case m == mDQT:
			err = quantTables(seg)
		case m == mDRI:
			if n != 2 {
				return errors.New("not a valid JPEG: DRI has the wrong length")
			}
			s.ri = int(seg[0])<<8 | int(seg[1])
		case m == mSOS:
			p, err = s.scan(seg, p)
		case m == mAPPE:
			if n >= 12 && string(seg[:5]) == "Adobe" {
				s.adobe = true
			}
		case m >= mAPP0 && m <= mAPPF || m == mCOM:
		case m >= 0xC0:
			// SOF3 and SOF5-15 (lossless, hierarchical, arithmetic
			// coding), DAC, DNL, DHP, EXP, JPGn.
			err = fmt.Errorf("unsupported JPEG: marker %#02x (only baseline, extended and progressive Huffman-coded JPEGs)", m)
		default:
			err = fmt.Errorf("not a valid JPEG: unknown marker %#02x", m)
		}
		if err != nil {
			return err
		}
	}
}

// finish checks what only the end can tell.
func (s *jpegScanner) finish() error {
	if s.scans == 0 {
		return errors.New("not a valid JPEG: no scan")
	}
	if s.nComp == 4 && !s.adobe {
		return errors.New("unsupported JPEG: four components without an Adobe segment")
	}
	for c := range s.nComp {
		for k, bit := range s.sent[c] {
			if bit != 0 {
				return limitErrorf("not a whole JPEG: its scans leave coefficient %d of component %d unsent (cut at a scan boundary?)", k, c+1)
			}
		}
	}
	return nil
}

// frame reads a start-of-frame segment (T.81 B.2.2), with image/jpeg's
// limits on components and sampling.
func (s *jpegScanner) frame(seg []byte) error {
	if s.nComp != 0 {
		return errors.New("not a valid JPEG: more than one frame header")
	}
	switch len(seg) {
	case 6 + 3*1, 6 + 3*3, 6 + 3*4:
	default:
		return errors.New("unsupported JPEG: number of components")
	}
	n := (len(seg) - 6) / 3
	if seg[0] != 8 {
		return fmt.Errorf("unsupported JPEG: %d-bit samples (only 8-bit)", seg[0])
	}
	h := int(seg[1])<<8 | int(seg[2])
	w := int(seg[3])<<8 | int(seg[4])
	if int(seg[5]) != n {
		return errors.New("not a valid JPEG: frame header length and component count disagree")
	}
	for i := range n {
		c := &s.comp[i]
		c.id = seg[6+3*i]
		for j := range i {
			if s.comp[j].id == c.id {
				return errors.New("not a valid JPEG: repeated component identifier")
			}
		}
		if seg[8+3*i] > 3 {
			return errors.New("not a valid JPEG: bad quantisation table selector")
		}
		hv := seg[7+3*i]
		ch, cv := int(hv>>4), int(hv&0x0F)
		if ch < 1 || ch > 4 || cv < 1 || cv > 4 || ch == 3 || cv == 3 {
			return errors.New("unsupported JPEG: sampling factors")
		}
		if !samplingSupported(n, i, hv, ch, cv, &s.comp) {
			return errors.New("unsupported JPEG: luma/chroma subsampling ratio")
		}
		if n == 1 {
			// One component is one block per MCU whatever its factors.
			ch, cv = 1, 1
		}
		c.h, c.v = ch, cv
		for k := range s.sent[i] {
			s.sent[i][k] = -1
		}
	}
	s.nComp = n
	if w < 1 || h < 1 || w > maxJPEGSide || h > maxJPEGSide {
		return limitErrorf("JPEG dimensions %dx%d out of range (at most %d on a side)", w, h, maxJPEGSide)
	}
	s.width, s.height = w, h
	s.mxx = (w + 8*s.comp[0].h - 1) / (8 * s.comp[0].h)
	s.myy = (h + 8*s.comp[0].v - 1) / (8 * s.comp[0].v)
	return nil
}

// samplingSupported is image/jpeg's rule: YCbCr with 4:4:4, 4:4:0,
// 4:2:2, 4:2:0, 4:1:1 or 4:1:0 chroma, and two layouts of four components.
func samplingSupported(n, i int, hv byte, h, v int, comp *[4]jpegComponent) bool {
	switch n {
	case 3:
		switch i {
		case 0:
			return v != 4
		case 1:
			return comp[0].h%h == 0 && comp[0].v%v == 0
		default:
			return comp[1].h == h && comp[1].v == v
		}
	case 4:
		switch i {
		case 0:
			return hv == 0x11 || hv == 0x22
		case 1, 2:
			return hv == 0x11
		default:
			return comp[0].h == h && comp[0].v == v
		}
	}
	return true
}

// tables reads a DHT segment (T.81 B.2.4.2).
func (s *jpegScanner) tables(seg []byte) error {
	for len(seg) > 0 {
		if len(seg) < 17 {
			return errors.New("not a valid JPEG: DHT has the wrong length")
		}
		tc, th := seg[0]>>4, seg[0]&0x0F
		if tc > 1 {
			return errors.New("not a valid JPEG: bad Huffman table class")
		}
		if th > 3 || (s.baseline && th > 1) {
			return errors.New("not a valid JPEG: bad Huffman table number")
		}
		var counts [16]int32
		var total int32
		for i := range counts {
			counts[i] = int32(seg[1+i])
			total += counts[i]
		}
		if total == 0 {
			return errors.New("not a valid JPEG: empty Huffman table")
		}
		if total > 256 {
			return errors.New("not a valid JPEG: Huffman table of more than 256 codes")
		}
		if len(seg) < 17+int(total) {
			return errors.New("not a valid JPEG: DHT has the wrong length")
		}
		s.huff[tc][th].build(tc, &counts, seg[17:17+total])
		seg = seg[17+total:]
	}
	return nil
}

// quantTables checks a DQT segment's layout (T.81 B.2.4.1); the values
// are not needed.
func quantTables(seg []byte) error {
	for len(seg) > 0 {
		x := seg[0]
		seg = seg[1:]
		if x&0x0F > 3 {
			return errors.New("not a valid JPEG: bad quantisation table number")
		}
		size := 64
		switch x >> 4 {
		case 0:
		case 1:
			size = 128
		default:
			return errors.New("not a valid JPEG: bad quantisation table precision")
		}
		if len(seg) < size {
			break
		}
		seg = seg[size:]
	}
	if len(seg) != 0 {
		return errors.New("not a valid JPEG: DQT has the wrong length")
	}
	return nil
}

// scan reads a start-of-scan header (T.81 B.2.3) and decodes the scan's
// data from data on; it returns where the data ends.
func (s *jpegScanner) scan(seg []byte, data int) (int, error) {
	if s.nComp == 0 {
		return 0, errors.New("not a valid JPEG: a scan before the frame header")
	}
	if len(seg) < 6 || len(seg) > 4+2*s.nComp || len(seg)%2 != 0 {
		return 0, errors.New("not a valid JPEG: SOS has the wrong length")
	}
	var sc jpegScan
	sc.n = int(seg[0])
	if len(seg) != 4+2*sc.n {
		return 0, errors.New("not a valid JPEG: SOS length and component count disagree")
	}
	totalHV := 0
	for i := range sc.n {
		ci := -1
		for j := range s.nComp {
			if s.comp[j].id == seg[1+2*i] {
				ci = j
			}
		}
		if ci < 0 {
			return 0, errors.New("not a valid JPEG: a scan names an unknown component")
		}
		for j := range i {
			if sc.comp[j] == ci {
				return 0, errors.New("not a valid JPEG: a scan names a component twice")
			}
		}
		sc.comp[i] = ci
		totalHV += s.comp[ci].h * s.comp[ci].v
		sc.td[i], sc.ta[i] = seg[2+2*i]>>4, seg[2+2*i]&0x0F
		if sc.td[i] > 3 || sc.ta[i] > 3 || (s.baseline && (sc.td[i] > 1 || sc.ta[i] > 1)) {
			return 0, errors.New("not a valid JPEG: bad Huffman table selector")
		}
	}
	if s.nComp > 1 && totalHV > 10 {
		return 0, errors.New("not a valid JPEG: a scan's sampling factors add up to more than 10")
	}
	sc.zs, sc.ze = 0, 63
	if s.progressive {
		q := seg[1+2*sc.n:]
		sc.zs, sc.ze, sc.ah, sc.al = int(q[0]), int(q[1]), int(q[2]>>4), int(q[2]&0x0F)
		if (sc.zs == 0 && sc.ze != 0) || sc.zs > sc.ze || sc.ze > 63 {
			return 0, errors.New("not a valid JPEG: bad spectral selection")
		}
		if sc.zs != 0 && sc.n != 1 {
			return 0, errors.New("not a valid JPEG: an AC scan of more than one component")
		}
		if sc.ah != 0 && sc.ah != sc.al+1 {
			return 0, errors.New("not a valid JPEG: bad successive approximation")
		}
	}
	switch {
	case !s.progressive:
		sc.kind = seqScan
	case sc.zs == 0 && sc.ah == 0:
		sc.kind = dcFirstScan
	case sc.zs == 0:
		sc.kind = dcRefineScan
	case sc.ah == 0:
		sc.kind = acFirstScan
	default:
		sc.kind = acRefineScan
	}
	s.scans++
	if s.scans > MaxJPEGScans {
		return 0, limitErrorf("JPEG has more than %d scans; a camera's picture has one (progressive ones about ten)", MaxJPEGScans)
	}
	s.cover(&sc)
	s.r.reset(data)
	if err := s.decode(&sc); err != nil {
		return 0, err
	}
	return s.r.pos(), nil
}

// cover records which coefficients the scan sends, and down to which bit.
func (s *jpegScanner) cover(sc *jpegScan) {
	for _, c := range sc.comp[:sc.n] {
		sent := &s.sent[c]
		if sc.kind == seqScan {
			clear(sent[:])
			continue
		}
		for k := sc.zs; k <= sc.ze; k++ {
			if sc.ah == 0 || int(sent[k]) == sc.ah {
				sent[k] = int8(sc.al)
			}
		}
	}
}

// decode decodes a scan's data, one restart interval at a time. An
// interleaved scan (of several components) takes its blocks MCU by MCU
// (T.81 A.2.3). A scan of one component takes them in rows across it,
// as image/jpeg does: the blocks of the MCU grid, h×v of them counted as
// one MCU for restart intervals, those wholly outside the picture skipped.
func (s *jpegScanner) decode(sc *jpegScan) error {
	total := s.mxx * s.myy
	// An interleaved scan's MCU: its blocks' Huffman tables.
	var units [10][2]*huffTable
	nu := 0
	if sc.n > 1 {
		for i, c := range sc.comp[:sc.n] {
			for range s.comp[c].h * s.comp[c].v {
				units[nu] = [2]*huffTable{&s.huff[0][sc.td[i]], &s.huff[1][sc.ta[i]]}
				nu++
			}
		}
	}
	c := sc.comp[0]
	g := s.comp[c].h * s.comp[c].v
	q := s.mxx * s.comp[c].h                       // blocks in a row of the grid
	cols := min(q, (s.width+7)/8)                  // of which inside the picture
	rows := min(s.myy*s.comp[c].v, (s.height+7)/8) // rows inside the picture
	next := byte(mRST0)
	for m0 := 0; m0 < total; {
		m1 := total
		if s.ri > 0 {
			m1 = min(total, m0+s.ri)
		}
		if sc.n > 1 {
			if mcu, err := s.mcus(sc, units[:nu], m0, m1); err != nil {
				return s.scanError(err, mcu, total)
			}
		} else {
			for k, end := m0*g, m1*g; k < end; {
				row := k / q
				if row >= rows {
					break
				}
				col := k - row*q
				if col >= cols {
					k = (row + 1) * q
					continue
				}
				e := min(end, row*q+cols)
				if at, err := s.blocks(sc, k, e); err != nil {
					return s.scanError(err, at/g, total)
				}
				k = e
			}
		}
		if m1 < total {
			if err := s.restart(&next); err != nil {
				return err
			}
		}
		m0 = m1
	}
	return nil
}

func (s *jpegScanner) scanError(err error, mcu, total int) error {
	if errors.Is(err, errJPEGShort) {
		return fmt.Errorf("not a complete JPEG: scan %d: %w (at MCU %d of %d)", s.scans, err, mcu+1, total)
	}
	return fmt.Errorf("not a valid JPEG: scan %d, MCU %d of %d: %w", s.scans, mcu+1, total, err)
}

// mcus decodes MCUs m0 to m1 of an interleaved scan, a sequential one or
// a progressive DC one; on an error it returns the MCU.
func (s *jpegScanner) mcus(sc *jpegScan, units [][2]*huffTable, m0, m1 int) (int, error) {
	switch sc.kind {
	case dcRefineScan: // a bit per block
		if !s.r.skip((m1 - m0) * len(units)) {
			return m0, errJPEGShort
		}
	case dcFirstScan:
		for mcu := m0; mcu < m1; mcu++ {
			for _, u := range units {
				if err := s.dc(u[0]); err != nil {
					return mcu, err
				}
			}
		}
	default:
		for mcu := m0; mcu < m1; mcu++ {
			for _, u := range units {
				if err := s.sequential(u[0], u[1]); err != nil {
					return mcu, err
				}
			}
		}
	}
	return 0, nil
}

// blocks decodes the blocks lo to hi of a one-component scan; on an error
// it returns the block. In a progressive AC scan an end-of-band run
// covers many blocks at once: a first scan skips them, a refinement reads
// one correction bit per non-zero coefficient of the band in them.
func (s *jpegScanner) blocks(sc *jpegScan, lo, hi int) (int, error) {
	c := sc.comp[0]
	dc, ac := &s.huff[0][sc.td[0]], &s.huff[1][sc.ta[0]]
	switch sc.kind {
	case dcRefineScan:
		if !s.r.skip(hi - lo) {
			return lo, errJPEGShort
		}
		return 0, nil
	case dcFirstScan:
		for k := lo; k < hi; k++ {
			if err := s.dc(dc); err != nil {
				return k, err
			}
		}
		return 0, nil
	case seqScan:
		for k := lo; k < hi; k++ {
			if err := s.sequential(dc, ac); err != nil {
				return k, err
			}
		}
		return 0, nil
	}
	band := bandMask(sc.zs, sc.ze)
	for k := lo; k < hi; {
		if s.eobRun > 0 {
			n := min(s.eobRun, hi-k)
			if nz := s.nz[c]; sc.kind == acRefineScan && nz != nil {
				corrections := 0
				for _, w := range nz[k : k+n] {
					corrections += bits.OnesCount64(w & band)
				}
				if !s.r.skip(corrections) {
					return k, errJPEGShort
				}
			}
			s.eobRun -= n
			k += n
			continue
		}
		var err error
		if sc.kind == acFirstScan {
			err = s.acFirst(ac, sc.zs, sc.ze, c, k)
		} else {
			err = s.acRefine(ac, sc.zs, sc.ze, c, k)
		}
		if err != nil {
			return k, err
		}
		k++
	}
	return 0, nil
}

// bandMask has bits zs to ze set.
func bandMask(zs, ze int) uint64 {
	return (1<<uint(ze+1) - 1) &^ (1<<uint(zs) - 1)
}

// restart finds the restart marker due after an interval (T.81 F.1.2.3),
// past any bytes left over as image/jpeg does, and starts the next.
func (s *jpegScanner) restart(next *byte) error {
	b := s.b
	p := s.r.pos()
	for {
		if p+2 > len(b) {
			return fmt.Errorf("not a complete JPEG: scan %d ends without restart marker RST%d", s.scans, *next-mRST0)
		}
		t0, t1 := b[p], b[p+1]
		if t0 == 0xFF {
			if t1 == *next {
				p += 2
				break
			}
			if t1 == 0xFF {
				p++
				continue
			}
			if t1 != 0 {
				return fmt.Errorf("not a valid JPEG: scan %d has marker %#02x where restart marker RST%d is due", s.scans, t1, *next-mRST0)
			}
			p += 2
			continue
		}
		if t1 == 0xFF {
			p++
		} else {
			p += 2
		}
	}
	*next++
	if *next > mRST7 {
		*next = mRST0
	}
	s.r.reset(p)
	s.eobRun = 0
	return nil
}

var (
	errUndefinedTable = errors.New("a Huffman table used before it is defined")
	errLongDC         = errors.New("a DC difference of more than 16 bits")
)

// dc decodes a DC difference: its size, then that many bits (T.81 F.2.2.1).
func (s *jpegScanner) dc(t *huffTable) error {
	r := &s.r
	if r.n < fastBits {
		r.fill()
	}
	if r.n >= fastBits {
		if e := t.fast[r.acc>>(r.n-fastBits)&(1<<fastBits-1)]; e != 0 {
			r.n -= uint(e)
			return nil
		}
	}
	if t.n == 0 {
		return errUndefinedTable
	}
	size, err := s.r.symbol(t)
	if err != nil {
		return err
	}
	if size > 16 {
		return errLongDC
	}
	if !s.r.skip(int(size)) {
		return errJPEGShort
	}
	return nil
}

// sequential decodes a block of a sequential scan: its DC difference and
// AC coefficients, unless an end-of-band run covers them (image/jpeg
// takes runs in sequential scans too).
func (s *jpegScanner) sequential(dc, ac *huffTable) error {
	if err := s.dc(dc); err != nil {
		return err
	}
	if s.eobRun > 0 {
		s.eobRun--
		return nil
	}
	return s.acFirst(ac, 1, 63, -1, 0)
}

// acFirst decodes AC coefficients zig to ze of a block (T.81 F.2.2.2,
// G.1.2.2): run/size symbols and their bits, up to an end of band. The
// non-zero ones are recorded as block k of component c unless c < 0.
func (s *jpegScanner) acFirst(t *huffTable, zig, ze, c, k int) error {
	r := &s.r
	for zig <= ze {
		// Codes whose coefficient's bits fit in fastBits, with the
		// reader's bits in locals.
		acc, n := r.acc, r.n
		for zig <= ze {
			if n < fastBits {
				r.acc, r.n = acc, n
				r.fill()
				if acc, n = r.acc, r.n; n < fastBits {
					break
				}
			}
			e := t.fast[acc>>(n-fastBits)&(1<<fastBits-1)]
			if e&fastEOB != 0 {
				r.acc, r.n = acc, n-uint(e&0xFF)
				return nil // an end of block: a run of one
			}
			if e == 0 || zig+int(e>>8) > ze {
				break
			}
			n -= uint(e & 0xFF)
			zig += int(e >> 8)
			if c >= 0 {
				s.setNonZero(c, k, zig)
			}
			zig++
		}
		r.acc, r.n = acc, n
		if zig > ze {
			return nil
		}
		// Any other symbol, as image/jpeg decodes it.
		if t.n == 0 {
			return errUndefinedTable
		}
		rs, err := r.symbol(t)
		if err != nil {
			return err
		}
		run, size := int(rs>>4), int(rs&0x0F)
		if size == 0 {
			if run == 15 {
				zig += 16
				continue
			}
			eob, err := s.eob(run)
			if err != nil {
				return err
			}
			s.eobRun = eob - 1
			return nil
		}
		zig += run
		if zig > ze {
			return nil
		}
		if !r.skip(size) {
			return errJPEGShort
		}
		if c >= 0 {
			s.setNonZero(c, k, zig)
		}
		zig++
	}
	return nil
}

// nonZero is the block's word of non-zero AC coefficients.
func (s *jpegScanner) nonZero(c, k int) uint64 {
	if s.nz[c] == nil {
		return 0
	}
	return s.nz[c][k]
}

// setNonZero marks coefficient zig of block k of component c non-zero.
// The component's words are allocated at its first: 8 bytes per block of
// its grid, at most about 8.4 MB at 8192x8192.
func (s *jpegScanner) setNonZero(c, k, zig int) {
	if s.nz[c] == nil {
		s.nz[c] = make([]uint64, s.mxx*s.comp[c].h*s.myy*s.comp[c].v)
	}
	s.nz[c][k] |= 1 << uint(zig)
}

// eob reads the length of an end-of-band run (T.81 G.1.2.2).
func (s *jpegScanner) eob(run int) (int, error) {
	n := 1 << uint(run)
	if run > 0 {
		x, ok := s.r.read(uint(run))
		if !ok {
			return 0, errJPEGShort
		}
		n |= int(x)
	}
	return n, nil
}

// acRefine decodes a successive-approximation refinement of block k's
// AC band zs to ze (T.81 G.1.2.3): new coefficients of magnitude one, and
// a correction bit for each one already non-zero that the band passes.
func (s *jpegScanner) acRefine(t *huffTable, zs, ze, c, k int) error {
	zig := zs
	if s.eobRun == 0 {
		for ; zig <= ze; zig++ {
			if t.n == 0 {
				return errUndefinedTable
			}
			rs, err := s.r.symbol(t)
			if err != nil {
				return err
			}
			run, size := int(rs>>4), rs&0x0F
			switch size {
			case 0:
				if run != 15 {
					if s.eobRun, err = s.eob(run); err != nil {
						return err
					}
				}
			case 1:
				if !s.r.skip(1) { // the new coefficient's sign
					return errJPEGShort
				}
			default:
				return errors.New("a refinement coefficient of more than one bit")
			}
			if s.eobRun > 0 {
				break
			}
			// Skip run zero coefficients (a whole 16 for ZRL), refining
			// the non-zero ones passed; the next zero is the new one.
			if zig, err = s.refineNonZero(c, k, zig, ze, run); err != nil {
				return err
			}
			if zig > ze {
				return errors.New("a refinement past the end of the band")
			}
			if size == 1 {
				s.setNonZero(c, k, zig)
			}
		}
	}
	if s.eobRun > 0 {
		s.eobRun--
		if _, err := s.refineNonZero(c, k, zig, ze, -1); err != nil {
			return err
		}
	}
	return nil
}

// refineNonZero reads a correction bit for each non-zero coefficient of
// block k from zig on, up to the (skip+1)th zero one, or to ze when skip
// is negative; it returns where it stopped (ze+1 if at no zero).
func (s *jpegScanner) refineNonZero(c, k, zig, ze, skip int) (int, error) {
	w := s.nonZero(c, k)
	band := bandMask(zig, ze)
	stop := ze + 1
	if skip >= 0 {
		zeros := ^w & band
		for ; skip > 0 && zeros != 0; skip-- {
			zeros &= zeros - 1
		}
		if zeros != 0 {
			stop = bits.TrailingZeros64(zeros)
		}
	}
	passed := w & band & (1<<uint(stop) - 1)
	if !s.r.skip(bits.OnesCount64(passed)) {
		return 0, errJPEGShort
	}
	return stop, nil
}
