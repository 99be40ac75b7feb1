package loop

import "sync/atomic"

// Namespace is a Socket.IO namespace. Its hooks are set up before Serve and
// run on the reactor of the socket concerned.
type Namespace struct {
	io        *SocketIO
	name      string
	nameBytes []byte // name, kept as bytes for the encoders
	id        int
	// ctr holds the counters of each reactor, by reactor index; the slice
	// is fixed at creation so scrapes can read it without a lock.
	ctr []*nsCounters

	// Use is the CONNECT middleware: auth is the raw JSON of the CONNECT
	// payload (nil when absent). A non-nil error refuses the connection;
	// a *ConnectError chooses the message and data the client sees.
	Use func(s *Socket, auth []byte) error
	// OnConnect runs after the socket joined.
	OnConnect func(s *Socket)
	// OnDisconnect runs when the socket leaves, with Node's reason
	// ("client namespace disconnect", "server namespace disconnect",
	// "transport close", "ping timeout", ...).
	OnDisconnect func(s *Socket, reason string)
	// OnAny, when set, receives every event that has no handler of its own.
	OnAny EventHandler

	events map[string]EventHandler
	// ackSeq numbers the acks the server asks for in this namespace, for
	// single emits and broadcasts alike (Node's nsp._ids), so that ids
	// never collide on one socket.
	ackSeq atomic.Uint64
}

// EventHandler handles one event from a client. ev and everything it
// points to are valid only during the call.
type EventHandler func(s *Socket, ev *Event)

// On registers h for event name. Setup only, before Serve.
func (n *Namespace) On(name string, h EventHandler) { n.events[name] = h }

// Name returns the namespace name, e.g. "/" or "/admin".
func (n *Namespace) Name() string { return n.name }

// connected returns the number of sockets in the namespace now. Any
// goroutine.
func (n *Namespace) connected() int {
	c := int64(0)
	for _, ctr := range n.ctr {
		c += ctr.connected.Load()
	}
	return int(c)
}

// nsLocal is a namespace's state on one reactor: its sockets and rooms.
// Only that reactor touches it, so a broadcast needs no lock per recipient.
type nsLocal struct {
	sockets []*Socket
	byID    map[string]*Socket
	rooms   map[string]*roomSet
}

// roomSet is the members of one room on one reactor.
type roomSet struct {
	members []*Socket
}

// local returns the state of ns on r, creating it on first use.
func (r *reactor) local(ns *Namespace) *nsLocal {
	for len(r.nsl) <= ns.id {
		r.nsl = append(r.nsl, nil)
	}
	l := r.nsl[ns.id]
	if l == nil {
		l = &nsLocal{byID: make(map[string]*Socket), rooms: make(map[string]*roomSet)}
		r.nsl[ns.id] = l
	}
	return l
}

// peek returns the state of ns on r, or nil if r never had a socket of it.
func (r *reactor) peek(ns *Namespace) *nsLocal {
	if ns.id < len(r.nsl) {
		return r.nsl[ns.id]
	}
	return nil
}
