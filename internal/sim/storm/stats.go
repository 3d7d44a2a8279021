package storm

import (
	"math"
	"slices"
	"sync"
)

// Percentile is the nearest-rank p-th percentile (0 < p <= 100) of
// values: the smallest value such that at least p percent of the values
// are at or below it. It sorts values in place. It is 0 for no values.
func Percentile(values []float64, p float64) float64 {
	if len(values) == 0 {
		return 0
	}
	slices.Sort(values)
	return percentileSorted(values, p)
}

func percentileSorted(sorted []float64, p float64) float64 {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(n)))
	return sorted[min(n, max(1, rank))-1]
}

// Histogram counts positive values in logarithmic buckets, each about 1%
// wide, so its percentiles are within 1% of the exact ones and its memory
// is fixed however many values it sees. It is safe for concurrent use.
// Values below histMin count in the first bucket, above histMax in the
// last.
type Histogram struct {
	mu     sync.Mutex
	counts [histBuckets]uint64
	n      uint64
	max    float64
}

const (
	histMin     = 0.01 // with milliseconds: 10 µs
	histGrowth  = 1.01
	histBuckets = 2600 // histMin x 1.01^2600 is about 1.7e9: 20 days in ms
)

func histIndex(v float64) int {
	if v <= histMin {
		return 0
	}
	i := int(math.Ceil(math.Log(v/histMin) / math.Log(histGrowth)))
	return min(i, histBuckets-1)
}

// histUpper is the largest value bucket i holds.
func histUpper(i int) float64 {
	return histMin * math.Pow(histGrowth, float64(i))
}

// Add counts v.
func (h *Histogram) Add(v float64) {
	if math.IsNaN(v) {
		return
	}
	i := histIndex(v)
	h.mu.Lock()
	h.counts[i]++
	h.n++
	h.max = max(h.max, v)
	h.mu.Unlock()
}

// Count is how many values were added.
func (h *Histogram) Count() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n
}

// Percentile is the nearest-rank p-th percentile, as the upper bound of
// its bucket (never above the largest value seen). It is 0 when empty.
func (h *Histogram) Percentile(p float64) float64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(p / 100 * float64(h.n)))
	rank = min(h.n, max(1, rank))
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			if i == histBuckets-1 { // the overflow bucket has no upper bound
				return h.max
			}
			return min(histUpper(i), h.max)
		}
	}
	return h.max
}

// Max is the largest value added.
func (h *Histogram) Max() float64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.max
}

// PeakRate is the largest increase of a monotonic counter over any span
// of window samples, divided by the span's length in seconds. samples are
// the counter's values taken every step seconds. With fewer samples than
// the window it is the whole series' increase over its length.
func PeakRate(samples []int64, step float64, window int) float64 {
	if len(samples) < 2 || step <= 0 || window < 1 {
		return 0
	}
	window = min(window, len(samples)-1)
	var peak int64
	for i := window; i < len(samples); i++ {
		peak = max(peak, samples[i]-samples[i-window])
	}
	return float64(peak) / (float64(window) * step)
}
