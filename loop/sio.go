package loop

import (
	"bytes"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"sioloop/protocol/socketio"
)

// DefaultConnectTimeout is how long a client may stay without joining a
// namespace (Node's connectTimeout).
const DefaultConnectTimeout = 45 * time.Second

// SocketIO is a Socket.IO v5 server: the Handler that runs on the Engine.IO
// sessions of one endpoint. Configure namespaces with Of before Serve.
type SocketIO struct {
	srv *Server
	// Adapter, when set, carries every broadcast that is not Local to the
	// other servers of the cluster. Set it before Serve.
	Adapter Adapter
	// OnNamespace, when set, is called with the name of every namespace
	// created from a pattern, on its first CONNECT (on the reactor of that
	// connection, with io's lock held: it must be quick and must not call
	// back into io). Set it before Serve.
	OnNamespace func(name string)
	// OnNamespaceRemoved, when set, is called with the name of a namespace
	// created from a pattern when it is removed, after its last socket
	// left (Node's cleanupEmptyChildNamespaces). It runs where that socket
	// left (its reactor), with io's lock held, like OnNamespace. Set it
	// before Serve.
	OnNamespaceRemoved func(name string)
	// OnRoom, when set, is called when a room of namespace ns gets its
	// first member on a reactor, and OnRoomRemoved when its last member
	// there leaves: per reactor, so a room of the process exists from the
	// first OnRoom to the last matching OnRoomRemoved (count them). A
	// socket's own id room is reported only with PrivateRooms (when the
	// socket joins and leaves its namespace). Both run on that reactor,
	// on every such change, and must be quick and must not call back into
	// io (the sharded Redis adapter subscribes to a room's channel with
	// them, as Node's adapter does on "create-room" and "delete-room").
	// Set them before Serve.
	OnRoom, OnRoomRemoved func(ns, room string)
	// PrivateRooms makes OnRoom and OnRoomRemoved report every socket's
	// own id room too (the sharded adapter's "dynamic-private" mode, where
	// each socket has a channel of its own). Set it before Serve.
	PrivateRooms bool
	// ConnectTimeout closes a client that joins no namespace in time.
	// Default 45s.
	ConnectTimeout time.Duration
	// MaxNamespaces bounds the namespaces that exist at once, declared
	// ones and children of patterns together. A CONNECT that would create
	// one more child gets CONNECT_ERROR "namespace limit reached". Default
	// DefaultMaxNamespaces.
	MaxNamespaces int
	// MaxNameBytes is the longest name of a namespace a CONNECT may create
	// from a pattern; a longer one gets CONNECT_ERROR "Invalid namespace".
	// Default DefaultMaxNameBytes.
	MaxNameBytes int
	// Recovery, when positive, turns on connection state recovery
	// (socket.io 4.6's connectionStateRecovery, recovery.go): it is the
	// longest disconnection after which a client gets its socket id, its
	// rooms and the events it missed back. Every replayable event then
	// carries its offset as one more last argument. Default 0: off.
	Recovery time.Duration
	// RecoveryBufferBytes bounds the packets kept for replay; past it the
	// oldest go first. Default DefaultRecoveryBufferBytes.
	RecoveryBufferBytes int
	// Sessions, when set with Recovery, keeps the sessions and the
	// replayable events in a store shared by the servers of a cluster
	// (the Redis Streams adapter of loop/cluster) instead of this
	// process, so that a client recovers on any of them
	// (recovery_store.go). Set it before Serve.
	Sessions SessionStore
	// MaxUserConnections bounds the sockets of one user (Socket.UserID,
	// set by the middleware) in all namespaces of io together; one more
	// CONNECT gets CONNECT_ERROR "too many connections for this user:
	// MAX_USER_CONNECTIONS (n)" (see admitUser). Sockets without a UserID
	// do not count. Default 0: no bound. Set it before Serve.
	MaxUserConnections int
	// MaxEventsPerSecond bounds the EVENTs each socket may send, with a
	// token bucket of EventBurst per socket (eventBucket in limits.go,
	// refilled from the coarse clock). An event past it is refused: acked
	// with {"error":"event refused: over MAX_EVENTS_PER_SECOND (N/s,
	// EVENT_BURST B)"} when the client asked for an ack, dropped
	// otherwise. Refused events are charged too; a socket whose bucket
	// would go more than EventBurst events into debt is disconnected with
	// reason ReasonEventFlood (DISCONNECT, then the connection closes).
	// The client's ACKs are not charged. At most MaxEventRate. Default 0:
	// off (env MAX_EVENTS_PER_SECOND). Set it before Serve.
	MaxEventsPerSecond float64
	// EventBurst is how many events a socket may send at once under
	// MaxEventsPerSecond, and the debt past which it is disconnected. At
	// most MaxEventBurst. Default MaxEventsPerSecond rounded up, at least
	// 1 (env EVENT_BURST).
	EventBurst int

	mu       sync.RWMutex // guards nsps and dynamic children of patterns
	nsps     map[string]*Namespace
	patterns []*Namespace // names with '*': children are created on first CONNECT

	// refused counts the CONNECTs refused by the limits, by refusal.
	refused [refusedKinds]atomic.Uint64
	// users counts the sockets of each user for MaxUserConnections
	// (users.go): one lock, taken when a socket of a user connects or
	// leaves, never by a message or a broadcast.
	users counts[string]
	// limitLogged is when a refusal for MaxNamespaces was last logged
	// (monotonic nanoseconds), so that a flood logs once a minute.
	limitLogged atomic.Int64

	slots chan struct{} // one per namespace-wide broadcast not yet delivered

	recOnce sync.Once
	rec     *recovery // nil when Recovery is off

	evOnce sync.Once
	ev     eventLimit // MaxEventsPerSecond, worked out by eventLimit
	// floodLogged is when a flood disconnect was last logged (Unix ns of
	// the coarse clock), so that floods log once a minute.
	floodLogged atomic.Int64

	obs atomic.Pointer[Observer] // see Observe
}

