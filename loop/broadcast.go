package loop

import (
	"errors"
	"math/bits"
	"slices"
	"sync"
	"sync/atomic"

	"sioloop/protocol/engineio"
	"sioloop/protocol/socketio"
	"sioloop/protocol/wsframe"
)

// Broadcast describes one event sent to many sockets of a namespace.
type Broadcast struct {
	// Namespace is the target namespace; default "/".
	Namespace string
	// Rooms restricts the target to sockets in any of these rooms (a room
	// may be a socket id); empty means every socket of the namespace.
	Rooms []string
	// Except removes sockets in any of these rooms from the target.
	Except []string
	// Volatile packets are dropped for a client that cannot take them now
	// (a polling client with no pending GET, or one over its outbound cap)
	// instead of queued.
	Volatile bool
	// Local keeps the broadcast on this server: it is not handed to the
	// cluster Adapter (set it for broadcasts that came from the cluster).
	Local bool
	// Event is the event name; Args the raw JSON arguments after it,
	// comma separated without brackets; Attachments the binary arguments
	// referenced by placeholders in Args.
	Event       string
	Args        []byte
	Attachments [][]byte
	// Offset is the stream entry ID ("<ms>-<seq>") of a broadcast read
	// from another server's entry with SocketIO.Sessions: its offset for
	// connection state recovery. Ignored otherwise.
	Offset string
}

// ErrUnknownNamespace is returned by Broadcast for a namespace that was
// never declared or connected to.
var ErrUnknownNamespace = errors.New("loop: unknown namespace")

// ErrServerClosed is returned by Broadcast once Shutdown has begun.
var ErrServerClosed = errors.New("loop: server shutting down")

// ErrOnReactor is returned by the operations that wait for the reactors
// (FetchSockets, AllRooms, BroadcastWithAck, Server.Shutdown and
// Server.OutboundQueued) when they are called on a reactor: from an event
// handler, a hook or a function passed to Socket.Do. Waiting there would
// deadlock, on the caller's own reactor or on one that waits for it. Call
// them from another goroutine (see the package documentation).
var ErrOnReactor = errors.New("loop: called on a reactor: this operation waits for the reactors; call it from another goroutine")

// ErrReservedEvent is returned by Broadcast for an event name that clients
// reserve (connect, disconnect, ...).
var ErrReservedEvent = errors.New("loop: reserved event name")

// encodedBroadcast is a broadcast encoded once for every recipient: the
// complete WebSocket frames, and the same packets in polling form. Both
// are immutable once built and shared by all reactors.
type encodedBroadcast struct {
	ns       *Namespace
	rooms    []string
	except   []string
	volatile bool
	// off is the broadcast's offset, the last argument of its event, when
	// connection state recovery records it; 0 otherwise.
	off    uint64
	frames []byte // text frame "4<packet>", then one binary frame per attachment
	poll   []byte // the same packets, joined by 0x1e, binary as b<base64>

	recipients atomic.Int64
	// at is when it was encoded (monoNow), for the timing histograms
	// (timing.go); left counts the reactors yet to deliver it, when it
	// goes to every reactor (toReactors), else 0.
	at   int64
	left atomic.Int32
}

