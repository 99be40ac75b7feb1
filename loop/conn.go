package loop

import (
	"time"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"sioloop/protocol/wsframe"
)

// connState is the per-connection state stored in gnet's conn context. It
// is owned by the conn's reactor.
//
// Every connected client holds one for its whole life, so its fields are
// grouped by size (pointers and slices, then 4-byte fields, then bytes)
// to keep it in the 128-byte size class (TestConnStateSize); the doc.go
// section "Memory per connection" lists what else a client holds.
type connState struct {
	r *reactor

	sess *Session // ws: the session this conn carries or probes
	// x holds what only some connections need, made on first use: an
	// idle WebSocket has none, which keeps connState in the 48-byte size
	// class (TestConnSizes).
	x *connExtra

	// waitSeq names the entry of wait in the reactor's deadline queue, 0
	// if none (timeouts.go).
	waitSeq    uint32
	cors       int32 // http: index+1 of the allowed origin of the parked request, 0: none
	lingerLeft int32 // bytes a lingering conn may still discard

	// wait is what an HTTP connection waits for from its client.
	wait   httpWait
	fragOp wsframe.OpCode

	ws        bool // the connection speaks WebSocket frames after a 101
	probe     bool // ws: still probing an upgrade of sess
	keepAlive bool // http: the parked request allows keep-alive
	closing   bool // a close is scheduled; input is discarded
	lingering bool // closing gracefully, see linger
	closed    bool // OnClose ran
	migrating bool // the socket moved to another reactor or to net/http
	// peerClose is set once the client sent a WebSocket close frame: the
	// connection's end is then a "transport close", as in Node (ws emits
	// "close"), however the TCP connection goes after it.
	peerClose bool
}

// connExtra is the part of connState that an idle WebSocket never needs.
type connExtra struct {
	parked  *Session // http: the session whose GET waits on this conn
	posting *Session // http: the session whose POST body is arriving here
	held    []byte   // http: responses waiting behind the parked GET

	// carry holds bytes read before the connection moved from another
	// reactor, or bytes left over on such a connection; they are served
	// before anything new.
	carry []byte
	// frag accumulates a fragmented WebSocket message (RFC 6455 §5.4).
	frag []byte
}

// extra returns cs.x, made if needed.
func (cs *connState) extra() *connExtra {
	if cs.x == nil {
		cs.x = new(connExtra)
	}
	return cs.x
}

// parkedSession returns the session whose GET waits on this conn, if any.
func (cs *connState) parkedSession() *Session {
	if cs.x == nil {
		return nil
	}
	return cs.x.parked
}

// setParked records s (nil: none) as the session whose GET waits here.
func (cs *connState) setParked(s *Session) {
	if s != nil || cs.x != nil {
		cs.extra().parked = s
	}
}

// postingSession returns the session whose POST body is arriving here.
func (cs *connState) postingSession() *Session {
	if cs.x == nil {
		return nil
	}
	return cs.x.posting
}

// setPosting records s (nil: none) as the session posting on this conn.
func (cs *connState) setPosting(s *Session) {
	if s != nil || cs.x != nil {
		cs.extra().posting = s
	}
}

// held returns the responses waiting behind the parked GET.
func (cs *connState) held() []byte {
	if cs.x == nil {
		return nil
	}
	return cs.x.held
}

// carried returns and clears the bytes carried over (see connExtra.carry).
func (cs *connState) carried() []byte {
	if cs.x == nil {
		return nil
	}
	in := cs.x.carry
	cs.x.carry = nil
	return in
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
			n, action = cs.serveHTTP(c, in[off:])
		}
		off += n
		if n > 0 && !cs.ws {
			cs.wait, cs.waitSeq = waitNone, 0 // a request ended: the next one gets its own deadline
		}
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
		if cs.lingerLeft > 0 {
			left := int(cs.lingerLeft) - (len(in) - off)
			if left <= 0 {
				return gnet.Close
			}
			cs.lingerLeft = int32(left)
		}
		if cs.migrating {
			return gnet.Close
		}
		return gnet.None
	}
	if owned {
		if off < len(in) {
			cs.extra().carry = append([]byte(nil), in[off:]...)
		}
	} else if off > 0 {
		_, _ = c.Discard(off)
	}
	cs.settle(c, len(in)-off)
	return gnet.None
}

// onClose runs when gnet closes the conn.
func (cs *connState) onClose(c gnet.Conn, err error) {
	if s := cs.postingSession(); s != nil && s.poll != nil && s.poll.post == c {
		// engine.io polling.ts: "data request connection closed prematurely".
		s.poll.post = nil
		s.terminate("transport error", 0)
	}
	if s := cs.parkedSession(); s != nil && s.poll != nil {
		// engine.io: a poll request that ends early closes the session.
		cs.setParked(nil)
		if s.poll.closer == c {
			// The close POST's connection went before its held ok: there
			// is no one left to answer (finish would write to a closed
			// connection).
			s.poll.closer = nil
		}
		if s.poll.get == c {
			s.poll.get = nil
			s.terminate("transport error", 0)
		}
	}
	if s := cs.sess; s != nil {
		cs.sess = nil
		switch {
		case s.poll != nil && s.poll.probe == c:
			s.poll.probe = nil
			s.r.timers.stop(&s.poll.upgradeTimer)
		case s.ws == c:
			reason := "transport close"
			if err != nil && !cs.peerClose {
				reason = "transport error"
			}
			s.end(reason)
		}
	}
}

