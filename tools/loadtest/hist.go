package main

import (
	"fmt"
	"math"
	"math/bits"
	"sync/atomic"
)

// Histogram layout: HDR-style log-linear buckets over non-negative integers
// (nanoseconds here). Values below 2^histSubBits have a bucket each; above,
// every power-of-two range [2^k, 2^(k+1)) is split into 2^(histSubBits-1)
// equal buckets, so a bucket is never wider than 1/128 of its lower bound:
// a quantile read back is within 0.8 % of the true sample. Values at or above
// 2^histMaxBits (about 4.9 hours in ns) land in the last bucket.
const (
	histSubBits  = 8
	histSub      = 1 << histSubBits   // 256 exact buckets for 0..255
	histHalf     = histSub / 2        // 128 buckets per higher power of two
	histMaxBits  = 44                 // values < 2^44
	histMaxValue = 1<<histMaxBits - 1 // largest value kept exactly in range
	histBuckets  = histSub + (histMaxBits-histSubBits)*histHalf
)

// histIndex returns the bucket of v (v >= 0, clamped to histMaxValue).
func histIndex(v uint64) int {
	if v < histSub {
		return int(v)
	}
	if v > histMaxValue {
		v = histMaxValue
	}
	g := bits.Len64(v) - histSubBits // >= 1: how far v is shifted to keep 8 significant bits
	m := int(v>>uint(g)) - histHalf  // the 7 bits below the leading one
	return histSub + (g-1)*histHalf + m
}

// histBounds returns the smallest and largest value that fall in bucket i.
func histBounds(i int) (lo, hi uint64) {
	if i < histSub {
		return uint64(i), uint64(i)
	}
	g := (i-histSub)/histHalf + 1
	m := (i - histSub) % histHalf
	lo = uint64(histHalf+m) << uint(g)
	return lo, lo + 1<<uint(g) - 1
}

// Histogram counts samples in log-linear buckets. Record is safe from any
// number of goroutines (atomic adds, no lock); Snapshot may run concurrently
// with Record and returns a consistent-enough copy for live figures. The zero
// value is ready to use. It is about 39 KB: keep one per worker, not per
// connection.
type Histogram struct {
	counts [histBuckets]atomic.Uint64
	n      atomic.Uint64
	sum    atomic.Uint64
	max    atomic.Uint64
	min    atomic.Uint64 // stored as min+1 so that 0 means "no sample yet"
}

// Record adds one sample v. Negative values count as 0.
func (h *Histogram) Record(v int64) {
	if v < 0 {
		v = 0
	}
	u := uint64(v)
	h.counts[histIndex(u)].Add(1)
	h.n.Add(1)
	h.sum.Add(u)
	for {
		m := h.max.Load()
		if u <= m || h.max.CompareAndSwap(m, u) {
			break
		}
	}
	for {
		m := h.min.Load()
		if (m != 0 && u+1 >= m) || h.min.CompareAndSwap(m, u+1) {
			break
		}
	}
}

// Count returns the number of samples recorded so far.
func (h *Histogram) Count() uint64 { return h.n.Load() }

// Snapshot copies the histogram into d (reusing its storage) and returns d.
// A nil d allocates a new Distribution.
func (h *Histogram) Snapshot(d *Distribution) *Distribution {
	if d == nil {
		d = new(Distribution)
	}
	var n uint64
	for i := range h.counts {
		c := h.counts[i].Load()
		d.Counts[i] = c
		n += c
	}
	// Summing the buckets rather than loading h.n keeps Count equal to the
	// sum of the buckets even when Record runs concurrently.
	d.N = n
	d.Sum = h.sum.Load()
	d.Max = h.max.Load()
	if m := h.min.Load(); m > 0 {
		d.Min = m - 1
	} else {
		d.Min = 0
	}
	return d
}

// Distribution is a plain (single-goroutine) copy of a Histogram: bucket
// counts plus the exact minimum, maximum and sum of the samples.
type Distribution struct {
	Counts [histBuckets]uint64
	N      uint64 // number of samples
	Sum    uint64 // sum of the samples (for the mean)
	Min    uint64 // exact smallest sample, 0 when N == 0
	Max    uint64 // exact largest sample
}

// Add merges o into d. Min and Max stay exact.
func (d *Distribution) Add(o *Distribution) {
	if o.N == 0 {
		return
	}
	for i, c := range o.Counts {
		d.Counts[i] += c
	}
	if d.N == 0 || o.Min < d.Min {
		d.Min = o.Min
	}
	if o.Max > d.Max {
		d.Max = o.Max
	}
	d.N += o.N
	d.Sum += o.Sum
}