// ReasonEventFlood is the disconnect reason (OnDisconnect) of a socket
// that kept sending events past MaxEventsPerSecond.
const ReasonEventFlood = "event flood"

// Adapter connects a SocketIO to the other servers of a cluster.
type Adapter interface {
	// Publish hands b to the other servers. It is called from the
	// goroutine that broadcasts, must not block on the network, and must
	// copy what it keeps of b.
	Publish(b *Broadcast)
}

// Defaults of the namespace limits.
const (
	DefaultMaxNamespaces = 10000
	DefaultMaxNameBytes  = 256
)

// refusal is why a CONNECT got no namespace.
type refusal int

const (
	refusedUnknown refusal = iota // no such namespace: not counted here
	refusedName                   // longer than MaxNameBytes
	refusedLimit                  // MaxNamespaces namespaces exist
	refusedKinds
)

// limitLogEvery is how often a flood of CONNECTs refused for
// MaxNamespaces is logged.
const limitLogEvery = time.Minute

// NewSocketIO returns a Socket.IO server on srv with the default namespace
// "/" already declared. Mount it with srv.Handle(path, io).
func NewSocketIO(srv *Server) *SocketIO {
	io := &SocketIO{srv: srv, ConnectTimeout: DefaultConnectTimeout, nsps: make(map[string]*Namespace),
		MaxNamespaces: DefaultMaxNamespaces, MaxNameBytes: DefaultMaxNameBytes,
		slots: make(chan struct{}, maxQueuedBroadcasts)}
	io.Of("/")
	return io
}

// Server returns the reactor server io runs on.
func (io *SocketIO) Server() *Server { return io.srv }

// Of returns the namespace called name, declaring it if needed. A name
// containing '*' is a pattern ("/org-*"): every namespace that matches it
// is created on its first CONNECT with the pattern's hooks. Of is meant for
// setup, before Serve; the hooks of a namespace must not change afterwards.
// It panics on a name the packet encoder cannot write (one with a ',', see
// socketio.CheckNamespace).
func (io *SocketIO) Of(name string) *Namespace {
	if !strings.HasPrefix(name, "/") {
		name = "/" + name
	}
	if err := socketio.CheckNamespace([]byte(name)); err != nil {
		panic("BUG: loop: namespace " + strconv.Quote(name) + ": " + err.Error())
	}
	io.mu.Lock()
	defer io.mu.Unlock()
	if strings.Contains(name, "*") {
		for _, p := range io.patterns {
			if p.name == name {
				return p
			}
		}
		n := io.newNamespace(name, nil)
		io.patterns = append(io.patterns, n)
		return n
	}
	if n := io.nsps[name]; n != nil {
		return n
	}
	n := io.newNamespace(name, nil)
	io.nsps[name] = n
	return n
}

