package loop

import (
	"bytes"
	"encoding/json"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"sioloop/protocol/socketio"
	"sioloop/protocol/wsframe"
)

// Target selects sockets of a namespace: those in any of Rooms (every
// socket when Rooms is empty) and in none of Except. A room may be a
// socket id.
type Target struct {
	Namespace string // default "/"
	Rooms     []string
	Except    []string
}

// SocketInfo describes a connected socket, as fetchSockets() returns it.
type SocketInfo struct {
	ID        string   `json:"id"`
	Namespace string   `json:"namespace"`
	Rooms     []string `json:"rooms"`
	Address   string   `json:"address"`
	Transport string   `json:"transport"`
	UserID    string   `json:"userId,omitempty"`
	// Query is the raw query string of the Engine.IO handshake; Issued
	// its time in Unix milliseconds (Node's handshake.query and .issued).
	Query  string `json:"-"`
	Issued int64  `json:"-"`
	// ClientID is the Engine.IO session id under the socket (Node's
	// socket.client.id); empty for sockets of other servers.
	ClientID string `json:"-"`
}

// namespaceFor resolves a Target's namespace for the server-side
// operations; a pattern namespace nobody joined yet is not an error, it
// just has no sockets (nil, nil).
func (io *SocketIO) namespaceFor(name string) (*Namespace, error) {
	if name == "" {
		name = "/"
	}
	if io.srv.draining.Load() {
		return nil, ErrServerClosed
	}
	if ns := io.Namespace(name); ns != nil {
		return ns, nil
	}
	if io.matchesPattern(name) {
		return nil, nil
	}
	return nil, ErrUnknownNamespace
}

// eachReactor runs fn on every reactor and waits for all of them. It must
// not be called on a reactor, where it would wait for itself: its callers
// check onReactor first (once: the check costs a stack trace).
func (io *SocketIO) eachReactor(fn func(r *reactor)) {
	var wg sync.WaitGroup
	for _, r := range *io.srv.reactors.Load() {
		wg.Add(1)
		r.enqueue(job{fn: fn, done: wg.Done})
	}
	wg.Wait()
}

// targets calls fn for every socket of ns on r selected by t, once each.
// fn may remove the socket, and may itself walk rooms (from a hook it
// runs): the sockets are collected first, into a slice of this call's
// own. Loop goroutine only.
func (r *reactor) targets(ns *Namespace, t *Target, fn func(so *Socket)) {
	l := r.peek(ns)
	if l == nil {
		return
	}
	r.seq++
	for _, so := range l.pick(nil, t.Rooms, t.Except, r.seq) {
		if !so.gone {
			fn(so)
		}
	}
}

