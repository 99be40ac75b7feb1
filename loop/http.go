package loop

import (
	"bytes"
	"net/netip"
	"strconv"

	"github.com/panjf2000/gnet/v2"

	"sioloop/protocol/engineio"
	"sioloop/protocol/http1"
)

// serveHTTP serves one HTTP request from in. It returns how many bytes it
// consumed (0: the request is incomplete) and an action for gnet.
func (cs *connState) serveHTTP(c gnet.Conn, in []byte) (int, gnet.Action) {
	srv := cs.r.srv
	var req http1.Request
	hl, err := http1.Parse(&req, in, srv.cfg.MaxHeaderBytes)
	if err == http1.ErrNeedMore {
		return 0, gnet.None
	}
	if err != nil {
		// Like Node's http server on a parse error: the status line,
		// Connection: close, and no body.
		e, ok := err.(*http1.Error)
		if !ok {
			e = http1.ErrBadRequestLine
		}
		srv.log.Debug("bad http request", "remote", remoteOf(c), "err", err)
		cs.r.out = e.AppendResponse(cs.r.out[:0])
		cs.send(c, cs.r.out)
		linger(c, cs)
		return len(in), gnet.None
	}
	if req.Chunked {
		cs.writeFatal(c, 411, "chunked request bodies are not supported")
		return len(in), gnet.None
	}
	m := srv.mountFor(req.Path)
	if m == nil && srv.fallback != nil {
		// net/http frames this request and every later one itself.
		cs.handOver(c, in, nil)
		return len(in), gnet.None
	}
	// Body framing, the same for every request served here: the body is
	// the next ContentLength bytes, and they are consumed with the request
	// whatever the answer, so body bytes are never parsed as a request.
	// The length is checked before any arithmetic on it and before waiting
	// for the body (engine.io: a body over maxHttpBufferSize gets 413).
	if req.ContentLength > int64(srv.cfg.MaxPayload) {
		srv.countRefusal(RefusedBodyTooLarge)
		cs.writeFatal(c, 413, "Payload Too Large: Content-Length "+strconv.FormatInt(req.ContentLength, 10)+
			" is over the limit of "+strconv.Itoa(srv.cfg.MaxPayload)+" bytes")
		return len(in), gnet.None
	}
	total := hl + int(max(req.ContentLength, 0))
	if len(in) < total {
		cs.expect(c, waitBody)
		if m != nil && cs.markPOST(c, &req, in) {
			return len(in), gnet.None // moved to the session's reactor
		}
		return 0, gnet.None
	}
	if m == nil {
		cs.writeStatus(c, 404, "not found", !req.KeepAlive)
		if !req.KeepAlive {
			closeConn(c)
		}
		return total, gnet.None
	}
	cs.serveEngine(c, &req, in[hl:total], m, in)
	return total, gnet.None
}

func (srv *Server) mountFor(path []byte) *mount {
	for i := range srv.mounts {
		m := &srv.mounts[i]
		if bytes.HasPrefix(path, []byte(m.path)) {
			return m
		}
	}
	return nil
}

var (
	methodGET     = []byte("GET")
	methodPOST    = []byte("POST")
	methodOPTIONS = []byte("OPTIONS")
)

