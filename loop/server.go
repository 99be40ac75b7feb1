package loop

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
	"github.com/panjf2000/gnet/v2/pkg/logging"
)

// tickInterval is how often the ticker goroutine refreshes the coarse clock
// and rings reactors whose timers are due.
const tickInterval = 10 * time.Millisecond

// mount is one Engine.IO endpoint: a path prefix and the app behind it.
type mount struct {
	path    string
	handler Handler
	idx     uint8 // its index in Server.mounts (Session.mount)
}

// Server runs the gnet reactors that own every client connection. Create it
// with New, add Engine.IO endpoints with Handle, then call Serve.
type Server struct {
	cfg      Config
	log      *slog.Logger
	mounts   []mount
	fallback http.Handler
	bridge   *bridgeListener

	gnet.BuiltinEventEngine
	eng       gnet.Engine
	acc       *acceptors
	startOnce sync.Once
	started   chan struct{}
	stopped   chan struct{}

	clock      atomic.Int64
	draining   atomic.Bool
	broadcasts atomic.Uint64
	// broadcastDone is, per broadcast sent to every reactor, the time
	// from its encoding to the last reactor's last write (timing.go).
	broadcastDone timingHist

	mu       sync.Mutex
	reactors atomic.Pointer[[]*reactor] // copy-on-write list for the ticker and broadcasts
	byLoop   map[gnet.EventLoop]*reactor

	sessions sessionTable
	stats    Stats
	limits   limits
}

// New returns a server for cfg (resolved with Config.Resolve). log may be nil.
func New(cfg Config, log *slog.Logger) *Server {
	if log == nil {
		log = slog.Default()
	}
	s := &Server{
		cfg:     cfg.Resolve(),
		log:     log,
		started: make(chan struct{}),
		stopped: make(chan struct{}),
		byLoop:  make(map[gnet.EventLoop]*reactor),
	}
	s.clock.Store(time.Now().UnixNano())
	s.initLimits()
	empty := []*reactor{}
	s.reactors.Store(&empty)
	return s
}

// Config returns the resolved configuration.
func (s *Server) Config() Config { return s.cfg }

// Handle serves Engine.IO at every request path that starts with path
// (normalised to end in "/", as Node's engine.io does). It must be called
// before Serve.
func (s *Server) Handle(path string, h Handler) {
	path = "/" + strings.Trim(path, "/") + "/"
	if path == "//" {
		path = "/"
	}
	if len(s.mounts) > math.MaxUint8 {
		panic("loop: more than 256 Engine.IO mounts")
	}
	s.mounts = append(s.mounts, mount{path: path, handler: h, idx: uint8(len(s.mounts))})
}

// HandleOther hands every request whose path no Engine.IO endpoint claims
// to h, a plain net/http handler: the connection leaves the reactor and is
// served by net/http from then on. It must be called before Serve.
func (s *Server) HandleOther(h http.Handler) { s.fallback = h }

// Serve listens on cfg.Addr and runs the reactors until Shutdown. It
// returns nil after a clean shutdown.
func (s *Server) Serve() error {
	if s.fallback != nil {
		s.bridge = newBridgeListener()
		// The connections come from the public client port: bound the head
		// (10s), the whole request (30s) and the wait for the next one on
		// keep-alive (60s), the defaults of the admin listener. No
		// WriteTimeout: it would cut a long answer (a large /metrics)
		// half-way. The head cap is the reactors' own.
		hs := &http.Server{Handler: s.fallback, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
			IdleTimeout: 60 * time.Second, MaxHeaderBytes: s.cfg.MaxHeaderBytes}
		go hs.Serve(s.bridge) //nolint:errcheck // ends when the bridge closes
		defer s.bridge.Close()
	}
	lns, err := s.listen()
	if err != nil {
		return fmt.Errorf("loop: listen on %s: %w", s.cfg.Addr, err)
	}
	s.acc = &acceptors{lns: lns}
	defer s.acc.stop()
	err = gnet.Run(s, privateListenAddr,
		gnet.WithNumEventLoop(s.cfg.EventLoops),
		gnet.WithLoadBalancing(gnet.LeastConnections), // Register is called while the engine runs
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		gnet.WithTicker(true),
		gnet.WithLogger(gnetLogger{s.log}),
		gnet.WithLogLevel(logging.ErrorLevel),
	)
	for _, r := range *s.reactors.Load() {
		r.closeSendRing() // the loops have stopped
	}
	close(s.stopped)
	switch {
	case err != nil && !errors.Is(err, context.Canceled):
		return fmt.Errorf("loop: serve %s: %w", s.cfg.Addr, err)
	case !s.draining.Load():
		// gnet ends its engine when a loop fails; it must never end
		// without Shutdown.
		return fmt.Errorf("loop: the reactors on %s stopped without a shutdown (see the gnet error logged before)", s.cfg.Addr)
	}
	return nil
}

