package loop

import (
	"bytes"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"

	"sioloop/protocol/http1"
)

// limits are the admission checks of a handshake: MaxConnections,
// MaxConnectionsPerIP and ConnectRate. A handshake takes a slot of each
// limit that is on before any session state exists, and Session.finish
// gives the slots back. Handshakes are the cold path: these checks may
// take a short lock; no message or broadcast ever touches them.
type limits struct {
	// sessions counts the admitted sessions of the process; it is the
	// count MaxConnections bounds (r.sessions are per reactor).
	sessions atomic.Int64
	// perIP counts the sessions of each client address, for
	// MaxConnectionsPerIP: the sessions of one address land on any reactor.
	perIP ipCounts
	// rate is ConnectRate's token bucket.
	rate bucket

	// answers are the refusals' responses, built once by initLimits.
	answers [NumRefusals]limitRefusal
}

// initLimits builds the refusal answers once, at start-up.
func (srv *Server) initLimits() {
	for _, r := range []Refusal{RefusedMaxConnections, RefusedMaxConnectionsPerIP, RefusedConnectRate} {
		srv.limits.answers[r] = srv.refusalAnswer(r)
	}
}

// limitRefusal is the answer to a handshake that a limit refuses.
type limitRefusal struct {
	status     int
	retryAfter bool // "Retry-After: 1": when a new try can succeed
	body       []byte
}

// admit reserves the slots of a new session for a handshake from peer and
// req. It returns the client address the session counts against (see
// clientIP; the zero Addr unless MaxConnectionsPerIP is on) and ok, or the
// refusal that applies. Any reactor.
func (srv *Server) admit(peer net.Addr, req *http1.Request) (netip.Addr, Refusal, bool) {
	l := &srv.limits
	if n := srv.cfg.MaxConnections; n > 0 {
		if l.sessions.Add(1) > int64(n) {
			l.sessions.Add(-1)
			return netip.Addr{}, RefusedMaxConnections, false
		}
	} else {
		l.sessions.Add(1)
	}
	var ip netip.Addr
	if n := srv.cfg.MaxConnectionsPerIP; n > 0 {
		ip = srv.clientIP(peer, req)
		if !l.perIP.acquire(ip, n) {
			l.sessions.Add(-1)
			return netip.Addr{}, RefusedMaxConnectionsPerIP, false
		}
	}
	// The rate last: a handshake another limit refuses takes no token.
	if rate := srv.cfg.ConnectRate; rate > 0 && !l.rate.take(srv.clock.Load(), rate, srv.cfg.ConnectBurst) {
		l.sessions.Add(-1)
		if srv.cfg.MaxConnectionsPerIP > 0 {
			l.perIP.release(ip)
		}
		return netip.Addr{}, RefusedConnectRate, false
	}
	return ip, 0, true
}

// bucket is a token bucket: it holds up to burst tokens, gains rate per
// second, and each new session takes one. One lock for the process: it is
// taken once per handshake, and a storm of handshakes is what it bounds.
type bucket struct {
	mu     sync.Mutex
	tokens float64
	last   int64 // the clock (Unix ns) of the last refill; 0: never used, full
}

// take takes a token if there is one, refilling first up to now (the
// server's coarse clock, which every reactor reads).
func (b *bucket) take(now int64, rate float64, burst int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.last == 0:
		b.tokens = float64(burst)
	case now > b.last:
		b.tokens = min(float64(burst), b.tokens+float64(now-b.last)*rate/1e9)
	}
	b.last = max(b.last, now)
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// release gives back the slots admit reserved for s. Any reactor.
func (srv *Server) release(s *Session) {
	srv.limits.sessions.Add(-1)
	if srv.cfg.MaxConnectionsPerIP > 0 {
		srv.limits.perIP.release(s.ip)
	}
}

