package storm

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestPercentile(t *testing.T) {
	ten := []float64{10, 9, 8, 7, 6, 5, 4, 3, 2, 1}
	for _, c := range []struct {
		p, want float64
	}{{50, 5}, {90, 9}, {99, 10}, {100, 10}, {10, 1}, {1, 1}, {0, 1}, {55, 6}} {
		if got := Percentile(slices.Clone(ten), c.p); got != c.want {
			t.Errorf("p%v of 1..10 = %v, want %v", c.p, got, c.want)
		}
	}
	if got := Percentile(nil, 50); got != 0 {
		t.Errorf("p50 of nothing = %v", got)
	}
	if got := Percentile([]float64{7}, 99); got != 7 {
		t.Errorf("p99 of one value = %v", got)
	}
	hundred := make([]float64, 100)
	for i := range hundred {
		hundred[i] = float64(100 - i)
	}
	if got := Percentile(hundred, 99); got != 99 {
		t.Errorf("p99 of 1..100 = %v, want 99", got)
	}
}

func TestHistogram(t *testing.T) {
	var h Histogram
	if h.Percentile(99) != 0 || h.Count() != 0 {
		t.Fatal("an empty histogram is not zero")
	}
	r := rand.New(rand.NewPCG(1, 2))
	var exact []float64
	for range 100_000 {
		v := math.Exp(r.NormFloat64()*1.5 + 3) // log-normal, ms: 1 .. thousands
		exact = append(exact, v)
		h.Add(v)
	}
	h.Add(math.NaN()) // ignored
	if h.Count() != 100_000 {
		t.Fatalf("count %d", h.Count())
	}
	slices.Sort(exact)
	for _, p := range []float64{50, 90, 99, 99.9, 100} {
		want := percentileSorted(exact, p)
		got := h.Percentile(p)
		if got < want || got > want*1.0101 {
			t.Errorf("p%v = %v, exact %v: more than 1%% off", p, got, want)
		}
	}
	if h.Max() != exact[len(exact)-1] {
		t.Errorf("max %v, want %v", h.Max(), exact[len(exact)-1])
	}

	var edges Histogram
	edges.Add(0)
	edges.Add(-3)
	edges.Add(1e12)
	if got := edges.Percentile(50); got != histMin {
		t.Errorf("tiny values: p50 %v, want %v", got, histMin)
	}
	if got := edges.Percentile(100); got != 1e12 {
		t.Errorf("huge value: p100 %v", got)
	}
}

func TestPeakRate(t *testing.T) {
	// A counter sampled every 0.25 s: 40 connects in one second, then flat.
	samples := []int64{0, 0, 10, 20, 30, 40, 40, 40, 41}
	if got := PeakRate(samples, 0.25, 4); got != 40 {
		t.Errorf("peak %v, want 40/s", got)
	}
	if got := PeakRate(samples, 0.25, 1); got != 40 {
		t.Errorf("peak over one sample %v, want 10/0.25 = 40/s", got)
	}
	if got := PeakRate([]int64{0, 5}, 0.25, 4); got != 20 {
		t.Errorf("short series: %v, want 5/0.25 = 20/s", got)
	}
	if PeakRate(nil, 1, 1) != 0 || PeakRate([]int64{3}, 1, 1) != 0 {
		t.Error("no rate from fewer than two samples")
	}
}
