package bridge

import (
	"errors"
	"fmt"
	"image"
	"strings"
)

// The grid the detector compares pictures on: every snapshot is reduced
// to this many cells of average brightness, whatever its resolution, so a
// comparison costs the same for a 360p and an 8K camera (the JPEG decode
// before it does not).
const (
	gridW = 64
	gridH = 36
)

// Zones is a mask over the picture: motion counts only in the cells that
// are on. Rows are top to bottom, each a string of '1' (watch) and '0'
// (ignore) of the same length, at most 32 by 32; no rows means the whole
// picture.
type Zones struct {
	Rows []string `json:"rows,omitempty"`
}

// ParseZones reads a mask written as rows separated by '/' or ',', like
// "0000/1111/1111".
func ParseZones(s string) (Zones, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Zones{}, nil
	}
	rows := strings.FieldsFunc(s, func(r rune) bool { return r == '/' || r == ',' })
	z := Zones{Rows: rows}
	return z, z.check()
}

func (z Zones) check() error {
	if len(z.Rows) == 0 {
		return nil
	}
	if len(z.Rows) > 32 {
		return errors.New("zones: at most 32 rows")
	}
	w := len(z.Rows[0])
	any := false
	for i, r := range z.Rows {
		if len(r) != w || w == 0 || w > 32 {
			return fmt.Errorf("zones: row %d has %d cells; every row needs the same number, 1 to 32", i+1, len(r))
		}
		for _, c := range r {
			switch c {
			case '1':
				any = true
			case '0':
			default:
				return fmt.Errorf("zones: row %d: %q is neither 0 nor 1", i+1, c)
			}
		}
	}
	if !any {
		return errors.New("zones: no cell is on, so no motion would ever count")
	}
	return nil
}

// watched reports whether the grid cell (x, y) is in a zone that is on.
func (z Zones) watched(x, y int) bool {
	if len(z.Rows) == 0 {
		return true
	}
	r := z.Rows[y*len(z.Rows)/gridH]
	return r[x*len(r)/gridW] == '1'
}

// detector finds motion by frame differencing: each snapshot's grid is
// compared with the previous one's, after taking out the change of the
// whole picture's brightness (lights, a cloud, a camera switching to
// infrared), and motion is a share of the watched cells that changed by
// more than a threshold. Sensitivity (1 to 100, 0 for off) lowers both.
type detector struct {
	sensitivity int
	zones       Zones
	prev        []float64
}

// errNoMotionCheck: the picture is too small to compare.
var errNoMotionCheck = errors.New("motion: the snapshot is smaller than the comparison grid")

// feed compares img with the previous picture: the share of watched cells
// that changed, and whether that is motion at the detector's sensitivity.
func (d *detector) feed(img image.Image) (float64, bool, error) {
	cur, err := lumaGrid(img)
	if err != nil {
		return 0, false, err
	}
	prev := d.prev
	d.prev = cur
	if prev == nil || d.sensitivity <= 0 {
		return 0, false, nil
	}
	var mean float64
	for i := range cur {
		mean += cur[i] - prev[i]
	}
	mean /= float64(len(cur))
	s := float64(min(d.sensitivity, 100))
	cellThreshold := 10 + (100-s)*0.4 // levels of 255: 30 at 50
	areaThreshold := 0.002 + (100-s)/100*0.05
	changed, watched := 0, 0
	for y := range gridH {
		for x := range gridW {
			if !d.zones.watched(x, y) {
				continue
			}
			watched++
			i := y*gridW + x
			diff := cur[i] - prev[i] - mean
			if diff > cellThreshold || -diff > cellThreshold {
				changed++
			}
		}
	}
	share := float64(changed) / float64(watched)
	return share, share >= areaThreshold, nil
}

// lumaGrid is the average brightness of each grid cell. For the YCbCr
// pictures JPEG decodes to it reads the luma plane directly, sampling at
// most 8 by 8 pixels of each cell.
func lumaGrid(img image.Image) ([]float64, error) {
	b := img.Bounds()
	if b.Dx() < gridW || b.Dy() < gridH {
		return nil, errNoMotionCheck
	}
	grid := make([]float64, gridW*gridH)
	yc, isYCbCr := img.(*image.YCbCr)
	for gy := range gridH {
		y0, y1 := b.Min.Y+gy*b.Dy()/gridH, b.Min.Y+(gy+1)*b.Dy()/gridH
		sy := max(1, (y1-y0)/8)
		for gx := range gridW {
			x0, x1 := b.Min.X+gx*b.Dx()/gridW, b.Min.X+(gx+1)*b.Dx()/gridW
			sx := max(1, (x1-x0)/8)
			var sum, n float64
			for y := y0; y < y1; y += sy {
				for x := x0; x < x1; x += sx {
					if isYCbCr {
						sum += float64(yc.Y[yc.YOffset(x, y)])
					} else {
						r, g, bb, _ := img.At(x, y).RGBA()
						sum += (0.299*float64(r) + 0.587*float64(g) + 0.114*float64(bb)) / 257
					}
					n++
				}
			}
			grid[gy*gridW+gx] = sum / n
		}
	}
	return grid, nil
}