func (io *SocketIO) newNamespace(name string, parent *Namespace) *Namespace {
	n := &Namespace{io: io, name: name, nameBytes: []byte(name), id: allocID(), parent: parent, events: make(map[string]EventHandler)}
	n.ctr = make([]*nsCounters, io.srv.cfg.EventLoops)
	for i := range n.ctr {
		n.ctr[i] = new(nsCounters)
	}
	if parent != nil {
		n.Use, n.UseAsync, n.OnConnect, n.OnDisconnect, n.events, n.OnAny = parent.Use, parent.UseAsync, parent.OnConnect, parent.OnDisconnect, parent.events, parent.OnAny
	}
	return n
}

// acquire finds the namespace for a CONNECT, creating a child of a
// matching pattern on first use, and holds a child (Namespace.refs) so
// that it cannot be removed before the CONNECT has added its socket or
// called release. It returns nil and why for a namespace it refuses.
//
// The hold is taken under io.mu (the read lock is enough: refs is atomic)
// and removal takes the write lock and checks refs again, so a CONNECT
// racing the removal of its namespace either holds the old one, which then
// stays, or finds it gone and creates a fresh one: never a removed one.
func (io *SocketIO) acquire(name []byte) (*Namespace, refusal) {
	io.mu.RLock()
	n := io.nsps[string(name)]
	if n != nil && n.parent != nil {
		n.refs.Add(1)
	}
	pats := io.patterns
	io.mu.RUnlock()
	if n != nil {
		return n, 0
	}
	if len(name) > io.MaxNameBytes {
		io.refused[refusedName].Add(1)
		return nil, refusedName
	}
	for _, p := range pats {
		if globMatch(p.name, string(name)) {
			return io.createChild(string(name), p)
		}
	}
	return nil, refusedUnknown
}

// createChild creates namespace name from pattern p, or returns it held if
// another CONNECT created it meanwhile.
func (io *SocketIO) createChild(name string, p *Namespace) (*Namespace, refusal) {
	io.mu.Lock()
	defer io.mu.Unlock()
	if n := io.nsps[name]; n != nil {
		if n.parent != nil {
			n.refs.Add(1)
		}
		return n, 0
	}
	if len(io.nsps) >= io.MaxNamespaces {
		io.refused[refusedLimit].Add(1)
		now := time.Now().UnixNano()
		if last := io.limitLogged.Load(); now-last >= int64(limitLogEvery) && io.limitLogged.CompareAndSwap(last, now) {
			io.srv.log.Warn("namespace limit reached: CONNECTs that would create a namespace are refused",
				"max", io.MaxNamespaces, "pattern", p.name, "refused_total", io.refused[refusedLimit].Load())
		}
		return nil, refusedLimit
	}
	n := io.newNamespace(name, p)
	n.refs.Add(1)
	io.nsps[n.name] = n
	if io.OnNamespace != nil {
		io.OnNamespace(n.name)
	}
	return n, 0
}

// release drops a hold taken by acquire (a socket that left, or a CONNECT
// that added none) and removes a child namespace nobody holds any more:
// from the table, its counters folded into its pattern's, its id freed.
// Each reactor has already forgotten its state of the namespace (see
// reactor.forget). Any goroutine; a reactor in practice.
func (io *SocketIO) release(n *Namespace) {
	if n.parent == nil || n.refs.Add(-1) != 0 {
		return
	}
	io.mu.Lock()
	defer io.mu.Unlock()
	if n.refs.Load() != 0 || io.nsps[n.name] != n {
		return // held again meanwhile, or removed by another release
	}
	delete(io.nsps, n.name)
	n.parent.retire(n)
	freeID(n.id)
	if io.OnNamespaceRemoved != nil {
		io.OnNamespaceRemoved(n.name)
	}
}

// Declared reports whether name is a namespace of this server: one that
// exists, or one a declared pattern would create on its first CONNECT (it
// may have sockets on other servers of the cluster). Any goroutine.
func (io *SocketIO) Declared(name string) bool {
	return io.Namespace(name) != nil || io.matchesPattern(name)
}

