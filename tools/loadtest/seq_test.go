package main

import "testing"

func TestSeqTracker(t *testing.T) {
	type want struct{ unique, dup, reord, late, invalid, lost uint64 }
	f := func(name string, seqs []uint64, expected uint64, w want) {
		t.Helper()
		var tr SeqTracker
		for _, s := range seqs {
			tr.Observe(s)
		}
		got := want{tr.Unique, tr.Duplicates, tr.Reordered, tr.Late, tr.Invalid, tr.Lost(expected)}
		if got != w {
			t.Errorf("%s: got %+v, want %+v", name, got, w)
		}
	}
	f("in order", []uint64{1, 2, 3, 4, 5}, 5, want{unique: 5})
	f("nothing arrived", nil, 4, want{lost: 4})
	f("gap", []uint64{1, 2, 5}, 5, want{unique: 3, lost: 2})
	f("tail lost", []uint64{1, 2, 3}, 5, want{unique: 3, lost: 2})
	f("duplicate", []uint64{1, 2, 2, 3}, 3, want{unique: 3, dup: 1})
	f("duplicate twice", []uint64{1, 1, 1}, 1, want{unique: 1, dup: 2})
	f("old duplicate", []uint64{1, 2, 3, 4, 2}, 4, want{unique: 4, dup: 1})
	f("swap", []uint64{1, 3, 2, 4}, 4, want{unique: 4, reord: 1})
	f("reordered then dup", []uint64{2, 1, 1}, 2, want{unique: 2, dup: 1, reord: 1})
	f("reversed", []uint64{5, 4, 3, 2, 1}, 5, want{unique: 5, reord: 4})
	f("zero", []uint64{0, 1}, 1, want{unique: 1, invalid: 1})
	f("beyond window", []uint64{1, seqWindow + 2, 2}, seqWindow+2, want{unique: 3, reord: 1, late: 1, lost: seqWindow - 1})
	f("window edge dup", []uint64{1, seqWindow, 1}, seqWindow, want{unique: 2, dup: 1, lost: seqWindow - 2})
	f("big jump clears", []uint64{5, 5 + 3*seqWindow, 5 + 3*seqWindow - 1}, 5+3*seqWindow, want{unique: 3, reord: 1, lost: 3*seqWindow + 2})
}

// TestSeqTrackerSlidingWindow checks that bits of numbers that slide out of
// the window do not make a later number look like a duplicate.
func TestSeqTrackerSlidingWindow(t *testing.T) {
	var tr SeqTracker
	for s := uint64(1); s <= 10*seqWindow; s += 2 { // odd numbers only
		tr.Observe(s)
	}
	for s := uint64(10*seqWindow - 100); s <= 10*seqWindow; s += 2 { // recent even numbers
		if !tr.Observe(s) {
			t.Fatalf("%d reported as a duplicate", s)
		}
	}
	if tr.Duplicates != 0 || tr.Late != 0 {
		t.Fatalf("dups %d late %d, want 0", tr.Duplicates, tr.Late)
	}
}

func TestLossCounts(t *testing.T) {
	var a, b SeqTracker
	for _, s := range []uint64{1, 2, 2, 4} {
		a.Observe(s)
	}
	for _, s := range []uint64{2, 1, 9} { // 9 was never sent
		b.Observe(s)
	}
	var l LossCounts
	l.AddStream(&a, 4, 0)
	l.AddStream(&b, 3, 1)
	want := LossCounts{Expected: 7, Received: 5, Lost: 2, Duplicates: 1, Reordered: 1, Unexpected: 1}
	if l != want {
		t.Fatalf("got %+v, want %+v", l, want)
	}
	var sum LossCounts
	sum.Add(l)
	sum.Add(l)
	if sum.Expected != 14 || sum.Lost != 4 || sum.Unexpected != 2 {
		t.Fatalf("Add: %+v", sum)
	}
}
