package loop

import (
	"net/netip"
	"strings"

	"sioloop/protocol/http1"
)

// What a session keeps of its handshake: the peer address, the address it
// counts against MaxConnectionsPerIP, the query, the headers named by
// Config.KeepHeaders and the time. They are read at CONNECT and by the
// admin routes, never per message, so they are kept small (the peer as
// bytes, formatted on demand) or, when few sessions need them, in
// sessionMore.

// sessionMore is the part of a session that most sessions do not need.
type sessionMore struct {
	// kept are the handshake's Config.KeepHeaders, name then value, in
	// arrival order.
	kept []string
	// ip is the address the session counts against MaxConnectionsPerIP
	// when it is not the peer's.
	ip netip.Addr
}

// RemoteAddr returns the peer address the session was opened from, ""
// when it came over something other than TCP.
func (s *Session) RemoteAddr() string {
	if s.peerPort == 0 { // no TCP peer has port 0
		return ""
	}
	return s.peer().String()
}

// peer returns the peer address at handshake.
func (s *Session) peer() netip.AddrPort {
	ip := netip.AddrFrom16(s.peerIP)
	if s.peerV4 {
		ip = ip.Unmap()
	}
	return netip.AddrPortFrom(ip, s.peerPort)
}

// setPeer records the peer address a.
func (s *Session) setPeer(a netip.AddrPort) {
	s.peerIP, s.peerPort, s.peerV4 = a.Addr().As16(), a.Port(), a.Addr().Unmap().Is4()
}

// countedIP returns the address the session counts against
// MaxConnectionsPerIP (the zero Addr when that limit is off).
func (s *Session) countedIP() netip.Addr {
	switch {
	case s.peerCounted:
		return s.peer().Addr()
	case s.more != nil:
		return s.more.ip
	}
	return netip.Addr{}
}

// setCountedIP records ip as the address the session counts against.
func (s *Session) setCountedIP(ip netip.Addr) {
	if !ip.IsValid() {
		return
	}
	if ip == s.peer().Addr() {
		s.peerCounted = true
		return
	}
	s.extra().ip = ip
}

// extra returns s.more, made if needed.
func (s *Session) extra() *sessionMore {
	if s.more == nil {
		s.more = new(sessionMore)
	}
	return s.more
}

// Query returns the raw query string of the handshake request.
func (s *Session) Query() string { return s.query }

// Header returns the value of the handshake request's first header named
// name (case-insensitive) and whether it was sent, for the names of
// Config.KeepHeaders only: the session keeps no other header. Reactor
// only; the session never changes the values, so a copy of them may go
// to any goroutine.
func (s *Session) Header(name string) (string, bool) {
	if s.more == nil {
		return "", false
	}
	kept := s.more.kept
	for i := 0; i+1 < len(kept); i += 2 {
		if strings.EqualFold(kept[i], name) {
			return kept[i+1], true
		}
	}
	return "", false
}

// keepHeaders copies the headers of req that Config.KeepHeaders names.
// It costs nothing when the list is empty; otherwise one scan of the
// head and a copy of the headers kept.
func (s *Session) keepHeaders(req *http1.Request) {
	names := s.r.srv.cfg.KeepHeaders
	if len(names) == 0 {
		return
	}
	var kept []string
	req.Headers(func(name, value []byte) {
		for _, n := range names {
			if len(n) == len(name) && strings.EqualFold(n, string(name)) {
				kept = append(kept, n, string(value))
				return
			}
		}
	})
	if kept != nil {
		s.extra().kept = kept
	}
}

// Issued returns the time of the Engine.IO handshake in Unix milliseconds
// (Node's handshake.issued).
func (s *Session) Issued() int64 { return s.issued }

// commonQueries are the handshake queries the official clients send
// when the application adds nothing: a session whose query is one of
// them shares the constant instead of holding a 32-byte copy.
var commonQueries = [...]string{"EIO=4&transport=websocket", "EIO=4&transport=polling"}

// handshakeQuery returns q as a string, shared when it is a common one.
func handshakeQuery(q []byte) string {
	for _, c := range commonQueries {
		if string(q) == c {
			return c
		}
	}
	return string(q)
}
