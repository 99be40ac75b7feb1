package main

import (
	"encoding/json"
	"testing"
	"time"
)

func TestChildShares(t *testing.T) {
	f := func(n, procs int, want ...int) {
		t.Helper()
		got := childShares(n, procs)
		if len(got) != len(want) {
			t.Fatalf("childShares(%d, %d) = %v, want %v", n, procs, got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("childShares(%d, %d) = %v, want %v", n, procs, got, want)
			}
		}
	}
	f(10, 3, 4, 3, 3)
	f(57000, 3, 19000, 19000, 19000)
	f(2, 2, 1, 1)
}

func TestChildSources(t *testing.T) {
	// Enough addresses: disjoint contiguous ranges covering all of them.
	for _, c := range []struct{ procs, total int }{{3, 23}, {2, 2}, {4, 9}, {3, 254}} {
		next := 0
		for i := range c.procs {
			base, n := childSources(i, c.procs, c.total)
			if base != next || n < 1 {
				t.Fatalf("%d procs over %d sources: child %d gets %d+%d, want to start at %d", c.procs, c.total, i, base, n, next)
			}
			next = base + n
		}
		if next != c.total {
			t.Fatalf("%d procs over %d sources: %d used", c.procs, c.total, next)
		}
	}
	// Fewer addresses than children: one each, in turn.
	if b, n := childSources(4, 5, 3); b != 1 || n != 1 {
		t.Fatalf("child 4 of 5 over 3 sources: %d+%d", b, n)
	}
	if b, n := childSources(2, 3, 1); b != 0 || n != 1 {
		t.Fatalf("one source: %d+%d", b, n)
	}
}

func TestSparseDistRoundTrip(t *testing.T) {
	var h Histogram
	for _, v := range []int64{0, 7, 255, 256, 1e6, 1e6 + 3, 5e9} {
		h.Record(v)
	}
	d := h.Snapshot(nil)
	s := d.sparse()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back sparseDist
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	var got Distribution
	if err := back.dist(&got); err != nil {
		t.Fatal(err)
	}
	if got != *d {
		t.Fatalf("round trip changed the distribution: n %d/%d max %d/%d", got.N, d.N, got.Max, d.Max)
	}
	var h2 Histogram
	h2.Load(&got)
	if *h2.Snapshot(nil) != *d {
		t.Fatal("Load then Snapshot differs from the original")
	}
	bad := sparseDist{N: 2, B: [][2]uint64{{1, 1}}}
	if bad.dist(&got) == nil {
		t.Error("buckets adding up to less than N: no error")
	}
	bad = sparseDist{N: 1, B: [][2]uint64{{histBuckets, 1}}}
	if bad.dist(&got) == nil {
		t.Error("bucket out of range: no error")
	}
}

// fakeChild is the state of one child's run, built by hand.
type fakeChild struct {
	rs       *runState
	measured int64
	trk      SeqTracker
}

func (f *fakeChild) start()        {}
func (f *fakeChild) wait()         {}
func (f *fakeChild) enter(p int32) { f.rs.phase.Store(p) }
func (f *fakeChild) loss() (LossCounts, int64) {
	return LossCounts{}, f.measured
}
func (f *fakeChild) trackers(fn func(t *SeqTracker)) { fn(&f.trk) }

