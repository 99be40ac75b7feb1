package loop

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

// The server accepts client connections itself and hands each to the
// reactors with Engine.Register, instead of letting gnet listen on the
// client port: gnet v2 stops the whole engine, every open connection with
// it, the first time accept(2) fails for any reason but EAGAIN, EINTR,
// ECONNRESET or ECONNABORTED. Running out of descriptors (EMFILE, ENFILE)
// or of kernel memory (ENOBUFS, ENOMEM) is what a server under load or
// attack meets first, and it must keep serving the connections it has and
// accept again once descriptors free up.
//
// gnet still needs one listener of its own to run an engine (Register and
// Stop refuse an engine without one). It gets an ephemeral loopback TCP
// port whose socket drops every packet (sealPrivateListener), so nothing
// can connect to it: gnet never accepts there, and its accept can never
// fail. (A unix socket would need a writable directory, which a container
// with a read-only root file system does not have, and gnet's address
// parser cannot name an abstract one.)
const privateListenAddr = "tcp://127.0.0.1:0"

// sealPrivateListener attaches a classic BPF program that drops every
// packet to gnet's private listener, so that no SYN ever reaches its
// accept queue (the kernel runs a listening socket's filter before the
// handshake).
func sealPrivateListener(eng gnet.Engine) error {
	fd, err := eng.Dup()
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	drop := []unix.SockFilter{{Code: unix.BPF_RET | unix.BPF_K, K: 0}}
	return unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER,
		&unix.SockFprog{Len: uint16(len(drop)), Filter: &drop[0]})
}

// Accept backoff after a failed accept: doubled each time up to the max,
// reset by the next success (net/http's Serve does the same).
const (
	acceptBackoffMin = 5 * time.Millisecond
	acceptBackoffMax = time.Second
	// acceptLogEvery rate-limits the log line about failed accepts.
	acceptLogEvery = 10 * time.Second
)

// listen opens the client port: one listener, or with ReusePort one
// SO_REUSEPORT listener per reactor so that the kernel spreads the accepts
// (and other processes may share the port).
func (s *Server) listen() ([]net.Listener, error) {
	addr := s.cfg.Addr
	if strings.HasPrefix(addr, ":") {
		addr = "0.0.0.0" + addr
	}
	// No TCP keep-alive probes (Go's default sets four socket options on
	// every accepted connection): the Engine.IO heartbeat and the client
	// deadlines find dead peers.
	lc := net.ListenConfig{KeepAlive: -1}
	n := 1
	if s.cfg.ReusePort {
		n = s.cfg.EventLoops
		lc.Control = func(_, _ string, rc syscall.RawConn) error {
			var err error
			if cerr := rc.Control(func(fd uintptr) {
				err = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
			}); cerr != nil {
				return cerr
			}
			return err
		}
	}
	lns := make([]net.Listener, 0, n)
	for i := 0; i < n; i++ {
		ln, err := lc.Listen(context.Background(), "tcp", addr)
		if err != nil {
			for _, l := range lns {
				_ = l.Close()
			}
			return nil, err
		}
		if i == 0 && s.cfg.ReusePort {
			addr = ln.Addr().String() // port 0: the others share the port picked
		}
		lns = append(lns, ln)
	}
	return lns, nil
}

// acceptLoop accepts connections from ln until wake is written and hands
// each to a reactor (the one with the fewest connections), in batches of
// what one readiness of the listener brings. It waits in poll(2) on the
// listener and wake, on its own thread: Go's poller cannot wait on a
// listener for a raw accept (a listener's RawConn refuses Read).
func (s *Server) acceptLoop(ln net.Listener, wake int) {
	lfd := -1
	if rc, err := ln.(*net.TCPListener).SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) { lfd = int(fd) }) // stays open until the loops end (acceptors.stop)
	}
	if lfd < 0 {
		s.log.Error("cannot accept client connections: no descriptor for the listener", "addr", ln.Addr().String())
		return
	}
	var (
		backoff   time.Duration
		lastLog   time.Time
		unlogged  int
		lastError error
		reg       registrar
		batch     []accepted
	)
	local := ln.Addr()
	fds := []unix.PollFd{{Fd: int32(lfd), Events: unix.POLLIN}, {Fd: int32(wake), Events: unix.POLLIN}}
	for {
		var err error
		batch, err = acceptBatch(lfd, batch[:0])
		if len(batch) > 0 {
			s.dispatch(batch, local, &reg)
			clear(batch)
		}
		switch {
		case err == nil && len(batch) == maxAcceptBatch:
			continue // more may be waiting
		case err == nil:
			if backoff > 0 {
				backoff = 0
				s.log.Info("accepting client connections again", "open_connections", s.Connections())
			}
			if _, perr := unix.Poll(fds, -1); perr != nil && perr != unix.EINTR {
				s.log.Error("cannot wait for client connections", "err", perr)
				return
			}
			if fds[1].Revents != 0 {
				return // stopping
			}
			continue
		}
		s.stats.AcceptErrors.Add(1)
		unlogged++
		lastError = err
		if now := time.Now(); now.Sub(lastLog) >= acceptLogEvery {
			s.log.Error("cannot accept client connections; retrying", "err", lastError,
				"failures", unlogged, "open_connections", s.Connections(), "hint", acceptHint(err))
			lastLog, unlogged = now, 0
		}
		backoff = min(max(2*backoff, acceptBackoffMin), acceptBackoffMax)
		if n, _ := unix.Poll(fds[1:], int(backoff/time.Millisecond)); n > 0 {
			return // stopping
		}
	}
}