// Broadcast encodes b once and has every reactor deliver it to its own
// target sockets, and returns the number of recipients. Any goroutine may
// call it, an event handler included, and it never waits for the
// caller's own reactor:
//
//   - From any goroutine but a reactor, a broadcast to a whole namespace
//     (no Rooms, no Except, not Volatile) returns once it is queued to
//     every reactor, with the number of sockets connected (as Node's emit
//     returns before the sockets are written); at most
//     maxQueuedBroadcasts such broadcasts wait undelivered, past that the
//     caller waits for one to be delivered. Any other broadcast returns
//     once every reactor has delivered it, with the exact count.
//   - On a reactor (an event handler, a hook, a job posted with
//     Socket.Do), the reactor's own sockets get it at once, in order with
//     the handler's emits, and the other reactors get it queued: Broadcast
//     waits for none of them, nor for a slot. A whole-namespace broadcast
//     returns the number of sockets connected; any other returns only the
//     recipients on the caller's reactor.
//   - With SocketIO.Sessions, a replayable broadcast (not Volatile) goes to
//     the store first and is delivered once it has its offset
//     (recovery_store.go): on a reactor, a broadcast to rooms then counts
//     no recipients; elsewhere it waits for its delivery as above.
func (io *SocketIO) Broadcast(b *Broadcast) (int, error) {
	nsName := b.Namespace
	if nsName == "" {
		nsName = "/"
	}
	if io.srv.draining.Load() {
		return 0, ErrServerClosed
	}
	ns := io.Namespace(nsName)
	if ns == nil {
		if !io.matchesPattern(nsName) {
			return 0, ErrUnknownNamespace
		}
		// A pattern namespace nobody joined here yet: other servers may
		// have sockets in it.
		if !b.Local && io.Adapter != nil {
			io.Adapter.Publish(b)
		}
		return 0, nil
	}
	if socketio.IsReservedEvent([]byte(b.Event)) {
		return 0, ErrReservedEvent
	}
	if rc := io.recovery(); rc != nil && rc.store != nil && !b.Volatile {
		// The store publishes it to the other servers itself.
		return io.broadcastStored(rc, ns, b)
	}
	if !b.Local && io.Adapter != nil {
		io.Adapter.Publish(b)
	}
	if rc := io.recovery(); rc != nil && !b.Volatile {
		return io.broadcastRecorded(rc, ns, b)
	}
	eb := encodeBroadcast(ns, b)
	io.srv.broadcasts.Add(1)
	reactors := *io.srv.reactors.Load()
	eb.toReactors(len(reactors))
	whole := len(b.Rooms) == 0 && len(b.Except) == 0 && !b.Volatile
	if me := io.srv.onReactor(); me != nil {
		// Delivered after Broadcast returns: the caller may reuse b.
		eb.rooms, eb.except = slices.Clone(eb.rooms), slices.Clone(eb.except)
		n := me.deliverNow(eb)
		for _, r := range reactors {
			if r != me {
				r.enqueue(job{eb: eb})
			}
		}
		if whole {
			n = ns.connected()
		}
		return n, nil
	}
	if whole {
		// The recipients are known without walking the reactors (volatile
		// broadcasts may drop for some clients, so they are not), so the
		// caller does not wait for delivery. The reactors then find
		// several broadcasts queued and give each client all of them in
		// one writev.
		release := io.holdSlot(len(reactors))
		n := ns.connected()
		for _, r := range reactors {
			r.enqueue(job{eb: eb, done: release})
		}
		return n, nil
	}
	var wg sync.WaitGroup
	for _, r := range reactors {
		wg.Add(1)
		r.enqueue(job{eb: eb, done: wg.Done})
	}
	wg.Wait()
	return int(eb.recipients.Load()), nil
}

// maxQueuedBroadcasts bounds the namespace-wide broadcasts accepted from
// goroutines other than the reactors but not yet delivered by every
// reactor (see Broadcast). Broadcasts made on a reactor are not counted:
// waiting for a slot there could wait for the caller itself.
const maxQueuedBroadcasts = 256

// deliverNow delivers eb to r's target sockets at once and returns how
// many it reached. Called while r delivers a batch (from a hook that a
// delivery ran), it queues eb behind that batch instead and returns 0.
// Reactor only.
func (r *reactor) deliverNow(eb *encodedBroadcast) int {
	if r.delivering {
		r.enqueue(job{eb: eb})
		return 0
	}
	ebs := [1]*encodedBroadcast{eb}
	before := eb.recipients.Load()
	r.deliverBatch(ebs[:])
	return int(eb.recipients.Load() - before)
}

// encodeBroadcast encodes b for every recipient, as an event without ack.
func encodeBroadcast(ns *Namespace, b *Broadcast) *encodedBroadcast {
	return encodeEvent(ns, b, false, 0, 0)
}

