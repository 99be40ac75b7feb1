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

// deadline is the entry of a connection in the expiry queue of its wait.
type deadline struct {
	c   gnet.Conn
	cs  *connState
	seq uint32 // the connState's waitSeq when armed
}

// initDeadlines sets up the deadline queues of r, one per kind of wait.
func (r *reactor) initDeadlines() {
	cfg := &r.srv.cfg
	for w, d := range [numWaits]time.Duration{waitHead: cfg.HandshakeTimeout, waitBody: cfg.BodyReadTimeout, waitIdle: cfg.KeepAliveTimeout} {
		if w == int(waitNone) {
			continue
		}
		wait := httpWait(w)
		// An entry is stale once its connection moved on: another wait, a
		// later deadline, closed.
		stale := func(d deadline) bool { return d.cs.closed || d.cs.wait != wait || d.cs.waitSeq != d.seq }
		r.deadlines[w].init(r, d, stale, func(d deadline) { d.cs.onDeadline(d.c) })
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
	if r.waitSeq++; r.waitSeq == 0 {
		r.waitSeq = 1 // 0 means "no deadline"
	}
	cs.waitSeq = r.waitSeq
	r.deadlines[w].add(r, deadline{c: c, cs: cs, seq: cs.waitSeq})
}

// settle sets the wait of an HTTP connection after its input was served:
// rest is how many bytes of an incomplete request are left unread.
func (cs *connState) settle(c gnet.Conn, rest int) {
	switch {
	case cs.ws || cs.closing || cs.closed || cs.migrating || cs.parkedSession() != nil:
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
	if cs.closed || cs.closing || cs.ws || cs.parkedSession() != nil {
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