// TestProcMerge runs the parent's side of --procs on reports from two
// children built by hand: counts add up, histograms merge bucket by bucket
// (the merged quantiles are those of all samples together, not an average),
// per-broadcast deliveries add up and the slowest delivery of a broadcast is
// the slowest over both children.
func TestProcMerge(t *testing.T) {
	cfg := Config{Scenario: ScenarioFanout, Rate: 10, Duration: time.Second, Connections: 5, Procs: 2}
	parent := newRunState(&cfg, 3) // the third child dies before its final report
	tab := parent.bcast
	for seq := uint64(1); seq <= 3; seq++ {
		tab.slots[seq].ok.Store(true)
		tab.slots[seq].recipients.Store(-1)
		tab.accepted.Add(1)
	}
	tab.posted.Store(3)

	var all Histogram // every delivery of both children, for the expected quantiles
	mk := func(clients int64, lats map[uint64][]int64, dup uint64) *fakeChild {
		rs := newRunState(&cfg, 2)
		f := &fakeChild{rs: rs, measured: clients, trk: SeqTracker{Duplicates: dup}}
		st := rs.stats[1]
		st.connected.Store(clients)
		st.open.Store(clients)
		st.measured.Store(clients)
		for seq, ls := range lats {
			for _, l := range ls {
				st.fresh.Add(1)
				st.received.Add(1)
				st.rtt.Record(l)
				all.Record(l)
				rs.bcast.deliver(seq, l)
			}
		}
		st.received.Add(dup)
		rs.noteErr(st, errClosed, nil)
		return f
	}
	// Child 0: 3 clients, all three broadcasts reach all of them.
	c0 := mk(3, map[uint64][]int64{1: {1e6, 2e6, 3e6}, 2: {1e6, 1e6, 9e6}, 3: {4e6, 4e6, 4e6}}, 1)
	// Child 1: 2 clients, broadcast 3 reaches one; its broadcast 1 is the slowest.
	c1 := mk(2, map[uint64][]int64{1: {50e6, 1e6}, 2: {2e6, 2e6}, 3: {5e6}}, 0)

	pe := &procEngine{rs: parent}
	for i, f := range []*fakeChild{c0, c1} {
		c := &child{idx: i, done: make(chan struct{})}
		pe.children = append(pe.children, c)
		f.rs.phase.Store(phaseStop)
		rep := childReportOf(f.rs, childFinalOf(f.rs, f))
		// Through JSON, as over the pipe.
		b, err := json.Marshal(rep)
		if err != nil {
			t.Fatal(err)
		}
		var back childReport
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if err := pe.apply(c, &back); err != nil {
			t.Fatal(err)
		}
		close(c.done)
	}
	pe.wait()

	tot := parent.sum()
	if tot.connected != 5 || tot.fresh != 14 || tot.received != 15 || tot.errs[errClosed] != 2 {
		t.Errorf("sums: connected %d fresh %d received %d closed %d, want 5 14 15 2", tot.connected, tot.fresh, tot.received, tot.errs[errClosed])
	}
	rtt, _ := parent.snapshot(nil, nil)
	want := all.Snapshot(nil)
	if *rtt != *want {
		t.Errorf("merged histogram differs from one over all samples: n %d/%d", rtt.N, want.N)
	}
	if rtt.Quantile(0.99) != want.Quantile(0.99) || ms(rtt.Max) != 50 {
		t.Errorf("merged p99 %d max %d", rtt.Quantile(0.99), rtt.Max)
	}

	l, measured := pe.loss()
	if measured != 5 {
		t.Errorf("measured %d, want 5", measured)
	}
	f, loss := fanoutResult(parent, pe, measured, 1)
	if f.Delivered != 14 || f.Expected != 15 || loss.Lost != 1 || f.Complete != 2 {
		t.Errorf("fanout: delivered %d expected %d lost %d complete %d, want 14 15 1 2", f.Delivered, f.Expected, loss.Lost, f.Complete)
	}
	if loss.Duplicates != 1 || l.Expected != 0 {
		t.Errorf("duplicates %d (want 1), echo expected %d (want 0)", loss.Duplicates, l.Expected)
	}
	// Time to last client per broadcast: 50 ms (child 1), 9 ms (child 0), 5 ms (child 1).
	if f.TimeToLastClient.Count != 3 || f.TimeToLastClient.Max != 50 || f.TimeToLastClient.Min < 4.9 || f.TimeToLastClient.Min > 5.1 {
		t.Errorf("time to last client %+v", f.TimeToLastClient)
	}
	if got := parent.errSamples["closed"]; got != "" {
		t.Errorf("error sample %q from a nil error", got)
	}

	// A child that reported 4 measured clients, then died: they count as
	// expected, none of their deliveries is credited.
	dead := &child{idx: 2, done: make(chan struct{})}
	pe.children = append(pe.children, dead)
	if err := pe.apply(dead, &childReport{Phase: phaseMeasure, Counters: counterValues{Connected: 4, Open: 4, Measured: 4, Fresh: 6}}); err != nil {
		t.Fatal(err)
	}
	_, measured = pe.loss()
	f, loss = fanoutResult(parent, pe, measured, 1)
	if measured != 9 || f.Expected != 27 || f.Delivered != 14 || loss.Lost != 13 || f.Complete != 0 {
		t.Errorf("with a dead child: measured %d expected %d delivered %d lost %d complete %d, want 9 27 14 13 0", measured, f.Expected, f.Delivered, loss.Lost, f.Complete)
	}
}
