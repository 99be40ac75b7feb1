package loop

// The CONNECT of a namespace: find it, restore a kept session, run the
// middleware (Use, then UseAsync, which may answer later) and admit the
// socket or refuse it with CONNECT_ERROR.

import (
	"strconv"
	"sync/atomic"

	"sioloop/protocol/socketio"
)

// onConnect joins a namespace (socket.io client.ts connect / namespace.ts
// _add): find the namespace, restore a kept session, run the middleware
// (Use, then UseAsync, which may answer later) and admit the socket.
func (c *client) onConnect(h *socketio.Header) {
	r := c.sess().r
	var ns *Namespace
	why := refusedUnknown
	if len(h.Query) == 0 {
		// On EIO4 Node takes "/admin?x" as the whole (unknown) name.
		ns, why = c.io().acquire(h.Namespace)
	}
	if ns == nil {
		name := h.Namespace
		if len(h.Query) > 0 {
			name = append(append([]byte(nil), name...), h.Query...)
		}
		msg := "Invalid namespace"
		if why == refusedLimit {
			msg = "namespace limit reached: the server holds its maximum of " + strconv.Itoa(c.io().MaxNamespaces) + " namespaces"
		}
		r.enc = socketio.AppendConnectError(r.enc[:0], name, msg, nil)
		c.sess().Send(r.enc, false)
		return
	}
	// From here on the CONNECT holds ns: it either adds a socket, which
	// takes the hold over, or releases it.
	if so := c.socketFor(h.Namespace); so != nil {
		c.io().release(ns)
		r.enc = socketio.AppendConnect(r.enc[:0], h.Namespace, so.id)
		c.sess().Send(r.enc, false)
		return
	}
	if c.pendingFor(ns) != nil {
		// A second CONNECT while the middleware of the first still runs:
		// the first one's answer (CONNECT or CONNECT_ERROR) answers both.
		c.io().release(ns)
		return
	}
	p := &joining{c: c, so: newSocket(ns, c)}
	if rc := c.io().recovery(); rc != nil {
		p.rc = rc
		if rc.store != nil {
			if c.restoreStored(rc, p, h.Data) {
				return // finishRestore goes on
			}
		} else {
			p.ks, p.missed = c.restore(rc, p.so, h.Data)
		}
	}
	c.middleware(p, h.Data)
}

// middleware runs the namespace's middleware (Use, then UseAsync, which
// may answer later) on a CONNECT and admits or refuses its socket.
// Reactor only.
func (c *client) middleware(p *joining, auth []byte) {
	ns := p.so.ns
	if ns.Use != nil {
		if err := ns.Use(p.so, auth); err != nil {
			c.refuse(p, err)
			return
		}
	}
	if ns.UseAsync == nil {
		c.admit(p)
		return
	}
	c.runAsync(p, auth)
}

// joining is a CONNECT between its namespace lookup and its answer: the
// socket it would add, and the kept session it recovers (given back if
// the CONNECT is refused). Reactor only, but for the state of UseAsync's
// done, which may be called from any goroutine.
type joining struct {
	c      *client
	so     *Socket
	rc     *recovery
	ks     *keptSession
	missed []*encodedBroadcast

	// Set while UseAsync has not answered (client.pending lists it).
	next      *joining // the next in client.pending
	timer     timer    // CONNECT_TIMEOUT of the pending middleware
	abandoned bool     // the session closed or the timer fired: done is ignored
	restoring bool     // waiting for SocketIO.Sessions to restore a session

	// state is asyncCalling until UseAsync returns or done is called,
	// whichever comes first; called guards done against a second call.
	state  atomic.Int32
	called atomic.Bool
	err    error // done's argument, published by state or by the posted job
}

// States of joining.state.
const (
	asyncCalling  int32 = iota // UseAsync is running and done was not called
	asyncReturned              // UseAsync returned first: done will post the rest
	asyncAnswered              // done was called before UseAsync returned: the rest runs inline
)

