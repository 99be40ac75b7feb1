package loop

import (
	"time"

	"github.com/panjf2000/gnet/v2"

	"sioloop/protocol/engineio"
	"sioloop/protocol/http1"
	"sioloop/protocol/wsframe"
)

// noopInterval is how often a parked GET is released with a noop while an
// upgrade is being probed (engine.io socket.ts: setInterval(check, 100)).
const noopInterval = int64(100 * time.Millisecond)

// checkWSRequest validates the RFC 6455 §4.2.1 parts of an upgrade request
// that http1 does not. It writes the refusal and returns false on error.
func (cs *connState) checkWSRequest(c gnet.Conn, req *http1.Request) bool {
	if string(req.WSVersion) != "13" {
		// RFC 6455 §4.4: answer 426 with the versions we support.
		b := http1.AppendStatusLine(cs.r.out[:0], 426)
		b = append(b, "Sec-WebSocket-Version: 13\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"...)
		cs.r.out = b
		cs.write(c, b)
		closeConn(c)
		return false
	}
	// RFC 6455 §4.1: the key is a base64-encoded 16-byte nonce.
	if !wsframe.ValidKey(req.WSKey) {
		cs.writeUpgradeError(c, "Bad request")
		return false
	}
	return true
}

// write101 switches c to WebSocket framing.
func (cs *connState) write101(c gnet.Conn, req *http1.Request) {
	b := wsframe.AppendUpgradeHead(cs.r.out[:0], req.WSKey)
	b = append(b, "\r\n"...)
	cs.r.out = b
	cs.write(c, b)
	cs.ws = true
	cs.expect(c, waitNone) // the session's heartbeat watches it from now on
}

// serveWSHandshake opens a session directly over WebSocket.
// A refusal by a connection limit is the HTTP answer instead of the 101.
func (cs *connState) serveWSHandshake(c gnet.Conn, req *http1.Request, m *mount, cors int) {
	if !cs.checkWSRequest(c, req) {
		return
	}
	ip, ok := cs.admit(c, req, cors)
	if !ok {
		return
	}
	cs.write101(c, req)
	s := newSession(cs.r, m, c.RemoteAddr(), handshakeQuery(req.RawQuery))
	s.setCountedIP(ip)
	s.keepHeaders(req)
	s.ws = c
	cs.sess = s
	dropPeerAddrs(c)
	// Built in the Socket.IO layer's scratch, free until the session
	// starts: a fresh buffer would leave ~250 bytes of garbage per
	// connection.
	cs.r.enc = engineio.AppendOpen(cs.r.enc[:0], s.openInfo([]string{}))
	s.writeFrame(wsframe.OpText, 0, cs.r.enc)
	s.start()
}

// serveProbe accepts the WebSocket of a polling session's upgrade
// (engine.io socket.ts _maybeUpgrade).
func (cs *connState) serveProbe(c gnet.Conn, req *http1.Request, s *Session) {
	if !cs.checkWSRequest(c, req) {
		return
	}
	cs.write101(c, req)
	if s.ws != nil || s.poll.probe != nil {
		// engine.io-protocol v4, "WebSocket": "A client MUST NOT open more
		// than one WebSocket connection per session. Should it happen, the
		// server MUST close the WebSocket connection." Node (server.ts
		// onWebSocket, "transport had already been upgraded" or "has
		// already been trying to upgrade") completes the handshake and
		// calls ws.close(): a Close frame with no code. The session and its
		// WebSocket carry on; a 400 instead would make the client raise an
		// error rather than see a close.
		closeWS(c, wsframe.CloseNoStatus, "")
		return
	}
	cs.sess = s
	cs.probe = true
	p := s.poll
	p.probe = c
	p.probing = false
	p.upgradeEnd = cs.r.now() + int64(cs.r.srv.cfg.UpgradeTimeout)
	// Set here rather than in newPollState: the method value is a 16-byte
	// closure that a session that never upgrades does not need.
	p.upgradeTimer.fire = s.onUpgradeTimer
	cs.r.timers.set(&p.upgradeTimer, p.upgradeEnd)
}

// onUpgradeTimer releases a parked GET with a noop every 100 ms during a
// probe, and drops the probe when upgradeTimeout runs out.
func (s *Session) onUpgradeTimer(now int64) {
	p := s.poll
	if p == nil || p.probe == nil {
		return
	}
	if now >= p.upgradeEnd {
		c := p.probe
		p.probe = nil
		closeConn(c)
		return
	}
	if p.probing && p.get != nil {
		s.sendPacket(engineio.Noop, nil)
	}
	s.r.timers.set(&p.upgradeTimer, min(now+noopInterval, p.upgradeEnd))
}

// probePacket handles a packet on a WebSocket that probes an upgrade.
func (s *Session) probePacket(c gnet.Conn, cs *connState, p engineio.Packet) {
	switch {
	case p.Type == engineio.Ping && string(p.Data) == "probe":
		cs.r.out = wsframe.AppendFrame(cs.r.out[:0], wsframe.OpText, []byte("3probe"))
		cs.write(c, cs.r.out)
		ps := s.poll
		ps.probing = true
		if ps.get != nil {
			s.sendPacket(engineio.Noop, nil)
		}
		s.r.timers.set(&ps.upgradeTimer, min(s.r.now()+noopInterval, ps.upgradeEnd))
	case p.Type == engineio.Upgrade && s.poll.probing:
		s.completeUpgrade(c, cs)
	default:
		s.poll.probe = nil
		cs.sess = nil
		s.r.timers.stop(&s.poll.upgradeTimer)
		closeConn(c)
	}
}

