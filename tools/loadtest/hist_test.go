package main

import (
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

func TestHistIndexBounds(t *testing.T) {
	// Every bucket's bounds map back to it, buckets tile the range with no
	// gap, and no bucket is wider than 1/128 of its lower bound.
	var next uint64
	for i := range histBuckets {
		lo, hi := histBounds(i)
		if lo != next {
			t.Fatalf("bucket %d starts at %d, want %d", i, lo, next)
		}
		if histIndex(lo) != i || histIndex(hi) != i {
			t.Fatalf("bucket %d [%d,%d]: index(lo)=%d index(hi)=%d", i, lo, hi, histIndex(lo), histIndex(hi))
		}
		if lo >= histSub && float64(hi-lo+1) > float64(lo)/histHalf {
			t.Fatalf("bucket %d [%d,%d] wider than 1/%d of its bound", i, lo, hi, histHalf)
		}
		next = hi + 1
	}
	if next != histMaxValue+1 {
		t.Fatalf("buckets end at %d, want %d", next, uint64(histMaxValue)+1)
	}
	if got := histIndex(math.MaxUint64); got != histBuckets-1 {
		t.Fatalf("index(MaxUint64) = %d, want the last bucket %d", got, histBuckets-1)
	}
}

func TestHistogramQuantiles(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var h Histogram
	var exact []uint64
	for range 100_000 {
		// Log-normal-ish latencies from 10 µs to ~1 s.
		v := uint64(math.Exp(r.NormFloat64()*1.5 + 12))
		h.Record(int64(v))
		exact = append(exact, v)
	}
	slices.Sort(exact)
	d := h.Snapshot(nil)
	if d.N != uint64(len(exact)) {
		t.Fatalf("N = %d, want %d", d.N, len(exact))
	}
	if d.Min != exact[0] || d.Max != exact[len(exact)-1] {
		t.Fatalf("min/max = %d/%d, want %d/%d", d.Min, d.Max, exact[0], exact[len(exact)-1])
	}
	for _, q := range []float64{0.01, 0.5, 0.9, 0.99, 0.999, 0.9999} {
		rank := int(math.Ceil(q*float64(len(exact)))) - 1
		want := float64(exact[rank])
		got := float64(d.Quantile(q))
		if got < want || got > want*(1+1.0/histHalf)+1 {
			t.Errorf("q%g = %g, want %g within +%.2f%%", q, got, want, 100.0/histHalf)
		}
	}
	var sum uint64
	for _, v := range exact {
		sum += v
	}
	if d.Mean() != float64(sum)/float64(len(exact)) {
		t.Errorf("mean = %g, want %g", d.Mean(), float64(sum)/float64(len(exact)))
	}
}

func TestHistogramSmallValuesExact(t *testing.T) {
	var h Histogram
	for v := int64(-3); v < 200; v++ {
		h.Record(v) // negatives count as 0
	}
	d := h.Snapshot(nil)
	f := func(q float64, want uint64) {
		t.Helper()
		if got := d.Quantile(q); got != want {
			t.Errorf("Quantile(%g) = %d, want %d", q, got, want)
		}
	}
	f(0, 0)
	f(0.5, 98) // rank 102 of 203 samples: 0,0,0,0,1,...
	f(1, 199)
	if d.Counts[0] != 4 {
		t.Errorf("bucket 0 holds %d, want 4 (three negatives and 0)", d.Counts[0])
	}
}

func TestDistributionEmpty(t *testing.T) {
	var d Distribution
	if d.Quantile(0.5) != 0 || d.Mean() != 0 || len(d.Buckets(10)) != 0 {
		t.Fatalf("empty distribution: q50 %d mean %g buckets %d", d.Quantile(0.5), d.Mean(), len(d.Buckets(10)))
	}
}

func TestDistributionSubAdd(t *testing.T) {
	var h Histogram
	for v := range 1000 {
		h.Record(int64(v) * 1000)
	}
	before := h.Snapshot(nil)
	for v := range 500 {
		h.Record(int64(v)*1000 + 5_000_000)
	}
	after := h.Snapshot(nil)
	diff := *after
	diff.Sub(before)
	if diff.N != 500 {
		t.Fatalf("Sub: N = %d, want 500", diff.N)
	}
	if lo := diff.Quantile(0); lo > 5_000_000 || lo < 5_000_000-5_000_000/histHalf {
		t.Errorf("Sub: min = %d, want about 5e6", lo)
	}
	if diff.Max != after.Max {
		t.Errorf("Sub: max = %d, want %d (clamped to the exact max)", diff.Max, after.Max)
	}
	var sum Distribution
	sum.Add(before)
	sum.Add(&diff)
	if sum.N != after.N || sum.Sum != after.Sum || sum.Counts != after.Counts {
		t.Errorf("before + (after - before) != after: N %d/%d sum %d/%d", sum.N, after.N, sum.Sum, after.Sum)
	}
}

func TestDistributionBucketsMerge(t *testing.T) {
	var h Histogram
	for v := int64(1); v < 10_000_000; v = v*11/10 + 1 {
		h.Record(v)
	}
	d := h.Snapshot(nil)
	all, merged := d.Buckets(0), d.Buckets(10)
	count := func(bs []Bucket) (n uint64) {
		for _, b := range bs {
			n += b.Count
		}
		return n
	}
	if count(all) != d.N || count(merged) != d.N {
		t.Fatalf("bucket counts %d/%d, want %d", count(all), count(merged), d.N)
	}
	if len(merged) >= len(all) || len(merged) > 80 {
		t.Errorf("merged %d buckets from %d, want fewer than ~10 per decade", len(merged), len(all))
	}
	for i := 1; i < len(merged); i++ {
		if merged[i].Lo <= merged[i-1].Hi {
			t.Fatalf("buckets %d and %d overlap: %+v %+v", i-1, i, merged[i-1], merged[i])
		}
	}
}

func TestHistogramConcurrent(t *testing.T) {
	var h Histogram
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10_000 {
				h.Record(int64(g*10_000 + i))
			}
		}()
	}
	wg.Wait()
	d := h.Snapshot(nil)
	if d.N != 40_000 || d.Min != 0 || d.Max != 39_999 {
		t.Fatalf("N %d min %d max %d, want 40000 0 39999", d.N, d.Min, d.Max)
	}
}
