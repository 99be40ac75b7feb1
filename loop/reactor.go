package loop

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/panjf2000/gnet/v2"

	"sioloop/loop/uring"
)

// reactor is the state sioloop keeps for one gnet event loop. Everything in
// it except the outbox and the atomics is owned by that loop's goroutine.
type reactor struct {
	srv *Server
	el  gnet.EventLoop
	idx int
	// g is the id of the loop's goroutine, learnt by enter on the first
	// callback (0 until then). It is how an operation knows that it was
	// called on this reactor and must not wait for it (see onReactor).
	g atomic.Uint64

	timers timerHeap
	// nextDue mirrors timers.next() for the ticker goroutine, which rings
	// the loop only when something is due.
	nextDue  atomic.Int64
	tickBusy atomic.Bool

	// out is the scratch buffer responses and frames are built in before a
	// single Write; gnet copies what it cannot send at once, so it is free
	// again as soon as Write returns.
	out []byte
	// enc is the scratch the Socket.IO layer encodes packets into before
	// Session.Send copies them into out.
	enc []byte
	// nsl holds the per-namespace socket sets and room indexes of this
	// reactor, by Namespace.id.
	nsl []*nsLocal
	// batch, picked, touched and iov are the scratch of deliverBatch;
	// delivering is set while it runs, so that a broadcast made from a
	// hook it triggers (a slow consumer's OnDisconnect) is queued rather
	// than delivered inside it.
	batch      []*encodedBroadcast
	picked     []*Socket
	touched    []*Socket
	iov        [][]byte
	delivering bool
	// draining is set while drain runs the jobs it took from the outbox.
	draining bool
	// sendRing sends broadcast frames, several sockets per system call
	// (sendring.go); nil where io_uring is off or unavailable. It is set
	// up on the first broadcast.
	sendRing      *uring.Ring
	sendRingTried bool
	ringSends     []ringSend
	ringBufs      [][]byte
	ringRest      [][]byte // scratch of flushRing: the rest of a short send
	uringNanos    int64    // time inside io_uring_enter in the current write pass

	// timing is this reactor's broadcast timing (timing.go).
	timing loopTiming
	// ev is the Event handed to event handlers, reused for every event.
	ev Event
	// seq stamps sockets while a broadcast walks several rooms so that a
	// socket in two of them gets the packet once.
	seq      uint64
	batchSeq uint64
	// dirty lists polling sessions whose queue grew during this callback;
	// they are flushed once at its end so several packets share one response.
	dirty []*Session
	// rnd is a pool of random bytes for session ids: one getrandom call
	// per 64 handshakes instead of one each.
	rnd    [960]byte
	rndOff int

	ctr      loopCounters
	conns    atomic.Int64 // open TCP connections on this loop
	sessions atomic.Int64 // Engine.IO sessions whose home is this loop
	// live lists those sessions (Session.liveIdx is the position), for
	// shutdown and for summing queued bytes without the global table.
	live []*Session

	// deadlines bound how long HTTP connections wait for their clients,
	// one queue per kind of wait (timeouts.go).
	deadlines [numWaits]expiryQueue[deadline]
	waitSeq   uint32 // numbers deadline entries
	// connectWaits hold the Socket.IO clients waiting for their first
	// CONNECT, one queue per SocketIO (sio.go).
	connectWaits []*connectWait

	// lingering are connections being closed gracefully (see linger).
	lingering   []lingerConn
	lingerTimer timer
	lingerN     atomic.Int64 // lingering connections not yet closed

	// The outbox: jobs posted by other goroutines, drained in order.
	mu        sync.Mutex
	pending   []job
	spare     []job
	scheduled bool
	drainTask gnet.RunnableFunc
	tickTask  gnet.RunnableFunc
}

func newReactor(srv *Server, el gnet.EventLoop, idx int) *reactor {
	r := &reactor{srv: srv, el: el, idx: idx, rndOff: len(reactor{}.rnd)}
	r.lingerTimer = timer{index: -1, fire: r.sweepLingering}
	r.initDeadlines()
	r.drainTask = func(context.Context) error { r.drain(); return nil }
	r.tickTask = func(context.Context) error { r.tick(); return nil }
	return r
}

// enter records the calling goroutine as the loop's. Every loop callback
// (OnOpen, OnTraffic, OnClose, drain, tick) calls it first. gnet runs a
// loop on one goroutine for its whole life, so the id is learnt once and
// later calls cost one atomic load.
func (r *reactor) enter() {
	if r.g.Load() == 0 {
		r.g.Store(goid())
	}
}

// onReactor returns the reactor whose loop goroutine is the caller, or nil
// for any other goroutine. It costs a goroutine id lookup (goid: a few
// microseconds and one small allocation, see BenchmarkOnReactor), so it is
// called once per server-side operation, never per recipient.
func (s *Server) onReactor() *reactor {
	id := goid()
	for _, r := range *s.reactors.Load() {
		if r.g.Load() == id {
			return r
		}
	}
	return nil
}

// goid returns the id of the calling goroutine, read from the first line
// of its stack trace ("goroutine 42 [running]:"). Go has no API for it;
// the trace is the documented way to see it, and ids are never reused.
// Only onReactor and enter need it, to tell a loop goroutine from others.
func goid() uint64 {
	var buf [32]byte // "goroutine " and up to 20 digits
	b := buf[:runtime.Stack(buf[:], false)]
	const prefix = "goroutine "
	if len(b) < len(prefix) || string(b[:len(prefix)]) != prefix {
		panic("BUG: unexpected runtime.Stack header: " + string(b))
	}
	var id uint64
	for _, c := range b[len(prefix):] {
		if c < '0' || c > '9' {
			break
		}
		id = id*10 + uint64(c-'0')
	}
	return id
}

