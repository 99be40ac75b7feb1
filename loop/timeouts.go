package loop

import (
	"time"

	"github.com/panjf2000/gnet/v2"
)

// httpWait is what an HTTP connection waits for from its client. Each
// state has its own bound, so a connection that sends nothing, sends its
// head a byte at a time, stalls in its body or idles between keep-alive
// requests gives its descriptor and buffers back (Node: headersTimeout,
// requestTimeout, keepAliveTimeout). A parked GET and a WebSocket wait for
// the server, not the client: the session's heartbeat bounds those.
type httpWait uint8

const (
	waitNone httpWait = iota // no client deadline
	waitHead                 // a request head: HandshakeTimeout from the first byte or from accept
	waitBody                 // the rest of a body: BodyReadTimeout from its head
	waitIdle                 // the next keep-alive request: KeepAliveTimeout from the last answer
	numWaits
)

// deadlineQueue holds the deadlines of one kind of wait on one reactor.
// Every deadline of a kind is "now + the same timeout", so appending keeps
// the queue in deadline order and the sweep only looks at its head: arming
// is O(1) and allocates nothing, and a connection that waits for nobody
// (every idle WebSocket) costs no entry at all. An entry whose connection
// moved on (another wait, a later deadline, closed) is dropped when it
// reaches the head, or by compact when stale entries pile up.
type deadlineQueue struct {
	entries []deadlineEntry
	head    int
	// live is how many entries the last compact kept: the queue is
	// compacted again once it holds more than twice that, plus slack. An
	// idle WebSocket's entry goes stale at its upgrade, so a connection
	// storm keeps about as many entries as handshakes in flight, not one
	// per connection that arrived within the timeout.
	live    int
	timeout time.Duration
	timer   timer // fires at the head entry's deadline
}

// deadlineKeep is the capacity a drained deadline queue keeps.
const deadlineKeep = 1024

// deadlineSlack is how many stale entries a queue may hold beyond twice
// its live ones before expect compacts it: compacting costs one pass, paid
// for by the slack appends since the last.
const deadlineSlack = 1024

type deadlineEntry struct {
	c    gnet.Conn
	cs   *connState
	when int64
	seq  uint32 // the connState's waitSeq when armed
}

// stale reports whether e no longer stands for its connection's deadline.
func (e *deadlineEntry) stale(w httpWait) bool {
	return e.cs.closed || e.cs.wait != w || e.cs.waitSeq != e.seq
}

// initDeadlines sets up the deadline queues of r.
func (r *reactor) initDeadlines() {
	cfg := &r.srv.cfg
	for w, d := range [numWaits]time.Duration{waitHead: cfg.HandshakeTimeout, waitBody: cfg.BodyReadTimeout, waitIdle: cfg.KeepAliveTimeout} {
		if w == int(waitNone) {
			continue
		}
		q := &r.deadlines[w]
		q.timeout = d
		q.timer = timer{index: -1, fire: func(now int64) { r.sweepDeadlines(httpWait(w), now) }}
	}
}

// expect moves cs to wait w and gives it a deadline, unless cs already
// waits for w: a head that trickles in a byte at a time keeps its first
// deadline. Loop goroutine only.
func (cs *connState) expect(c gnet.Conn, w httpWait) {
	if cs.wait == w && (w == waitNone || cs.waitSeq != 0) {
		return
	}
	cs.wait = w
	cs.waitSeq = 0
	if w == waitNone {
		return
	}
	r := cs.r
	q := &r.deadlines[w]
	if r.waitSeq++; r.waitSeq == 0 {
		r.waitSeq = 1 // 0 means "no deadline"
	}
	cs.waitSeq = r.waitSeq
	if len(q.entries)-q.head > 2*q.live+deadlineSlack {
		q.compact(w)
	}
	q.entries = append(q.entries, deadlineEntry{c: c, cs: cs, when: r.now() + int64(q.timeout), seq: cs.waitSeq})
	if !q.timer.armed() {
		r.timers.set(&q.timer, q.entries[q.head].when)
	}
}

// compact drops the stale entries, keeping the order. Each live
// connection has at most one entry that is not stale, so after it the
// queue is no longer than the reactor's connections.
func (q *deadlineQueue) compact(w httpWait) {
	n := 0
	for i := q.head; i < len(q.entries); i++ {
		if e := q.entries[i]; !e.stale(w) {
			q.entries[n] = e
			n++
		}
	}
	clear(q.entries[n:])
	q.entries, q.head, q.live = q.entries[:n], 0, n
}

// sweepDeadlines cuts the connections whose deadline of kind w is due.
func (r *reactor) sweepDeadlines(w httpWait, now int64) {
	q := &r.deadlines[w]
	for q.head < len(q.entries) {
		e := q.entries[q.head]
		if e.when > now && !e.stale(w) {
			break
		}
		q.entries[q.head] = deadlineEntry{}
		q.head++
		if !e.stale(w) {
			e.cs.onDeadline(e.c)
		}
	}
	if q.head == len(q.entries) {
		// A drained queue gives back what a connection storm grew it to
		// (40 bytes an entry, one per connection that arrived within the
		// timeout); a small one is kept for the next requests.
		if cap(q.entries) > deadlineKeep {
			q.entries = nil
		}
		q.entries, q.head, q.live = q.entries[:0], 0, 0
	} else {
		if q.head > len(q.entries)/2 {
			n := copy(q.entries, q.entries[q.head:])
			clear(q.entries[n:])
			q.entries, q.head = q.entries[:n], 0
		}
		r.timers.set(&q.timer, q.entries[q.head].when)
	}
}

// settle sets the wait of an HTTP connection after its input was served:
// rest is how many bytes of an incomplete request are left unread.
func (cs *connState) settle(c gnet.Conn, rest int) {
	switch {
	case cs.ws || cs.closing || cs.closed || cs.migrating || cs.parked != nil:
		cs.expect(c, waitNone)
	case rest > 0:
		if cs.wait != waitBody {
			cs.expect(c, waitHead)
		}
	default:
		cs.expect(c, waitIdle)
	}
}

// onDeadline cuts a connection whose client did not send in time: 408 if
// it was in the middle of a request, silently if it was idle.
func (cs *connState) onDeadline(c gnet.Conn) {
	if cs.closed || cs.closing || cs.ws || cs.parked != nil {
		return
	}
	srv := cs.r.srv
	switch cs.wait {
	case waitHead:
		srv.countRefusal(RefusedHeadTimeout)
		srv.log.Debug("request head timeout", "remote", remoteOf(c), "timeout", srv.cfg.HandshakeTimeout)
		cs.writeStatus(c, 408, "Request Timeout: no complete request head within "+srv.cfg.HandshakeTimeout.String(), true)
	case waitBody:
		srv.countRefusal(RefusedBodyTimeout)
		srv.log.Debug("request body timeout", "remote", remoteOf(c), "timeout", srv.cfg.BodyReadTimeout)
		cs.writeStatus(c, 408, "Request Timeout: request body not complete within "+srv.cfg.BodyReadTimeout.String(), true)
	case waitIdle:
		srv.countRefusal(RefusedIdleTimeout)
	default:
		return
	}
	cs.expect(c, waitNone)
	closeConn(c)
}
