package loop

import (
	"math"
	"math/rand/v2"
	"net"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"

	"sioloop/protocol/engineio"
	"sioloop/protocol/wsframe"
)

// Transport names as they appear in the transport query parameter.
const (
	TransportPolling   = "polling"
	TransportWebSocket = "websocket"
)

// Session is one Engine.IO connection. It lives on its home reactor: every
// method must be called on that reactor's goroutine, from a Handler
// callback or a function passed to Socket.Do (see the package
// documentation).
type Session struct {
	// heartbeat is the first field: a timer with no fire function is a
	// session's heartbeat, and the timer heap finds the session at the
	// timer's own address (timerHeap.run), so that no closure is kept per
	// session.
	heartbeat timer

	id string
	r  *reactor

	ws gnet.Conn // the WebSocket carrying the session, nil while polling
	// poll is the state of polling and of an upgrade; nil once the
	// session is on a WebSocket for good (opened on one, or upgraded with
	// no polling request left), so that a WebSocket session does not
	// carry it. poll == nil implies ws != nil.
	poll *pollState

	liveIdx int32 // position in reactor.live

	// peerIP and peerPort are the peer address at handshake, kept as
	// bytes rather than as a net.Addr or a string (RemoteAddr formats it).
	peerPort uint16
	peerIP   [16]byte
	peerV4   bool // peerIP holds an IPv4 address (in its IPv6-mapped form)
	// peerCounted: the session counts against MaxConnectionsPerIP under
	// its peer's address; under another one (a trusted proxy's client),
	// that is in more.
	peerCounted bool
	mount       uint8 // index of the Handle mount that opened it

	awaitingPong bool
	dirty        bool
	closing      bool // polling: a close (or, after closeFromPOST, a noop) is queued for the next GET
	closed       bool

	issued int64  // handshake time, Unix milliseconds
	query  string // the raw handshake query, for handlers that need it
	// more holds what few sessions need. Session fills its 176-byte size
	// class (TestConnSizes): a new field must take the place of one, or go
	// in here.
	more *sessionMore

	// sio is the session's Socket.IO state, when a SocketIO handles it:
	// held in the session rather than on its own, since the two always
	// live and die together (Session.client).
	sio client
}

// pollState is what a session holds while it polls or probes an upgrade.
type pollState struct {
	probe gnet.Conn // the WebSocket being probed during an upgrade
	get   gnet.Conn // the parked polling GET, if any
	post  gnet.Conn // a polling POST whose body is still arriving, if any
	// closer is the polling POST that carried the client's close packet,
	// held unanswered for up to closeGrace while a GET sent with it may
	// still arrive (see closeFromPOST).
	closer gnet.Conn

	// queue holds encoded packets (joined by 0x1e) waiting for a polling GET.
	queue []byte

	upgradeTimer timer
	upgradeEnd   int64
	probing      bool // the probe sent 2probe; noops go to the parked GET
	closeNext    bool // closing: the close packet waits for the GET after the one that takes the queue
}

// idle reports whether nothing of the polling transport is left in flight:
// an upgraded session can then drop its pollState.
func (p *pollState) idle() bool {
	return p.probe == nil && p.get == nil && p.post == nil && p.closer == nil && !p.upgradeTimer.armed()
}

// ID returns the Engine.IO session id.
func (s *Session) ID() string { return s.id }

// tableID keys the session table (idTable).
func (s *Session) tableID() string { return s.id }

// Transport returns "polling" or "websocket".
func (s *Session) Transport() string {
	if s.ws != nil {
		return TransportWebSocket
	}
	return TransportPolling
}

// handler returns the Handler of the mount that opened s.
func (s *Session) handler() Handler { return s.r.srv.mounts[s.mount].handler }

// client returns s's Socket.IO state, meaningful when a SocketIO
// handles s.
func (s *Session) client() *client { return &s.sio }

// Closed reports whether the session has ended.
func (s *Session) Closed() bool { return s.closed || s.closing }

