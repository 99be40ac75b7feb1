package loop

import (
	"fmt"
	"syscall"

	"github.com/panjf2000/gnet/v2"

	"sioloop/loop/uring"
)

// Broadcast frames go out through a per-reactor io_uring when the kernel
// allows it: one io_uring_enter sends to up to sendRingEntries sockets, where
// write(2) would cost a system call each (on the benchmark machine of the
// README a system call is ~1 µs and a loopback write 8-12 µs; a ring send
// measured 4.6 µs against 7.6 µs for write(2), loop/uring BenchmarkSend).
//
// Only sockets with nothing in gnet's outbound buffer go through the ring:
// the others append to that buffer, which keeps every connection's bytes in
// order. Flush waits for all the sends, so nothing is in flight once a batch
// is delivered, and what the kernel could not take is handed to gnet, which
// buffers it and waits for EPOLLOUT as for any short write.

// sendRingEntries is the most sends per io_uring_enter. 256 keeps the ring
// at ~100 KiB per reactor; a 5,000-recipient broadcast takes 20 submissions.
const sendRingEntries = 256

// ringSend is one queued send: the socket and its frames in r.ringBufs.
type ringSend struct {
	so          *Socket
	first, last int // r.ringBufs[first:last]
	total       int // bytes
	completed   bool
}

// openSendRing sets up the reactor's ring unless the configuration or the
// kernel says no; the reactor then writes with write(2).
func (r *reactor) openSendRing() {
	if r.srv.cfg.DisableIOURing {
		return
	}
	ring, err := uring.New(sendRingEntries)
	if err != nil {
		if r.idx == 0 {
			r.srv.log.Info("broadcasts use write(2): io_uring unavailable", "err", err)
		}
		return
	}
	r.sendRing = ring
}

// closeSendRing releases the ring once the loop has stopped.
func (r *reactor) closeSendRing() {
	if r.sendRing != nil {
		r.sendRing.Close()
		r.sendRing = nil
	}
}

// queueSend queues frames for so's WebSocket connection c through the
// ring, flushing first when the ring is full. It reports false when there is
// no ring (any more): the caller writes itself. frames is copied; the bytes
// it points to must stay as they are until the next flush (broadcast frames
// are immutable).
func (r *reactor) queueSend(so *Socket, c gnet.Conn, frames [][]byte) bool {
	if r.trySend(so, c, frames) {
		return true
	}
	r.flushRing()
	return r.sendRing != nil && r.trySend(so, c, frames)
}

func (r *reactor) trySend(so *Socket, c gnet.Conn, frames [][]byte) bool {
	first := len(r.ringBufs)
	r.ringBufs = append(r.ringBufs, frames...)
	if !r.sendRing.Send(c.Fd(), r.ringBufs[first:], uint64(len(r.ringSends))) {
		clear(r.ringBufs[first:])
		r.ringBufs = r.ringBufs[:first]
		return false
	}
	total := 0
	for _, f := range frames {
		total += len(f)
	}
	r.ringSends = append(r.ringSends, ringSend{so: so, first: first, last: len(r.ringBufs), total: total})
	return true
}

// flushRing sends everything queued and deals with what the kernel did not
// take: the rest of a short send goes to gnet's buffer (and the slow
// consumer cap applies as on the write path), a failed send to gnet's write,
// which fails the same way and closes the connection.
func (r *reactor) flushRing() {
	if len(r.ringSends) == 0 {
		return
	}
	r.ctr.ringSends.Add(uint64(len(r.ringSends)))
	t0 := monoNow()
	done, err := r.sendRing.Flush()
	r.uringNanos += monoNow() - t0
	limit := r.srv.cfg.MaxOutboundBytes
	// Closing a connection runs handlers that may write to other sockets,
	// so failed sends and slow consumers wait until every short send's
	// rest is in gnet's buffer.
	var failed, slow []*ringSend
	for _, d := range done {
		q := &r.ringSends[d.Tag]
		q.completed = true
		s := q.so.c.sess()
		c := s.ws
		if s.closed || c == nil || int(d.Res) == q.total {
			continue
		}
		sent := int(d.Res)
		if e := d.Err(); e != nil {
			if e == syscall.EINVAL && err == nil {
				// A kernel without IORING_OP_SEND (before 5.6): gnet
				// writes this one, and the ring goes.
				err = fmt.Errorf("uring: send refused: %w", e)
			}
			if e != syscall.EAGAIN && e != syscall.ECANCELED && e != syscall.EINVAL {
				failed = append(failed, q)
				continue
			}
			sent = 0
		}
		rest := r.ringRest[:0]
		for _, f := range r.ringBufs[q.first:q.last] {
			if sent >= len(f) {
				sent -= len(f)
				continue
			}
			rest = append(rest, f[sent:])
			sent = 0
		}
		var werr error
		if len(rest) == 1 {
			_, werr = c.Write(rest[0])
		} else {
			_, werr = c.Writev(rest)
		}
		clear(rest)
		r.ringRest = rest[:0]
		if werr == nil && !s.closed && c.OutboundBuffered() > limit {
			slow = append(slow, q)
		}
	}
	for _, q := range slow {
		q.so.c.sess().terminate("slow consumer", 0)
	}
	for _, q := range failed {
		if s := q.so.c.sess(); !s.closed && s.ws != nil {
			s.ws.Writev(r.ringBufs[q.first:q.last])
		}
	}
	if err != nil {
		r.srv.log.Error("io_uring failed; broadcasts fall back to write(2)", "reactor", r.idx, "err", err)
		// A send whose completion was lost left its socket in an unknown
		// state: close it rather than risk a torn frame.
		for i := range r.ringSends {
			if q := &r.ringSends[i]; !q.completed {
				if s := q.so.c.sess(); !s.closed && s.ws != nil {
					s.ws.Close()
				}
			}
		}
		r.closeSendRing()
	}
	clear(r.ringSends)
	r.ringSends = r.ringSends[:0]
	clear(r.ringBufs)
	r.ringBufs = r.ringBufs[:0]
}
