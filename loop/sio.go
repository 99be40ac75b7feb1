package loop

import (
	"bytes"
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
	// ConnectTimeout closes a client that joins no namespace in time.
	// Default 45s.
	ConnectTimeout time.Duration

	mu       sync.RWMutex // guards nsps and dynamic children of patterns
	nsps     map[string]*Namespace
	patterns []*Namespace // names with '*': children are created on first CONNECT

	slots chan struct{} // one per namespace-wide broadcast not yet delivered
}

// Adapter connects a SocketIO to the other servers of a cluster.
type Adapter interface {
	// Publish hands b to the other servers. It is called from the
	// goroutine that broadcasts, must not block on the network, and must
	// copy what it keeps of b.
	Publish(b *Broadcast)
}

// nspSeq numbers namespaces process-wide; reactors index their per-namespace
// state by that number.
var nspSeq atomic.Int64

// NewSocketIO returns a Socket.IO server on srv with the default namespace
// "/" already declared. Mount it with srv.Handle(path, io).
func NewSocketIO(srv *Server) *SocketIO {
	io := &SocketIO{srv: srv, ConnectTimeout: DefaultConnectTimeout, nsps: make(map[string]*Namespace),
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
func (io *SocketIO) Of(name string) *Namespace {
	if !strings.HasPrefix(name, "/") {
		name = "/" + name
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
	n := &Namespace{io: io, name: name, nameBytes: []byte(name), id: int(nspSeq.Add(1) - 1), events: make(map[string]EventHandler)}
	n.ctr = make([]*nsCounters, io.srv.cfg.EventLoops)
	for i := range n.ctr {
		n.ctr[i] = new(nsCounters)
	}
	if parent != nil {
		n.Use, n.OnConnect, n.OnDisconnect, n.events, n.OnAny = parent.Use, parent.OnConnect, parent.OnDisconnect, parent.events, parent.OnAny
	}
	return n
}

// lookup finds the namespace for a CONNECT, creating a child of a matching
// pattern on first use. It returns nil for an unknown namespace.
func (io *SocketIO) lookup(name []byte) *Namespace {
	io.mu.RLock()
	n := io.nsps[string(name)]
	pats := io.patterns
	io.mu.RUnlock()
	if n != nil || len(pats) == 0 {
		return n
	}
	for _, p := range pats {
		if globMatch(p.name, string(name)) {
			io.mu.Lock()
			defer io.mu.Unlock()
			if n := io.nsps[string(name)]; n != nil {
				return n
			}
			n := io.newNamespace(string(name), p)
			io.nsps[n.name] = n
			if io.OnNamespace != nil {
				io.OnNamespace(n.name)
			}
			return n
		}
	}
	return nil
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

// client is the Socket.IO state of one Engine.IO session.
type client struct {
	io      *SocketIO
	s       *Session
	sockets []*Socket // one per connected namespace; usually one
	// bin is a BINARY_EVENT/BINARY_ACK waiting for its attachments.
	bin          *binPacket
	connectTimer timer
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
	c := &client{io: io, s: s}
	c.connectTimer.index = -1
	c.connectTimer.fire = c.onConnectTimeout
	s.SetContext(c)
	s.r.timers.set(&c.connectTimer, s.r.now()+int64(io.ConnectTimeout))
}

func (c *client) onConnectTimeout(int64) {
	if len(c.sockets) == 0 {
		c.s.Close()
	}
}

// OnClose implements Handler.
func (io *SocketIO) OnClose(s *Session, reason string) {
	c, _ := s.Context().(*client)
	if c == nil {
		return
	}
	s.r.timers.stop(&c.connectTimer)
	for len(c.sockets) > 0 {
		c.sockets[len(c.sockets)-1].remove(reason)
	}
	c.bin = nil
}

// OnMessage implements Handler: decode one Socket.IO packet.
func (io *SocketIO) OnMessage(s *Session, data []byte, binary bool) {
	c, _ := s.Context().(*client)
	if c == nil {
		return
	}
	if binary {
		c.onAttachment(data)
		return
	}
	if c.bin != nil {
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
		c.bin = b
	default:
		c.dispatch(&h, nil)
	}
}

// onAttachment collects one binary attachment of c.bin.
func (c *client) onAttachment(data []byte) {
	b := c.bin
	if b == nil {
		c.fail("binary message without a binary packet")
		return
	}
	b.atts = append(b.atts, bytes.Clone(data))
	if len(b.atts) == b.hdr.Attachments {
		c.bin = nil
		c.dispatch(&b.hdr, b.atts)
	}
}

// fail closes the connection after a packet Node's parser would reject
// (client.ts onerror closes the whole Engine.IO connection).
func (c *client) fail(why string) {
	for _, so := range c.sockets {
		so.ctr().errors.Add(1)
	}
	c.io.srv.log.Debug("socket.io protocol error", "sid", c.s.id, "err", why)
	c.s.terminate("parse error", 1002)
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

// onConnect joins a namespace (socket.io client.ts connect / namespace.ts _add).
func (c *client) onConnect(h *socketio.Header) {
	r := c.s.r
	var ns *Namespace
	if len(h.Query) == 0 {
		// On EIO4 Node takes "/admin?x" as the whole (unknown) name.
		ns = c.io.lookup(h.Namespace)
	}
	if ns == nil {
		name := h.Namespace
		if len(h.Query) > 0 {
			name = append(append([]byte(nil), name...), h.Query...)
		}
		r.enc = socketio.AppendConnectError(r.enc[:0], name, "Invalid namespace", nil)
		c.s.Send(r.enc, false)
		return
	}
	if so := c.socketFor(h.Namespace); so != nil {
		r.enc = socketio.AppendConnect(r.enc[:0], h.Namespace, so.id)
		c.s.Send(r.enc, false)
		return
	}
	so := newSocket(ns, c)
	if ns.Use != nil {
		if err := ns.Use(so, h.Data); err != nil {
			ce, ok := err.(*ConnectError)
			if !ok {
				ce = &ConnectError{Message: err.Error()}
			}
			so.ctr().errors.Add(1)
			r.enc = socketio.AppendConnectError(r.enc[:0], h.Namespace, ce.Message, ce.Data)
			c.s.Send(r.enc, false)
			return
		}
	}
	if c.s.Closed() {
		return
	}
	r.timers.stop(&c.connectTimer)
	c.sockets = append(c.sockets, so)
	so.add()
	r.enc = socketio.AppendConnect(r.enc[:0], h.Namespace, so.id)
	c.s.Send(r.enc, false)
	if ns.OnConnect != nil {
		ns.OnConnect(so)
	}
}

// ConnectError refuses a CONNECT from a namespace middleware: the client
// receives CONNECT_ERROR {"message":Message,"data":Data}.
type ConnectError struct {
	Message string
	Data    []byte // raw JSON, or nil to omit
}

func (e *ConnectError) Error() string { return "loop: connect refused: " + e.Message }

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