// newPollState returns the polling state of a session opened by a
// polling handshake.
func newPollState() *pollState {
	return &pollState{upgradeTimer: timer{index: -1}} // its fire is set by the upgrade, if one comes
}

func newSession(r *reactor, m *mount, peer net.Addr, query string) *Session {
	s := &Session{id: r.newSessionID(), r: r, mount: m.idx, query: query, issued: r.now() / 1e6}
	s.heartbeat.index = -1 // no fire: a heartbeat (see Session)
	if a, ok := peer.(*net.TCPAddr); ok {
		s.setPeer(a.AddrPort())
	}
	return s
}

// openInfo is the handshake data of s.
func (s *Session) openInfo(upgrades []string) engineio.OpenInfo {
	cfg := &s.r.srv.cfg
	return engineio.OpenInfo{
		SID:          s.id,
		Upgrades:     upgrades,
		PingInterval: int(cfg.PingInterval.Milliseconds()),
		PingTimeout:  int(cfg.PingTimeout.Milliseconds()),
		MaxPayload:   cfg.MaxPayload,
	}
}

// start registers s and arms its heartbeat; the open packet must already
// be sent or queued.
func (s *Session) start() {
	s.r.srv.sessions.add(s)
	s.r.sessions.Add(1)
	s.liveIdx = int32(len(s.r.live))
	s.r.live = append(s.r.live, s)
	s.transportGauge().Add(1)
	s.r.timers.set(&s.heartbeat, s.r.now()+firstPing(s.r.srv.cfg.PingInterval))
	s.handler().OnOpen(s)
}

// firstPing returns when, after the handshake, the first ping is due: up to
// a quarter of pingInterval early, at random. Each later ping follows the
// pong by pingInterval, so sessions opened in the same second (thousands
// reconnecting after a restart, a benchmark) would otherwise be pinged in
// the same second at every interval, and the broadcasts of that second
// would wait behind thousands of pings and pongs; spread, they cost a
// little everywhere. Early is safe: a client only checks that a ping comes
// within pingInterval + pingTimeout of the last one (engine.io-protocol v4,
// "Heartbeat"; engine.io-client resetPingTimeout).
func firstPing(interval time.Duration) int64 {
	return int64(interval) - rand.Int64N(int64(interval)/4+1)
}

// Send sends one Engine.IO message: text, or binary when binary is set.
// msg is copied before Send returns.
func (s *Session) Send(msg []byte, binary bool) {
	if s.closed || s.closing {
		return
	}
	s.r.ctr.packetsOut.Add(1)
	s.r.ctr.bytesOut.Add(uint64(len(msg)))
	if s.ws != nil {
		if binary {
			s.writeFrame(wsframe.OpBinary, 0, msg)
		} else {
			s.writeFrame(wsframe.OpText, byte(engineio.Message), msg)
		}
		return
	}
	s.enqueue(engineio.Packet{Type: engineio.Message, Data: msg, Binary: binary})
}

// sendPacket sends a control packet (ping, noop, close) with optional data.
func (s *Session) sendPacket(t engineio.PacketType, data []byte) {
	if s.ws != nil {
		s.writeFrame(wsframe.OpText, byte(t), data)
		return
	}
	s.enqueue(engineio.Packet{Type: t, Data: data})
}

// writeFrame writes one WebSocket frame whose payload is prefix (when not
// zero) followed by data, with a single Write.
func (s *Session) writeFrame(op wsframe.OpCode, prefix byte, data []byte) {
	n := len(data)
	if prefix != 0 {
		n++
	}
	r := s.r
	b := wsframe.AppendHeader(r.out[:0], true, op, n)
	if prefix != 0 {
		b = append(b, prefix)
	}
	b = append(b, data...)
	r.out = b
	c := s.ws
	c.Context().(*connState).write(c, b)
}

