package loop

import (
	"errors"
	"time"

	"sioloop/protocol/socketio"
)

// ErrAckTimeout is passed to an EmitWithAck callback when the client did
// not acknowledge in time.
var ErrAckTimeout = errors.New("loop: ack timeout")

// ErrDisconnected is passed to an EmitWithAck callback when the socket
// left before acknowledging.
var ErrDisconnected = errors.New("loop: socket disconnected before ack")

// Socket is a client's connection to one namespace. All its methods but
// ID and Do must be called on its reactor: from a hook or an event
// handler of its namespace, an After or EmitWithAck callback, or a
// function passed to Do (see the package documentation).
type Socket struct {
	id string
	ns *Namespace
	c  *client

	// rooms are the joined rooms in join order (the own id room is
	// implicit). A room left from the middle leaves a hole (set == nil)
	// until more than half are holes; then the slice is compacted, so
	// Leave is amortised O(1) and Rooms keeps Node's insertion order.
	rooms []roomRef
	// roomIx maps a joined room's name to its position in rooms. It is
	// made on the first Join, so a socket in no room pays one nil pointer.
	roomIx map[string]int
	idx    int    // position in nsLocal.sockets
	seen   uint64 // broadcast stamp, see reactor.seq

	// batchSeq and batchMask record which broadcasts of the reactor's
	// current delivery batch target this socket (see deliverBatch).
	batchSeq  uint64
	batchMask uint64

	acks *ackList // nil until the first ack is awaited
	// rec is the socket's recovery state, nil when recovery is off.
	rec *socketRec

	// UserID is set by authentication middleware (the JWT "sub"). Once
	// the socket is connected it must not change: the socket is in the
	// room UserRoom(UserID) and counts against MaxUserConnections under
	// it (users.go).
	UserID string
	// Data is free for the application.
	Data any

	gone bool
	// userSlot is set while the socket is counted for its user (see
	// admitUser); remove gives the count back.
	userSlot bool
	// holes counts the left rooms still in rooms. It sits next to gone
	// so the struct keeps its size class.
	holes int32
	// ev is the socket's MaxEventsPerSecond bucket, untouched while the
	// limit is off. Socket fills its 160-byte size class (TestConnSizes):
	// a new field must take the place of one, or go behind a pointer.
	ev eventBucket
}

// roomRef is one room of a socket: the room's set on the reactor and the
// socket's position in its members, so leaving needs no scan.
type roomRef struct {
	name string
	set  *roomSet // nil for a hole
	idx  int
}

// Event is an event received from a client.
type Event struct {
	// Name is the event name.
	Name []byte
	// Args is the raw JSON of the arguments after the name, comma
	// separated, without brackets (empty when there are none). Binary
	// arguments appear as {"_placeholder":true,"num":N}.
	Args []byte
	// Attachments are the binary arguments, by placeholder num.
	Attachments [][]byte
	// HasAck reports whether the client asked for an acknowledgement.
	HasAck bool
	ackID  uint64
}

type pendingAck struct {
	id   uint64
	so   *Socket
	t    timer
	done func(args []byte, atts [][]byte, err error)
}

func newSocket(ns *Namespace, c *client) *Socket {
	so := &Socket{id: c.sess().r.newID(), ns: ns, c: c}
	if l := ns.io.eventLimit(); l.perStamp > 0 {
		so.ev.fill(c.sess().r.now(), l)
	}
	return so
}

// Do runs fn on the socket's reactor, after whatever that reactor is
// running now, unless the socket has left by then. Any goroutine may call
// it; it does not wait. It is how code off the reactor (a goroutine of the
// application, an HTTP handler) acts on a socket, for example to emit the
// result of a FetchSockets it called from its own goroutine.
func (so *Socket) Do(fn func(so *Socket)) {
	so.c.sess().r.post(func(*reactor) {
		if !so.gone {
			fn(so)
		}
	})
}

// ID returns the socket id (not the Engine.IO id). Any goroutine.
func (so *Socket) ID() string { return so.id }