// Started is closed once the listener is bound.
func (s *Server) Started() <-chan struct{} { return s.started }

// OnBoot implements gnet.EventHandler. It runs before the loops exist;
// the first OnTick starts accepting.
func (s *Server) OnBoot(eng gnet.Engine) gnet.Action {
	s.eng = eng
	if err := sealPrivateListener(eng); err != nil {
		s.log.Warn("cannot seal gnet's private loopback listener; local processes could connect to it", "err", err)
	}
	return gnet.None
}

// reactorOf returns the reactor of el, creating it on first sight. gnet
// cannot list its loops, so they are discovered as connections open.
func (s *Server) reactorOf(el gnet.EventLoop) *reactor {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.byLoop[el]; r != nil {
		return r
	}
	old := *s.reactors.Load()
	r := newReactor(s, el, len(old))
	s.byLoop[el] = r
	list := append(append([]*reactor(nil), old...), r)
	s.reactors.Store(&list)
	return r
}

// OnTick implements gnet.EventHandler. It runs on gnet's ticker goroutine,
// not on a loop: it only advances the clock and rings loops with due timers.
func (s *Server) OnTick() (time.Duration, gnet.Action) {
	s.startOnce.Do(func() {
		s.acc.start(s)
		close(s.started)
	})
	now := time.Now().UnixNano()
	s.clock.Store(now)
	// Sleep until the earliest timer is due (at most tickInterval), so
	// heartbeats fire on time rather than up to a tick late.
	next := now + int64(tickInterval)
	for _, r := range *s.reactors.Load() {
		r.ring(now)
		if due := r.nextDue.Load(); due > now && due < next {
			next = due
		}
	}
	return max(time.Duration(next-now), time.Millisecond), gnet.None
}

// OnOpen implements gnet.EventHandler.
func (s *Server) OnOpen(c gnet.Conn) (out []byte, action gnet.Action) {
	defer func() {
		if p := recover(); p != nil {
			s.recovered("opening "+remoteOf(c), p)
			action = gnet.Close
		}
	}()
	cs, _ := c.Context().(*connState)
	if cs == nil {
		if s.draining.Load() {
			return nil, gnet.Close
		}
		cs = &connState{r: s.reactorOf(c.EventLoop())}
		c.SetContext(cs)
		dropPollCallback(c)
	} else if cs.r == nil {
		cs.r = s.reactorOf(c.EventLoop())
	}
	cs.r.enter()
	cs.r.conns.Add(1)
	cs.expect(c, waitHead)
	if in := cs.carried(); len(in) > 0 {
		// A connection moved here from another loop: serve what was read.
		action = cs.serve(c, in, true)
	}
	cs.r.endBatch() // publishes the deadline just armed to the ticker
	return nil, action
}

// OnTraffic implements gnet.EventHandler: peek everything, decode every
// complete unit in place, discard once.
func (s *Server) OnTraffic(c gnet.Conn) (action gnet.Action) {
	cs := c.Context().(*connState)
	cs.r.enter()
	defer func() {
		if p := recover(); p != nil {
			// A last resort: a bug met by one client's input ends that
			// client, not the process.
			s.recovered("serving "+remoteOf(c), p)
			cs.closing = true
			action = gnet.Close
			cs.r.endBatch() // timers armed before the panic must reach the ticker
		}
	}()
	in, _ := c.Peek(-1)
	if x := cs.x; x != nil && len(x.carry) > 0 {
		_, _ = c.Discard(len(in))
		in = append(x.carry, in...)
		x.carry = nil
		action = cs.serve(c, in, true)
	} else {
		action = cs.serve(c, in, false)
	}
	cs.r.endBatch()
	return action
}

// OnClose implements gnet.EventHandler.
func (s *Server) OnClose(c gnet.Conn, err error) (action gnet.Action) {
	defer func() {
		if p := recover(); p != nil {
			s.recovered("closing "+remoteOf(c), p)
		}
	}()
	cs, _ := c.Context().(*connState)
	if cs == nil || cs.r == nil {
		return gnet.None
	}
	cs.r.enter()
	cs.r.conns.Add(-1)
	cs.closed = true
	if cs.lingering {
		cs.r.lingerN.Add(-1)
	}
	if !cs.migrating {
		cs.onClose(c, err)
	}
	cs.r.endBatch()
	return gnet.None
}