// enqueue appends p to the polling queue and schedules a flush at the end
// of the current loop callback.
func (s *Session) enqueue(p engineio.Packet) {
	s.poll.queue = engineio.AppendPayloadPacket(s.poll.queue, len(s.poll.queue) == 0, p)
	s.queued()
}

// enqueueEncoded appends packets already in polling form to the queue.
func (s *Session) enqueueEncoded(pkts []byte) {
	p := s.poll
	if len(p.queue) > 0 {
		p.queue = append(p.queue, engineio.Separator)
	}
	p.queue = append(p.queue, pkts...)
	s.queued()
}

// queued enforces the polling queue cap and schedules a flush at the end of
// the current loop callback.
func (s *Session) queued() {
	if len(s.poll.queue) > s.r.srv.cfg.MaxOutboundBytes+s.r.srv.cfg.MaxPayload {
		s.terminate("slow consumer", 0)
		return
	}
	if !s.dirty && s.poll.get != nil {
		s.dirty = true
		s.r.dirty = append(s.r.dirty, s)
	}
}

// flushPoll answers the parked GET with everything queued.
func (s *Session) flushPoll() {
	p := s.poll // nil if an upgrade completed since the flush was scheduled
	if p == nil || p.get == nil || len(p.queue) == 0 {
		return
	}
	c := p.get
	p.get = nil
	cs := c.Context().(*connState)
	cs.setParked(nil)
	cs.writePollResponse(c, p.queue)
	p.queue = p.queue[:0]
	switch {
	case p.closeNext:
		p.closeNext = false
		s.sendPacket(engineio.Close, nil)
	case s.closing:
		s.finish()
	}
}

// onHeartbeat drives the v4 heartbeat: the server pings every
// pingInterval and expects a pong within pingTimeout (engine.io-protocol v4,
// "Heartbeat").
func (s *Session) onHeartbeat(now int64) {
	if s.closing {
		s.finish() // no GET came to collect the close packet
		return
	}
	if s.awaitingPong {
		s.terminate("ping timeout", 0)
		return
	}
	s.awaitingPong = true
	s.sendPacket(engineio.Ping, nil)
	// The pong is due pingTimeout after the ping was due, not after the
	// ticker got round to it: a client that polls at pingInterval +
	// pingTimeout after the handshake (as the protocol test suites do)
	// finds the session closed, as from Node, whose timers are punctual.
	// A ticker late by more than one tick costs the client at most a tick.
	sent := max(s.heartbeat.when, now-int64(tickInterval))
	s.r.timers.set(&s.heartbeat, sent+int64(s.r.srv.cfg.PingTimeout))
}

// catchUp fires s's heartbeat timer if it is due but the ticker has not
// rung the reactor yet (the ticker can be a few milliseconds late on a
// busy machine), so that a request is served after the timers due before
// it, as in Node, whose event loop runs due timers before I/O. The test
// suites poll at exactly pingInterval + pingTimeout after the handshake and
// expect the session gone. Requests that name a sid are not the hot path:
// one clock read each is cheap. Loop goroutine only.
//
// Each due step fires at the time it was due, as a punctual server would
// have fired it: a ping overdue by more than pingTimeout (the ticker
// starved on a saturated machine) closes the session here, as it would
// have been closed then, rather than being sent now with a fresh
// deadline. With the default heartbeat that needs a ticker 20 s late.
func (s *Session) catchUp() {
	t := &s.heartbeat
	now := time.Now().UnixNano()
	for t.armed() && t.when <= now && !s.closed {
		s.r.timers.stop(t)
		s.onHeartbeat(t.when)
	}
}