// tableID keys nsLocal.byID (idTable).
func (so *Socket) tableID() string { return so.id }

// Namespace returns the socket's namespace.
func (so *Socket) Namespace() *Namespace { return so.ns }

// Session returns the Engine.IO session under the socket.
func (so *Socket) Session() *Session { return so.c.sess() }

// Connected reports whether the socket is still in its namespace.
func (so *Socket) Connected() bool { return !so.gone }

// add registers so on its reactor.
func (so *Socket) add() {
	l := so.c.sess().r.local(so.ns)
	so.idx = len(l.sockets)
	l.sockets = append(l.sockets, so)
	l.byID.add(so)
	c := so.ctr()
	c.connects.Add(1)
	c.connected.Add(1)
	if io := so.ns.io; io.PrivateRooms && io.OnRoom != nil {
		io.OnRoom(so.ns.name, so.id)
	}
}

// ctr returns the namespace counters of the socket's reactor.
func (so *Socket) ctr() *nsCounters { return so.ns.ctr[so.c.sess().r.idx] }

// remove takes so out of its namespace with reason and runs OnDisconnect.
func (so *Socket) remove(reason string) {
	if so.gone {
		return
	}
	so.gone = true
	r := so.c.sess().r
	if so.userSlot {
		so.userSlot = false
		so.ns.io.users.release(so.UserID)
	}
	if so.rec != nil && so.rec.live {
		// With a store (recovery_store.go): kept for the window, or dropped.
		if recoverableReasons[reason] {
			so.ns.io.rec.store.Save(so.storedSession(true))
		} else {
			so.ns.io.rec.store.Forget(so.rec.pid)
		}
	} else if so.rec != nil && recoverableReasons[reason] {
		if rc := so.ns.io.recovery(); rc != nil {
			rc.persist(&keptSession{ns: so.ns.name, id: so.id, pid: so.rec.pid, rooms: so.Rooms(),
				userID: so.UserID, data: so.Data, since: so.rec.since, at: r.now()})
		}
	}
	l := r.local(so.ns)
	if o := so.ns.io.observer(); o != nil && o.Left != nil {
		for _, room := range so.Rooms() {
			o.Left(so, room)
		}
	}
	so.leaveAll(l)
	last := len(l.sockets) - 1
	if so.idx <= last && l.sockets[so.idx] == so {
		l.sockets[so.idx] = l.sockets[last]
		l.sockets[so.idx].idx = so.idx
		l.sockets[last] = nil
		l.sockets = l.sockets[:last]
	}
	l.byID.del(so)
	if io := so.ns.io; io.PrivateRooms && io.OnRoomRemoved != nil {
		io.OnRoomRemoved(so.ns.name, so.id)
	}
	c := so.ctr()
	c.disconnects.Add(1)
	c.connected.Add(-1)
	cs := so.c.sockets
	for i, x := range cs {
		if x == so {
			so.c.sockets = append(cs[:i], cs[i+1:]...)
			cs[len(cs)-1] = nil // the array outlives the socket (client.first)
			break
		}
	}
	var acks []*pendingAck
	if so.acks != nil {
		acks, so.acks = so.acks.items, nil
	}
	for _, a := range acks {
		r.timers.stop(&a.t)
		a.done(nil, nil, ErrDisconnected)
	}
	if o := so.ns.io.observer(); o != nil && o.Disconnected != nil {
		o.Disconnected(so, reason)
	}
	if so.ns.OnDisconnect != nil {
		so.ns.OnDisconnect(so, reason)
	}
	// Last: a child namespace may be removed here, its counters folded.
	r.forget(l)
	so.ns.io.release(so.ns)
}