// completeUpgrade moves s from polling to the probed WebSocket and sends
// over it whatever polling still had queued.
func (s *Session) completeUpgrade(c gnet.Conn, cs *connState) {
	ps := s.poll
	s.r.timers.stop(&ps.upgradeTimer)
	ps.probe = nil
	cs.probe = false
	if g := ps.get; g != nil {
		ps.get = nil
		gs := g.Context().(*connState)
		gs.setParked(nil)
		gs.writePollResponse(g, []byte{byte(engineio.Noop)})
	}
	q := ps.queue
	ps.queue = nil
	s.r.ctr.polling.Add(-1)
	s.r.ctr.websocket.Add(1)
	s.ws = c
	if ps.idle() {
		s.poll = nil
	}
	dropPeerAddrs(c)
	for len(q) > 0 {
		p, rest, err := engineio.NextPayloadPacket(q)
		if err != nil {
			break
		}
		if p.Binary {
			s.writeFrame(wsframe.OpBinary, 0, p.Data)
		} else {
			s.writeFrame(wsframe.OpText, byte(p.Type), p.Data)
		}
		q = rest
	}
	if u, ok := s.handler().(upgradeWatcher); ok {
		u.onUpgrade(s)
	}
}

// serveFrame decodes one WebSocket frame from in: (consumed, action).
func (cs *connState) serveFrame(c gnet.Conn, in []byte) (int, gnet.Action) {
	maxPayload := cs.r.srv.cfg.MaxPayload
	h, hn, err := wsframe.ParseHeader(in)
	if err == wsframe.ErrNeedMore {
		return 0, gnet.None
	}
	if err != nil {
		cs.r.srv.log.Debug("bad websocket frame", "remote", remoteOf(c), "err", err)
		closeWS(c, wsframe.CloseCode(err), "")
		return len(in), gnet.None
	}
	if err := wsframe.CheckFragment(h, cs.fragOp != 0); err != nil {
		closeWS(c, wsframe.CloseCode(err), "")
		return len(in), gnet.None
	}
	if h.Length > int64(maxPayload) || (h.OpCode == wsframe.OpContinuation && len(cs.x.frag)+int(h.Length) > maxPayload) {
		closeWS(c, wsframe.CloseMessageTooBig, "")
		return len(in), gnet.None
	}
	total := hn + int(h.Length)
	if len(in) < total {
		return 0, gnet.None
	}
	payload := in[hn:total]
	// The whole frame is here, so it is unmasked exactly once.
	wsframe.Unmask(payload, h.Mask)
	switch h.OpCode {
	case wsframe.OpPing:
		// RFC 6455 §5.5.2: a Pong echoes the Ping's application data.
		cs.r.out = wsframe.AppendFrame(cs.r.out[:0], wsframe.OpPong, payload)
		cs.write(c, cs.r.out)
	case wsframe.OpPong:
	case wsframe.OpClose:
		code, _, err := wsframe.ParseClose(payload)
		switch {
		case err != nil:
			code = wsframe.CloseCode(err)
		case code == 0:
			code = wsframe.CloseNormal
		}
		// RFC 6455 §5.5.1: echo the close code, then close.
		cs.peerClose = true
		closeWS(c, code, "")
	case wsframe.OpContinuation: // CheckFragment: a message is open
		x := cs.x // made when the message opened
		x.frag = append(x.frag, payload...)
		if h.Fin {
			op := cs.fragOp
			cs.fragOp = 0
			cs.message(c, op, x.frag)
			x.frag = nil
		}
	default: // text or binary; CheckFragment: no message is open
		if !h.Fin {
			cs.fragOp = h.OpCode
			x := cs.extra()
			x.frag = append(x.frag[:0], payload...)
			break
		}
		cs.message(c, h.OpCode, payload)
	}
	return total, gnet.None
}

// message handles one complete WebSocket message.
func (cs *connState) message(c gnet.Conn, op wsframe.OpCode, data []byte) {
	s := cs.sess
	if s == nil || s.closed {
		return
	}
	var p engineio.Packet
	if op == wsframe.OpBinary {
		p = engineio.Packet{Type: engineio.Message, Data: data, Binary: true}
	} else {
		if !wsframe.ValidUTF8(data) {
			// RFC 6455 §8.1: invalid UTF-8 in a text frame fails the connection with 1007.
			s.failWS(c, cs, wsframe.CloseInvalidPayload)
			return
		}
		var err error
		if p, err = engineio.ParsePacketInPlace(data); err != nil {
			s.failWS(c, cs, wsframe.CloseProtocolError)
			return
		}
	}
	if cs.probe {
		s.probePacket(c, cs, p)
		return
	}
	s.onPacket(p)
}

// failWS closes c with code, ending the session if c carries it.
func (s *Session) failWS(c gnet.Conn, cs *connState, code int) {
	if cs.probe {
		s.poll.probe = nil
		cs.sess = nil
		s.r.timers.stop(&s.poll.upgradeTimer)
		closeWS(c, code, "")
		return
	}
	s.terminate("parse error", code)
}