// Sub removes an earlier snapshot prev of the same histogram from d, leaving
// the samples recorded between the two. Min and Max of the difference are
// bucket bounds (the exact ones are not recoverable), clamped to d's exact range.
func (d *Distribution) Sub(prev *Distribution) {
	exactMax := d.Max
	d.N, d.Sum, d.Min, d.Max = 0, d.Sum-prev.Sum, 0, 0
	first, last := -1, -1
	for i := range d.Counts {
		c := d.Counts[i] - prev.Counts[i]
		d.Counts[i] = c
		if c > 0 {
			if first < 0 {
				first = i
			}
			last = i
			d.N += c
		}
	}
	if first < 0 {
		d.Sum = 0
		return
	}
	lo, _ := histBounds(first)
	_, hi := histBounds(last)
	d.Min = lo
	d.Max = min(hi, exactMax)
}

// Quantile returns the value below or at which a fraction q (0..1) of the
// samples lie: the upper bound of the bucket holding the sample of rank
// ceil(q*N), clamped to the exact [Min, Max]. It returns 0 when N == 0.
func (d *Distribution) Quantile(q float64) uint64 {
	if d.N == 0 {
		return 0
	}
	if q <= 0 {
		return d.Min
	}
	if q >= 1 {
		return d.Max
	}
	rank := uint64(math.Ceil(q * float64(d.N)))
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for i, c := range d.Counts {
		seen += c
		if seen >= rank {
			_, hi := histBounds(i)
			return max(d.Min, min(hi, d.Max))
		}
	}
	return d.Max
}

// Mean returns the arithmetic mean of the samples, 0 when N == 0.
func (d *Distribution) Mean() float64 {
	if d.N == 0 {
		return 0
	}
	return float64(d.Sum) / float64(d.N)
}

// Bucket is one non-empty bucket of a Distribution: samples in [Lo, Hi].
type Bucket struct {
	Lo, Hi uint64
	Count  uint64
}

// Buckets returns the non-empty buckets in increasing order, merged into at
// most about perDecade buckets per factor of ten (0 keeps every bucket) so
// that charts and JSON stay small.
func (d *Distribution) Buckets(perDecade int) []Bucket {
	var out []Bucket
	step := 1.0
	if perDecade > 0 {
		step = math.Pow(10, 1/float64(perDecade))
	}
	for i, c := range d.Counts {
		if c == 0 {
			continue
		}
		lo, hi := histBounds(i)
		if n := len(out); n > 0 && perDecade > 0 && float64(hi) <= float64(max(out[n-1].Lo, 1))*step {
			out[n-1].Hi = hi
			out[n-1].Count += c
			continue
		}
		out = append(out, Bucket{Lo: lo, Hi: hi, Count: c})
	}
	return out
}

// Load replaces the histogram's content with d. It is how a parent process
// mirrors a child's histogram; Snapshot may run concurrently (and may then
// see a mix of the old and new content for one call).
func (h *Histogram) Load(d *Distribution) {
	for i, c := range d.Counts {
		h.counts[i].Store(c)
	}
	h.n.Store(d.N)
	h.sum.Store(d.Sum)
	h.max.Store(d.Max)
	if d.N > 0 {
		h.min.Store(d.Min + 1)
	} else {
		h.min.Store(0)
	}
}

// sparseDist is a Distribution as a child process sends it: only the
// non-empty buckets, as [index, count] pairs.
type sparseDist struct {
	N   uint64      `json:"n"`
	Sum uint64      `json:"sum"`
	Min uint64      `json:"min"`
	Max uint64      `json:"max"`
	B   [][2]uint64 `json:"b,omitempty"`
}

// sparse returns d without its empty buckets.
func (d *Distribution) sparse() sparseDist {
	s := sparseDist{N: d.N, Sum: d.Sum, Min: d.Min, Max: d.Max}
	for i, c := range d.Counts {
		if c > 0 {
			s.B = append(s.B, [2]uint64{uint64(i), c})
		}
	}
	return s
}

// dist expands s into d. It refuses a bucket index out of range or counts
// that do not add up to N.
func (s *sparseDist) dist(d *Distribution) error {
	*d = Distribution{N: s.N, Sum: s.Sum, Min: s.Min, Max: s.Max}
	var n uint64
	for _, b := range s.B {
		if b[0] >= histBuckets {
			return fmt.Errorf("loadtest: histogram bucket %d out of range", b[0])
		}
		d.Counts[b[0]] += b[1]
		n += b[1]
	}
	if n != s.N {
		return fmt.Errorf("loadtest: histogram buckets add up to %d, not %d", n, s.N)
	}
	return nil
}