// Join adds the socket to room. Joining its own id room is a no-op: every
// socket is always in it. O(1).
func (so *Socket) Join(room string) {
	if so.gone || room == so.id || so.inRoom(room) {
		return
	}
	l := so.c.sess().r.local(so.ns)
	set := l.rooms[room]
	if set == nil {
		set = &roomSet{}
		l.rooms[room] = set
		if h := so.ns.io.OnRoom; h != nil {
			h(so.ns.name, room)
		}
	}
	if so.roomIx == nil {
		so.roomIx = make(map[string]int)
	}
	so.roomIx[room] = len(so.rooms)
	so.rooms = append(so.rooms, roomRef{name: room, set: set, idx: len(set.members)})
	set.members = append(set.members, so)
	if o := so.ns.io.observer(); o != nil && o.Joined != nil {
		o.Joined(so, room)
	}
	if so.rec != nil && so.rec.live {
		so.saveRooms()
	}
}

// Leave removes the socket from room. O(1), amortised.
func (so *Socket) Leave(room string) {
	i, ok := so.roomIx[room]
	if !ok {
		return
	}
	so.detach(so.c.sess().r.local(so.ns), so.rooms[i])
	delete(so.roomIx, room)
	so.rooms[i] = roomRef{}
	so.holes++
	// Trailing holes go at once; inner ones once they are the majority.
	for n := len(so.rooms); n > 0 && so.rooms[n-1].set == nil; n-- {
		so.rooms = so.rooms[:n-1]
		so.holes--
	}
	if so.holes > 0 && int(so.holes)*2 > len(so.rooms) {
		so.compactRooms()
	}
	if o := so.ns.io.observer(); o != nil && o.Left != nil {
		o.Left(so, room)
	}
	if so.rec != nil && so.rec.live {
		so.saveRooms()
	}
}

// compactRooms closes the holes of so.rooms, keeping the join order, and
// renumbers roomIx. It runs once at least half the slots are holes, so its
// O(n) is paid for by the n/2 Leaves before it.
func (so *Socket) compactRooms() {
	k := 0
	for _, ref := range so.rooms {
		if ref.set != nil {
			so.rooms[k] = ref
			so.roomIx[ref.name] = k
			k++
		}
	}
	clear(so.rooms[k:])
	so.rooms = so.rooms[:k]
	so.holes = 0
}

// leaveAll leaves every room, for remove.
func (so *Socket) leaveAll(l *nsLocal) {
	for _, ref := range so.rooms {
		if ref.set != nil {
			so.detach(l, ref)
		}
	}
	so.rooms, so.roomIx, so.holes = nil, nil, 0
}

// detach takes so out of ref's member list in O(1): the last member moves
// into its slot and that member's roomRef learns its new position through
// its own roomIx. An emptied room is dropped from the reactor's index.
func (so *Socket) detach(l *nsLocal, ref roomRef) {
	m := ref.set.members
	last := len(m) - 1
	if ref.idx <= last && m[ref.idx] == so {
		moved := m[last]
		m[ref.idx] = moved
		if moved != so {
			moved.rooms[moved.roomIx[ref.name]].idx = ref.idx
		}
		m[last] = nil
		ref.set.members = m[:last]
	}
	if len(ref.set.members) == 0 {
		delete(l.rooms, ref.name)
		if h := so.ns.io.OnRoomRemoved; h != nil {
			h(so.ns.name, ref.name)
		}
	}
}

// inRoom reports whether so joined room (its own id room aside). O(1).
func (so *Socket) inRoom(room string) bool {
	_, ok := so.roomIx[room]
	return ok
}

// InRoom reports whether the socket is in room; every socket is in its
// own id room. O(1).
func (so *Socket) InRoom(room string) bool { return room == so.id || so.inRoom(room) }

// RoomCount returns the number of rooms the socket joined, its own id
// room not counted. O(1).
func (so *Socket) RoomCount() int { return len(so.rooms) - int(so.holes) }

// Rooms returns the rooms of the socket: its own id room first, then the
// others in the order they were joined (Node's socket.rooms is a Set,
// which iterates in insertion order).
func (so *Socket) Rooms() []string {
	out := make([]string, 0, so.RoomCount()+1)
	out = append(out, so.id)
	for _, r := range so.rooms {
		if r.set != nil {
			out = append(out, r.name)
		}
	}
	return out
}

