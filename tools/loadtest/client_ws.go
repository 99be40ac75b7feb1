package main

import (
	"fmt"
	"math"
	"sync"

	"golang.org/x/sys/unix"
)

// The WebSocket clients run on a few worker goroutines, each with its own
// epoll instance and its own share of the connections: client i belongs to
// worker i % workers. Sockets are raw non-blocking file descriptors, so an
// idle client costs a struct and a kernel socket, not a goroutine stack, and
// one process can drive the 20,000 descriptors it may open. Everything about
// a connection is touched only by its worker.

// wsState is where a client is in its life.
type wsState uint8

const (
	stIdle      wsState = iota // not dialed yet
	stDialing                  // connect(2) in progress
	stUpgrading                // upgrade request sent, waiting for 101
	stOpening                  // waiting for the Engine.IO open packet
	stJoining                  // Socket.IO CONNECT sent, waiting for the ack
	stConnected                // joined the namespace
	stClosing                  // close frame sent at the end of the run, waiting for the server to close
	stClosed
)

// wsConn is one client. Only its worker touches it.
type wsConn struct {
	fd       int
	slot     int32 // index in its worker's conns, the epoll event's data
	state    wsState
	armedOut bool  // EPOLLOUT is in the interest set
	measured bool  // connected when the measured phase began
	started  int64 // clock time of connect(2)
	stageAt  int64 // clock time the current handshake stage began
	accept   [28]byte
	in       []byte // bytes of an incomplete frame (or response head) kept between reads
	out      []byte // bytes the kernel did not take yet
	frag     []byte // a fragmented message being assembled
	fragOp   byte
	sent     uint64 // echo messages sent, the sequence number of the last one
	extra    uint64 // first copies with a sequence number never sent
	track    SeqTracker
}

// wsWorker drives its share of the clients on one epoll instance. Every
// method runs on the worker's own goroutine (run); other goroutines see its
// figures only through the atomics of st.
type wsWorker struct {
	rs    *runState
	cfg   *Config
	st    *counters
	id    int
	count int // workers in total
	epfd  int
	sas   []unix.Sockaddr // one per target: unix.Connect writes into the value, so no sharing between workers

	conns       []wsConn // slot j is client id + j*count
	started     int      // slots dialed so far
	inflight    int      // handshakes in progress
	maxInflight int
	rampEvery   int64 // ns between two dials of this worker, 0 = no pacing
	rampStart   int64

	sched      []int32 // slots in send order, built when the measured phase starts
	schedK     int64   // current round
	schedJ     int     // position in the round
	phaseSeen  int32
	nextSweep  int64
	events     []unix.EpollEvent
	rbuf       []byte
	pbuf, wbuf []byte // scratch: packet, frame
	connectPkt []byte // the CONNECT frame payload, built once
	wantEvent  []byte
	nsp        []byte
	rng        uint64
}

// wsEngine is the set of workers of a websocket run.
type wsEngine struct {
	rs      *runState
	workers []*wsWorker
	wg      sync.WaitGroup
}

func newWSEngine(rs *runState) (*wsEngine, error) {
	cfg := rs.cfg
	// Each worker gets its own Sockaddr: unix.Connect writes into the
	// value's internal buffer, so one shared value would be a data race.
	targets := func() []unix.Sockaddr {
		var sas []unix.Sockaddr
		for _, t := range cfg.targets {
			if a := t.Addr(); a.Is4() {
				sas = append(sas, &unix.SockaddrInet4{Port: int(t.Port()), Addr: a.As4()})
			} else {
				sas = append(sas, &unix.SockaddrInet6{Port: int(t.Port()), Addr: a.As16()})
			}
		}
		return sas
	}
	e := &wsEngine{rs: rs}
	n := len(rs.stats)
	want := "message"
	if cfg.Scenario == ScenarioFanout {
		want = cfg.Channel
	}
	for i := range n {
		epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err != nil {
			e.closeEpolls()
			return nil, fmt.Errorf("loadtest: epoll_create1: %w", err)
		}
		share := cfg.Connections / n
		if i < cfg.Connections%n {
			share++
		}
		w := &wsWorker{
			rs: rs, cfg: cfg, st: rs.stats[i], id: i, count: n, epfd: epfd, sas: targets(),
			conns:       make([]wsConn, share),
			maxInflight: max(1, cfg.Inflight/n),
			events:      make([]unix.EpollEvent, 512),
			rbuf:        make([]byte, 64<<10),
			connectPkt:  AppendConnect(nil, cfg.Namespace, cfg.authJSON),
			wantEvent:   []byte(want),
			nsp:         []byte(cfg.Namespace),
			rng:         uint64(rs.clk.wall) ^ uint64(i+1)*0x9E3779B97F4A7C15,
		}
		if cfg.Ramp > 0 {
			per := cfg.Ramp / float64(n)
			w.rampEvery = int64(float64(1e9) / per)
			w.rampStart = int64(float64(i) * 1e9 / cfg.Ramp)
		}
		e.workers = append(e.workers, w)
	}
	return e, nil
}