// onPacket handles one packet from the client, on whichever transport.
func (s *Session) onPacket(p engineio.Packet) {
	if s.closed {
		return
	}
	switch p.Type {
	case engineio.Message:
		s.r.ctr.packetsIn.Add(1)
		s.r.ctr.bytesIn.Add(uint64(len(p.Data)))
		s.handler().OnMessage(s, p.Data, p.Binary)
	case engineio.Pong:
		if s.awaitingPong {
			s.awaitingPong = false
			s.r.timers.set(&s.heartbeat, s.r.now()+int64(s.r.srv.cfg.PingInterval))
		}
	case engineio.Ping:
		// engine.io-protocol v4: only the server pings.
		s.terminate("invalid heartbeat direction", wsframe.CloseProtocolError)
	case engineio.Close:
		if g := s.parkedGET(); g != nil {
			// engine.io polling.ts onClose: a pending GET is released
			// with a noop when the client closes.
			s.poll.get = nil
			gs := g.Context().(*connState)
			gs.setParked(nil)
			gs.writePollResponse(g, []byte{byte(engineio.Noop)})
		}
		s.terminate("transport close", wsframe.CloseNormal)
	case engineio.Noop, engineio.Upgrade:
		// Nothing to do outside an upgrade.
	default:
		s.terminate("parse error", wsframe.CloseProtocolError)
	}
}

// transportGauge returns the session-count gauge of s's transport.
func (s *Session) transportGauge() *atomic.Int64 {
	if s.ws != nil {
		return &s.r.ctr.websocket
	}
	return &s.r.ctr.polling
}

// Close ends the session from the server side ("forced close"): what is
// queued is still delivered, then the transport closes.
func (s *Session) Close() {
	if s.closed || s.closing {
		return
	}
	if s.ws != nil {
		s.end("forced close")
		closeWS(s.ws, wsframe.CloseNormal, "")
		return
	}
	// Polling: what is queued goes out with the next GET, and the close
	// packet with the GET after it, as from Node (its socket waits for the
	// write buffer to drain before it closes the transport). Not in one
	// response: socket.io-client acts on a close packet at once but on the
	// Socket.IO packets before it a tick later, so a DISCONNECT in the same
	// response would reach it as "transport close" (and it would
	// reconnect). The sid stays in the table until a GET collects the
	// close packet (flushPoll) or pingTimeout passes (onHeartbeat); finish
	// forgets it.
	s.closing = true
	if len(s.poll.queue) > 0 {
		s.poll.closeNext = true
	} else {
		s.sendPacket(engineio.Close, nil)
	}
	s.r.timers.set(&s.heartbeat, s.r.now()+int64(s.r.srv.cfg.PingTimeout))
	s.handler().OnClose(s, "forced close")
	s.flushPoll()
}

// closeGrace is how long a polling session closed by its client, with no
// GET parked, stays findable for a GET sent together with the close (see
// closeFromPOST). Such a GET reaches the session's reactor within
// microseconds, even when it first lands on another reactor and is moved;
// a second covers a machine under load. The official clients do not wait
// for the close POST's answer (engine.io-client's close ends the socket
// first), so holding it costs them nothing.
const closeGrace = int64(time.Second)

// closeFromPOST ends a polling session whose client sent a close packet in
// the POST on c while no GET was parked. Loop goroutine only.
//
// Node (engine.io polling.ts onClose) answers a parked GET with a noop
// and forgets the sid. Clients poll and post on two connections at once,
// though (the protocol test suite sends its GET and its close POST
// together), and which one this reactor serves first is a race: the GET
// may have been read by another reactor and still be moving here. So the
// session stays in the table for up to closeGrace with only a noop queued,
// and the POST's ok is held until a GET collects the noop (or the grace
// runs out, see onHeartbeat); finish then forgets the sid and answers the
// POST. A client that waits for that ok before polling again gets 400, as
// from Node.
func (s *Session) closeFromPOST(c gnet.Conn, cs *connState, keepAlive bool, cors int) {
	s.handler().OnClose(s, "transport close")
	s.closing = true
	// Node drops what was queued but not sent (socket.ts onClose).
	p := s.poll
	p.queue = append(p.queue[:0], byte(engineio.Noop))
	if p.probe != nil {
		closeConn(p.probe)
		p.probe = nil
	}
	s.r.timers.stop(&p.upgradeTimer)
	s.r.timers.set(&s.heartbeat, s.r.now()+closeGrace)
	p.closer = c
	cs.setParked(s) // responses to requests pipelined behind the POST wait for its ok
	cs.keepAlive = keepAlive
	cs.cors = int32(cors)
}