// Emit sends event name to this client. args is the raw JSON of the
// arguments, comma separated without brackets (may be empty);
// attachments are binary arguments referenced by placeholders in args.
func (so *Socket) Emit(name string, args []byte, attachments [][]byte) {
	so.emit(name, args, attachments, false, 0)
}

func (so *Socket) emit(name string, args []byte, atts [][]byte, hasAck bool, id uint64) {
	if so.gone {
		return
	}
	if !hasAck && so.rec != nil {
		if rc := so.ns.io.recovery(); rc != nil && rc.store != nil {
			so.emitStored(rc, name, args, atts)
			return
		} else if rc != nil {
			so.emitRecorded(rc, name, args, atts)
			return
		}
	}
	r := so.c.sess().r
	b := socketio.AppendEvent(r.enc[:0], nsBytes(so.ns), len(atts), hasAck, id, name, args)
	r.enc = b
	c := so.ctr()
	c.eventsOut.Add(1)
	c.bytesOut.Add(uint64(len(b)))
	so.send(b, atts)
	if o := so.ns.io.observer(); o != nil && o.Sent != nil && !hasAck {
		o.Sent(so, b)
	}
}

// send sends one packet and its attachments.
func (so *Socket) send(pkt []byte, atts [][]byte) {
	s := so.c.sess()
	s.Send(pkt, false)
	for _, a := range atts {
		s.Send(a, true)
	}
}

// nsBytes returns the namespace name for encoding without allocating.
func nsBytes(ns *Namespace) []byte { return ns.nameBytes }

// EmitWithAck sends event name and calls done with the client's ack
// arguments (raw JSON list content), or with ErrAckTimeout after timeout,
// or ErrDisconnected. done runs on the socket's reactor.
func (so *Socket) EmitWithAck(name string, args []byte, atts [][]byte, timeout time.Duration, done func(args []byte, atts [][]byte, err error)) {
	if so.gone {
		done(nil, nil, ErrDisconnected)
		return
	}
	id := so.ns.ackSeq.Add(1) - 1
	so.awaitAck(id, timeout, done)
	so.emit(name, args, atts, true, id)
}

// awaitAck registers a pending ack id for the socket.
func (so *Socket) awaitAck(id uint64, timeout time.Duration, done func(args []byte, atts [][]byte, err error)) {
	r := so.c.sess().r
	a := &pendingAck{id: id, so: so, done: done}
	a.t.index = -1
	a.t.fire = a.onTimeout
	if so.acks == nil {
		so.acks = &ackList{}
	}
	so.acks.items = append(so.acks.items, a)
	r.timers.set(&a.t, r.now()+int64(timeout))
}

func (a *pendingAck) onTimeout(int64) {
	if a.so.takeAck(a.id) != nil {
		a.done(nil, nil, ErrAckTimeout)
	}
}

// takeAck removes and returns the pending ack id.
func (so *Socket) takeAck(id uint64) *pendingAck {
	if so.acks == nil {
		return nil
	}
	items := so.acks.items
	for i, a := range items {
		if a.id == id {
			so.acks.items = append(items[:i], items[i+1:]...)
			return a
		}
	}
	return nil
}

// ackList holds the acks a socket waits for, oldest first. Behind a
// pointer in Socket: most sockets never wait for one, and the 16 bytes
// saved keep Socket in a smaller size class.
type ackList struct {
	items []*pendingAck
}

// Ack answers an event that asked for an acknowledgement. args and
// attachments are as for Emit. A second Ack for the same event is ignored.
// To answer later (after work on another goroutine, back through Do),
// keep a copy of the handler's Event: its Name, Args and Attachments die
// with the call, but the copy still acks, once.
func (so *Socket) Ack(ev *Event, args []byte, attachments [][]byte) {
	if !ev.HasAck || so.gone {
		return
	}
	ev.HasAck = false
	r := so.c.sess().r
	b := socketio.AppendAck(r.enc[:0], nsBytes(so.ns), len(attachments), ev.ackID, args)
	r.enc = b
	so.send(b, attachments)
}

