package loop

import (
	"errors"
	"sync"
	"sync/atomic"

	"sioloop/loop/wsframe"
	"sioloop/protocol/engineio"
	"sioloop/protocol/socketio"
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
	dropped    atomic.Int64
}

// Broadcast encodes b once and has every reactor deliver it to its own
// target sockets. It may be called from any goroutine; it returns once
// every reactor has delivered, with the number of recipients.
func (io *SocketIO) Broadcast(b *Broadcast) (int, error) {
	nsName := b.Namespace
	if nsName == "" {
		nsName = "/"
	}
	ns := io.Namespace(nsName)
	if ns == nil {
		return 0, ErrUnknownNamespace
	}
	if socketio.IsReservedEvent([]byte(b.Event)) {
		return 0, ErrReservedEvent
	}
	eb := encodeBroadcast(ns, b)
	io.srv.broadcasts.Add(1)
	var wg sync.WaitGroup
	for _, r := range *io.srv.reactors.Load() {
		wg.Add(1)
		r.post(func(r *reactor) {
			r.deliver(eb)
			wg.Done()
		})
	}
	wg.Wait()
	return int(eb.recipients.Load()), nil
}

func encodeBroadcast(ns *Namespace, b *Broadcast) *encodedBroadcast {
	t := socketio.Event
	if len(b.Attachments) > 0 {
		t = socketio.BinaryEvent
	}
	pkt := []byte{byte(engineio.Message)}
	pkt = socketio.AppendHeader(pkt, t, len(b.Attachments), ns.nameBytes, false, 0)
	pkt = append(pkt, '[')
	pkt = socketio.AppendJSONString(pkt, []byte(b.Event))
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

// deliver writes eb to this reactor's target sockets. Loop goroutine only.
func (r *reactor) deliver(eb *encodedBroadcast) {
	l := r.peek(eb.ns)
	if l == nil {
		return
	}
	r.seq++
	seq := r.seq
	for _, name := range eb.except {
		l.mark(name, seq)
	}
	n := 0
	if len(eb.rooms) == 0 {
		// Iterate backwards: a write can close a slow socket, which
		// swap-removes it from the slice.
		for i := len(l.sockets) - 1; i >= 0; i-- {
			if i >= len(l.sockets) {
				continue
			}
			so := l.sockets[i]
			if so.seen != seq {
				so.seen = seq
				n += r.deliverTo(so, eb)
			}
		}
	} else {
		for _, name := range eb.rooms {
			if set := l.rooms[name]; set != nil {
				for i := len(set.members) - 1; i >= 0; i-- {
					if i >= len(set.members) {
						continue
					}
					so := set.members[i]
					if so.seen != seq {
						so.seen = seq
						n += r.deliverTo(so, eb)
					}
				}
			} else if so := l.byID[name]; so != nil && so.seen != seq {
				so.seen = seq
				n += r.deliverTo(so, eb)
			}
		}
	}
	eb.recipients.Add(int64(n))
	r.ctr.broadcasts.Add(1)
	r.ctr.deliveries.Add(uint64(n))
	if c := eb.ns.ctr[r.idx]; n > 0 {
		c.eventsOut.Add(uint64(n))
		c.bytesOut.Add(uint64(n * len(eb.poll)))
	}
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

// deliverTo sends eb to one socket; it returns 1 if it was sent.
func (r *reactor) deliverTo(so *Socket, eb *encodedBroadcast) int {
	s := so.c.s
	if s.closed || s.closing {
		return 0
	}
	if c := s.ws; c != nil {
		if eb.volatile && c.OutboundBuffered() > r.srv.cfg.MaxOutboundBytes {
			eb.dropped.Add(1)
			r.ctr.volatileDropped.Add(1)
			return 0
		}
		if _, err := c.Write(eb.frames); err != nil {
			return 0
		}
		if c.OutboundBuffered() > r.srv.cfg.MaxOutboundBytes {
			s.terminate("slow consumer", wsframe.ClosePolicyViolation)
		}
		return 1
	}
	if eb.volatile && s.get == nil {
		eb.dropped.Add(1)
		r.ctr.volatileDropped.Add(1)
		return 0
	}
	s.enqueueEncoded(eb.poll)
	return 1
}