func (e *wsEngine) closeEpolls() {
	for _, w := range e.workers {
		unix.Close(w.epfd)
	}
}

// enter moves the clients to phase p: each worker sees it within 50 ms.
func (e *wsEngine) enter(p int32) { e.rs.phase.Store(p) }

// start launches the workers; they run until the phase becomes phaseStop.
func (e *wsEngine) start() {
	t0 := e.rs.clk.now()
	for _, w := range e.workers {
		w.rampStart += t0
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			w.run()
		}()
	}
}

// wait returns once every worker has closed its clients and exited.
func (e *wsEngine) wait() { e.wg.Wait() }

// loss sums the per-client sequence trackers. Call it after wait.
func (e *wsEngine) loss() (l LossCounts, measured int64) {
	for _, w := range e.workers {
		for i := range w.conns[:w.started] {
			c := &w.conns[i]
			if c.measured {
				measured++
			}
			l.AddStream(&c.track, c.sent, c.extra)
		}
	}
	return l, measured
}

// trackers calls f for every client that was connected when the measured
// phase began. Call it after wait.
func (e *wsEngine) trackers(f func(t *SeqTracker)) {
	for _, w := range e.workers {
		for i := range w.conns[:w.started] {
			if c := &w.conns[i]; c.measured {
				f(&c.track)
			}
		}
	}
}

const never = math.MaxInt64

// run is the worker's loop: dial what is due, send what is due, wait for
// events until the next deadline, handle them.
func (w *wsWorker) run() {
	defer unix.Close(w.epfd)
	for {
		now := w.rs.clk.now()
		phase := w.rs.phase.Load()
		if phase == phaseStop {
			w.shutdown()
			return
		}
		if phase != w.phaseSeen {
			w.onPhase(phase, now)
		}
		next := min(w.dialDue(now), w.sendDue(now))
		if now >= w.nextSweep {
			w.sweep(now)
			w.nextSweep = now + 100e6
		}
		// Wake at least every 50 ms to see phase changes.
		next = min(next, w.nextSweep, now+50e6)
		timeout := 0
		if next > now {
			timeout = int((next - now + 999_999) / 1e6) // round up: never spin below 1 ms
		}
		n, err := unix.EpollWait(w.epfd, w.events, timeout)
		if err != nil {
			if err == unix.EINTR {
				continue
			}
			w.rs.noteErr(w.st, errProtocol, fmt.Errorf("loadtest: epoll_wait: %w", err))
			return
		}
		now = w.rs.clk.now()
		for _, ev := range w.events[:n] {
			w.onEvent(&w.conns[ev.Fd], ev.Events, now)
		}
	}
}

// onPhase reacts once to a new phase.
func (w *wsWorker) onPhase(phase int32, now int64) {
	w.phaseSeen = phase
	if phase < phaseMeasure || w.sched != nil {
		return
	}
	// The measured phase began: clients still in their handshake are late.
	w.sched = make([]int32, 0, w.started)
	for j := range w.conns[:w.started] {
		c := &w.conns[j]
		switch {
		case c.state == stConnected:
			c.measured = true
			w.st.measured.Add(1)
			w.sched = append(w.sched, int32(j))
		case c.state != stClosed && c.state != stIdle:
			w.fail(c, errTimeout, fmt.Errorf("loadtest: still not connected when the measured phase began (%s)", stateName(c.state)))
		}
	}
}

// dialDue opens the connections that are due and returns when the next one is.
func (w *wsWorker) dialDue(now int64) int64 {
	if w.phaseSeen != phaseConnect {
		return never
	}
	for w.started < len(w.conns) && w.inflight < w.maxInflight {
		if w.rampEvery > 0 {
			if due := w.rampStart + int64(w.started)*w.rampEvery; due > now {
				return due
			}
		}
		w.dial()
	}
	return never
}

