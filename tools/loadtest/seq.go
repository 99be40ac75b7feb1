package main

// seqWindow is how far back (in sequence numbers) a SeqTracker remembers
// which numbers it has seen, to tell a duplicate from a late arrival.
const seqWindow = 1024

// SeqTracker classifies the sequence numbers 1, 2, 3, ... received on one
// stream (one connection). Every number seen for the first time counts as
// Unique; a number seen again is a Duplicate; a first-time number smaller
// than the highest seen so far is also Reordered. Lost messages are what is
// left: Lost(expected) = expected - Unique. A number more than seqWindow
// below the highest can no longer be checked for duplication: it counts as
// Unique, Reordered and Late. Only its own goroutine may use a tracker; the
// zero value is ready. It takes about 170 bytes.
type SeqTracker struct {
	hi         uint64 // highest number seen, 0 before the first
	Unique     uint64 // distinct numbers received
	Duplicates uint64 // numbers received more than once (each extra copy counts)
	Reordered  uint64 // first-time numbers that arrived after a higher one
	Late       uint64 // reordered numbers too old to check for duplication
	Invalid    uint64 // zero (numbering starts at 1)
	seen       [seqWindow / 64]uint64
}

// Observe records the arrival of number s and reports whether it was the
// first copy.
func (t *SeqTracker) Observe(s uint64) bool {
	switch {
	case s == 0:
		t.Invalid++
		return false
	case s > t.hi:
		// Slide the window up to s: forget the bits of numbers that fall out.
		if s-t.hi >= seqWindow {
			t.seen = [seqWindow / 64]uint64{}
		} else {
			for x := t.hi + 1; x < s; x++ {
				t.clear(x)
			}
		}
		t.set(s)
		t.hi = s
		t.Unique++
		return true
	case t.hi-s >= seqWindow:
		t.Unique++
		t.Reordered++
		t.Late++
		return true
	case t.has(s):
		t.Duplicates++
		return false
	default:
		t.set(s)
		t.Unique++
		t.Reordered++
		return true
	}
}

// High returns the highest number seen so far.
func (t *SeqTracker) High() uint64 { return t.hi }

// Lost returns how many of the numbers 1..expected never arrived.
func (t *SeqTracker) Lost(expected uint64) uint64 {
	if t.Unique >= expected {
		return 0
	}
	return expected - t.Unique
}

func (t *SeqTracker) set(s uint64)      { t.seen[(s%seqWindow)/64] |= 1 << (s % 64) }
func (t *SeqTracker) clear(s uint64)    { t.seen[(s%seqWindow)/64] &^= 1 << (s % 64) }
func (t *SeqTracker) has(s uint64) bool { return t.seen[(s%seqWindow)/64]&(1<<(s%64)) != 0 }

// LossCounts sums the fate of the messages of many streams.
type LossCounts struct {
	Expected   uint64 `json:"expected"`   // messages that should have arrived
	Received   uint64 `json:"received"`   // distinct messages that arrived
	Lost       uint64 `json:"lost"`       // expected but never arrived
	Duplicates uint64 `json:"duplicates"` // extra copies
	Reordered  uint64 `json:"reordered"`  // arrived after a higher sequence number
	Late       uint64 `json:"late"`       // reordered by more than the duplicate-check window
	Unexpected uint64 `json:"unexpected"` // sequence numbers never sent (or zero)
}

// AddStream adds one stream's tracker, given how many messages it expected
// (sequence numbers 1..expected) and how many of its arrivals carried a number
// above expected.
func (l *LossCounts) AddStream(t *SeqTracker, expected, unexpected uint64) {
	l.Expected += expected
	l.Received += t.Unique - min(t.Unique, unexpected)
	l.Lost += t.Lost(expected + unexpected)
	l.Duplicates += t.Duplicates
	l.Reordered += t.Reordered
	l.Late += t.Late
	l.Unexpected += unexpected + t.Invalid
}

// Add merges o into l.
func (l *LossCounts) Add(o LossCounts) {
	l.Expected += o.Expected
	l.Received += o.Received
	l.Lost += o.Lost
	l.Duplicates += o.Duplicates
	l.Reordered += o.Reordered
	l.Late += o.Late
	l.Unexpected += o.Unexpected
}
