package loop

import (
	"testing"
	"time"
)

func TestTimingHistBuckets(t *testing.T) {
	var h timingHist
	last := TimingBounds[len(TimingBounds)-1]
	in := []time.Duration{0, 100 * time.Microsecond, 100*time.Microsecond + 1, 50 * time.Millisecond, last, last + 1, time.Hour}
	var sum time.Duration
	for _, d := range in {
		h.record(int64(d))
		sum += d
	}
	var got Histogram
	h.read(&got)
	want := map[int]uint64{0: 2, 1: 1, 11: 1, len(TimingBounds) - 1: 1, len(TimingBounds): 2}
	for i, n := range got.Counts {
		if n != want[i] {
			t.Errorf("bucket %d (le %v): %d, want %d", i, TimingBounds[min(i, len(TimingBounds)-1)], n, want[i])
		}
	}
	if TimingBounds[11] != 50*time.Millisecond {
		t.Fatalf("bucket 11 is %v: the test assumes 50ms", TimingBounds[11])
	}
	if got.Count != uint64(len(in)) || got.Sum != sum {
		t.Errorf("count %d sum %v, want %d and %v", got.Count, got.Sum, len(in), sum)
	}
}

// TestBroadcastTiming checks what a write pass records: its reactor's wait
// and write, and, from the last reactor to deliver a broadcast, the whole
// time and the count of last finishes.
func TestBroadcastTiming(t *testing.T) {
	io, r, conns := fanoutSetup(100)
	snap := func() (LoopTiming, Histogram) {
		s := io.srv.Snapshot()
		if len(s.LoopTiming) != 1 {
			t.Fatalf("%d reactor timings, want 1", len(s.LoopTiming))
		}
		return s.LoopTiming[0], s.BroadcastDone
	}
	eb := encodeBroadcast(io.Namespace("/"), &Broadcast{Event: "news", Args: []byte(`1`)})
	eb.toReactors(2) // as if a second reactor delivered it too
	time.Sleep(time.Millisecond)
	r.deliverBatch([]*encodedBroadcast{eb})
	lt, done := snap()
	if lt.Wait.Count != 1 || lt.Write.Count != 1 || lt.Last != 0 || done.Count != 0 {
		t.Fatalf("after the first of two reactors: %+v, whole %+v", lt, done)
	}
	if lt.Wait.Sum < time.Millisecond {
		t.Errorf("wait %v, want at least the 1ms between encoding and delivery", lt.Wait.Sum)
	}
	r.deliverBatch([]*encodedBroadcast{eb}) // the other reactor's pass
	lt, done = snap()
	if lt.Write.Count != 2 || lt.Last != 1 || done.Count != 1 || done.Sum < time.Millisecond {
		t.Fatalf("after the last reactor: %+v, whole %+v", lt, done)
	}

	// A broadcast not sent to every reactor (an emit with recovery on)
	// records its pass but no whole time.
	r.deliverBatch([]*encodedBroadcast{encodeBroadcast(io.Namespace("/"), &Broadcast{Event: "news", Args: []byte(`2`)})})
	lt, done = snap()
	if lt.Write.Count != 3 || lt.Wait.Count != 3 || lt.Last != 1 || done.Count != 1 || lt.URing.Count != 0 {
		t.Fatalf("after a pass to one reactor: %+v, whole %+v", lt, done)
	}

	// Through io_uring, each pass also records its time in the kernel.
	givePeers(t, conns)
	r.sendRingTried = false
	r.deliverBatch([]*encodedBroadcast{encodeBroadcast(io.Namespace("/"), &Broadcast{Event: "news", Args: []byte(`3`)})})
	requireRing(t, r)
	lt, _ = snap()
	if lt.URing.Count != 1 || lt.URing.Sum <= 0 || lt.URing.Sum > lt.Write.Sum {
		t.Errorf("io_uring time %+v within write passes %+v", lt.URing, lt.Write)
	}
}
