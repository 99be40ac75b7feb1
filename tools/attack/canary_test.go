package attack

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// canaryEvery is the canary's emit period.
const canaryEvery = 50 * time.Millisecond

// canaryGrace is how old an unanswered emit must be at Stop to count as
// lost (with its age as its round trip); younger ones are just in flight.
const canaryGrace = time.Second

// canaryClients is the number of canary connections: one per reactor
// (the harness runs EVENT_LOOPS=2, and gnet deals accepted connections
// out round robin), so that a reactor the attack stalls is noticed
// whichever reactor the attacker landed on.
const canaryClients = 2

// canary is a set of ordinary Socket.IO clients living through an attack:
// each emits "message" every 50 ms and times the server's echo.
type canary struct {
	ws       []*wsClient
	seq      atomic.Int64
	stopping atomic.Bool
	stop     chan struct{}
	wg       sync.WaitGroup
	once     sync.Once

	mu     sync.Mutex
	sentAt map[int]time.Time // emits not echoed yet
	sent   int
	rtts   []time.Duration
	err    error // the first failure while not stopping
	final  canaryStats
}

// canaryStats are the canary's figures over its life.
type canaryStats struct {
	Sent, Echoed, Lost int
	P50, P99, Max      time.Duration
	Err                error // the connection failed while the test still ran
}

func (s canaryStats) String() string {
	dis := "no"
	if s.Err != nil {
		dis = "YES (" + s.Err.Error() + ")"
	}
	return fmt.Sprintf("canary sent=%d echoed=%d lost=%d p50=%v p99=%v max=%v disconnected=%s",
		s.Sent, s.Echoed, s.Lost, s.P50.Round(100*time.Microsecond), s.P99.Round(100*time.Microsecond),
		s.Max.Round(100*time.Microsecond), dis)
}

// startCanary connects the canary clients to the "/" namespace of addr,
// one after the other.
func startCanary(t *testing.T, addr string) *canary {
	t.Helper()
	c := &canary{stop: make(chan struct{}), sentAt: make(map[int]time.Time)}
	t.Cleanup(func() { c.Stop() })
	for i := range canaryClients {
		ws, err := dialWS(addr, 5*time.Second, 0)
		if err != nil {
			t.Fatalf("canary %d: %v", i, err)
		}
		ack, err := ws.Connect("/", 5*time.Second)
		if err != nil || !strings.HasPrefix(ack, `40{"sid":`) {
			ws.Close()
			t.Fatalf("canary %d CONNECT: %q %v", i, ack, err)
		}
		c.ws = append(c.ws, ws)
		c.wg.Add(2)
		go c.emit(i, ws)
		go c.read(i, ws)
	}
	return c
}

func (c *canary) fail(err error) {
	if c.stopping.Load() {
		return
	}
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	c.mu.Unlock()
}

func (c *canary) emit(id int, ws *wsClient) {
	defer c.wg.Done()
	tick := time.NewTicker(canaryEvery)
	defer tick.Stop()
	var buf []byte
	for {
		select {
		case <-c.stop:
			return
		case <-tick.C:
		}
		n := int(c.seq.Add(1))
		buf = strconv.AppendInt(append(buf[:0], `42["message","canary-`...), int64(n), 10)
		buf = append(buf, `"]`...)
		c.mu.Lock()
		c.sentAt[n] = time.Now()
		c.sent++
		c.mu.Unlock()
		if err := ws.WriteText(buf, 2*time.Second); err != nil {
			c.fail(fmt.Errorf("client %d write: %w", id, err))
			return
		}
	}
}

func (c *canary) read(id int, ws *wsClient) {
	defer c.wg.Done()
	for {
		// The server pings every PING_INTERVAL; a minute of silence
		// while emitting every 50 ms is a dead server.
		p, err := ws.ReadPacket(time.Now().Add(time.Minute))
		if err != nil {
			c.fail(fmt.Errorf("client %d read: %w", id, err))
			return
		}
		rest, ok := strings.CutPrefix(p, `42["message","canary-`)
		if !ok {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSuffix(rest, `"]`))
		if err != nil {
			continue
		}
		now := time.Now()
		c.mu.Lock()
		if at, ok := c.sentAt[n]; ok {
			c.rtts = append(c.rtts, now.Sub(at))
			delete(c.sentAt, n)
		}
		c.mu.Unlock()
	}
}

// Stop ends the canary and returns its figures; later calls return the
// same figures.
func (c *canary) Stop() canaryStats {
	c.once.Do(func() {
		c.stopping.Store(true)
		close(c.stop)
		for _, ws := range c.ws {
			ws.Close() // ends the blocked read
		}
		c.wg.Wait()
		c.final = c.stats()
	})
	return c.final
}

func (c *canary) stats() canaryStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := canaryStats{Sent: c.sent, Echoed: len(c.rtts), Err: c.err}
	all := slices.Clone(c.rtts)
	now := time.Now()
	for _, at := range c.sentAt {
		if age := now.Sub(at); age >= canaryGrace {
			all = append(all, age)
			s.Lost++
		}
	}
	if len(all) == 0 {
		return s
	}
	slices.Sort(all)
	q := func(p float64) time.Duration { return all[min(len(all)-1, int(p*float64(len(all))))] }
	s.P50, s.P99, s.Max = q(0.50), q(0.99), all[len(all)-1]
	return s
}