// dial starts the non-blocking connect of the next client.
func (w *wsWorker) dial() {
	slot := w.started
	w.started++
	c := &w.conns[slot]
	c.fd = -1
	c.slot = int32(slot)
	// A fresh reading: the dial loop may open a hundred sockets in a row.
	now := w.rs.clk.now()
	c.started, c.stageAt = now, now
	w.st.dialed.Add(1)
	global := w.id + slot*w.count // among this process's clients
	sa := w.sas[w.target(slot)]
	fam := unix.AF_INET
	if _, ok := sa.(*unix.SockaddrInet6); ok {
		fam = unix.AF_INET6
	}
	fd, err := unix.Socket(fam, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		c.state = stClosed
		w.st.failed.Add(1)
		w.rs.noteErr(w.st, errDial, fmt.Errorf("loadtest: socket: %w", err))
		return
	}
	c.fd = fd
	c.state = stDialing
	w.inflight++
	// Small messages must not wait for Nagle's algorithm.
	unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	if src := w.cfg.Sources; src > 1 || w.cfg.sourceBase > 0 {
		// IP_BIND_ADDRESS_NO_PORT lets connect(2) pick the port for the
		// whole 4-tuple, so each source address has its own port range.
		unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
		if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, byte(1 + w.cfg.sourceBase + global%src)}}); err != nil {
			w.fail(c, errDial, fmt.Errorf("loadtest: bind: %w", err))
			return
		}
	}
	if err := unix.Connect(fd, sa); err != nil && err != unix.EINPROGRESS {
		w.fail(c, errDial, fmt.Errorf("loadtest: connect: %w", err))
		return
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP, Fd: int32(slot)}
	if err := unix.EpollCtl(w.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		w.fail(c, errDial, fmt.Errorf("loadtest: epoll_ctl: %w", err))
		return
	}
	c.armedOut = true
}

// target returns the index in cfg.targets of the server the client in slot
// dials: clients take the servers in turn, counted over every process.
func (w *wsWorker) target(slot int) int {
	if len(w.sas) == 1 {
		return 0
	}
	return RoomTarget(w.client(slot), w.cfg.Rooms, len(w.sas), w.cfg.Affinity)
}

// client returns the index of the client in slot among every process's.
func (w *wsWorker) client(slot int) int {
	return w.cfg.clientBase + w.id + slot*w.count
}

// stage records how long the handshake stage that ends now took.
func (w *wsWorker) stage(c *wsConn, s int, now int64) {
	w.st.stages[s].Record(now - c.stageAt)
	c.stageAt = now
}

// sweep fails the clients whose handshake takes too long.
func (w *wsWorker) sweep(now int64) {
	limit := int64(w.cfg.Handshake)
	for j := range w.conns[:w.started] {
		c := &w.conns[j]
		if c.state > stIdle && c.state < stConnected && now-c.started > limit {
			w.fail(c, errTimeout, fmt.Errorf("loadtest: not connected after %v (%s)", w.cfg.Handshake, stateName(c.state)))
		}
	}
}

// sendDue sends the echo messages that are due and returns when the next one
// is. Client j of the round sends at start + k*interval + j*interval/n: the
// sends are spread evenly over each interval, open loop (a slow reply does
// not delay the next message), so latency is measured without coordinated
// omission.
func (w *wsWorker) sendDue(now int64) int64 {
	if w.cfg.Scenario != ScenarioEcho || w.phaseSeen != phaseMeasure || len(w.sched) == 0 {
		return never
	}
	start, end := w.rs.measureStart.Load(), w.rs.measureEnd.Load()
	iv := int64(w.cfg.Interval)
	n := int64(len(w.sched))
	// Offset each worker by a fraction of a slot so workers interleave.
	off := iv * int64(w.id) / (n * int64(w.count))
	for {
		due := start + off + w.schedK*iv + int64(w.schedJ)*iv/n
		if due >= end {
			return never
		}
		if due > now {
			return due
		}
		if c := &w.conns[w.sched[w.schedJ]]; c.state == stConnected {
			w.sendEcho(c)
		}
		if w.schedJ++; w.schedJ == len(w.sched) {
			w.schedJ = 0
			w.schedK++
		}
	}
}

// sendEcho emits the next `message` event of c, stamped just before the write.
func (w *wsWorker) sendEcho(c *wsConn) {
	c.sent++
	w.pbuf = AppendEcho(w.pbuf[:0], w.cfg.Namespace, c.sent, w.rs.clk.now(), w.cfg.pad)
	if w.writeFrame(c, w.pbuf) {
		w.st.sent.Add(1)
	}
}

// subscribe joins c to its room (--rooms): the server's subscribe event.
func (w *wsWorker) subscribe(c *wsConn) {
	w.pbuf = AppendSubscribe(w.pbuf[:0], w.cfg.Namespace, RoomOf(w.client(int(c.slot)), w.cfg.Rooms))
	w.writeFrame(c, w.pbuf)
}

// writeFrame sends p as one masked text frame with a fresh masking key.
func (w *wsWorker) writeFrame(c *wsConn, p []byte) bool {
	return w.writeOp(c, opText, p)
}

func (w *wsWorker) writeOp(c *wsConn, op byte, p []byte) bool {
	w.wbuf = AppendFrame(w.wbuf[:0], op, p, true, uint32(w.rand()))
	return w.write(c, w.wbuf)
}

