package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The polling transport runs one goroutine per client (plus one sender per
// client in the echo scenario) on net/http: it exists to check behaviour
// over HTTP long-polling, not to reach the connection counts of the
// websocket clients.

// pollingEngine is the set of polling clients of a run.
type pollingEngine struct {
	rs      *runState
	st      *counters
	http    *http.Client
	clients []*pollClient
	wg      sync.WaitGroup
	ctx     context.Context
	cancel  context.CancelFunc
	measure chan struct{} // closed when the measured phase begins
	stop    chan struct{} // closed at phaseStop
}

// pollClient is one Engine.IO polling session.
type pollClient struct {
	e         *pollingEngine
	idx       int
	url       string // .../socket.io/?EIO=4&transport=polling&sid=...
	postMu    sync.Mutex
	sent      atomic.Uint64
	connected bool  // the handshake completed
	lostAt    int64 // clock time the session ended
	track     SeqTracker
	extra     uint64
	lost      atomic.Bool // the session failed; stop sending
}

func newPollingEngine(rs *runState) *pollingEngine {
	cfg := rs.cfg
	tr := &http.Transport{
		MaxIdleConnsPerHost: 2*cfg.Connections + 16,
		DisableCompression:  true,
		IdleConnTimeout:     90 * time.Second,
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &pollingEngine{
		rs: rs, st: rs.stats[0], http: &http.Client{Transport: tr}, ctx: ctx, cancel: cancel,
		measure: make(chan struct{}), stop: make(chan struct{}),
	}
	for i := range cfg.Connections {
		e.clients = append(e.clients, &pollClient{e: e, idx: i})
	}
	return e
}

// start launches the phase watcher and the dialer.
func (e *pollingEngine) start() {
	go e.watch()
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		e.dial()
	}()
}

// watch turns phase changes into channel closes, so that clients need not poll.
func (e *pollingEngine) watch() {
	measured := false
	for {
		p := e.rs.phase.Load()
		if p >= phaseMeasure && !measured {
			// Approximate (the exact count comes from the clients at
			// the end): it only lets the drain end early.
			e.st.measured.Store(e.st.open.Load())
			close(e.measure)
			measured = true
		}
		if p == phaseStop {
			close(e.stop)
			e.cancel()
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// dial starts the clients at the --ramp pace with at most --inflight
// handshakes at once.
func (e *pollingEngine) dial() {
	cfg := e.rs.cfg
	sem := make(chan struct{}, cfg.Inflight)
	t0 := time.Now()
	for i, c := range e.clients {
		if cfg.Ramp > 0 {
			due := t0.Add(time.Duration(float64(i) / cfg.Ramp * float64(time.Second)))
			select {
			case <-time.After(time.Until(due)):
			case <-e.measure:
				return
			case <-e.stop:
				return
			}
		}
		select {
		case sem <- struct{}{}:
		case <-e.measure:
			return
		case <-e.stop:
			return
		}
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			c.run(sem)
		}()
	}
}

// enter moves the clients to phase p.
func (e *pollingEngine) enter(p int32) { e.rs.phase.Store(p) }

func (e *pollingEngine) wait() {
	e.wg.Wait()
	e.http.CloseIdleConnections()
}

// measured reports whether c was connected when the measured phase began.
// Call it after wait.
func (e *pollingEngine) measured(c *pollClient) bool {
	start := e.rs.measureStart.Load()
	return start != 0 && c.connected && c.lostAt >= start
}

func (e *pollingEngine) loss() (l LossCounts, measured int64) {
	for _, c := range e.clients {
		if e.measured(c) {
			measured++
		}
		l.AddStream(&c.track, c.sent.Load(), c.extra)
	}
	return l, measured
}

func (e *pollingEngine) trackers(f func(t *SeqTracker)) {
	for _, c := range e.clients {
		if e.measured(c) {
			f(&c.track)
		}
	}
}

// run is the client's life: handshake, then the long-poll loop until the end.
func (c *pollClient) run(sem chan struct{}) {
	e, rs, cfg := c.e, c.e.rs, c.e.rs.cfg
	e.st.dialed.Add(1)
	started := rs.clk.now()
	hctx, hcancel := context.WithTimeout(e.ctx, cfg.Handshake)
	err := c.handshake(hctx)
	hcancel()
	<-sem
	if err == nil {
		select {
		case <-e.measure:
			err = errors.New("loadtest: connected only after the measured phase began")
		default:
		}
	}
	if err != nil {
		e.st.failed.Add(1)
		k := errHandshake
		var op *net.OpError
		switch {
		case errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "measured phase"):
			k = errTimeout
		case errors.As(err, &op) && op.Op == "dial":
			k = errDial
		}
		if e.ctx.Err() == nil {
			rs.noteErr(e.st, k, err)
		}
		return
	}
	e.st.conn.Record(rs.clk.now() - started)
	c.connected = true
	e.st.connected.Add(1)
	e.st.open.Add(1)
	defer e.st.open.Add(-1)

	var swg sync.WaitGroup
	if cfg.Scenario == ScenarioEcho {
		swg.Add(1)
		go func() {
			defer swg.Done()
			c.sender()
		}()
	}
	c.poll()
	c.lostAt = rs.clk.now()
	c.lost.Store(true)
	swg.Wait()
	// Tell the server we leave (engine.io-protocol v4 close packet).
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	c.post(ctx, []byte{eioClose})
	cancel()
}

// handshake opens the session and joins the namespace: GET the open packet,
// POST CONNECT, GET until the CONNECT ack (engine.io-protocol v4
// "Handshake", socket.io-protocol v5 "Connection to a namespace").
func (c *pollClient) handshake(ctx context.Context) error {
	e, cfg := c.e, c.e.rs.cfg
	base := cfg.base + cfg.Path + "?EIO=4&transport=polling"
	body, err := c.get(ctx, base)
	if err != nil {
		return err
	}
	pkt, _, _ := bytes.Cut(body, []byte{0x1e})
	if len(pkt) < 2 || pkt[0] != eioOpen {
		return fmt.Errorf("%w: want the open packet, got %q", ErrUnexpectedPacket, truncate(pkt, 80))
	}
	var open struct {
		SID string `json:"sid"`
	}
	if err := json.Unmarshal(pkt[1:], &open); err != nil || open.SID == "" {
		return fmt.Errorf("%w: open packet without sid: %q", ErrPacket, truncate(pkt, 80))
	}
	c.url = base + "&sid=" + open.SID
	if err := c.post(ctx, AppendConnect(nil, cfg.Namespace, cfg.authJSON)); err != nil {
		return err
	}
	for {
		body, err := c.get(ctx, c.url)
		if err != nil {
			return err
		}
		for len(body) > 0 {
			var p []byte
			p, body, _ = bytes.Cut(body, []byte{0x1e})
			if len(p) == 0 {
				continue
			}
			switch p[0] {
			case eioPing:
				if err := c.post(ctx, append([]byte{eioPong}, p[1:]...)); err != nil {
					return err
				}
			case eioNoop:
			case eioClose:
				return errors.New("loadtest: Engine.IO close packet during the handshake")
			case eioMessage:
				pk, err := ParseSIOPacket(p[1:])
				if err != nil {
					return err
				}
				if string(pk.Nsp) != cfg.Namespace {
					e.st.other.Add(1)
					continue
				}
				switch pk.Type {
				case sioConnect:
					// Packets after the ack in the same payload are rare
					// and not messages of interest yet.
					return nil
				case sioConnectError:
					return fmt.Errorf("%w: %s", ErrConnectRefused, truncate(pk.Data, 200))
				default:
					return fmt.Errorf("%w: Socket.IO packet type %q before the CONNECT ack", ErrUnexpectedPacket, pk.Type)
				}
			default:
				return fmt.Errorf("%w: Engine.IO packet type %q", ErrPacket, p[0])
			}
		}
	}
}

// poll is the long-poll loop after the handshake.
func (c *pollClient) poll() {
	e, rs, cfg := c.e, c.e.rs, c.e.rs.cfg
	want := "message"
	if cfg.Scenario == ScenarioFanout {
		want = cfg.Channel
	}
	for {
		body, err := c.get(e.ctx, c.url)
		if err != nil {
			if e.ctx.Err() == nil {
				rs.noteErr(e.st, errPolling, err)
			}
			return
		}
		now := rs.clk.now()
		for len(body) > 0 {
			var p []byte
			p, body, _ = bytes.Cut(body, []byte{0x1e})
			if len(p) == 0 {
				continue
			}
			switch p[0] {
			case eioPing:
				e.st.other.Add(1)
				if err := c.post(e.ctx, append([]byte{eioPong}, p[1:]...)); err != nil && e.ctx.Err() == nil {
					rs.noteErr(e.st, errPolling, err)
					return
				}
			case eioNoop, eioPong:
				e.st.other.Add(1)
			case eioClose:
				rs.noteErr(e.st, errClosed, errors.New("loadtest: Engine.IO close packet from the server"))
				return
			case eioMessage:
				if !c.onSocketIO(p[1:], want, now) {
					return
				}
			default:
				rs.noteErr(e.st, errProtocol, fmt.Errorf("%w: Engine.IO packet type %q", ErrPacket, p[0]))
				return
			}
		}
	}
}

// onSocketIO handles one Socket.IO packet; false ends the session.
func (c *pollClient) onSocketIO(b []byte, want string, now int64) bool {
	e, rs := c.e, c.e.rs
	pk, err := ParseSIOPacket(b)
	if err != nil {
		rs.noteErr(e.st, errProtocol, err)
		return false
	}
	if string(pk.Nsp) != rs.cfg.Namespace {
		e.st.other.Add(1)
		return true
	}
	switch pk.Type {
	case sioEvent:
		name, args, err := ParseEventData(pk.Data)
		if err != nil {
			rs.noteErr(e.st, errProtocol, err)
			return false
		}
		if string(name) != want {
			e.st.other.Add(1)
			return true
		}
		if rs.account(e.st, &c.track, c.sent.Load(), args, now) {
			c.extra++
		}
	case sioDisconnect:
		rs.noteErr(e.st, errClosed, errors.New("loadtest: DISCONNECT from the server"))
		return false
	default:
		e.st.other.Add(1)
	}
	return true
}

// sender emits the echo messages of the measured phase, spread like the
// websocket clients': client i sends at start + k*interval + i*interval/n.
func (c *pollClient) sender() {
	e, rs, cfg := c.e, c.e.rs, c.e.rs.cfg
	select {
	case <-e.measure:
	case <-e.stop:
		return
	}
	start, end := rs.measureStart.Load(), rs.measureEnd.Load()
	iv := int64(cfg.Interval)
	off := iv * int64(c.idx) / int64(cfg.Connections)
	var buf []byte
	for k := int64(0); ; k++ {
		due := start + off + k*iv
		if due >= end || c.lost.Load() {
			return
		}
		if wait := due - rs.clk.now(); wait > 0 {
			t := time.NewTimer(time.Duration(wait))
			select {
			case <-t.C:
			case <-e.stop:
				t.Stop()
				return
			}
		}
		seq := c.sent.Add(1)
		buf = AppendEcho(buf[:0], cfg.Namespace, seq, rs.clk.now(), cfg.pad)
		if err := c.post(e.ctx, buf); err != nil {
			if e.ctx.Err() == nil {
				rs.noteErr(e.st, errPolling, err)
			}
			return
		}
		e.st.sent.Add(1)
	}
}

// get performs one polling GET and returns the body.
func (c *pollClient) get(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.e.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("loadtest: GET: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxFramePayload))
	if err != nil {
		return nil, fmt.Errorf("loadtest: GET: %w", err)
	}
	c.e.st.bytesIn.Add(uint64(len(body)))
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("loadtest: GET: status %d: %s", resp.StatusCode, truncate(body, 120))
	}
	return body, nil
}

// post sends one payload. POSTs of a session are serialised: Node closes a
// session that has two POSTs in flight (engine.io-protocol v4).
func (c *pollClient) post(ctx context.Context, body []byte) error {
	c.postMu.Lock()
	defer c.postMu.Unlock()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	resp, err := c.e.http.Do(req)
	if err != nil {
		return fmt.Errorf("loadtest: POST: %w", err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	c.e.st.bytesOut.Add(uint64(len(body)))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("loadtest: POST: status %d: %s", resp.StatusCode, truncate(answer, 120))
	}
	return nil
}