// matchesPattern reports whether name matches a declared namespace pattern.
func (io *SocketIO) matchesPattern(name string) bool {
	io.mu.RLock()
	defer io.mu.RUnlock()
	for _, p := range io.patterns {
		if globMatch(p.name, name) {
			return true
		}
	}
	return false
}

// Namespace returns an existing namespace by name, or nil. Any goroutine.
func (io *SocketIO) Namespace(name string) *Namespace {
	io.mu.RLock()
	defer io.mu.RUnlock()
	return io.nsps[name]
}

// globMatch matches name against a pattern where '*' stands for any run
// of bytes (empty included) and every other byte is literal.
//
// It is the classic iterative wildcard match: on a mismatch it goes back
// to the last '*' seen and lets it swallow one more byte of name. Going
// back to the last star only is enough, since any match an earlier star
// could find by swallowing more, the last one finds too. So each step
// advances name or the restart point, and the work is bounded by
// len(pattern)·len(name), linear for the patterns people write: a name
// comes from the client (a CONNECT may name any namespace, up to
// MAX_PAYLOAD bytes), and the recursive match this replaces took
// quadratic time or worse on "/*a*b*c" against a megabyte of "a".
func globMatch(pattern, name string) bool {
	p, n := 0, 0
	star, next := -1, 0 // the last '*' of pattern, and where in name it would end next
	for n < len(name) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, next = p, n
			p++
		case p < len(pattern) && pattern[p] == name[n]:
			p++
			n++
		case star >= 0:
			next++
			p, n = star+1, next
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// GlobMatch reports whether name matches pattern, where '*' stands for any
// run of characters and everything else is literal. It is the matching
// used for namespace patterns; it takes at most len(pattern)·len(name)
// steps, linear in len(name) for the patterns people write.
func GlobMatch(pattern, name string) bool { return globMatch(pattern, name) }

// connectWait is, on one reactor, the queue of the clients of one
// SocketIO that have not joined a namespace yet: the clients opened there
// within ConnectTimeout, in order, with no timer of their own.
type connectWait struct {
	io *SocketIO
	q  expiryQueue[*client]
}

// connectWaitOf returns r's queue for io, made on the first client. The
// queue's timeout is io.ConnectTimeout at that time. Loop goroutine only.
func (r *reactor) connectWaitOf(io *SocketIO) *expiryQueue[*client] {
	for _, w := range r.connectWaits {
		if w.io == io {
			return &w.q
		}
	}
	w := &connectWait{io: io}
	w.q.init(r, io.ConnectTimeout,
		func(c *client) bool { return c.sockets != nil || c.sess().closed },
		func(c *client) { c.sess().Close() })
	r.connectWaits = append(r.connectWaits, w)
	return &w.q
}

// binPacket is a binary packet being reassembled: the header's JSON is
// copied because the attachments arrive in later messages.
type binPacket struct {
	hdr  socketio.Header
	nsp  []byte
	data []byte
	atts [][]byte
}

// OnOpen implements Handler.
func (io *SocketIO) OnOpen(s *Session) {
	c := &s.sio
	s.r.connectWaitOf(io).add(s.r, c)
	if o := io.observer(); o != nil && o.Opened != nil {
		o.Opened(s)
	}
}

// OnClose implements Handler.
func (io *SocketIO) OnClose(s *Session, reason string) {
	c := s.client()
	c.abandonPending()
	for len(c.sockets) > 0 {
		c.sockets[len(c.sockets)-1].remove(reason)
	}
	if c.more != nil {
		c.more.bin = nil
	}
	if o := io.observer(); o != nil && o.Closed != nil {
		o.Closed(s, reason)
	}
}

// OnMessage implements Handler: decode one Socket.IO packet.
func (io *SocketIO) OnMessage(s *Session, data []byte, binary bool) {
	c := s.client()
	if s.Closed() {
		// A closing polling session still hands over the rest of the POST
		// that closed it (a flood disconnect); Node's engine.io drops
		// packets once its socket is not "open". The packets after it
		// would only find no socket and fail the session, and with it
		// the DISCONNECT still queued for the client's next GET.
		return
	}
	if binary {
		c.onAttachment(data)
		return
	}
	if c.bin() != nil {
		// socket.io-parser: "got plaintext data when reconstructing a packet".
		c.fail("text packet while waiting for binary attachments")
		return
	}
	h, err := socketio.Parse(data)
	if err != nil {
		c.fail(err.Error())
		return
	}
	switch h.Type {
	case socketio.Connect:
		c.onConnect(&h)
	case socketio.BinaryEvent, socketio.BinaryAck:
		if err := socketio.CheckPlaceholders(h.Data, h.Attachments); err != nil {
			c.fail(err.Error())
			return
		}
		if h.Attachments == 0 {
			c.dispatch(&h, nil)
			return
		}
		b := &binPacket{hdr: h, nsp: bytes.Clone(h.Namespace), data: bytes.Clone(h.Data)}
		b.hdr.Namespace, b.hdr.Data, b.hdr.Query = b.nsp, b.data, nil
		c.extra().bin = b
	default:
		c.dispatch(&h, nil)
	}
}

// eventLimit returns the event limit worked out from MaxEventsPerSecond
// and EventBurst on first use (perStamp 0: off). Any goroutine.
func (io *SocketIO) eventLimit() *eventLimit {
	io.evOnce.Do(func() { io.ev = newEventLimit(io.MaxEventsPerSecond, io.EventBurst) })
	return &io.ev
}

// onFlood disconnects so, which kept sending events past
// MaxEventsPerSecond, counts it, and logs it at most once a minute.
// On so's reactor.
func (io *SocketIO) onFlood(so *Socket) {
	srv := io.srv
	srv.countRefusal(RefusedEventFlood)
	now := so.c.sess().r.now()
	if last := io.floodLogged.Load(); now-last >= int64(limitLogEvery) && io.floodLogged.CompareAndSwap(last, now) {
		srv.log.Warn("event flood: a socket sent events past MAX_EVENTS_PER_SECOND and was disconnected",
			"max_events_per_second", io.MaxEventsPerSecond, "event_burst", io.ev.burst, "sid", so.c.sess().id,
			"remote", so.c.sess().RemoteAddr(), "disconnected_total", srv.stats.Refusals[RefusedEventFlood].Load())
	}
	so.DisconnectFor(ReasonEventFlood, true)
}

// onAttachment collects one binary attachment of c.bin.
func (c *client) onAttachment(data []byte) {
	b := c.bin()
	if b == nil {
		c.fail("binary message without a binary packet")
		return
	}
	b.atts = append(b.atts, bytes.Clone(data))
	if len(b.atts) == b.hdr.Attachments {
		c.more.bin = nil
		c.dispatch(&b.hdr, b.atts)
	}
}

// fail closes the connection after a packet Node's parser would reject
// (client.ts onerror closes the whole Engine.IO connection).
func (c *client) fail(why string) {
	for _, so := range c.sockets {
		so.ctr().errors.Add(1)
	}
	c.io().srv.log.Debug("socket.io protocol error", "sid", c.sess().id, "err", why)
	c.sess().terminate("parse error", 1002)
}

// socketFor returns the socket of c on namespace nsp.
func (c *client) socketFor(nsp []byte) *Socket {
	for _, so := range c.sockets {
		if so.ns.name == string(nsp) {
			return so
		}
	}
	return nil
}

// dispatch hands a complete non-CONNECT packet to its socket.
func (c *client) dispatch(h *socketio.Header, atts [][]byte) {
	so := c.socketFor(h.Namespace)
	if so == nil {
		// client.ts ondecoded: a packet for a namespace the client has not
		// joined closes the connection.
		c.fail("packet for a namespace that is not connected: " + string(h.Namespace))
		return
	}
	switch h.Type {
	case socketio.Disconnect:
		so.remove("client namespace disconnect")
	case socketio.Event, socketio.BinaryEvent:
		so.onEvent(h, atts)
	case socketio.Ack, socketio.BinaryAck:
		so.onAck(h, atts)
	default:
		c.fail("unexpected packet type " + h.Type.String())
	}
}

// IsSocketID reports whether name has the shape of a socket id (20
// URL-safe base64 characters). Such room names are reserved: a client may
// not join another socket's id room and so read its private messages.
func IsSocketID(name string) bool {
	if len(name) != 20 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
