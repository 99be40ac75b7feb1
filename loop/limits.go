package loop

import (
	"bytes"
	"math"
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
		srv.limits.perIP.release(s.countedIP())
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

// ipCounts counts sessions by client address, in ipShards shards.
type ipCounts struct {
	shards [ipShards]struct {
		counts[netip.Addr]
		_ [48]byte // 64 bytes each, a cache line: reactors take different shards
	}
}

func (c *ipCounts) shard(ip netip.Addr) *counts[netip.Addr] {
	// FNV-1a over the 16 bytes; IPv4 addresses differ in the last four.
	h := uint32(2166136261)
	for _, b := range ip.As16() {
		h = (h ^ uint32(b)) * 16777619
	}
	return &c.shards[h%ipShards].counts
}

// acquire counts one more session for ip unless it has max already.
func (c *ipCounts) acquire(ip netip.Addr, max int) bool { return c.shard(ip).acquire(ip, max) }

// release counts one session fewer for ip.
func (c *ipCounts) release(ip netip.Addr) { c.shard(ip).release(ip) }

// counts counts what each key holds (sessions of an address, sockets of
// a user) under one lock, bounded per key. A key that holds nothing has
// no entry, so the map never holds more entries than there are holders.
type counts[K comparable] struct {
	mu sync.Mutex
	n  map[K]int32
}

// acquire counts one more for k unless it has max already.
func (c *counts[K]) acquire(k K, max int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if int(c.n[k]) >= max {
		return false
	}
	if c.n == nil {
		c.n = make(map[K]int32)
	}
	c.n[k]++
	return true
}

// release counts one fewer for k.
func (c *counts[K]) release(k K) {
	c.mu.Lock()
	if c.n[k] <= 1 {
		delete(c.n, k)
	} else {
		c.n[k]--
	}
	c.mu.Unlock()
}

// get returns what k holds now.
func (c *counts[K]) get(k K) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return int(c.n[k])
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

// The event limit: MaxEventsPerSecond and EventBurst of a SocketIO, a token
// bucket per socket. Unlike the handshake limits it runs on the hot path,
// once per EVENT, on the socket's reactor: no lock, no allocation, and 8
// bytes of state in each Socket (eventBucket), consulted only when the
// limit is on.

// eventLimit is the event limit of a SocketIO, worked out once from its
// settings (SocketIO.eventLimit) in the float32 the buckets use.
type eventLimit struct {
	// perStamp is the tokens a bucket gains per stamp unit (2^stampShift
	// ns of the coarse clock); 0 when the limit is off.
	perStamp float32
	// burst is the bucket's size, and also the debt past which a socket
	// is disconnected as a flood.
	burst float32
	// refusal is the ack of a refused event, one argument:
	// {"error":"… MAX_EVENTS_PER_SECOND (N/s, EVENT_BURST B) …"}.
	refusal []byte
}

// Bounds of MaxEventsPerSecond and EventBurst: a float32 holds every whole
// number up to 2^24 exactly, so tokens count events exactly far beyond
// these; a million events a second from one socket is no limit anyway.
const (
	MaxEventRate  = 1e6
	MaxEventBurst = 1_000_000
)

// stampShift turns the coarse clock (Unix ns) into a bucket's uint32 stamp:
// units of 2^20 ns (about 1.05 ms, finer than the clock's 10 ms tick), by a
// shift rather than a division. A stamp wraps after about 52 days.
const stampShift = 20

func stampOf(now int64) uint32 { return uint32(uint64(now) >> stampShift) }

// eventBucket is a socket's token bucket for MaxEventsPerSecond: tokens and
// the stamp of its last refill. It holds up to burst tokens, gains rate a
// second, and each EVENT takes one. An event that finds less than a whole
// token is refused, but takes its token all the same: the bucket goes into
// debt, and a client must slow down below the rate to pay it back. An event
// that would put the bucket more than burst tokens in debt is a flood: the
// socket is disconnected (so with the default burst, a client that sends a
// second's worth of events more than the limit lets through). 8 bytes, so
// that Socket keeps its size class (see TestConnSizes).
type eventBucket struct {
	tokens float32
	stamp  uint32
}

// eventVerdict is what the bucket says of one event.
type eventVerdict uint8

const (
	eventAccepted eventVerdict = iota
	eventRefused               // over the rate: refused, acked with the error if asked
	eventFlood                 // more than burst refused beyond the rate: disconnect
)

// fill starts a bucket full at now (a new socket).
func (b *eventBucket) fill(now int64, l *eventLimit) {
	*b = eventBucket{tokens: l.burst, stamp: stampOf(now)}
}

// take charges one event at now (the coarse clock), refilling first, and
// says whether it is accepted, refused or a flood. A stamp behind the last
// one by the int32 measure (the wall clock stepped back, or a socket silent
// for more than ~26 days) refills the bucket whole; a socket silent for
// more than ~52 days may find less than it is owed, never more than burst.
func (b *eventBucket) take(now int64, l *eventLimit) eventVerdict {
	st := stampOf(now)
	switch d := int32(st - b.stamp); {
	case d < 0:
		b.tokens = l.burst
	case d > 0:
		b.tokens = min(l.burst, b.tokens+float32(d)*l.perStamp)
	}
	b.stamp = st
	b.tokens--
	switch {
	case b.tokens >= 0:
		return eventAccepted
	case b.tokens >= -l.burst:
		return eventRefused
	}
	return eventFlood
}

// newEventLimit works out the limit of rate events a second with burst
// (0: rate rounded up, at least 1); rate 0 turns it off.
func newEventLimit(rate float64, burst int) eventLimit {
	if rate <= 0 {
		return eventLimit{}
	}
	rate = min(rate, MaxEventRate)
	if burst <= 0 {
		burst = max(1, int(math.Ceil(rate)))
	}
	burst = min(burst, MaxEventBurst)
	msg := "event refused: over MAX_EVENTS_PER_SECOND (" + strconv.FormatFloat(rate, 'g', -1, 64) +
		"/s, EVENT_BURST " + strconv.Itoa(burst) + ")"
	return eventLimit{
		perStamp: float32(rate * (1 << stampShift) / 1e9),
		burst:    float32(burst),
		// The message is printable ASCII, which strconv.Quote and JSON
		// escape alike.
		refusal: []byte(`{"error":` + strconv.Quote(msg) + `}`),
	}
}