// now returns the coarse clock (unix ns) kept by the ticker; it is enough
// for heartbeats and timeouts and costs one atomic load.
func (r *reactor) now() int64 { return r.srv.clock.Load() }

// newID returns a fresh 20-character URL-safe id from 15 random bytes, as
// Node's base64id: socket ids (Redis adapters in a mixed cluster tell a
// socket id from a room name by its 20 characters) and recovery's private
// ids. Loop goroutine only.
func (r *reactor) newID() string { return r.randomID(15) }

// newSessionID returns a 16-character id from 12 random bytes (96 bits,
// unguessable) for an Engine.IO session: no peer reads its length, and
// it puts the id in the 16-byte size class, 8 bytes less per client.
func (r *reactor) newSessionID() string { return r.randomID(12) }

// randomID returns n random bytes from the pool, base64url encoded.
func (r *reactor) randomID(n int) string {
	if r.rndOff+n > len(r.rnd) {
		if _, err := rand.Read(r.rnd[:]); err != nil {
			panic("BUG: crypto/rand failed: " + err.Error())
		}
		r.rndOff = 0
	}
	var b [20]byte
	m := base64.RawURLEncoding.EncodedLen(n)
	base64.RawURLEncoding.Encode(b[:m], r.rnd[r.rndOff:r.rndOff+n])
	r.rndOff += n
	return string(b[:m])
}

// job is one entry of a reactor's outbox: a function to run, or a
// broadcast to deliver (then done, if set, runs after delivery).
type job struct {
	fn   func(*reactor)
	eb   *encodedBroadcast
	done func()
}

// post queues fn to run on the reactor. Any goroutine may call it.
func (r *reactor) post(fn func(*reactor)) { r.enqueue(job{fn: fn}) }

// enqueue appends j to the outbox. Jobs run in the order they were
// enqueued; the loop is woken at most once per drain.
func (r *reactor) enqueue(j job) {
	r.mu.Lock()
	r.pending = append(r.pending, j)
	wake := !r.scheduled
	r.scheduled = true
	r.mu.Unlock()
	if wake {
		if err := r.el.Execute(context.Background(), r.drainTask); err != nil {
			// The loop has stopped: nothing will run these jobs. Release
			// whoever waits on them instead of hanging.
			r.mu.Lock()
			jobs := r.pending
			r.pending = nil
			r.scheduled = false
			r.mu.Unlock()
			for _, j := range jobs {
				if j.done != nil {
					j.done()
				}
			}
		}
	}
}

// drain runs the posted jobs. Loop goroutine only.
func (r *reactor) drain() {
	r.enter()
	r.mu.Lock()
	jobs := r.pending
	r.pending = r.spare[:0]
	r.scheduled = false
	r.mu.Unlock()
	r.draining = true
	for i := 0; i < len(jobs); {
		i = r.runJob(jobs, i)
	}
	r.draining = false
	clear(jobs)
	r.mu.Lock()
	r.spare = jobs[:0]
	r.mu.Unlock()
	r.endBatch()
}

// runJob runs jobs[i] or, when it is a broadcast, the run of consecutive
// broadcasts from i, then calls their done hooks; it returns the index of
// the next job. A panic is logged and counted, and the jobs after it still
// run: whoever waits on a done hook must not hang because of another job.
func (r *reactor) runJob(jobs []job, i int) (next int) {
	next = i + 1
	defer func() {
		if p := recover(); p != nil {
			r.srv.recovered("posted job", p)
		}
		for k := i; k < next; k++ {
			if jobs[k].done != nil {
				jobs[k].done()
			}
		}
	}()
	if jobs[i].eb == nil {
		jobs[i].fn(r)
		return next
	}
	// Consecutive broadcasts are delivered together: each socket gets
	// all of its frames in one writev.
	batch := r.batch[:0]
	for next = i; next < len(jobs) && jobs[next].eb != nil && len(batch) < maxBatch; next++ {
		batch = append(batch, jobs[next].eb)
	}
	r.deliverBatch(batch)
	clear(batch)
	r.batch = batch[:0]
	return next
}

// tick fires due timers. Loop goroutine only.
func (r *reactor) tick() {
	r.enter()
	r.tickBusy.Store(false)
	r.runTimers()
	r.endBatch()
}

// runTimers fires the due timers. A timer is disarmed before it fires, so
// after a panic (logged and counted) the others still fire, at the next
// tick at the latest.
func (r *reactor) runTimers() {
	defer func() {
		if p := recover(); p != nil {
			r.srv.recovered("timer", p)
		}
	}()
	r.timers.run(r.now())
}

// endBatch ends every loop callback: it flushes the polling sessions that
// got packets and publishes the next timer deadline to the ticker.
func (r *reactor) endBatch() {
	for i, s := range r.dirty {
		s.dirty = false
		s.flushPoll()
		r.dirty[i] = nil
	}
	r.dirty = r.dirty[:0]
	r.nextDue.Store(r.timers.next())
}

// ring is called by the ticker goroutine: it wakes the loop if a timer is due.
func (r *reactor) ring(now int64) {
	due := r.nextDue.Load()
	if due == 0 || due > now || r.tickBusy.Swap(true) {
		return
	}
	if err := r.el.Execute(context.Background(), r.tickTask); err != nil {
		r.tickBusy.Store(false)
	}
}
