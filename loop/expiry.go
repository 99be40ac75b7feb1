package loop

import "time"

// expiryQueue holds deadlines that all share one timeout, on one reactor.
// Each deadline is "now + timeout", so appending keeps the queue in
// deadline order and the sweep only looks at its head: arming is O(1) and
// allocates nothing, and an owner that stopped waiting costs nothing but
// its stale entry, dropped when it reaches the head or by compact. It
// serves the HTTP waits of connections (timeouts.go) and the wait of a
// Socket.IO client for its first CONNECT, where a timer of the heap in
// every owner would cost its bytes for the owner's whole life.
type expiryQueue[T any] struct {
	entries []expiring[T]
	head    int
	// live is how many entries the last compact kept: the queue is
	// compacted again once it holds more than twice that, plus slack, so
	// a connection storm keeps about as many entries as owners still
	// waiting, not one per owner that arrived within the timeout.
	live    int
	timeout time.Duration
	timer   timer // fires at the head entry's deadline
	stale   func(T) bool
	expire  func(T)
}

type expiring[T any] struct {
	v    T
	when int64
}

// expiryKeep is the capacity a drained queue keeps.
const expiryKeep = 1024

// expirySlack is how many stale entries a queue may hold beyond twice its
// live ones before add compacts it: compacting costs one pass, paid for by
// the slack adds since the last.
const expirySlack = 1024

// init sets up q on r: expire(v) runs for each v whose deadline passes
// while stale(v) is false.
func (q *expiryQueue[T]) init(r *reactor, timeout time.Duration, stale func(T) bool, expire func(T)) {
	q.timeout, q.stale, q.expire = timeout, stale, expire
	q.timer = timer{index: -1, fire: func(now int64) { q.sweep(r, now) }}
}

// add gives v a deadline timeout from now. Loop goroutine only.
func (q *expiryQueue[T]) add(r *reactor, v T) {
	if len(q.entries)-q.head > 2*q.live+expirySlack {
		q.compact()
	}
	q.entries = append(q.entries, expiring[T]{v: v, when: r.now() + int64(q.timeout)})
	if !q.timer.armed() {
		r.timers.set(&q.timer, q.entries[q.head].when)
	}
}

// waiting returns how many entries q holds, stale ones included.
func (q *expiryQueue[T]) waiting() int { return len(q.entries) - q.head }

// compact drops the stale entries, keeping the order.
func (q *expiryQueue[T]) compact() {
	n := 0
	for i := q.head; i < len(q.entries); i++ {
		if e := q.entries[i]; !q.stale(e.v) {
			q.entries[n] = e
			n++
		}
	}
	clear(q.entries[n:])
	q.entries, q.head, q.live = q.entries[:n], 0, n
}

// sweep expires the entries due at now.
func (q *expiryQueue[T]) sweep(r *reactor, now int64) {
	for q.head < len(q.entries) {
		e := q.entries[q.head]
		if e.when > now && !q.stale(e.v) {
			break
		}
		q.entries[q.head] = expiring[T]{}
		q.head++
		if !q.stale(e.v) {
			q.expire(e.v)
		}
	}
	if q.head == len(q.entries) {
		// A drained queue gives back what a storm grew it to; a small one
		// is kept for the next.
		if cap(q.entries) > expiryKeep {
			q.entries = nil
		}
		q.entries, q.head, q.live = q.entries[:0], 0, 0
		return
	}
	if q.head > len(q.entries)/2 {
		n := copy(q.entries, q.entries[q.head:])
		clear(q.entries[n:])
		q.entries, q.head = q.entries[:n], 0
	}
	r.timers.set(&q.timer, q.entries[q.head].when)
}