// clientIP is the address a handshake counts against: the TCP peer, or,
// when the peer is in TrustedProxies, the right-most X-Forwarded-For hop
// that is not (each trusted proxy appends the address it got the request
// from, so the hops left of the right-most untrusted one are whatever the
// client wrote). Several X-Forwarded-For lines are one list, in order (RFC
// 9110 §5.3). A hop that is not an address ends the walk at the hop to its
// right. IPv4-mapped IPv6 addresses count as IPv4.
func (srv *Server) clientIP(peer net.Addr, req *http1.Request) netip.Addr {
	var ip netip.Addr
	if a, ok := peer.(*net.TCPAddr); ok {
		ip, _ = netip.AddrFromSlice(a.IP)
	} else if ap, err := netip.ParseAddrPort(peer.String()); err == nil {
		ip = ap.Addr()
	}
	ip = ip.Unmap()
	if req.XForwardedFor == nil || !srv.trusted(ip) {
		return ip
	}
	for i := req.NumHeaders() - 1; i >= 0; i-- {
		name, v := req.HeaderAt(i)
		if !bytes.EqualFold(name, headerXFF) {
			continue
		}
		for len(v) > 0 {
			hop := v
			if j := bytes.LastIndexByte(v, ','); j >= 0 {
				hop, v = v[j+1:], v[:j]
			} else {
				v = nil
			}
			a, ok := parseHop(bytes.TrimSpace(hop))
			if !ok {
				return ip
			}
			if ip = a; !srv.trusted(ip) {
				return ip
			}
		}
	}
	return ip
}

var headerXFF = []byte("X-Forwarded-For")

// parseHop parses one X-Forwarded-For hop: an address, maybe with a port
// ("203.0.113.7:41234", "[2001:db8::1]:41234"), as some proxies write it.
func parseHop(b []byte) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(string(b)); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(string(b)); err == nil {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}

// trusted reports whether ip is in TrustedProxies.
func (srv *Server) trusted(ip netip.Addr) bool {
	for _, p := range srv.cfg.TrustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// ipShards spreads the per-address counts over this many locks, so that
// handshakes on different reactors seldom wait for each other.
const ipShards = 64

// ipCounts counts sessions by client address. An address with no session
// has no entry, so the maps hold at most one entry per open session.
type ipCounts struct {
	shards [ipShards]struct {
		mu sync.Mutex
		n  map[netip.Addr]int32
		_  [48]byte // 64 bytes each, a cache line: reactors take different shards
	}
}

func (c *ipCounts) shard(ip netip.Addr) int {
	// FNV-1a over the 16 bytes; IPv4 addresses differ in the last four.
	h := uint32(2166136261)
	for _, b := range ip.As16() {
		h = (h ^ uint32(b)) * 16777619
	}
	return int(h % ipShards)
}

// acquire counts one more session for ip unless it has max already.
func (c *ipCounts) acquire(ip netip.Addr, max int) bool {
	s := &c.shards[c.shard(ip)]
	s.mu.Lock()
	defer s.mu.Unlock()
	if int(s.n[ip]) >= max {
		return false
	}
	if s.n == nil {
		s.n = make(map[netip.Addr]int32)
	}
	s.n[ip]++
	return true
}

// release counts one session fewer for ip.
func (c *ipCounts) release(ip netip.Addr) {
	s := &c.shards[c.shard(ip)]
	s.mu.Lock()
	if s.n[ip] <= 1 {
		delete(s.n, ip)
	} else {
		s.n[ip]--
	}
	s.mu.Unlock()
}

// refusalAnswer returns the status, body and Retry-After of a limit's
// refusal (Retry-After only for the rate: the other limits free a slot
// when a session ends, which no one can foretell): an Engine.IO JSON error body ({"code":4,"message":...}, code 4
// "Forbidden" being what Node's engine.io answers when its allowRequest
// refuses a handshake) with the limit's own status. socket.io-client
// treats any non-200 handshake as a connect_error and retries with its
// reconnection backoff.
func (srv *Server) refusalAnswer(r Refusal) limitRefusal {
	cfg := &srv.cfg
	var status int
	var msg string
	switch r {
	case RefusedMaxConnections:
		status, msg = 503, "Server full: MAX_CONNECTIONS ("+strconv.Itoa(cfg.MaxConnections)+") sessions are open"
	case RefusedMaxConnectionsPerIP:
		status, msg = 429, "Too many connections from one address: MAX_CONNECTIONS_PER_IP ("+strconv.Itoa(cfg.MaxConnectionsPerIP)+") sessions are open"
	case RefusedConnectRate:
		status, msg = 503, "Too many new connections: CONNECT_RATE ("+strconv.FormatFloat(cfg.ConnectRate, 'g', -1, 64)+
			"/s, CONNECT_BURST "+strconv.Itoa(cfg.ConnectBurst)+"), try again later"
	default:
		panic("BUG: refusalAnswer of " + r.String())
	}
	// The messages are printable ASCII, which strconv.Quote and JSON
	// escape alike.
	return limitRefusal{status: status, retryAfter: r == RefusedConnectRate,
		body: []byte(`{"code":4,"message":` + strconv.Quote(msg) + `}`)}
}