// FetchSockets lists the sockets of this server selected by t. It waits
// for every reactor, so on a reactor it returns ErrOnReactor: call it from
// another goroutine and hand the result back with Socket.Do.
func (io *SocketIO) FetchSockets(t Target) ([]SocketInfo, error) {
	ns, err := io.namespaceFor(t.Namespace)
	if ns == nil {
		return nil, err
	}
	if io.srv.onReactor() != nil {
		return nil, ErrOnReactor
	}
	var mu sync.Mutex
	var out []SocketInfo
	io.eachReactor(func(r *reactor) {
		r.targets(ns, &t, func(so *Socket) {
			s := so.c.sess()
			info := SocketInfo{ID: so.id, Namespace: ns.name, Rooms: so.Rooms(), Address: s.RemoteAddr(),
				Transport: s.Transport(), UserID: so.UserID, Query: s.query, Issued: s.issued, ClientID: s.id}
			mu.Lock()
			out = append(out, info)
			mu.Unlock()
		})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Join makes the sockets of this server selected by t join rooms, and
// returns how many sockets it reached. Any goroutine; on a reactor it
// does not wait for the reactors (see apply).
func (io *SocketIO) Join(t Target, rooms []string) (int, error) {
	rooms = slices.Clone(rooms) // apply may return before using it
	return io.apply(t, func(so *Socket) {
		for _, room := range rooms {
			so.Join(room)
		}
	})
}

// Leave makes the sockets of this server selected by t leave rooms. Any
// goroutine; on a reactor it does not wait for the reactors (see apply).
func (io *SocketIO) Leave(t Target, rooms []string) (int, error) {
	rooms = slices.Clone(rooms) // apply may return before using it
	return io.apply(t, func(so *Socket) {
		for _, room := range rooms {
			so.Leave(room)
		}
	})
}

// Disconnect disconnects the sockets of this server selected by t (see
// Socket.Disconnect). Any goroutine; on a reactor it does not wait for
// the reactors (see apply).
func (io *SocketIO) Disconnect(t Target, close bool) (int, error) {
	return io.apply(t, func(so *Socket) { so.Disconnect(close) })
}

// apply runs fn on every socket selected by t and returns how many it
// reached. From any goroutine but a reactor it waits until every reactor
// has run it. On a reactor it runs fn on that reactor's sockets at once,
// queues it for the other reactors without waiting, and counts only the
// sockets of the caller's reactor.
func (io *SocketIO) apply(t Target, fn func(so *Socket)) (int, error) {
	ns, err := io.namespaceFor(t.Namespace)
	if ns == nil {
		return 0, err
	}
	if me := io.srv.onReactor(); me != nil {
		// The other reactors run fn after apply returns: the caller may
		// reuse t's slices.
		t.Rooms, t.Except = slices.Clone(t.Rooms), slices.Clone(t.Except)
		n := 0
		me.targets(ns, &t, func(so *Socket) {
			fn(so)
			n++
		})
		for _, r := range *io.srv.reactors.Load() {
			if r != me {
				r.post(func(r *reactor) { r.targets(ns, &t, fn) })
			}
		}
		return n, nil
	}
	var n atomic.Int64
	io.eachReactor(func(r *reactor) {
		r.targets(ns, &t, func(so *Socket) {
			fn(so)
			n.Add(1)
		})
	})
	return int(n.Load()), nil
}

// AllRooms lists the rooms of namespace ns on this server (socket id rooms
// included, as Node's adapter.rooms does). It waits for every reactor, so
// on a reactor it returns ErrOnReactor.
func (io *SocketIO) AllRooms(ns string) ([]string, error) {
	n, err := io.namespaceFor(ns)
	if n == nil {
		return nil, err
	}
	if io.srv.onReactor() != nil {
		return nil, ErrOnReactor
	}
	var mu sync.Mutex
	set := map[string]struct{}{}
	io.eachReactor(func(r *reactor) {
		l := r.peek(n)
		if l == nil {
			return
		}
		mu.Lock()
		for name := range l.rooms {
			set[name] = struct{}{}
		}
		for so := range l.byID.all() {
			set[so.id] = struct{}{}
		}
		mu.Unlock()
	})
	out := make([]string, 0, len(set))
	for name := range set {
		out = append(out, name)
	}
	sort.Strings(out)
	return out, nil
}

// AckResponse is one client's answer to a broadcast with ack.
type AckResponse struct {
	ID   string          `json:"id"`   // socket id
	Args json.RawMessage `json:"args"` // JSON array of the ack arguments
}

// BroadcastWithAck sends b (encoded once, with one ack id shared by every
// recipient, as Node's adapter does) to the sockets of this server it
// targets, and waits up to timeout for their acknowledgements, like Node's
// io.timeout(ms).emitWithAck(). It returns the answers and how many
// recipients did not answer in time. It waits for the reactors, so on a
// reactor it returns ErrOnReactor; a handler asks one client with
// Socket.EmitWithAck, whose callback runs on the reactor.
func (io *SocketIO) BroadcastWithAck(b *Broadcast, timeout time.Duration) ([]AckResponse, int, error) {
	ns, err := io.namespaceFor(b.Namespace)
	if ns == nil {
		return nil, 0, err
	}
	if socketio.IsReservedEvent([]byte(b.Event)) {
		return nil, 0, ErrReservedEvent
	}
	if io.srv.onReactor() != nil {
		return nil, 0, ErrOnReactor
	}
	id := ns.ackSeq.Add(1) - 1
	eb := encodeEvent(ns, b, true, id, 0)
	io.srv.broadcasts.Add(1)

	col := &ackCollector{all: make(chan struct{})}
	tgt := Target{Namespace: b.Namespace, Rooms: b.Rooms, Except: b.Except}
	io.eachReactor(func(r *reactor) {
		r.targets(ns, &tgt, func(so *Socket) {
			s := so.c.sess()
			if s.closed || s.closing {
				return
			}
			col.expect()
			so.awaitAck(id, timeout, func(args []byte, _ [][]byte, err error) {
				col.answer(so.id, args, err)
			})
			if s.ws != nil {
				if _, err := s.ws.Write(eb.frames); err == nil && s.ws.OutboundBuffered() > r.srv.cfg.MaxOutboundBytes {
					s.terminate("slow consumer", wsframe.ClosePolicyViolation)
				}
			} else {
				s.enqueueEncoded(eb.poll)
			}
		})
		r.endBatch()
	})
	col.sealed()
	<-col.all
	return col.responses, col.timeouts, nil
}

// ackCollector gathers the answers of a broadcast with ack from every
// reactor.
type ackCollector struct {
	mu        sync.Mutex
	expected  int
	answered  int
	sealedAll bool
	responses []AckResponse
	timeouts  int
	all       chan struct{}
	closed    bool
}

func (c *ackCollector) expect() {
	c.mu.Lock()
	c.expected++
	c.mu.Unlock()
}

func (c *ackCollector) answer(id string, args []byte, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.answered++
	if err != nil {
		c.timeouts++
	} else {
		c.responses = append(c.responses, AckResponse{ID: id, Args: append(append([]byte{'['}, args...), ']')})
	}
	c.check()
}

// sealed records that every reactor has registered its recipients.
func (c *ackCollector) sealed() {
	c.mu.Lock()
	c.sealedAll = true
	c.check()
	c.mu.Unlock()
}

func (c *ackCollector) check() {
	if c.sealedAll && c.answered == c.expected && !c.closed {
		c.closed = true
		sort.Slice(c.responses, func(i, j int) bool { return bytes.Compare([]byte(c.responses[i].ID), []byte(c.responses[j].ID)) < 0 })
		close(c.all)
	}
}
