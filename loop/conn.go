package loop

import (
	"github.com/panjf2000/gnet/v2"

	"sioloop/loop/wsframe"
)

// connState is the per-connection state stored in gnet's conn context. It
// is owned by the conn's reactor.
type connState struct {
	r  *reactor
	ws bool // the connection speaks WebSocket frames after a 101

	sess  *Session // ws: the session this conn carries or probes
	probe bool     // ws: still probing an upgrade of sess

	parked    *Session // http: the session whose GET waits on this conn
	keepAlive bool     // http: the parked request allows keep-alive
	cors      int      // http: index+1 of the allowed origin of the parked request, 0: none

	// carry holds bytes read before the connection moved from another
	// reactor, or bytes left over on such a connection; they are served
	// before anything new.
	carry []byte
	// frag accumulates a fragmented WebSocket message (RFC 6455 §5.4).
	frag   []byte
	fragOp wsframe.OpCode

	closing   bool // a close is scheduled; ignore further input
	closed    bool // OnClose ran
	migrating bool // the socket moved to another reactor or to net/http
}

// serve decodes every complete unit in in (HTTP requests or WebSocket
// frames) and consumes them. owned means in is cs's own carry buffer, not
// gnet's: leftovers are then kept in carry instead of left unconsumed.
func (cs *connState) serve(c gnet.Conn, in []byte, owned bool) gnet.Action {
	off := 0
	for off < len(in) && !cs.closing && !cs.closed && !cs.migrating {
		var n int
		var action gnet.Action
		if cs.ws {
			n, action = cs.serveFrame(c, in[off:])
		} else {
			n, action = cs.serveHTTP(c, in[off:], owned)
		}
		off += n
		if action != gnet.None {
			if !owned && !cs.closed {
				_, _ = c.Discard(len(in))
			}
			return action
		}
		if n == 0 {
			break
		}
	}
	if cs.closed || cs.migrating || cs.closing {
		if !owned && !cs.closed {
			_, _ = c.Discard(len(in))
		}
		if cs.migrating {
			return gnet.Close
		}
		return gnet.None
	}
	if owned {
		if off < len(in) {
			cs.carry = append([]byte(nil), in[off:]...)
		}
	} else if off > 0 {
		_, _ = c.Discard(off)
	}
	return gnet.None
}

// onClose runs when gnet closes the conn.
func (cs *connState) onClose(c gnet.Conn, err error) {
	if s := cs.parked; s != nil {
		// engine.io: a poll request that ends early closes the session.
		cs.parked = nil
		if s.get == c {
			s.get = nil
			s.terminate("transport error", 0)
		}
	}
	if s := cs.sess; s != nil {
		cs.sess = nil
		switch {
		case s.probe == c:
			s.probe = nil
			s.r.timers.stop(&s.upgradeTimer)
		case s.ws == c:
			reason := "transport close"
			if err != nil {
				reason = "transport error"
			}
			s.end(reason)
		}
	}
}

// closeConn closes c after what is queued for it is flushed. Loop goroutine only.
func closeConn(c gnet.Conn) {
	cs, _ := c.Context().(*connState)
	if cs != nil {
		if cs.closing || cs.closed {
			return
		}
		cs.closing = true
	}
	_ = c.Close() // asynchronous: runs after the current callback
}

// closeWS sends a WebSocket close frame with code and closes c.
func closeWS(c gnet.Conn, code int, reason string) {
	cs, _ := c.Context().(*connState)
	if cs != nil && (cs.closing || cs.closed) {
		return
	}
	if cs != nil {
		cs.r.out = wsframe.AppendClose(cs.r.out[:0], code, reason)
		_, _ = c.Write(cs.r.out)
	}
	closeConn(c)
}