// encodeEvent encodes b once for every recipient, with ack id id when
// hasAck. The packet is encoded after room for the longest frame header,
// which PutHeaderBefore then fills in: the WebSocket frame and the polling
// form share one buffer, and the payload is written once. A non-zero off
// is appended as the event's last argument (connection state recovery).
func encodeEvent(ns *Namespace, b *Broadcast, hasAck bool, id uint64, off uint64) *encodedBroadcast {
	const h = wsframe.MaxServerHeaderSize
	// Room for the header bytes, the quotes, the separators and an
	// offset; escapes in the event name may still grow the buffer.
	buf := make([]byte, h, h+72+len(ns.nameBytes)+len(b.Event)+len(b.Args))
	buf = append(buf, byte(engineio.Message))
	buf = socketio.AppendEvent(buf, ns.nameBytes, len(b.Attachments), hasAck, id, b.Event, b.Args)
	if off != 0 {
		buf = appendOffset(buf, off)
	}
	start := wsframe.PutHeaderBefore(buf, h, true, wsframe.OpText)
	if start < 0 {
		panic("BUG: no room for the frame header of a broadcast")
	}
	eb := &encodedBroadcast{ns: ns, rooms: b.Rooms, except: b.Except, volatile: b.Volatile, off: off, at: monoNow()}
	// Full slice expressions: appending attachments to one form copies it
	// instead of writing over the other.
	eb.frames = buf[start:len(buf):len(buf)]
	eb.poll = buf[h:len(buf):len(buf)]
	for _, a := range b.Attachments {
		eb.frames = wsframe.AppendFrame(eb.frames, wsframe.OpBinary, a)
		eb.poll = engineio.AppendPayloadPacket(eb.poll, false, engineio.Packet{Type: engineio.Message, Data: a, Binary: true})
	}
	return eb
}

// holdSlot waits for one of the slots that bound the namespace-wide
// broadcasts not yet delivered, and returns the done hook that frees it once
// the n reactors that deliver the broadcast have each run it.
func (io *SocketIO) holdSlot(n int) (release func()) {
	io.slots <- struct{}{}
	if n == 0 {
		<-io.slots
		return nil
	}
	var left atomic.Int32
	left.Store(int32(n))
	return func() {
		if left.Add(-1) == 0 {
			<-io.slots
		}
	}
}

// maxBatch is the most broadcasts delivered in one pass; it is the width
// of Socket.batchMask.
const maxBatch = 64

// deliverBatch writes a run of broadcasts to this reactor's target sockets:
// first every broadcast marks its targets, then every touched socket gets
// its frames, in order, with one send: queued into the reactor's io_uring
// (sendring.go) when it has one and the socket has nothing buffered,
// otherwise one Write or Writev. Loop goroutine only.
func (r *reactor) deliverBatch(ebs []*encodedBroadcast) {
	r.delivering = true
	defer func() { r.delivering = false }()
	start := monoNow()
	r.batchSeq++
	bseq := r.batchSeq
	touched := r.touched[:0]
	for j, eb := range ebs {
		l := r.peek(eb.ns)
		if l == nil {
			continue
		}
		r.seq++
		picked := l.pick(r.picked[:0], eb.rooms, eb.except, r.seq)
		bit := uint64(1) << j
		for _, so := range picked {
			if so.batchSeq != bseq {
				so.batchSeq = bseq
				so.batchMask = 0
				touched = append(touched, so)
			}
			so.batchMask |= bit
		}
		clear(picked)
		r.picked = picked[:0]
	}
	if !r.sendRingTried {
		r.sendRingTried = true
		r.openSendRing()
	}
	var sent [maxBatch]int64
	watch := watched(ebs)
	for _, so := range touched {
		r.deliverTo(so, ebs, &sent, watch)
	}
	if r.sendRing != nil {
		r.flushRing()
	}
	r.timeBatch(ebs, start, monoNow(), r.uringNanos)
	r.uringNanos = 0
	clear(touched)
	r.touched = touched[:0]
	var total uint64
	for j, eb := range ebs {
		eb.recipients.Add(sent[j])
		total += uint64(sent[j])
		if c := eb.ns.ctr[r.idx]; sent[j] > 0 {
			c.eventsOut.Add(uint64(sent[j]))
			c.bytesOut.Add(uint64(sent[j]) * uint64(len(eb.poll)))
		}
	}
	r.ctr.broadcasts.Add(uint64(len(ebs)))
	r.ctr.deliveries.Add(total)
}

