package api

import (
	"runtime"
	"runtime/metrics"
	"testing"
)

// TestMemStats checks that memStats reads what runtime.MemStats calls
// HeapAlloc, HeapSys and Sys, within the drift of a few allocations
// between the two reads.
func TestMemStats(t *testing.T) {
	used, total, sys := memStats()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	near := func(what string, got, want uint64) {
		t.Helper()
		const slack = 4 << 20
		if got == 0 || got+slack < want || got > want+slack {
			t.Errorf("%s = %d, runtime.MemStats says %d", what, got, want)
		}
	}
	near("heap used", used, ms.HeapAlloc)
	near("heap total", total, ms.HeapSys)
	near("sys", sys, ms.Sys)
	if used > total || total > sys {
		t.Errorf("heap used %d, heap total %d, sys %d: want them in increasing order", used, total, sys)
	}
}

// TestReadMemoryDoesNotStopTheWorld counts the stop-the-world pauses that
// are not the GC's (runtime.ReadMemStats is one) while /health's memory
// report is read many times: it must add none. The bound leaves room for
// a pause of some other cause in the test binary.
func TestReadMemoryDoesNotStopTheWorld(t *testing.T) {
	const calls = 200
	s := []metrics.Sample{{Name: "/sched/pauses/total/other:seconds"}}
	pauses := func() uint64 {
		metrics.Read(s)
		if s[0].Value.Kind() != metrics.KindFloat64Histogram {
			t.Skipf("%s is not supported by this Go version", s[0].Name)
		}
		var n uint64
		for _, c := range s[0].Value.Float64Histogram().Counts {
			n += c
		}
		return n
	}
	before := pauses()
	for range calls {
		readMemory()
	}
	if n := pauses() - before; n >= calls/4 {
		t.Errorf("%d reads of the memory made %d stop-the-world pauses, want none", calls, n)
	}
}
