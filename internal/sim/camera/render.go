package camera

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"strconv"
	"sync"
	"time"

	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// Frame size and look.
const (
	FrameWidth     = 640
	FrameHeight    = 360
	DefaultQuality = 75

	mcuSize    = 16 // 4:2:0: one MCU is 16x16 pixels
	mcuCols    = FrameWidth / mcuSize
	mcuRows    = (FrameHeight + mcuSize - 1) / mcuSize
	textLeft   = 12
	textTop    = 10
	bandWidth  = 420
	bandHeight = 88 // the darkened band the text is on
	boxSize    = 48
)

// Frame says what one rendered picture shows.
type Frame struct {
	Name     string    // the camera's name
	DeviceID string    // its device ID
	Time     time.Time // when it was "taken"
	Seq      uint64    // the event's sequence number
	Index    int       // the frame's place in its clip; 0 for the thumbnail
}

// Renderer draws frames. It is shared by every camera of a process, and
// shares what it can among them: the background is drawn once, and encoded
// once, one MCU row at a time. Frames are written with a restart interval
// of one MCU row, so each row's entropy-coded data stands alone (a restart
// resets the DC prediction) and the rows the overlay does not touch are
// copied from the background's; only the rows under the text and the
// moving box are drawn (straight into the luma and chroma planes) and
// encoded. Safe for concurrent use.
type Renderer struct {
	quality  int
	bg       *image.YCbCr
	header   []byte          // SOI up to the end of the SOS header, with a DRI
	bgRows   [mcuRows][]byte // the background's entropy-coded data, per MCU row
	big      glyphSet
	small    glyphSet
	bufs     sync.Pool // *frameBuf
	jpegOpts *jpeg.Options
}

// glyphSet is printable ASCII in the basic font, scaled.
type glyphSet struct {
	w, h   int
	glyphs [128][]bool
}

type frameBuf struct {
	img  *image.YCbCr
	enc  flushBuffer
	rows [mcuRows][]byte // this frame's encoded rows; used where dirty
	txt  []byte
}

// flushBuffer lets image/jpeg write straight into a bytes.Buffer instead
// of wrapping it in a new bufio.Writer for every encode.
type flushBuffer struct{ bytes.Buffer }

func (*flushBuffer) Flush() error { return nil }

// NewRenderer prepares the shared background, its encoded rows and the
// glyphs. quality is the JPEG quality, 1 to 100; 0 means DefaultQuality.
func NewRenderer(quality int) (*Renderer, error) {
	if quality == 0 {
		quality = DefaultQuality
	}
	if quality < 1 || quality > 100 {
		return nil, fmt.Errorf("JPEG quality %d is not 1 to 100", quality)
	}
	r := &Renderer{quality: quality, bg: background(), jpegOpts: &jpeg.Options{Quality: quality}}
	r.big = newGlyphSet(2)
	r.small = newGlyphSet(1)
	r.bufs.New = func() any {
		return &frameBuf{img: image.NewYCbCr(image.Rect(0, 0, FrameWidth, FrameHeight), image.YCbCrSubsampleRatio420)}
	}
	var whole flushBuffer
	if err := jpeg.Encode(&whole, r.bg, r.jpegOpts); err != nil {
		return nil, fmt.Errorf("encode background: %w", err)
	}
	sos, scan, err := splitScan(whole.Bytes())
	if err != nil {
		return nil, err
	}
	// The header is the whole frame's (its SOF says 640x360) with a DRI
	// of one MCU row put before the SOS.
	hdr := append([]byte(nil), whole.Bytes()[:sos]...)
	hdr = append(hdr, 0xFF, 0xDD, 0, 4)
	hdr = binary.BigEndian.AppendUint16(hdr, mcuCols)
	r.header = append(hdr, whole.Bytes()[sos:scan]...)
	for row := range mcuRows {
		enc, err := r.encodeRow(&whole, r.bg, row)
		if err != nil {
			return nil, err
		}
		r.bgRows[row] = append([]byte(nil), enc...)
	}
	return r, nil
}