// terminate ends the session at once with reason; code is the WebSocket
// close code to send (0: just drop the connection).
func (s *Session) terminate(reason string, code int) {
	if s.closed {
		return
	}
	if reason == "slow consumer" {
		s.r.ctr.slowConsumers.Add(1)
	}
	ws, get := s.ws, s.parkedGET()
	if get != nil {
		s.poll.get = nil
	}
	s.end(reason)
	if ws != nil {
		if code == 0 {
			// As Node's ws.close() with no code: a Close frame with no body.
			code = wsframe.CloseNoStatus
		}
		closeWS(ws, code, "")
	}
	if get != nil {
		// A parked GET learns of the end through a close packet.
		cs := get.Context().(*connState)
		cs.setParked(nil)
		cs.writePollResponse(get, []byte{byte(engineio.Close)})
	}
}

// end releases everything the session holds and tells the handler.
func (s *Session) end(reason string) {
	if s.closed {
		return
	}
	if !s.closing {
		s.handler().OnClose(s, reason)
	}
	s.finish()
}

// finish forgets the session.
func (s *Session) finish() {
	if s.closed {
		return
	}
	s.closed = true
	// Slots first: once the table no longer lists s, they are free.
	s.r.srv.release(s)
	s.r.srv.sessions.del(s)
	p := s.poll
	if c := s.closer(); c != nil {
		// After the table forgets the sid: a GET sent once the client
		// read this ok gets 400, as in Node.
		p.closer = nil
		if cs, _ := c.Context().(*connState); cs != nil && !cs.closed {
			cs.setParked(nil)
			cs.writeResponse(c, 200, cs.keepAlive, int(cs.cors), "text/html", []byte("ok"))
			cs.release(c)
		}
	}
	s.r.sessions.Add(-1)
	if live := s.r.live; int(s.liveIdx) < len(live) && live[s.liveIdx] == s {
		last := live[len(live)-1]
		live[s.liveIdx] = last
		last.liveIdx = s.liveIdx
		live[len(live)-1] = nil
		s.r.live = live[:len(live)-1]
	}
	s.transportGauge().Add(-1)
	s.r.timers.stop(&s.heartbeat)
	if p == nil {
		return
	}
	s.r.timers.stop(&p.upgradeTimer)
	if p.probe != nil {
		closeConn(p.probe)
		p.probe = nil
	}
	if p.get != nil {
		c := p.get
		p.get = nil
		cs := c.Context().(*connState)
		cs.setParked(nil)
		cs.writePollResponse(c, []byte{byte(engineio.Close)})
	}
	p.queue = nil
}

// parkedGET returns the polling GET waiting on s, if any.
func (s *Session) parkedGET() gnet.Conn {
	if s.poll == nil {
		return nil
	}
	return s.poll.get
}

// closer returns the close POST s holds unanswered (see closeFromPOST), if any.
func (s *Session) closer() gnet.Conn {
	if s.poll == nil {
		return nil
	}
	return s.poll.closer
}

// queuedBytes is how many bytes wait for a polling GET.
func (s *Session) queuedBytes() int {
	if s.poll == nil {
		return 0
	}
	return len(s.poll.queue)
}

// closeSessions ends the given share (0 to 1, rounded up) of the
// reactor's sessions. Loop goroutine only.
func (r *reactor) closeSessions(reason string, share float64) {
	n := int(math.Ceil(share * float64(len(r.live))))
	for _, s := range append([]*Session(nil), r.live[:min(n, len(r.live))]...) {
		s.terminate(reason, wsframe.CloseGoingAway)
	}
	r.endBatch()
}