// send writes an HTTP response. While a GET is parked on the connection,
// responses to requests pipelined after it are held back and written once
// the GET is answered: HTTP/1.1 answers in request order (RFC 9112 §9.3.2),
// though, as in Node, the requests themselves are processed at once.
func (cs *connState) send(c gnet.Conn, b []byte) {
	if cs.parkedSession() != nil {
		x := cs.x // parked: made
		x.held = append(x.held, b...)
		cs.checkOutbound(c)
		return
	}
	cs.write(c, b)
}

// release writes the responses held behind a GET that was just answered.
func (cs *connState) release(c gnet.Conn) {
	if held := cs.held(); len(held) > 0 {
		cs.x.held = nil
		cs.write(c, held)
	}
}

// write writes b to c. It is the way every byte reaches a client except
// broadcast frames, whose delivery checks the same bound itself: what is
// queued for one connection (gnet's outbound buffer plus the answers held
// behind a parked GET) may not exceed MaxOutboundBytes. Past it the
// connection is closed as a slow consumer: gnet cannot stop reading one
// connection (its poller keeps the socket readable and unread input would
// pile up in the connection's inbound buffer instead), so a client that
// does not read what it asks for is cut, not paused. Loop goroutine only.
func (cs *connState) write(c gnet.Conn, b []byte) {
	if cs.closed {
		return
	}
	if _, err := c.Write(b); err != nil {
		return // gnet closed the conn; OnClose cleans up
	}
	cs.checkOutbound(c)
}

// checkOutbound cuts c when more than MaxOutboundBytes wait for its client.
func (cs *connState) checkOutbound(c gnet.Conn) {
	queued := c.OutboundBuffered() + len(cs.held())

	if queued <= cs.r.srv.cfg.MaxOutboundBytes || cs.closed || cs.closing {
		return
	}
	cs.r.srv.log.Debug("slow consumer", "remote", remoteOf(c), "queued", queued)
	if s := cs.sess; s != nil && s.ws == c && !s.closed {
		s.terminate("slow consumer", wsframe.ClosePolicyViolation)
		return
	}
	// An HTTP connection or an upgrade probe: nothing to say that the
	// client would read.
	cs.r.srv.countRefusal(RefusedOutboundFull)
	if cs.x != nil {
		cs.x.held = nil
	}
	cs.closing = true
	_ = c.Close()
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

// closeWS sends a WebSocket close frame with code, then lingers: RFC 6455
// §7.1.1 has the server wait for the client to close the TCP connection.
func closeWS(c gnet.Conn, code int, reason string) {
	cs, _ := c.Context().(*connState)
	if cs == nil {
		_ = c.Close()
		return
	}
	if cs.closing || cs.closed {
		return
	}
	cs.r.out = wsframe.AppendClose(cs.r.out[:0], code, reason)
	_, _ = c.Write(cs.r.out)
	linger(c, cs)
}

// Lingering bounds: how long and how much a closing connection may still
// send before it is cut.
const (
	lingerTimeout  = 2 * time.Second
	lingerMaxBytes = 4 << 20
)

// linger closes c gracefully: what is queued for it still goes out, and
// what the peer is still sending (the rest of an oversized body or frame)
// is read and discarded, so the peer sees our answer instead of a reset.
// The connection closes when the peer closes it, after lingerTimeout, or
// after lingerMaxBytes more bytes. Loop goroutine only.
func linger(c gnet.Conn, cs *connState) {
	if cs.closing || cs.closed {
		return
	}
	cs.closing = true
	cs.lingering = true
	cs.r.lingerN.Add(1)
	cs.lingerLeft = lingerMaxBytes
	if c.OutboundBuffered() == 0 {
		// Half-close: the peer reads our last bytes, then EOF, and hangs up;
		// its unread input never turns our close into a reset.
		if fd := c.Fd(); fd >= 0 {
			_ = unix.Shutdown(fd, unix.SHUT_WR)
		}
	}
	r := cs.r
	r.lingering = append(r.lingering, lingerConn{c: c, cs: cs, until: r.now() + int64(lingerTimeout)})
	if !r.lingerTimer.armed() {
		r.timers.set(&r.lingerTimer, r.lingering[0].until)
	}
}

// lingerConn is a connection being closed gracefully.
type lingerConn struct {
	c     gnet.Conn
	cs    *connState
	until int64
}

// sweepLingering closes lingering connections whose time is up. The list
// is in deadline order because every entry gets the same timeout.
func (r *reactor) sweepLingering(now int64) {
	i := 0
	for ; i < len(r.lingering); i++ {
		l := r.lingering[i]
		if l.cs.closed {
			continue
		}
		if l.until > now {
			break
		}
		_ = l.c.Close()
	}
	n := copy(r.lingering, r.lingering[i:])
	clear(r.lingering[n:])
	r.lingering = r.lingering[:n]
	if n > 0 {
		r.timers.set(&r.lingerTimer, r.lingering[0].until)
	}
}
