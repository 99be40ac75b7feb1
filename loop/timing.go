package loop

import (
	"sync/atomic"
	"time"
)

// Broadcast timing: where the time to the last recipient of a broadcast
// goes. Each reactor records, per broadcast, how long it waited from the
// broadcast's encoding to the start of its write pass, and, per pass, how
// long the pass took and how much of it was spent inside io_uring_enter (the
// kernel performing the sends; the rest is the walk over the sockets, the
// completions and what the kernel left for gnet's buffers). The reactor that
// finishes a broadcast last records the whole, from encoding to its last
// write, and counts itself as the last: a reactor that is last far more
// often than the others is the one a tail waits for.
//
// A histogram is a row of atomic counters that only its reactor writes (the
// whole-broadcast one is written by whichever reactor finishes last), read
// by scrapes: one clock read per pass, a few per broadcast, nothing per
// recipient, no allocation.

// TimingBounds are the upper bounds of the broadcast timing histograms'
// buckets; one more bucket takes what lies above the last. They are finest
// between 10 and 200 ms, where the fan-out to thousands of clients ends.
var TimingBounds = [...]time.Duration{
	100 * time.Microsecond, 250 * time.Microsecond, 500 * time.Microsecond,
	1 * time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond,
	10 * time.Millisecond, 15 * time.Millisecond, 20 * time.Millisecond, 30 * time.Millisecond,
	40 * time.Millisecond, 50 * time.Millisecond, 60 * time.Millisecond, 80 * time.Millisecond,
	100 * time.Millisecond, 125 * time.Millisecond, 150 * time.Millisecond, 200 * time.Millisecond,
	300 * time.Millisecond, 500 * time.Millisecond, 1 * time.Second, 2500 * time.Millisecond,
}

// Histogram is a reading of one broadcast timing histogram.
type Histogram struct {
	// Counts holds the observations per bucket (not cumulative): Counts[i]
	// those at most TimingBounds[i] and above the bound before it, the
	// last those above every bound.
	Counts [len(TimingBounds) + 1]uint64
	Count  uint64        // observations
	Sum    time.Duration // of every observation
}

// LoopTiming is a reading of one reactor's broadcast timing.
type LoopTiming struct {
	// Wait is, per broadcast, the time from its encoding to the start of
	// this reactor's write pass: the reactor's wake-up and whatever it was
	// busy with.
	Wait Histogram
	// Write is, per write pass (several broadcasts queued together share
	// one), the time from its start to its last write.
	Write Histogram
	// URing is, per write pass that sent through io_uring, the time
	// spent inside io_uring_enter.
	URing Histogram
	// Last counts the broadcasts this reactor finished after every other.
	Last uint64
}

// timingHist is a histogram over TimingBounds written with atomics.
type timingHist struct {
	counts [len(TimingBounds) + 1]atomic.Uint64
	sum    atomic.Int64 // ns
}

// record adds one observation of d nanoseconds. Any goroutine.
func (h *timingHist) record(d int64) {
	i := 0
	for i < len(TimingBounds) && d > int64(TimingBounds[i]) {
		i++
	}
	h.counts[i].Add(1)
	h.sum.Add(d)
}

// read copies h into out. Any goroutine; a reading taken while a reactor
// records may be one observation behind in some bucket.
func (h *timingHist) read(out *Histogram) {
	out.Count = 0
	for i := range h.counts {
		out.Counts[i] = h.counts[i].Load()
		out.Count += out.Counts[i]
	}
	out.Sum = time.Duration(h.sum.Load())
}

// loopTiming is the broadcast timing of one reactor.
type loopTiming struct {
	wait, write, uring timingHist
	last               atomic.Uint64
}

func (t *loopTiming) read() LoopTiming {
	var out LoopTiming
	t.wait.read(&out.Wait)
	t.write.read(&out.Write)
	t.uring.read(&out.URing)
	out.Last = t.last.Load()
	return out
}

// monoBase anchors monoNow.
var monoBase = time.Now()

// monoNow is a monotonic clock in nanoseconds, for durations only.
func monoNow() int64 { return int64(time.Since(monoBase)) }

// toReactors marks eb as delivered by n reactors: the last of them to
// finish records the broadcast's whole time. Call it before eb is queued.
func (eb *encodedBroadcast) toReactors(n int) { eb.left.Store(int32(n)) }

// timeBatch records the timing of a write pass over ebs that started at
// start and ended at end, with uring ns inside io_uring_enter. Loop
// goroutine only.
func (r *reactor) timeBatch(ebs []*encodedBroadcast, start, end, uring int64) {
	t := &r.timing
	t.write.record(end - start)
	if uring > 0 {
		t.uring.record(uring)
	}
	for _, eb := range ebs {
		t.wait.record(start - eb.at)
		if eb.left.Load() > 0 && eb.left.Add(-1) == 0 {
			r.srv.broadcastDone.record(end - eb.at)
			t.last.Add(1)
		}
	}
}