// encodeRow encodes MCU row row of img on its own and returns its
// entropy-coded data (valid until buf is used again). Encoded alone, a
// row's data is exactly a restart interval of the whole frame's: the same
// tables, DC prediction starting from zero, padded with one bits.
func (r *Renderer) encodeRow(buf *flushBuffer, img *image.YCbCr, row int) ([]byte, error) {
	rect := image.Rect(0, row*mcuSize, FrameWidth, min(FrameHeight, (row+1)*mcuSize))
	buf.Reset()
	if err := jpeg.Encode(buf, img.SubImage(rect), r.jpegOpts); err != nil {
		return nil, fmt.Errorf("encode frame row %d: %w", row, err)
	}
	b := buf.Bytes()
	_, scan, err := splitScan(b)
	if err != nil {
		return nil, err
	}
	return b[scan : len(b)-2], nil
}

// splitScan finds, in a JPEG image/jpeg wrote, where the SOS segment
// starts and where its entropy-coded data starts; the data runs to the
// EOI marker at the end.
func splitScan(b []byte) (sos, scan int, err error) {
	if len(b) < 4 || b[0] != 0xFF || b[1] != markerSOI || b[len(b)-2] != 0xFF || b[len(b)-1] != markerEOI {
		return 0, 0, errors.New("encoded frame is not a whole JPEG")
	}
	pos := 2
	for pos+4 <= len(b) && b[pos] == 0xFF {
		n := int(binary.BigEndian.Uint16(b[pos+2:]))
		if b[pos+1] == markerSOS {
			return pos, pos + 2 + n, nil
		}
		pos += 2 + n
	}
	return 0, 0, errors.New("encoded frame has no SOS segment")
}

func newGlyphSet(scale int) glyphSet {
	face := basicfont.Face7x13
	gs := glyphSet{w: face.Advance * scale, h: face.Height * scale}
	for c := rune(' '); c < 127; c++ {
		dr, mask, mp, _, ok := face.Glyph(fixed.P(0, face.Ascent), c)
		if !ok {
			continue
		}
		g := make([]bool, gs.w*gs.h)
		for y := dr.Min.Y; y < dr.Max.Y; y++ {
			for x := dr.Min.X; x < dr.Max.X; x++ {
				_, _, _, a := mask.At(mp.X+x-dr.Min.X, mp.Y+y-dr.Min.Y).RGBA()
				if a < 0x8000 || x < 0 || y < 0 || x >= face.Advance || y >= face.Height {
					continue
				}
				for sy := range scale {
					for sx := range scale {
						g[(y*scale+sy)*gs.w+x*scale+sx] = true
					}
				}
			}
		}
		gs.glyphs[c] = g
	}
	return gs
}

// background draws the static scene once: a sky, a lawn, a house, and the
// darkened band the text goes on.
func background() *image.YCbCr {
	rgba := image.NewRGBA(image.Rect(0, 0, FrameWidth, FrameHeight))
	horizon := FrameHeight * 3 / 5
	for y := 0; y < FrameHeight; y++ {
		for x := 0; x < FrameWidth; x++ {
			var c color.RGBA
			if y < horizon {
				t := y * 255 / horizon
				c = color.RGBA{uint8(70 + t/3), uint8(120 + t/4), uint8(200 + t/8), 255}
			} else {
				t := (y - horizon) * 255 / (FrameHeight - horizon)
				c = color.RGBA{uint8(40 + t/6), uint8(110 - t/5), uint8(40), 255}
				if (x+y)%23 == 0 {
					c.G += 20
				}
			}
			rgba.SetRGBA(x, y, c)
		}
	}
	fill := func(x0, y0, x1, y1 int, c color.RGBA) {
		for y := y0; y < y1; y++ {
			for x := x0; x < x1; x++ {
				rgba.SetRGBA(x, y, c)
			}
		}
	}
	fill(400, horizon-80, 580, horizon+10, color.RGBA{180, 160, 130, 255}) // house
	for i := range 40 {                                                    // roof, widening downwards
		half := 10 + i*5/2
		fill(490-half, horizon-120+i, 490+half, horizon-119+i, color.RGBA{120, 50, 40, 255})
	}
	fill(470, horizon-40, 510, horizon+10, color.RGBA{90, 60, 40, 255})    // door
	fill(420, horizon-65, 455, horizon-40, color.RGBA{200, 220, 240, 255}) // windows
	fill(525, horizon-65, 560, horizon-40, color.RGBA{200, 220, 240, 255})
	for y := 30; y < 70; y++ { // sun
		for x := 560; x < 600; x++ {
			if (x-580)*(x-580)+(y-50)*(y-50) <= 400 {
				rgba.SetRGBA(x, y, color.RGBA{250, 230, 120, 255})
			}
		}
	}
	band := image.Rect(0, 0, bandWidth, bandHeight)
	for y := band.Min.Y; y < band.Max.Y; y++ {
		for x := band.Min.X; x < band.Max.X; x++ {
			c := rgba.RGBAAt(x, y)
			rgba.SetRGBA(x, y, color.RGBA{c.R / 4, c.G / 4, c.B / 4, 255})
		}
	}
	return toYCbCr420(rgba)
}

