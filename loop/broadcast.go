package loop

import (
	"errors"
	"math/bits"
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
}

// ErrUnknownNamespace is returned by Broadcast for a namespace that was
// never declared or connected to.
var ErrUnknownNamespace = errors.New("loop: unknown namespace")

// ErrServerClosed is returned by Broadcast once Shutdown has begun.
var ErrServerClosed = errors.New("loop: server shutting down")

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
	frames   []byte // text frame "4<packet>", then one binary frame per attachment
	poll     []byte // the same packets, joined by 0x1e, binary as b<base64>

	recipients atomic.Int64
}

// Broadcast encodes b once and has every reactor deliver it to its own
// target sockets. It may be called from any goroutine; it returns once
// every reactor has delivered, with the number of recipients.
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
	if !b.Local && io.Adapter != nil {
		io.Adapter.Publish(b)
	}
	eb := encodeBroadcast(ns, b)
	io.srv.broadcasts.Add(1)
	reactors := *io.srv.reactors.Load()
	if len(b.Rooms) == 0 && len(b.Except) == 0 && !b.Volatile {
		// To the whole namespace (and not volatile, which may drop for
		// some clients): the recipients are known without
		// walking the reactors, so the caller does not wait for delivery
		// (as Node's emit returns before the sockets are written). The
		// reactors then find several broadcasts queued and give each
		// client all of them in one writev. At most maxQueuedBroadcasts
		// wait undelivered; past that the caller waits for a slot.
		io.slots <- struct{}{}
		n := ns.connected()
		left := atomic.Int32{}
		left.Store(int32(len(reactors)))
		release := func() {
			if left.Add(-1) == 0 {
				<-io.slots
			}
		}
		if len(reactors) == 0 {
			<-io.slots
		}
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

// maxQueuedBroadcasts bounds the namespace-wide broadcasts accepted but
// not yet delivered by every reactor (see Broadcast).
const maxQueuedBroadcasts = 256

func encodeBroadcast(ns *Namespace, b *Broadcast) *encodedBroadcast {
	t := socketio.Event
	if len(b.Attachments) > 0 {
		t = socketio.BinaryEvent
	}
	pkt := []byte{byte(engineio.Message)}
	pkt = socketio.AppendHeader(pkt, t, len(b.Attachments), ns.nameBytes, false, 0)
	pkt = append(pkt, '[')
	pkt = socketio.AppendJSONStringOf(pkt, b.Event)
	if len(b.Args) > 0 {
		pkt = append(pkt, ',')
		pkt = append(pkt, b.Args...)
	}
	pkt = append(pkt, ']')

	eb := &encodedBroadcast{ns: ns, rooms: b.Rooms, except: b.Except, volatile: b.Volatile}
	eb.frames = wsframe.AppendFrame(nil, wsframe.OpText, pkt)
	eb.poll = pkt
	for _, a := range b.Attachments {
		eb.frames = wsframe.AppendFrame(eb.frames, wsframe.OpBinary, a)
		eb.poll = append(eb.poll, engineio.Separator)
		eb.poll = engineio.AppendPacket(eb.poll, engineio.Packet{Type: engineio.Message, Data: a, Binary: true})
	}
	return eb
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
	r.batchSeq++
	bseq := r.batchSeq
	touched := r.touched[:0]
	for j, eb := range ebs {
		l := r.peek(eb.ns)
		if l == nil {
			continue
		}
		r.seq++
		seq := r.seq
		for _, name := range eb.except {
			l.mark(name, seq)
		}
		bit := uint64(1) << j
		if len(eb.rooms) == 0 {
			for _, so := range l.sockets {
				touched = so.target(seq, bseq, bit, touched)
			}
			continue
		}
		for _, name := range eb.rooms {
			if set := l.rooms[name]; set != nil {
				for _, so := range set.members {
					touched = so.target(seq, bseq, bit, touched)
				}
			} else if so := l.byID[name]; so != nil {
				touched = so.target(seq, bseq, bit, touched)
			}
		}
	}
	if !r.sendRingTried {
		r.sendRingTried = true
		r.openSendRing()
	}
	var sent [maxBatch]int64
	for _, so := range touched {
		r.deliverTo(so, ebs, &sent)
	}
	if r.sendRing != nil {
		r.flushRing()
	}
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

// target marks so as a recipient of broadcast bit of batch bseq, once per
// broadcast (seq), and adds it to touched the first time in the batch.
func (so *Socket) target(seq, bseq, bit uint64, touched []*Socket) []*Socket {
	if so.seen == seq {
		return touched // excepted, or already reached through another room
	}
	so.seen = seq
	if so.batchSeq != bseq {
		so.batchSeq = bseq
		so.batchMask = 0
		touched = append(touched, so)
	}
	so.batchMask |= bit
	return touched
}

// mark stamps the sockets of room (or the socket with that id) with seq.
func (l *nsLocal) mark(room string, seq uint64) {
	if set := l.rooms[room]; set != nil {
		for _, so := range set.members {
			so.seen = seq
		}
	} else if so := l.byID[room]; so != nil {
		so.seen = seq
	}
}

// deliverTo sends so the broadcasts of its batchMask, counting them in sent.
func (r *reactor) deliverTo(so *Socket, ebs []*encodedBroadcast, sent *[maxBatch]int64) {
	s := so.c.s
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
			iov = append(iov, eb.frames)
			sent[j]++
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
		if eb.volatile && s.get == nil {
			// Node drops a volatile packet when the transport is not writable.
			r.ctr.volatileDropped.Add(1)
			continue
		}
		s.enqueueEncoded(eb.poll)
		sent[j]++
	}
}