// Disconnect makes the socket leave its namespace: the client gets a
// DISCONNECT packet. With close, the whole Engine.IO connection closes too.
func (so *Socket) Disconnect(close bool) {
	so.DisconnectFor("server namespace disconnect", close)
}

// DisconnectFor is Disconnect with the reason OnDisconnect sees instead
// of "server namespace disconnect", e.g. "token expired". The client sees
// the same DISCONNECT packet (socket.io-client's reason "io server
// disconnect"); a reason that is not one of the recoverable ones keeps no
// session for connection state recovery.
func (so *Socket) DisconnectFor(reason string, close bool) {
	if so.gone {
		return
	}
	r := so.c.sess().r
	r.enc = socketio.AppendDisconnect(r.enc[:0], nsBytes(so.ns))
	so.c.sess().Send(r.enc, false)
	so.remove(reason)
	if close {
		so.c.sess().Close()
	}
}

// onEvent dispatches an EVENT to its handler.
func (so *Socket) onEvent(h *socketio.Header, atts [][]byte) {
	name, args, err := socketio.SplitEvent(h.Data)
	if err != nil {
		so.c.fail(err.Error())
		return
	}
	c := so.ctr()
	c.eventsIn.Add(1)
	c.bytesIn.Add(uint64(len(h.Data)))
	// io.ev is read without its sync.Once: newSocket ran it on this
	// reactor before the socket could receive anything.
	if l := &so.ns.io.ev; l.perStamp > 0 && !so.admitEvent(h, l) {
		return
	}
	if o := so.ns.io.observer(); o != nil && o.Received != nil {
		o.Received(so, h.Data)
	}
	hd := so.ns.events[string(name)]
	if hd == nil {
		hd = so.ns.OnAny
	}
	if hd == nil {
		return
	}
	// The reactor's Event is reused: handlers may not keep it, and a
	// pointer to a local would escape through the func value.
	r := so.c.sess().r
	ev := &r.ev
	*ev = Event{Name: name, Args: args, Attachments: atts, HasAck: h.HasAck, ackID: h.AckID}
	hd(so, ev)
	*ev = Event{}
}

// admitEvent charges an EVENT to the socket's MaxEventsPerSecond bucket
// and reports whether it may go to its handler. A refused event is acked
// with l.refusal when the client asked for an ack, dropped otherwise; a
// flood disconnects the socket (DISCONNECT, then the Engine.IO connection
// closes: socket.io-client reports "io server disconnect" and does not
// reconnect by itself). Both are counted; ACKs from the client (answers to
// EmitWithAck) are not charged: their number is the server's doing.
func (so *Socket) admitEvent(h *socketio.Header, l *eventLimit) bool {
	r := so.c.sess().r
	switch so.ev.take(r.now(), l) {
	case eventAccepted:
		return true
	case eventRefused:
		r.ctr.eventsRefused.Add(1)
		if h.HasAck {
			r.enc = socketio.AppendAck(r.enc[:0], nsBytes(so.ns), 0, h.AckID, l.refusal)
			so.c.sess().Send(r.enc, false)
		}
		return false
	}
	r.ctr.eventsRefused.Add(1)
	so.ns.io.onFlood(so)
	return false
}

// onAck completes a pending EmitWithAck.
func (so *Socket) onAck(h *socketio.Header, atts [][]byte) {
	if !h.HasAck {
		return
	}
	a := so.takeAck(h.AckID)
	if a == nil {
		return
	}
	so.c.sess().r.timers.stop(&a.t)
	args, err := socketio.SplitAck(h.Data)
	if err != nil {
		so.c.fail(err.Error())
		return
	}
	a.done(args, atts, nil)
}

// After runs fn on the socket's reactor once d has passed, unless the
// socket has left by then. It is for application timers; the reactor's
// timer heap drives it, no Go timer is created.
func (so *Socket) After(d time.Duration, fn func(so *Socket)) {
	r := so.c.sess().r
	t := &timer{index: -1}
	t.fire = func(int64) {
		if !so.gone {
			fn(so)
		}
	}
	r.timers.set(t, r.now()+int64(d))
}