// serveEngine implements engine.io server.ts handleRequest/verify for one
// request to an Engine.IO endpoint. raw is the whole unread input starting
// at this request, in case the connection must move to another reactor.
func (cs *connState) serveEngine(c gnet.Conn, req *http1.Request, body []byte, m *mount, raw []byte) {
	srv := cs.r.srv
	cors := srv.corsIndex(req.Origin)
	q := req.RawQuery
	if bytes.Equal(req.Method, methodOPTIONS) && len(srv.cfg.CORSOrigins) > 0 {
		cs.writePreflight(c, req, cors)
		return
	}
	transport, _ := http1.QueryValue(q, "transport")
	isWS := string(transport) == TransportWebSocket
	if !isWS && string(transport) != TransportPolling {
		cs.writeEngineError(c, req, engineio.ErrUnknownTransport, cors)
		return
	}
	if sid, ok := http1.QueryValue(q, "sid"); ok {
		s := srv.sessions.get(sid)
		if s == nil {
			cs.writeEngineError(c, req, engineio.ErrUnknownSID, cors)
			return
		}
		if s.r != cs.r {
			// Session state lives on its home reactor: move the socket there.
			cs.handOver(c, raw, s.r)
			return
		}
		if s.catchUp(); s.closed {
			cs.writeEngineError(c, req, engineio.ErrUnknownSID, cors)
			return
		}
		if s.closing && (isWS || !bytes.Equal(req.Method, methodGET) || s.closer() == c) {
			// Closed by its client (closeFromPOST): only a GET that may
			// have been sent with the close still finds the session.
			cs.writeEngineError(c, req, engineio.ErrUnknownSID, cors)
			return
		}
		switch {
		case req.Upgrade && isWS:
			cs.serveProbe(c, req, s)
		case isWS || s.ws != nil:
			// engine.io: a transport that does not match the session's
			// (after an upgrade, polling on the sid gets 400).
			cs.writeEngineError(c, req, engineio.ErrBadRequest, cors)
		case bytes.Equal(req.Method, methodGET):
			cs.servePollGET(c, req, s, cors)
		case bytes.Equal(req.Method, methodPOST):
			cs.servePollPOST(c, req, body, s, cors)
		default:
			cs.writeEngineError(c, req, engineio.ErrBadRequest, cors)
		}
		return
	}
	// A handshake.
	if !bytes.Equal(req.Method, methodGET) {
		cs.writeEngineError(c, req, engineio.ErrBadHandshakeMethod, cors)
		return
	}
	if isWS && !req.Upgrade {
		cs.writeEngineError(c, req, engineio.ErrBadRequest, cors)
		return
	}
	if eio, _ := http1.QueryValue(q, "EIO"); string(eio) != "4" {
		cs.writeEngineError(c, req, engineio.ErrUnsupportedProtocolVersion, cors)
		return
	}
	if srv.draining.Load() {
		cs.writeFatal(c, 503, "server shutting down")
		return
	}
	if req.Upgrade {
		if !isWS {
			cs.writeEngineError(c, req, engineio.ErrBadRequest, cors)
			return
		}
		cs.serveWSHandshake(c, req, m, cors)
		return
	}
	ip, ok := cs.admit(c, req, cors)
	if !ok {
		return
	}
	s := newSession(cs.r, m, c.RemoteAddr(), handshakeQuery(q))
	s.setCountedIP(ip)
	s.keepHeaders(req)
	s.poll = newPollState()
	s.poll.queue = engineio.AppendOpen(s.poll.queue, s.openInfo([]string{TransportWebSocket}))
	s.start()
	cs.servePollGET(c, req, s, cors)
}

