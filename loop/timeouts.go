package loop

import (
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
)

// expect moves cs to wait w and arms its deadline, unless cs already waits
// for w: a head that trickles in a byte at a time keeps its first deadline.
// Loop goroutine only.
func (cs *connState) expect(w httpWait) {
	if cs.wait == w && (w == waitNone || cs.deadline.armed()) {
		return
	}
	cs.wait = w
	r := cs.r
	var d int64
	switch w {
	case waitHead:
		d = int64(r.srv.cfg.HandshakeTimeout)
	case waitBody:
		d = int64(r.srv.cfg.BodyReadTimeout)
	case waitIdle:
		d = int64(r.srv.cfg.KeepAliveTimeout)
	default:
		r.timers.stop(&cs.deadline)
		return
	}
	if cs.deadline.fire == nil {
		cs.deadline = timer{index: -1, fire: cs.onDeadline}
	}
	r.timers.set(&cs.deadline, r.now()+d)
}

// settle sets the wait of an HTTP connection after its input was served:
// rest is how many bytes of an incomplete request are left unread.
func (cs *connState) settle(rest int) {
	switch {
	case cs.ws || cs.closing || cs.closed || cs.migrating || cs.parked != nil:
		cs.expect(waitNone)
	case rest > 0:
		if cs.wait != waitBody {
			cs.expect(waitHead)
		}
	default:
		cs.expect(waitIdle)
	}
}

// awaitBody notes that a complete head waits for the rest of its body.
func (cs *connState) awaitBody(gnet.Conn) { cs.expect(waitBody) }

// onDeadline cuts a connection whose client did not send in time: 408 if
// it was in the middle of a request, silently if it was idle.
func (cs *connState) onDeadline(int64) {
	c := cs.c
	if c == nil || cs.closed || cs.closing || cs.ws || cs.parked != nil {
		return
	}
	srv := cs.r.srv
	switch cs.wait {
	case waitHead:
		srv.countRefusal(RefusedHeadTimeout)
		srv.log.Debug("request head timeout", "remote", c.RemoteAddr().String(), "timeout", srv.cfg.HandshakeTimeout)
		cs.writeStatus(c, 408, "Request Timeout: no complete request head within "+srv.cfg.HandshakeTimeout.String(), true)
	case waitBody:
		srv.countRefusal(RefusedBodyTimeout)
		srv.log.Debug("request body timeout", "remote", c.RemoteAddr().String(), "timeout", srv.cfg.BodyReadTimeout)
		cs.writeStatus(c, 408, "Request Timeout: request body not complete within "+srv.cfg.BodyReadTimeout.String(), true)
	case waitIdle:
		srv.countRefusal(RefusedIdleTimeout)
	default:
		return
	}
	cs.wait = waitNone
	closeConn(c)
}