// maxAcceptBatch bounds the sockets accepted before they are handed over.
const maxAcceptBatch = 64

// acceptBatch accepts from the listener lfd (non-blocking) until nothing
// more waits or the batch is full. The error is accept4's.
func acceptBatch(lfd int, batch []accepted) ([]accepted, error) {
	for len(batch) < maxAcceptBatch {
		nfd, sa, err := unix.Accept4(lfd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		switch err {
		case nil:
			// Go's net.Conn had it, and our writes are whole frames.
			_ = unix.SetsockoptInt(nfd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
			batch = append(batch, accepted{fd: nfd, sa: sa})
		case unix.EINTR, unix.ECONNABORTED:
			// A connection reset while it waited in the queue.
		case unix.EAGAIN:
			return batch, nil
		default:
			return batch, os.NewSyscallError("accept4", err)
		}
	}
	return batch, nil
}

// dispatch hands the accepted sockets to the reactors, each to the one
// with the fewest connections counting those it already got here.
func (s *Server) dispatch(batch []accepted, local net.Addr, reg *registrar) {
	if s.draining.Load() {
		closeAccepted(batch)
		return
	}
	rs := *s.reactors.Load()
	if len(rs) < s.cfg.EventLoops || !directEnroll(rs[0].el) {
		for _, a := range batch {
			reg.register(s, a)
		}
		return
	}
	load := make([]int64, len(rs))
	for i, r := range rs {
		load[i] = r.conns.Load()
	}
	s.acc.direct.Add(int64(len(batch)))
	per := make([][]accepted, len(rs))
	for _, a := range batch {
		i := 0
		for j := range load {
			if load[j] < load[i] {
				i = j
			}
		}
		load[i]++
		per[i] = append(per[i], a)
	}
	for i, b := range per {
		if len(b) > 0 {
			rs[i].enrollAccepted(b, local)
		}
	}
}

// registrar registers sockets through gnet's Engine.Register, the way
// before every reactor is known (see enroll.go).
type registrar struct {
	inflight []<-chan gnet.RegisteredResult
}

func (g *registrar) register(s *Server, a accepted) {
	f := os.NewFile(uintptr(a.fd), "")
	c, err := net.FileConn(f) // a duplicate: f is closed either way
	_ = f.Close()
	if err != nil {
		return
	}
	ctx := gnet.NewNetConnContext(context.Background(), c)
	res, err := s.eng.Register(ctx)
	if err != nil {
		_ = c.Close()
		return
	}
	// gnet duplicates the descriptor for its reactor and closes c, on
	// a goroutine of its pool that waits for the reactor. Waiting for
	// the oldest of a few registrations keeps a connection storm from
	// parking thousands of those goroutines (and their stacks).
	if g.inflight = append(g.inflight, res); len(g.inflight) == maxRegistering {
		<-g.inflight[0]
		g.inflight = append(g.inflight[:0], g.inflight[1:]...)
	}
}

// maxRegistering bounds the registrations an accept loop leaves in flight.
const maxRegistering = 8

// acceptHint says what an accept error usually means.
func acceptHint(err error) string {
	switch {
	case errors.Is(err, unix.EMFILE):
		return "the process is out of file descriptors (RLIMIT_NOFILE): raise the limit or add replicas"
	case errors.Is(err, unix.ENFILE):
		return "the system is out of file descriptors (fs.file-max)"
	case errors.Is(err, unix.ENOBUFS), errors.Is(err, unix.ENOMEM):
		return "the kernel is out of memory for sockets"
	}
	return ""
}

// acceptors runs one acceptLoop per listener and closes them on stop.
type acceptors struct {
	lns []net.Listener
	wg  sync.WaitGroup

	// direct counts the sockets handed to a reactor directly (enroll.go).
	direct atomic.Int64

	mu      sync.Mutex
	wake    int // eventfd written on stop to end the accept loops; 0 before start
	stopped bool
}

func (a *acceptors) start(s *Server) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stopped {
		return
	}
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		s.log.Error("cannot accept client connections", "err", os.NewSyscallError("eventfd", err))
		return
	}
	a.wake = wake
	for _, ln := range a.lns {
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			s.acceptLoop(ln, wake)
		}()
	}
}

// stop ends the accept loops, then closes the listeners (a loop polls its
// listener's descriptor until it ends). Later calls do nothing.
func (a *acceptors) stop() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stopped {
		return
	}
	a.stopped = true
	if a.wake > 0 {
		_, _ = unix.Write(a.wake, []byte{1, 0, 0, 0, 0, 0, 0, 0})
		a.wg.Wait()
		_ = unix.Close(a.wake)
	}
	for _, ln := range a.lns {
		_ = ln.Close()
	}
}

// addr returns the bound client address.
func (a *acceptors) addr() net.Addr { return a.lns[0].Addr() }