// pick appends to dst, once each, the sockets of l that rooms and except
// select: those in any of rooms (every socket of l when rooms is empty)
// and in none of except, where a room may be a socket id. It is the one
// room walk of both fan-out and the server-side operations. Sockets are
// stamped with seq (Socket.seen) to skip the excepted ones and those met
// again through another room; seq must be fresh (r.seq++). Loop goroutine
// only.
func (l *nsLocal) pick(dst []*Socket, rooms, except []string, seq uint64) []*Socket {
	if len(rooms) == 0 && len(except) == 0 {
		// Every socket, each listed once: nothing to stamp.
		return append(dst, l.sockets...)
	}
	for _, name := range except {
		if set := l.rooms[name]; set != nil {
			for _, so := range set.members {
				so.seen = seq
			}
		} else if so := l.byID.get(name); so != nil {
			so.seen = seq
		}
	}
	if len(rooms) == 0 {
		for _, so := range l.sockets {
			if so.seen != seq {
				so.seen = seq
				dst = append(dst, so)
			}
		}
		return dst
	}
	for _, name := range rooms {
		if set := l.rooms[name]; set != nil {
			for _, so := range set.members {
				if so.seen != seq {
					so.seen = seq
					dst = append(dst, so)
				}
			}
		} else if so := l.byID.get(name); so != nil && so.seen != seq {
			so.seen = seq
			dst = append(dst, so)
		}
	}
	return dst
}

// deliverTo sends so the broadcasts of its batchMask, counting them in
// sent, and reports each to the Observer when watch is set.
func (r *reactor) deliverTo(so *Socket, ebs []*encodedBroadcast, sent *[maxBatch]int64, watch bool) {
	s := so.c.sess()
	if s.closed || s.closing || so.gone {
		return
	}
	limit := r.srv.cfg.MaxOutboundBytes
	if c := s.ws; c != nil {
		over := c.OutboundBuffered() > limit
		iov := r.iov[:0]
		for m := so.batchMask; m != 0; m &= m - 1 {
			j := bits.TrailingZeros64(m)
			eb := ebs[j]
			if eb.volatile && over {
				r.ctr.volatileDropped.Add(1)
				continue
			}
			if eb.off != 0 && so.replayed(eb.off) {
				continue
			}
			iov = append(iov, eb.frames)
			sent[j]++
			if watch {
				observeSent(so, eb)
			}
		}
		if len(iov) > 0 && r.sendRing != nil && c.OutboundBuffered() == 0 && c.Fd() >= 0 && r.queueSend(so, c, iov) {
			// Sent by flushRing, which also applies the cap.
			clear(iov)
			r.iov = iov[:0]
			return
		}
		var err error
		switch len(iov) {
		case 0:
		case 1:
			_, err = c.Write(iov[0])
		default:
			_, err = c.Writev(iov)
		}
		clear(iov)
		r.iov = iov[:0]
		if err == nil && !s.closed && c.OutboundBuffered() > limit {
			s.terminate("slow consumer", wsframe.ClosePolicyViolation)
		}
		return
	}
	for m := so.batchMask; m != 0 && !s.closed; m &= m - 1 {
		j := bits.TrailingZeros64(m)
		eb := ebs[j]
		if eb.volatile && s.parkedGET() == nil {
			// Node drops a volatile packet when the transport is not writable.
			r.ctr.volatileDropped.Add(1)
			continue
		}
		if eb.off != 0 && so.replayed(eb.off) {
			continue
		}
		s.enqueueEncoded(eb.poll)
		sent[j]++
		if watch {
			observeSent(so, eb)
		}
	}
}
