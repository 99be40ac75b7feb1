package loop

import (
	"math/rand"
	"sort"
	"testing"
)

func TestTimerHeapOrder(t *testing.T) {
	var h timerHeap
	var fired []int64
	ts := make([]*timer, 200)
	rng := rand.New(rand.NewSource(1))
	want := map[*timer]int64{}
	for i := range ts {
		tm := &timer{index: -1}
		tm.fire = func(now int64) { fired = append(fired, tm.when) }
		ts[i] = tm
		h.set(tm, rng.Int63n(1000)+1)
		want[tm] = tm.when
	}
	// Re-arm some, stop some: the heap must follow.
	for i := 0; i < 50; i++ {
		tm := ts[rng.Intn(len(ts))]
		if rng.Intn(2) == 0 {
			h.stop(tm)
			delete(want, tm)
		} else {
			h.set(tm, rng.Int63n(1000)+1)
			want[tm] = tm.when
		}
	}
	if h.len() != len(want) {
		t.Fatalf("len = %d, want %d", h.len(), len(want))
	}
	h.run(500)
	h.run(1000)
	if h.len() != 0 {
		t.Fatalf("%d timers left after running past every deadline", h.len())
	}
	var exp []int64
	for _, w := range want {
		exp = append(exp, w)
	}
	sort.Slice(exp, func(i, j int) bool { return exp[i] < exp[j] })
	if len(fired) != len(exp) {
		t.Fatalf("fired %d timers, want %d", len(fired), len(exp))
	}
	for i := range exp {
		if fired[i] != exp[i] {
			t.Fatalf("fired[%d] at %d, want %d (out of order)", i, fired[i], exp[i])
		}
	}
}

func TestTimerRearmFromCallback(t *testing.T) {
	var h timerHeap
	n := 0
	tm := &timer{index: -1}
	tm.fire = func(now int64) {
		n++
		if n < 3 {
			h.set(tm, now+10)
		}
	}
	h.set(tm, 10)
	for now := int64(0); now <= 100; now += 5 {
		h.run(now)
	}
	if n != 3 || tm.armed() {
		t.Fatalf("fired %d times (armed %v), want 3 and disarmed", n, tm.armed())
	}
	h.stop(tm) // stopping a disarmed timer is a no-op
	if h.next() != 0 {
		t.Fatalf("next = %d on an empty heap", h.next())
	}
}