// rand is xorshift64*: a masking key needs to be unpredictable to the
// server's intermediaries, not cryptographic, and this costs a few ns.
func (w *wsWorker) rand() uint64 {
	w.rng ^= w.rng >> 12
	w.rng ^= w.rng << 25
	w.rng ^= w.rng >> 27
	return w.rng * 2685821657736338717
}

// write sends b now or queues what the kernel does not take.
func (w *wsWorker) write(c *wsConn, b []byte) bool {
	if len(c.out) > 0 {
		c.out = append(c.out, b...)
		return true
	}
	n, err := unix.Write(c.fd, b)
	if err == unix.EAGAIN {
		n, err = 0, nil
	}
	if err != nil {
		w.fail(c, writeErrKind(err), fmt.Errorf("loadtest: write: %w", err))
		return false
	}
	w.st.bytesOut.Add(uint64(n))
	if n < len(b) {
		c.out = append(c.out, b[n:]...)
		w.arm(c, true)
	}
	return true
}

func writeErrKind(err error) errKind {
	if err == unix.EPIPE || err == unix.ECONNRESET {
		return errClosed
	}
	return errWrite
}

// flush writes queued bytes after EPOLLOUT.
func (w *wsWorker) flush(c *wsConn) {
	n, err := unix.Write(c.fd, c.out)
	if err == unix.EAGAIN {
		return
	}
	if err != nil {
		w.fail(c, writeErrKind(err), fmt.Errorf("loadtest: write: %w", err))
		return
	}
	w.st.bytesOut.Add(uint64(n))
	c.out = append(c.out[:0], c.out[n:]...)
	if len(c.out) == 0 {
		w.arm(c, false)
	}
}

// arm adds or removes EPOLLOUT from c's interest set.
func (w *wsWorker) arm(c *wsConn, out bool) {
	if c.armedOut == out {
		return
	}
	c.armedOut = out
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: c.slot}
	if out {
		ev.Events |= unix.EPOLLOUT
	}
	unix.EpollCtl(w.epfd, unix.EPOLL_CTL_MOD, c.fd, &ev)
}

// fail closes c and counts the error. A client that was connected is now
// lost; one still in its handshake is a failed attempt.
func (w *wsWorker) fail(c *wsConn, k errKind, err error) {
	if c.state == stClosed {
		return
	}
	w.rs.noteErr(w.st, k, err)
	w.close(c)
}

// close releases c's socket and updates the gauges.
func (w *wsWorker) close(c *wsConn) {
	switch {
	case c.state == stConnected || c.state == stClosing:
		w.st.open.Add(-1)
	case c.state > stIdle:
		w.inflight--
		w.st.failed.Add(1)
	}
	if c.fd >= 0 {
		unix.Close(c.fd) // also removes it from the epoll set
		c.fd = -1
	}
	c.state = stClosed
	c.in, c.out, c.frag = nil, nil, nil
}

// shutdown ends the run for this worker's clients. Connected clients send a
// close frame (RFC 6455 §5.5.1, status 1000) and wait up to a second for
// the server to close the TCP connection first: the TIME_WAIT state then
// stays on the server's side instead of holding one of the tool's ephemeral
// ports for a minute, which would slow down the next run's connects. The
// others are closed at once.
func (w *wsWorker) shutdown() {
	pending := 0
	body := []byte{0x03, 0xE8} // 1000, normal closure
	for j := range w.conns[:w.started] {
		c := &w.conns[j]
		switch c.state {
		case stClosed, stIdle:
			continue
		case stConnected:
			if len(c.out) == 0 && w.writeOp(c, opClose, body) {
				c.state = stClosing
				pending++
				continue
			}
		default:
			w.rs.noteErr(w.st, errTimeout, fmt.Errorf("loadtest: still not connected at the end of the run (%s)", stateName(c.state)))
		}
		if c.state != stClosed {
			w.close(c)
		}
	}
	deadline := w.rs.clk.now() + 1e9
	for pending > 0 {
		left := (deadline - w.rs.clk.now()) / 1e6
		if left <= 0 {
			break
		}
		n, err := unix.EpollWait(w.epfd, w.events, int(min(left, 100)))
		if err != nil && err != unix.EINTR {
			break
		}
		for _, ev := range w.events[:max(n, 0)] {
			c := &w.conns[ev.Fd]
			if c.state != stClosing {
				continue
			}
			// Discard what is still in flight; EOF or an error ends it.
			if k, err := unix.Read(c.fd, w.rbuf); k == 0 || (err != nil && err != unix.EAGAIN && err != unix.EINTR) {
				w.close(c)
				pending--
			}
		}
	}
	for j := range w.conns[:w.started] {
		if c := &w.conns[j]; c.state != stClosed && c.state != stIdle {
			w.close(c)
		}
	}
}
