package loop

import (
	"context"
	"sync"
	"sync/atomic"

	"sioloop/protocol/engineio"
)

// Stats are server-wide counters that change only on cold paths.
type Stats struct {
	// HandshakeErrors counts refused Engine.IO requests by error code 0-5.
	HandshakeErrors [6]atomic.Uint64
	// Refusals counts connections the server cut on its own, by reason.
	Refusals [NumRefusals]atomic.Uint64
	// AcceptErrors counts failed accept(2) calls (EMFILE, ENFILE, ENOBUFS…).
	AcceptErrors atomic.Uint64
	// Panics counts panics recovered while serving one connection or job.
	Panics atomic.Uint64
}

// Refusal is a reason the reactors end a client connection on their own,
// outside the Engine.IO protocol, or refuse its Socket.IO CONNECT: the
// bounds that keep one hostile client (or user) from holding memory or
// descriptors.
type Refusal int

// The refusals, with their metric label in the comment.
const (
	RefusedBodyTooLarge        Refusal = iota // "body_too_large": declared Content-Length over MaxPayload, 413 at once
	RefusedHeadTimeout                        // "head_timeout": no complete request head within HandshakeTimeout, 408
	RefusedBodyTimeout                        // "body_timeout": body not complete within BodyReadTimeout, 408
	RefusedIdleTimeout                        // "idle_timeout": keep-alive connection idle for KeepAliveTimeout
	RefusedOutboundFull                       // "outbound_full": answers not read by the client over MaxOutboundBytes
	RefusedMaxConnections                     // "max_connections": a handshake past MaxConnections sessions, 503
	RefusedMaxConnectionsPerIP                // "max_connections_per_ip": a handshake past MaxConnectionsPerIP sessions of its address, 429
	RefusedConnectRate                        // "connect_rate": a handshake past ConnectRate (after ConnectBurst), 503 with Retry-After
	RefusedMaxUserConnections                 // "max_user_connections": a CONNECT past SocketIO.MaxUserConnections sockets of its user, CONNECT_ERROR
	RefusedEventFlood                         // "event_flood": a socket disconnected for events past SocketIO.MaxEventsPerSecond (EventBurst in debt)
	NumRefusals
)

var refusalNames = [NumRefusals]string{"body_too_large", "head_timeout", "body_timeout", "idle_timeout", "outbound_full",
	"max_connections", "max_connections_per_ip", "connect_rate", "max_user_connections", "event_flood"}

// String returns the metric label of r.
func (r Refusal) String() string {
	if r < 0 || r >= NumRefusals {
		return "unknown"
	}
	return refusalNames[r]
}

func (srv *Server) countRefusal(r Refusal) { srv.stats.Refusals[r].Add(1) }

// loopCounters are the hot-path counters of one reactor. Only that
// reactor writes them (atomically, so scrapes may read them), so they
// never bounce between cores; scrapes sum the reactors.
type loopCounters struct {
	packetsIn, packetsOut atomic.Uint64 // Engine.IO messages
	bytesIn, bytesOut     atomic.Uint64 // Engine.IO message payload bytes
	broadcasts            atomic.Uint64 // broadcast jobs run by this reactor
	deliveries            atomic.Uint64 // broadcast packets handed to a socket
	volatileDropped       atomic.Uint64
	slowConsumers         atomic.Uint64
	ringSends             atomic.Uint64 // broadcast sends through io_uring
	eventsRefused         atomic.Uint64 // client EVENTs refused by SocketIO.MaxEventsPerSecond
	polling, websocket    atomic.Int64  // sessions by current transport
}