// runAsync calls UseAsync and admits or refuses the socket when it calls
// done. A done called before UseAsync returns (a cached answer) costs
// nothing more than Use; a later one posts the rest of the CONNECT to the
// socket's reactor. Meanwhile the CONNECT is pending (client.pending): a
// duplicate CONNECT waits for its answer, a closing session abandons it,
// and it is refused after ConnectTimeout.
func (c *client) runAsync(p *joining, auth []byte) {
	r := c.sess().r
	done := func(err error) {
		if !p.called.CompareAndSwap(false, true) {
			return // a second call: ignored
		}
		p.err = err
		if p.state.CompareAndSwap(asyncCalling, asyncAnswered) {
			return // runAsync continues inline once UseAsync returns
		}
		r.post(func(*reactor) { c.finishAsync(p) })
	}
	p.so.ns.UseAsync(p.so, auth, done)
	if p.state.CompareAndSwap(asyncCalling, asyncReturned) {
		// Pending: done will come from elsewhere.
		c.pend(p)
		p.timer = timer{index: -1, fire: func(int64) { c.timeoutAsync(p) }}
		r.timers.set(&p.timer, r.now()+int64(c.io().ConnectTimeout))
		return
	}
	if p.err != nil {
		c.refuse(p, p.err)
		return
	}
	c.admit(p)
}

// finishAsync completes a CONNECT whose UseAsync answered after returning.
// Reactor only.
func (c *client) finishAsync(p *joining) {
	if p.abandoned {
		return
	}
	c.unpend(p)
	if p.err != nil {
		c.refuse(p, p.err)
		return
	}
	c.admit(p)
}

// timeoutAsync refuses a CONNECT whose UseAsync did not answer within
// ConnectTimeout. Reactor only.
func (c *client) timeoutAsync(p *joining) {
	if p.abandoned {
		return
	}
	c.unpend(p)
	p.abandoned = true
	c.refuse(p, &ConnectError{Message: "connect timeout: the middleware did not answer within " + c.io().ConnectTimeout.String()})
}

// pend adds p to c.pending. Reactor only.
func (c *client) pend(p *joining) {
	m := c.extra()
	p.next = m.pending
	m.pending = p
}

// unpend takes p out of c.pending and stops its timer. Reactor only.
func (c *client) unpend(p *joining) {
	c.sess().r.timers.stop(&p.timer)
	if c.more == nil {
		return
	}
	for at := &c.more.pending; *at != nil; at = &(*at).next {
		if *at == p {
			*at, p.next = p.next, nil
			break
		}
	}
}

// pendingFor returns the pending CONNECT of c to ns, or nil.
func (c *client) pendingFor(ns *Namespace) *joining {
	for p := c.pending(); p != nil; p = p.next {
		if p.so.ns == ns {
			return p
		}
	}
	return nil
}

// abandonPending drops the pending CONNECTs of a closing session: their
// holds and kept sessions are given back, and a later done is ignored.
func (c *client) abandonPending() {
	for c.pending() != nil {
		p := c.pending()
		c.unpend(p)
		p.abandoned = true
		c.drop(p)
	}
}

// drop gives back what a CONNECT that adds no socket holds: the kept
// session it took, the namespace. The socket is marked gone, so that an
// After or Do its middleware queued does nothing.
func (c *client) drop(p *joining) {
	p.so.gone = true
	if p.ks != nil {
		p.rc.giveBack(p.ks)
		p.ks = nil
	}
	c.io().release(p.so.ns)
}