// Shutdown closes every session with reason "server shutting down"
// (WebSocket close 1001), stops accepting, and stops the reactors. It waits
// until ctx is done for queued data to drain.
//
// It waits for the reactors, so on a reactor it returns ErrOnReactor.
func (s *Server) Shutdown(ctx context.Context) error {
	if s.onReactor() != nil {
		return ErrOnReactor
	}
	if !s.draining.CompareAndSwap(false, true) {
		return nil
	}
	select {
	case <-s.started:
	default:
		return nil
	}
	s.acc.stop() // stop accepting at once, as Node's server.close()
	s.drain(ctx)
	// Every client got its close (WebSocket 1001, polling "1"); queued
	// data is still being written. Wait for the clients to hang up, or for
	// the lingering timeout or ctx, before the reactors stop.
	for s.closing() > 0 {
		select {
		case <-ctx.Done():
		case <-time.After(20 * time.Millisecond):
			continue
		}
		break
	}
	err := s.eng.Stop(context.Background())
	<-s.stopped
	return err
}

// drainStep is how often a drain spread over DrainDuration sends the next
// share of the sessions away.
const drainStep = 50 * time.Millisecond

// drain sends every session away with "server shutting down" (WebSocket
// close 1001, polling "1"): all at once, or spread evenly over
// DrainDuration, so that replicas restarted one after the other do not send
// all of their clients to the others in the same second. It returns once
// every session was told, or when ctx ends (then the rest go at once).
func (s *Server) drain(ctx context.Context) {
	start := time.Now()
	end := start.Add(s.cfg.DrainDuration)
	for {
		left := time.Until(end)
		share := 1.0 // of each reactor's remaining sessions, this step
		if left > drainStep && ctx.Err() == nil {
			share = float64(drainStep) / float64(left)
		}
		var wg sync.WaitGroup
		for _, r := range *s.reactors.Load() {
			wg.Add(1)
			r.post(func(r *reactor) {
				defer wg.Done()
				r.closeSessions("server shutting down", share)
			})
		}
		wg.Wait()
		if share == 1 || s.Sessions() == 0 {
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(drainStep):
		}
	}
}

// closing counts the sessions and lingering connections still open.
func (s *Server) closing() int64 {
	n := int64(0)
	for _, r := range *s.reactors.Load() {
		n += r.sessions.Load() + r.lingerN.Load()
	}
	return n
}

// Draining reports whether Shutdown has begun.
func (s *Server) Draining() bool { return s.draining.Load() }

// Connections returns the number of open client TCP connections.
func (s *Server) Connections() int {
	n := int64(0)
	for _, r := range *s.reactors.Load() {
		n += r.conns.Load()
	}
	return int(n)
}

// Sessions returns the number of open Engine.IO sessions.
func (s *Server) Sessions() int {
	s.sessions.mu.RLock()
	defer s.sessions.mu.RUnlock()
	return s.sessions.t.len()
}

// recovered logs and counts a panic caught at the boundary of a reactor
// callback.
func (s *Server) recovered(where string, p any) {
	s.stats.Panics.Add(1)
	s.log.Error("BUG: panic recovered; the connection or job concerned was dropped", "where", where,
		"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
}

// gnetLogger passes gnet's warnings and errors to the server's log (a
// failing loop is the reason the engine stops) and drops its chatter.
type gnetLogger struct{ log *slog.Logger }

func (gnetLogger) Debugf(string, ...any)       {}
func (gnetLogger) Infof(string, ...any)        {}
func (l gnetLogger) Warnf(f string, a ...any)  { l.log.Warn("gnet: " + fmt.Sprintf(f, a...)) }
func (l gnetLogger) Errorf(f string, a ...any) { l.log.Error("gnet: " + fmt.Sprintf(f, a...)) }
func (l gnetLogger) Fatalf(f string, a ...any) { l.log.Error("gnet: " + fmt.Sprintf(f, a...)) }

// sessionTable maps session ids to sessions for requests that name a sid.
// It is only touched on handshakes, closes, polling requests and upgrades,
// never per message.
type sessionTable struct {
	mu sync.RWMutex
	t  idTable[*Session]
}

func (t *sessionTable) get(id []byte) *Session {
	t.mu.RLock()
	s := t.t.getBytes(id)
	t.mu.RUnlock()
	return s
}

func (t *sessionTable) add(s *Session) {
	t.mu.Lock()
	t.t.add(s)
	t.mu.Unlock()
}

// del removes s if it is still the session under its id.
func (t *sessionTable) del(s *Session) {
	t.mu.Lock()
	t.t.del(s)
	t.mu.Unlock()
}
