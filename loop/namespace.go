package loop

import (
	"sync"
	"sync/atomic"
)

// Namespace is a Socket.IO namespace. Its hooks are set up before Serve and
// run on the reactor of the socket concerned.
type Namespace struct {
	io        *SocketIO
	name      string
	nameBytes []byte // name, kept as bytes for the encoders
	id        int    // index of the per-reactor state, reused once the namespace is removed
	// parent is the pattern a child was created from, nil otherwise.
	parent *Namespace
	// refs counts the sockets of a child namespace plus the CONNECTs that
	// hold it while they run; the child is removed when it drops to 0
	// (see SocketIO.acquire and release). Unused for other namespaces.
	refs atomic.Int64
	// retired holds, on a pattern, the counters of its removed children,
	// so that the pattern's sums never go down. Written under io.mu.
	retired nsCounters
	// ctr holds the counters of each reactor, by reactor index; the slice
	// is fixed at creation so scrapes can read it without a lock.
	ctr []*nsCounters

	// Use is the CONNECT middleware: auth is the raw JSON of the CONNECT
	// payload (nil when absent), valid only during the call. A non-nil
	// error refuses the connection; a *ConnectError chooses the message
	// and data the client sees. It runs on the reactor and must not block.
	Use func(s *Socket, auth []byte) error
	// UseAsync is the asynchronous CONNECT middleware, for a check that
	// waits on something (a key fetch, an HTTP call): it runs after Use,
	// on the reactor, and must not block; it answers by calling done,
	// exactly once (a second call is ignored), from any goroutine, at once
	// or later. done(nil) admits the socket, done(err) refuses it as Use's
	// error does. Until done is called the socket is not in its namespace:
	// s may only be read, or given fields (UserID, Data) from the
	// goroutine that calls done, before it calls it; auth is valid only
	// during the call, like Use's. A CONNECT not answered within the
	// SocketIO's ConnectTimeout is refused ("connect timeout"); one whose
	// session closes meanwhile is dropped, and its done does nothing. A
	// second CONNECT to the namespace while the first waits gets the
	// first one's answer.
	UseAsync func(s *Socket, auth []byte, done func(error))
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

// IO returns the server the namespace belongs to.
func (n *Namespace) IO() *SocketIO { return n.io }

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
	// ns owns the entry. Ids are reused once a child namespace is removed,
	// and a broadcast or operation may still hold the removed *Namespace:
	// peek checks the owner so that it never reaches the sockets of the
	// id's next namespace.
	ns      *Namespace
	sockets []*Socket
	byID    idTable[*Socket]
	rooms   map[string]*roomSet
}

// roomSet is the members of one room on one reactor.
type roomSet struct {
	members []*Socket
}

// local returns the state of ns on r, creating it on first use. An entry
// left by an earlier owner of the id is replaced.
func (r *reactor) local(ns *Namespace) *nsLocal {
	for len(r.nsl) <= ns.id {
		r.nsl = append(r.nsl, nil)
	}
	l := r.nsl[ns.id]
	if l == nil || l.ns != ns {
		l = &nsLocal{ns: ns, rooms: make(map[string]*roomSet)}
		r.nsl[ns.id] = l
	}
	return l
}

// peek returns the state of ns on r, or nil if r has no socket of it.
func (r *reactor) peek(ns *Namespace) *nsLocal {
	if ns.id < len(r.nsl) {
		if l := r.nsl[ns.id]; l != nil && l.ns == ns {
			return l
		}
	}
	return nil
}

// forget drops the state of a child namespace on r once its last socket
// there left, so that a removed child leaves nothing on any reactor: each
// reactor forgets its own entry, nobody has to post to the others. Loop
// goroutine only.
func (r *reactor) forget(l *nsLocal) {
	if l.ns.parent != nil && len(l.sockets) == 0 && len(l.rooms) == 0 && r.nsl[l.ns.id] == l {
		r.nsl[l.ns.id] = nil
	}
}

// nsIDs hands out namespace ids. They are process-wide because several
// SocketIOs may share one Server's reactors, and they are reused: the
// per-reactor tables (reactor.nsl) are as long as the most namespaces that
// ever existed at once, not as the number ever created.
var nsIDs struct {
	mu   sync.Mutex
	next int
	free []int
}

func allocID() int {
	nsIDs.mu.Lock()
	defer nsIDs.mu.Unlock()
	if n := len(nsIDs.free); n > 0 {
		id := nsIDs.free[n-1]
		nsIDs.free = nsIDs.free[:n-1]
		return id
	}
	nsIDs.next++
	return nsIDs.next - 1
}

func freeID(id int) {
	nsIDs.mu.Lock()
	nsIDs.free = append(nsIDs.free, id)
	nsIDs.mu.Unlock()
}