// Snapshot is a point-in-time copy of the server's counters.
type Snapshot struct {
	Connections       int64 // open client TCP connections
	Sessions          int64 // open Engine.IO sessions
	PollingSessions   int64
	WebSocketSessions int64
	HandshakeErrors   [6]uint64 // by Engine.IO error code
	Refusals          [NumRefusals]uint64
	AcceptErrors      uint64
	Panics            uint64
	PacketsIn         uint64 // Engine.IO messages received
	PacketsOut        uint64 // Engine.IO messages sent to one client
	BytesIn           uint64
	BytesOut          uint64
	Broadcasts        uint64  // broadcasts (counted once, not per reactor)
	Deliveries        uint64  // broadcast packets handed to sockets
	VolatileDropped   uint64  // volatile packets dropped for clients that could not take them
	SlowConsumers     uint64  // clients disconnected for exceeding the outbound cap
	IOURingSends      uint64  // broadcast sends submitted through io_uring (the rest used write(2))
	EventsRefused     uint64  // client events refused by MaxEventsPerSecond (flood disconnects are in Refusals)
	LoopConnections   []int64 // open connections per reactor
	// BroadcastDone is, per broadcast sent to every reactor, the time from
	// its encoding to the last reactor's last write; LoopTiming is each
	// reactor's share of it (timing.go).
	BroadcastDone Histogram
	LoopTiming    []LoopTiming
}

// Snapshot sums the reactors' counters. Any goroutine may call it.
func (srv *Server) Snapshot() Snapshot {
	var s Snapshot
	for i := range s.HandshakeErrors {
		s.HandshakeErrors[i] = srv.stats.HandshakeErrors[i].Load()
	}
	for i := range s.Refusals {
		s.Refusals[i] = srv.stats.Refusals[i].Load()
	}
	s.AcceptErrors = srv.stats.AcceptErrors.Load()
	s.Panics = srv.stats.Panics.Load()
	s.Broadcasts = srv.broadcasts.Load()
	srv.broadcastDone.read(&s.BroadcastDone)
	for _, r := range *srv.reactors.Load() {
		s.LoopTiming = append(s.LoopTiming, r.timing.read())
		n := r.conns.Load()
		s.Connections += n
		s.LoopConnections = append(s.LoopConnections, n)
		s.Sessions += r.sessions.Load()
		s.PollingSessions += r.ctr.polling.Load()
		s.WebSocketSessions += r.ctr.websocket.Load()
		s.PacketsIn += r.ctr.packetsIn.Load()
		s.PacketsOut += r.ctr.packetsOut.Load()
		s.BytesIn += r.ctr.bytesIn.Load()
		s.BytesOut += r.ctr.bytesOut.Load()
		s.Deliveries += r.ctr.deliveries.Load()
		s.VolatileDropped += r.ctr.volatileDropped.Load()
		s.SlowConsumers += r.ctr.slowConsumers.Load()
		s.IOURingSends += r.ctr.ringSends.Load()
		s.EventsRefused += r.ctr.eventsRefused.Load()
	}
	return s
}