// toYCbCr420 converts an RGBA picture to 4:2:0 YCbCr, averaging chroma
// over each 2x2 block.
func toYCbCr420(src *image.RGBA) *image.YCbCr {
	b := src.Bounds()
	dst := image.NewYCbCr(b, image.YCbCrSubsampleRatio420)
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			var cbSum, crSum int
			for dy := 0; dy < 2; dy++ {
				for dx := 0; dx < 2; dx++ {
					c := src.RGBAAt(x+dx, y+dy)
					yy, cb, cr := color.RGBToYCbCr(c.R, c.G, c.B)
					dst.Y[dst.YOffset(x+dx, y+dy)] = yy
					cbSum += int(cb)
					crSum += int(cr)
				}
			}
			ci := dst.COffset(x, y)
			dst.Cb[ci], dst.Cr[ci] = uint8(cbSum/4), uint8(crSum/4)
		}
	}
	return dst
}

// Render draws and encodes f. When watermark is not empty (a segment from
// Watermark) it is placed right after the SOI marker. The result is a
// new slice the caller owns.
func (r *Renderer) Render(f Frame, watermark []byte) ([]byte, error) {
	fb := r.bufs.Get().(*frameBuf)
	defer r.bufs.Put(fb)
	dirty := r.compose(fb, f, false)

	size := len(r.header) + len(watermark) + 2*mcuRows // restart markers and EOI
	for row := range mcuRows {
		if !dirty[row] {
			size += len(r.bgRows[row])
			continue
		}
		enc, err := r.encodeRow(&fb.enc, fb.img, row)
		if err != nil {
			return nil, err
		}
		fb.rows[row] = append(fb.rows[row][:0], enc...)
		size += len(enc)
	}
	out := make([]byte, 0, size)
	out = append(out, r.header[:2]...) // SOI
	out = append(out, watermark...)
	out = append(out, r.header[2:]...)
	for row := range mcuRows {
		if row > 0 {
			out = append(out, 0xFF, 0xD0+byte((row-1)%8)) // RSTn
		}
		if dirty[row] {
			out = append(out, fb.rows[row]...)
		} else {
			out = append(out, r.bgRows[row]...)
		}
	}
	return append(out, 0xFF, markerEOI), nil
}

