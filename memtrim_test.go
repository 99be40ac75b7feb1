package main

import (
	"runtime"
	"runtime/metrics"
	"testing"
)

func TestShouldTrim(t *testing.T) {
	const mib = 1 << 20
	base := heapSample{allocs: 1000 * mib}
	for _, tc := range []struct {
		name      string
		allocated uint64 // in the last check
		live      uint64
		held      uint64
		want      bool
	}{
		{"idle after a storm: a quarter more than live", 0, 100 * mib, 130 * mib, true},
		{"quiet: a little allocated", 512 << 10, 100 * mib, 130 * mib, true},
		{"busy: clients still connecting", 10 * mib, 100 * mib, 200 * mib, false},
		{"busy for a large heap too", 40 * mib, 1024 * mib, 2048 * mib, false},
		{"quiet relative to a large heap", 10 * mib, 1024 * mib, 1600 * mib, true},
		{"slack under a quarter of live", 0, 100 * mib, 120 * mib, false},
		{"slack under the floor", 0, 4 * mib, 5 * mib, false},
		{"small heap, slack over the floor", 0, 8 * mib, 11 * mib, true},
		{"held under live (between readings)", 0, 100 * mib, 90 * mib, false},
		{"no collection yet", 0, 0, 3 * mib, false},
	} {
		cur := heapSample{allocs: base.allocs + tc.allocated, live: tc.live, held: tc.held}
		if got := shouldTrim(base, cur); got != tc.want {
			t.Errorf("%s: shouldTrim = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestReadHeap checks that every metric the trimmer reads exists in this
// Go release: a missing one reads 0 and would keep the trimmer idle.
func TestReadHeap(t *testing.T) {
	runtime.GC() // the live heap is known after a collection
	samples := make([]metrics.Sample, len(trimMetrics))
	for i, name := range trimMetrics {
		samples[i].Name = name
	}
	metrics.Read(samples)
	for _, s := range samples {
		if s.Value.Kind() != metrics.KindUint64 {
			t.Errorf("runtime/metrics has no uint64 %s", s.Name)
		}
	}
	if h := readHeap(samples); h.allocs == 0 || h.live == 0 || h.held < h.live/2 {
		t.Errorf("readHeap = %+v, not a heap", h)
	}
}