// OutboundQueued returns the bytes queued in user space for all clients
// (WebSocket outbound buffers and polling queues). It asks every reactor
// and waits for the answers or ctx, so on a reactor it returns
// ErrOnReactor.
func (srv *Server) OutboundQueued(ctx context.Context) (int64, error) {
	if srv.onReactor() != nil {
		return 0, ErrOnReactor
	}
	var total atomic.Int64
	var wg sync.WaitGroup
	for _, r := range *srv.reactors.Load() {
		wg.Add(1)
		r.post(func(r *reactor) {
			defer wg.Done()
			var n int64
			for _, s := range r.live {
				n += int64(s.queuedBytes())
				if s.ws != nil {
					n += int64(s.ws.OutboundBuffered())
				}
			}
			total.Add(n)
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return total.Load(), nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// Stats returns the server's cold-path counters.
func (srv *Server) Stats() *Stats { return &srv.stats }

func (srv *Server) countHandshakeError(code engineio.ErrorCode) {
	if int(code) >= 0 && int(code) < len(srv.stats.HandshakeErrors) {
		srv.stats.HandshakeErrors[code].Add(1)
	}
}

// nsCounters are a namespace's counters on one reactor, written only by it.
type nsCounters struct {
	connected             atomic.Int64
	connects, disconnects atomic.Uint64
	eventsIn, eventsOut   atomic.Uint64
	bytesIn, bytesOut     atomic.Uint64
	errors                atomic.Uint64
}

// add adds the cumulative counters of c to st.
func (st *NamespaceStats) add(c *nsCounters) {
	st.Connected += c.connected.Load()
	st.Connects += c.connects.Load()
	st.Disconnects += c.disconnects.Load()
	st.EventsIn += c.eventsIn.Load()
	st.EventsOut += c.eventsOut.Load()
	st.BytesIn += c.bytesIn.Load()
	st.BytesOut += c.bytesOut.Load()
	st.Errors += c.errors.Load()
}

// retire folds the counters of child, which is being removed and has no
// socket left, into the pattern's retired counters. Caller holds io.mu.
func (p *Namespace) retire(child *Namespace) {
	var st NamespaceStats
	for _, c := range child.ctr {
		st.add(c)
	}
	r := &p.retired
	r.connects.Add(st.Connects)
	r.disconnects.Add(st.Disconnects)
	r.eventsIn.Add(st.EventsIn)
	r.eventsOut.Add(st.EventsOut)
	r.bytesIn.Add(st.BytesIn)
	r.bytesOut.Add(st.BytesOut)
	r.errors.Add(st.Errors)
}

// NamespaceStats are the Socket.IO counters of one namespace, or of every
// namespace created from one pattern.
type NamespaceStats struct {
	// Name is the namespace's name, or the pattern's ("/org-*"): the names
	// of children come from clients, so they are never listed one by one.
	Name string
	// Namespaces is 1 for a declared namespace, and for a pattern the
	// number of its children that exist now.
	Namespaces  int
	Connected   int64  // sockets in the namespace now
	Connects    uint64 // CONNECTs accepted
	Disconnects uint64
	EventsIn    uint64 // events received from clients
	EventsOut   uint64 // events sent (direct emits and broadcast deliveries)
	BytesIn     uint64 // bytes of received event packets
	BytesOut    uint64 // bytes of sent event packets
	Errors      uint64 // refused CONNECTs and protocol errors
}

// NamespaceStats sums the per-reactor counters of every declared namespace
// and of every pattern, a pattern's entry holding the sums of its children,
// removed ones included: so there is one entry per name in the
// configuration, however many namespaces clients create. Any goroutine may
// call it; it holds io's read lock, so that no child is removed (and
// counted twice) while it sums.
func (io *SocketIO) NamespaceStats() []NamespaceStats {
	io.mu.RLock()
	defer io.mu.RUnlock()
	out := make([]NamespaceStats, 0, len(io.patterns)+8)
	byPattern := make(map[*Namespace]int, len(io.patterns))
	for _, p := range io.patterns {
		byPattern[p] = len(out)
		st := NamespaceStats{Name: p.name}
		st.add(&p.retired)
		out = append(out, st)
	}
	for _, n := range io.nsps {
		var st *NamespaceStats
		if n.parent != nil {
			st = &out[byPattern[n.parent]]
		} else {
			out = append(out, NamespaceStats{Name: n.name})
			st = &out[len(out)-1]
		}
		st.Namespaces++
		for _, c := range n.ctr {
			st.add(c)
		}
	}
	return out
}

// NamespaceTableStats describe the namespace table and its limits.
type NamespaceTableStats struct {
	Namespaces int // namespaces that exist now, declared ones and children of patterns
	Max        int // MaxNamespaces
	// RefusedLimit counts CONNECTs refused because MaxNamespaces
	// namespaces existed, RefusedName those to a name longer than
	// MaxNameBytes.
	RefusedLimit, RefusedName uint64
}

// NamespaceTableStats returns the size of the namespace table and the
// CONNECTs its limits refused. Any goroutine.
func (io *SocketIO) NamespaceTableStats() NamespaceTableStats {
	io.mu.RLock()
	n := len(io.nsps)
	io.mu.RUnlock()
	return NamespaceTableStats{Namespaces: n, Max: io.MaxNamespaces,
		RefusedLimit: io.refused[refusedLimit].Load(), RefusedName: io.refused[refusedName].Load()}
}
