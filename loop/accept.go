package loop

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
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

// acceptLoop accepts connections from ln until it is closed and registers
// each with a reactor (the one with the fewest connections).
func (s *Server) acceptLoop(ln net.Listener) {
	var (
		backoff   time.Duration
		lastLog   time.Time
		unlogged  int
		lastError error
		inflight  []<-chan gnet.RegisteredResult
	)
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
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
			time.Sleep(backoff)
			continue
		}
		if backoff > 0 {
			backoff = 0
			s.log.Info("accepting client connections again", "open_connections", s.Connections())
		}
		if s.draining.Load() {
			_ = c.Close()
			continue
		}
		// No connState here: OnOpen makes it on the reactor, and the
		// context is one value less of garbage per connection.
		ctx := gnet.NewNetConnContext(context.Background(), c)
		res, err := s.eng.Register(ctx)
		if err != nil {
			_ = c.Close()
			continue
		}
		// gnet duplicates the descriptor for its reactor and closes c, on
		// a goroutine of its pool that waits for the reactor. Waiting for
		// the oldest of a few registrations keeps a connection storm from
		// parking thousands of those goroutines (and their stacks).
		if inflight = append(inflight, res); len(inflight) == maxRegistering {
			<-inflight[0]
			inflight = append(inflight[:0], inflight[1:]...)
		}
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
}

func (a *acceptors) start(s *Server) {
	for _, ln := range a.lns {
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			s.acceptLoop(ln)
		}()
	}
}

// stop closes the listeners and waits for the accept loops to end.
func (a *acceptors) stop() {
	for _, ln := range a.lns {
		_ = ln.Close()
	}
	a.wg.Wait()
}

// addr returns the bound client address.
func (a *acceptors) addr() net.Addr { return a.lns[0].Addr() }