// refuse answers a CONNECT with CONNECT_ERROR for a middleware's error: a
// *ConnectError chooses the message and data, another error's text is the
// message.
func (c *client) refuse(p *joining, err error) {
	ce, ok := err.(*ConnectError)
	if !ok {
		ce = &ConnectError{Message: err.Error()}
	}
	p.so.ctr().errors.Add(1)
	c.drop(p)
	if c.sess().Closed() {
		return
	}
	r := c.sess().r
	r.enc = socketio.AppendConnectError(r.enc[:0], nsBytes(p.so.ns), ce.Message, ce.Data)
	c.sess().Send(r.enc, false)
}

// admit adds the socket of a CONNECT its middleware accepted: the whole
// tail of a successful CONNECT, in one place whether the middleware
// answered at once or later. Reactor only.
func (c *client) admit(p *joining) {
	r, so, rc, ks, missed := c.sess().r, p.so, p.rc, p.ks, p.missed
	if ks != nil && ks.userID != "" && so.UserID != ks.userID {
		// The token is another user's: this pid is not theirs to take.
		rc.giveBack(ks)
		rc.refused[recoverUnknownPID].Add(1)
		ks, missed, p.ks = nil, nil, nil
		so.id, so.UserID, so.Data = r.newID(), "", nil
		so.rec = &socketRec{pid: r.newID(), since: rc.last()}
	}
	if c.sess().Closed() {
		c.drop(p)
		return
	}
	if ce := c.io().admitUser(so); ce != nil {
		c.refuse(p, ce)
		return
	}
	name := nsBytes(so.ns)
	if c.sockets == nil {
		c.sockets = c.first[:0] // non-nil from now on: no connect timeout
	}
	c.sockets = append(c.sockets, so)

	so.add()
	if ks != nil {
		// Node's order: the rooms, the missed packets, then CONNECT
		// (socket.ts constructor, then _onconnect).
		for _, room := range ks.rooms {
			so.Join(room)
		}
		rc.recovered.Add(1)
		if rc.store != nil {
			rc.replayed.Add(uint64(r.replayStored(rc, so, ks, missed)))
		} else {
			rc.replayed.Add(uint64(len(missed)))
			for _, eb := range missed {
				r.sendEncoded(so, eb)
			}
		}
	}
	if so.rec != nil {
		r.enc = socketio.AppendConnectPID(r.enc[:0], name, so.id, so.rec.pid)
	} else {
		r.enc = socketio.AppendConnect(r.enc[:0], name, so.id)
	}
	c.sess().Send(r.enc, false)
	if o := c.io().observer(); o != nil && o.Connected != nil {
		o.Connected(so)
	}
	if so.ns.OnConnect != nil {
		so.ns.OnConnect(so)
	}
	if rc != nil && rc.store != nil && !so.gone {
		// Saved now, with the rooms OnConnect joined, so that a server
		// killed without a drain does not take the session with it.
		so.rec.live = true
		rc.store.Save(so.storedSession(false))
	}
}

// restore gives so the session its CONNECT's auth asks to recover, if it
// is kept: its id, pid, user and data, and returns it with the packets the
// client missed. Otherwise so gets a fresh pid.
func (c *client) restore(rc *recovery, so *Socket, auth []byte) (*keptSession, []*encodedBroadcast) {
	so.rec = &socketRec{}
	if pid, off, hasOff, ok := recoveryAuth(auth); ok {
		ks, missed, upTo, why := rc.restore(pid, so.ns.name, off, hasOff)
		if ks != nil {
			so.id, so.UserID, so.Data = ks.id, ks.userID, ks.data
			*so.rec = socketRec{pid: ks.pid, since: ks.since, floor: upTo}
			return ks, missed
		}
		rc.refused[why].Add(1)
	}
	so.rec.pid, so.rec.since = c.sess().r.newID(), rc.last()
	return nil, nil
}

// ConnectError refuses a CONNECT from a namespace middleware: the client
// receives CONNECT_ERROR {"message":Message,"data":Data}.
type ConnectError struct {
	Message string
	Data    []byte // raw JSON, or nil to omit
}

func (e *ConnectError) Error() string { return "loop: connect refused: " + e.Message }