// admit reserves a new session's slots under the connection limits, or
// answers the handshake with the refusal of the limit it is past.
func (cs *connState) admit(c gnet.Conn, req *http1.Request, cors int) (netip.Addr, bool) {
	srv := cs.r.srv
	ip, why, ok := srv.admit(c.RemoteAddr(), req)
	if ok {
		return ip, true
	}
	srv.countRefusal(why)
	srv.log.Debug("handshake refused", "remote", remoteOf(c), "limit", why.String())
	a := &srv.limits.answers[why]
	b := http1.AppendStatusLine(cs.r.out[:0], a.status)
	b = append(b, "Content-Type: application/json\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(a.body)), 10)
	b = append(b, "\r\ncache-control: no-store\r\n"...)
	if a.retryAfter {
		b = append(b, "Retry-After: 1\r\n"...)
	}
	b = cs.appendCORS(b, cors)
	// Closed after the answer (lingering, so that it is read, not reset):
	// a refused client holds no descriptor.
	b = append(b, "Connection: close\r\n\r\n"...)
	b = append(b, a.body...)
	cs.r.out = b
	cs.send(c, b)
	linger(c, cs)
	return netip.Addr{}, false
}

// servePollGET parks a polling GET until packets are queued.
func (cs *connState) servePollGET(c gnet.Conn, req *http1.Request, s *Session, cors int) {
	p := s.poll // a polling session: servePollGET is not reached for a WebSocket one
	if p.get != nil {
		// engine.io-protocol v4: "a client MUST NOT have more than one
		// active GET request. Should it happen, the server MUST return an
		// HTTP 400 error status and close the session"; the first GET
		// receives the close packet. Node (polling.ts onPollRequest,
		// "overlap from client") answers a bare 400.
		cs.writeBare400(c, req)
		s.terminate("transport error", 0)
		return
	}
	p.get = c
	cs.setParked(s)
	cs.keepAlive = req.KeepAlive
	cs.cors = int32(cors)
	if len(p.queue) > 0 {
		s.flushPoll()
	}
}

// markPOST notes that a polling POST's body is still arriving on c, so that
// an overlapping POST for the same session can be refused as Node does. A
// POST for a session of another reactor moves there first (it reports true).
func (cs *connState) markPOST(c gnet.Conn, req *http1.Request, in []byte) bool {
	if cs.postingSession() != nil || !bytes.Equal(req.Method, methodPOST) {
		return false
	}
	sid, ok := http1.QueryValue(req.RawQuery, "sid")
	if !ok {
		return false
	}
	s := cs.r.srv.sessions.get(sid)
	switch {
	case s == nil:
	case s.r != cs.r:
		cs.handOver(c, in, s.r)
		return true
	case s.poll != nil && s.poll.post == nil:
		s.poll.post = c
		cs.setPosting(s)
	}
	return false
}

// servePollPOST feeds the packets of a polling POST body to the session.
func (cs *connState) servePollPOST(c gnet.Conn, req *http1.Request, body []byte, s *Session, cors int) {
	if cs.postingSession() == s {
		cs.setPosting(nil)
	}
	ps := s.poll // a polling session: servePollPOST is not reached for a WebSocket one
	if ps.post == c {
		ps.post = nil
	} else if ps.post != nil {
		// engine.io polling.ts onDataRequest: "data request overlap from client".
		cs.writeBare400(c, req)
		s.terminate("transport error", 0)
		return
	}
	if bytes.HasPrefix(req.ContentType, []byte("application/octet-stream")) {
		// engine.io v4 polling bodies are always text (polling.ts
		// onDataRequest, "invalid content").
		cs.writeBare400(c, req)
		s.terminate("transport error", 0)
		return
	}
	// body aliases the inbound buffer; base64 packets are decoded in place,
	// which is fine: these bytes are consumed by this request.
	// A nil rest ends the walk; an empty one (after a trailing separator)
	// is an error, as in Node.
	rest := body
	if rest == nil {
		rest = []byte{}
	}
	for rest != nil && !s.closed {
		p, next, err := engineio.NextPayloadPacket(rest)
		if err != nil {
			cs.writeEngineError(c, req, engineio.ErrBadRequest, cors)
			s.terminate("parse error", 0)
			return
		}
		if p.Type == engineio.Close && ps.get == nil && cs.parkedSession() == nil {
			s.closeFromPOST(c, cs, req.KeepAlive, cors) // answers ok later
			return
		}
		s.onPacket(p)
		rest = next
	}
	cs.writeResponse(c, 200, req.KeepAlive, cors, "text/html", []byte("ok"))
}

// corsIndex returns 1+ the index of origin in the allowed list, 0 if it is
// not allowed or CORS is off.
func (srv *Server) corsIndex(origin []byte) int {
	if len(origin) == 0 {
		return 0
	}
	for i, o := range srv.cfg.CORSOrigins {
		if o == "*" || o == string(origin) {
			return i + 1
		}
	}
	return 0
}

// appendCORS appends the Access-Control-* headers for an allowed origin.
func (cs *connState) appendCORS(b []byte, cors int) []byte {
	if cors == 0 {
		return b
	}
	o := cs.r.srv.cfg.CORSOrigins[cors-1]
	if o == "*" {
		// Any origin, as Node's cors with origin "*": a literal "*" and
		// never credentials, so that no page can read a response made
		// with a visitor's cookies (Fetch standard, CORS protocol).
		return append(b, "Access-Control-Allow-Origin: *\r\n"...)
	}
	b = append(b, "Access-Control-Allow-Origin: "...)
	b = append(b, o...)
	b = append(b, "\r\nVary: Origin\r\nAccess-Control-Allow-Credentials: true\r\n"...)
	return b
}

// writePreflight answers a CORS preflight like the cors middleware Node uses.
func (cs *connState) writePreflight(c gnet.Conn, req *http1.Request, cors int) {
	b := http1.AppendStatusLine(cs.r.out[:0], 204)
	b = cs.appendCORS(b, cors)
	if cors != 0 {
		b = append(b, "Access-Control-Allow-Methods: GET,HEAD,PUT,PATCH,POST,DELETE\r\n"...)
		if len(req.AccessControlRequestHeaders) > 0 {
			b = append(b, "Access-Control-Allow-Headers: "...)
			b = append(b, req.AccessControlRequestHeaders...)
			b = append(b, "\r\n"...)
		}
	}
	cs.sendEmpty(c, b, req.KeepAlive)
}

// sendEmpty ends the head of a response without a body, announcing the
// close when the request does not keep the connection, sends it, and
// closes after it in that case.
func (cs *connState) sendEmpty(c gnet.Conn, b []byte, keepAlive bool) {
	b = append(b, "Content-Length: 0\r\n"...)
	if !keepAlive {
		b = append(b, "Connection: close\r\n"...)
	}
	b = append(b, "\r\n"...)
	cs.r.out = b
	cs.send(c, b)
	if !keepAlive {
		closeConn(c)
	}
}

// writeEngineError writes an engine.io JSON error response
// ({"code":N,"message":"..."}, 400 or 403), like server.ts abortRequest;
// an upgrade request gets abortUpgrade's plain-text 400 instead.
func (cs *connState) writeEngineError(c gnet.Conn, req *http1.Request, e *engineio.RequestError, cors int) {
	cs.r.srv.log.Debug("engine.io request refused", "remote", remoteOf(c), "code", int(e.Code), "uri", string(req.URI))
	if req.Upgrade {
		cs.r.srv.countHandshakeError(e.Code)
		cs.writeUpgradeError(c, e.Message)
		return
	}
	cs.writeResponse(c, e.Status, req.KeepAlive, cors, "application/json", e.Body)
	cs.r.srv.countHandshakeError(e.Code)
}

// writeBare400 answers a polling request with a 400 and no body, as
// Node's polling transport does (res.writeHead(400); res.end()) when a
// request breaks the transport's rules; the client learns no more from a
// body: engine.io-client treats any non-200 poll as a transport error.
func (cs *connState) writeBare400(c gnet.Conn, req *http1.Request) {
	b := http1.AppendStatusLine(cs.r.out[:0], 400)
	cs.sendEmpty(c, b, req.KeepAlive)
}

// writeUpgradeError refuses a WebSocket upgrade with a plain-text 400 and
// closes, like engine.io's abortUpgrade.
func (cs *connState) writeUpgradeError(c gnet.Conn, msg string) {
	b := http1.AppendStatusLine(cs.r.out[:0], 400)
	b = append(b, "Connection: close\r\nContent-type: text/html\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(msg)), 10)
	b = append(b, "\r\n\r\n"...)
	b = append(b, msg...)
	cs.r.out = b
	cs.send(c, b)
	closeConn(c)
}

// writeFatal answers with a plain-text status that ends the connection
// (RFC 9112 §9.6: announced with Connection: close), then lingers so the
// client can read it.
func (cs *connState) writeFatal(c gnet.Conn, status int, msg string) {
	cs.writeStatus(c, status, msg, true)
	linger(c, cs)
}

// writeStatus writes a plain-text response with the status' reason.
func (cs *connState) writeStatus(c gnet.Conn, status int, msg string, closing bool) {
	b := http1.AppendStatusLine(cs.r.out[:0], status)
	if closing {
		b = append(b, "Connection: close\r\n"...)
	}
	b = append(b, "Content-Type: text/plain; charset=utf-8\r\ncache-control: no-store\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(msg)), 10)
	b = append(b, "\r\n\r\n"...)
	b = append(b, msg...)
	cs.r.out = b
	cs.send(c, b)
}

// writeResponse writes a complete response with body.
func (cs *connState) writeResponse(c gnet.Conn, status int, keepAlive bool, cors int, contentType string, body []byte) {
	b := http1.AppendStatusLine(cs.r.out[:0], status)
	b = append(b, "Content-Type: "...)
	b = append(b, contentType...)
	b = append(b, "\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, "\r\ncache-control: no-store\r\n"...)
	b = cs.appendCORS(b, cors)
	if !keepAlive {
		b = append(b, "Connection: close\r\n"...)
	}
	b = append(b, "\r\n"...)
	b = append(b, body...)
	cs.r.out = b
	cs.send(c, b)
	if !keepAlive {
		closeConn(c)
	}
}

// writePollResponse answers the parked GET on c with payload.
func (cs *connState) writePollResponse(c gnet.Conn, payload []byte) {
	cs.writeResponse(c, 200, cs.keepAlive, int(cs.cors), "text/plain; charset=UTF-8", payload)
	cs.release(c)
	if cs.parkedSession() == nil {
		cs.settle(c, 0)
	}
}