// compose draws f into fb.img and returns the MCU rows it drew on. Only
// those rows are fresh copies of the background, unless full is set.
func (r *Renderer) compose(fb *frameBuf, f Frame, full bool) [mcuRows]bool {
	var dirty [mcuRows]bool
	for row := 0; row*mcuSize < bandHeight; row++ {
		dirty[row] = true
	}
	bx, by := boxPosition(f.Time, f.Seq)
	for row := by / mcuSize; row <= (by+boxSize-1)/mcuSize && row < mcuRows; row++ {
		dirty[row] = true
	}
	img := fb.img
	for row := range mcuRows {
		if !dirty[row] && !full {
			continue
		}
		y0, y1 := row*mcuSize, min(FrameHeight, (row+1)*mcuSize)
		copy(img.Y[y0*img.YStride:y1*img.YStride], r.bg.Y[y0*img.YStride:y1*img.YStride])
		c0, c1 := y0/2*img.CStride, (y1+1)/2*img.CStride
		copy(img.Cb[c0:c1], r.bg.Cb[c0:c1])
		copy(img.Cr[c0:c1], r.bg.Cr[c0:c1])
	}
	drawBox(img, bx, by, f.Seq)

	t := f.Time.UTC()
	fb.txt = append(fb.txt[:0], f.Name...)
	r.big.draw(img, textLeft, textTop, fb.txt)
	fb.txt = t.AppendFormat(fb.txt[:0], "2006-01-02 15:04:05.000")
	fb.txt = append(fb.txt, " UTC"...)
	r.big.draw(img, textLeft, textTop+r.big.h+2, fb.txt)
	fb.txt = append(fb.txt[:0], "device "...)
	fb.txt = append(fb.txt, f.DeviceID...)
	fb.txt = append(fb.txt, "  seq "...)
	fb.txt = strconv.AppendUint(fb.txt, f.Seq, 10)
	fb.txt = append(fb.txt, "  frame "...)
	fb.txt = strconv.AppendInt(fb.txt, int64(f.Index), 10)
	r.small.draw(img, textLeft, textTop+2*(r.big.h+2)+2, fb.txt)
	return dirty
}

// draw writes s in white into the luma plane, glyph by glyph, clipped to
// the text band. Characters outside printable ASCII show as '?'.
func (gs *glyphSet) draw(img *image.YCbCr, x0, y0 int, s []byte) {
	for i, c := range s {
		if c < ' ' || c > '~' {
			c = '?'
		}
		g := gs.glyphs[c]
		gx := x0 + i*gs.w
		if gx+gs.w > FrameWidth {
			return
		}
		for y := 0; y < gs.h && y0+y < bandHeight; y++ {
			row := img.Y[(y0+y)*img.YStride+gx:]
			for x, on := range g[y*gs.w : (y+1)*gs.w] {
				if on {
					row[x] = 235
				}
			}
		}
	}
}

// boxPosition places the moving box: it bounces across the lawn at a pace
// set by the time, from a starting point set by the sequence number, so
// consecutive frames and consecutive events all differ.
func boxPosition(t time.Time, seq uint64) (int, int) {
	ms := uint64(t.UnixMilli())
	x := triangle(ms/4+seq*53, FrameWidth-boxSize)
	top := FrameHeight * 3 / 5
	y := top - boxSize/2 + triangle(ms/9+seq*29, FrameHeight-top-boxSize/2)
	return x &^ 1, y &^ 1 // even, so the box covers whole chroma samples
}

// triangle maps v onto 0..n and back again.
func triangle(v uint64, n int) int {
	p := int(v % uint64(2*n))
	if p > n {
		p = 2*n - p
	}
	return p
}

// drawBox draws the box at x0, y0, its colour turning with seq.
func drawBox(img *image.YCbCr, x0, y0 int, seq uint64) {
	cb := uint8(64 + (seq*37)%128)
	cr := uint8(192 - (seq*59)%128)
	for y := y0; y < y0+boxSize && y < FrameHeight; y++ {
		row := img.Y[y*img.YStride:]
		for x := x0; x < x0+boxSize && x < FrameWidth; x++ {
			if y < y0+3 || y >= y0+boxSize-3 || x < x0+3 || x >= x0+boxSize-3 {
				row[x] = 16 // a dark outline
			} else {
				row[x] = 140
			}
		}
	}
	for y := y0 / 2; y < (y0+boxSize)/2 && y < FrameHeight/2; y++ {
		for x := x0 / 2; x < (x0+boxSize)/2 && x < FrameWidth/2; x++ {
			i := y*img.CStride + x
			img.Cb[i], img.Cr[i] = cb, cr
		}
	}
}
