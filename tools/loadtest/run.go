package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// engine is a set of clients of one transport.
type engine interface {
	// start launches the clients; they connect, then follow rs.phase.
	start()
	// wait returns once every client is closed (after phaseStop).
	wait()
	// loss sums the echo sequence trackers and counts the clients that
	// were connected when the measured phase began. Call it after wait.
	loss() (l LossCounts, measured int64)
	// trackers calls f for every client that was connected when the
	// measured phase began. Call it after wait.
	trackers(f func(t *SeqTracker))
	// enter moves the clients to phase p (rs.measureStart and measureEnd
	// are set before phaseMeasure).
	enter(p int32)
}

// childCost is implemented by an engine whose clients run in other
// processes: the tool's CPU and memory include theirs.
type childCost interface {
	childCPU() float64   // seconds
	childMaxRSS() uint64 // KiB, summed over the processes
}

// Run performs one load test: connect phase, measured phase of
// cfg.Duration, drain of at most cfg.Grace, then it closes every client and
// returns the result. A live line goes to live every second (nil or
// cfg.Quiet: none). When ctx is cancelled (Ctrl-C) it stops at once and
// returns the result so far with Interrupted set.
func Run(ctx context.Context, cfg Config, live io.Writer) (*Result, error) {
	if err := cfg.resolve(ctx); err != nil {
		return nil, err
	}
	need := cfg.Connections
	if cfg.Transport == TransportPolling {
		need *= 2 // a long-poll GET and a POST at once
	}
	if cfg.Procs > 1 {
		need = childShares(cfg.Connections, cfg.Procs)[0] // the children inherit the limit
	}
	if limit, err := raiseNoFile(need); err != nil {
		if limit > fdReserve && cfg.Transport == TransportWebSocket {
			per := int(limit - fdReserve)
			err = fmt.Errorf("%w (--procs %d would split them over enough processes)", err, (need*cfg.Procs+per-1)/per)
		}
		return nil, err
	}
	if cfg.Quiet {
		live = nil
	}
	workers := cfg.Workers
	if cfg.Transport == TransportPolling {
		workers = 1
	}
	rs := newRunState(&cfg, workers)
	var eng engine
	if cfg.Procs > 1 {
		rs = newRunState(&cfg, cfg.Procs) // one mirror per child
		e, err := newProcEngine(rs)
		if err != nil {
			return nil, err
		}
		eng = e
	} else if cfg.Transport == TransportPolling {
		eng = newPollingEngine(rs)
	} else {
		e, err := newWSEngine(rs)
		if err != nil {
			return nil, err
		}
		eng = e
	}
	mon := newMonitor(rs, live)
	if c, ok := eng.(childCost); ok {
		mon.children = c
	}
	mon.begin()
	res := newResult(&cfg, rs)
	res.mark = rs.clk.now()
	eng.start()

	interrupted := func() bool {
		if ctx.Err() != nil {
			res.Interrupted = true
			return true
		}
		return false
	}
	sleep := func(d time.Duration) {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
		case <-t.C:
		}
	}

	// Connect phase: until every client has connected or failed.
	deadline := rs.clk.now() + int64(cfg.ConnectWait)
	for !interrupted() {
		t := rs.sum()
		if t.connected+t.failed >= int64(cfg.Connections) || rs.clk.now() >= deadline {
			break
		}
		mon.tick()
		sleep(10 * time.Millisecond)
	}
	connectEnd := rs.clk.now()
	res.phaseEnded(phaseConnect, connectEnd)

	// Measured phase.
	var bwg sync.WaitGroup
	var timingBefore *timingScrape
	// With no client connected there is nothing to measure: the result says
	// so at once rather than after --duration.
	if !res.Interrupted && rs.sum().open > 0 {
		if cfg.Scenario == ScenarioFanout {
			// Absent or unreadable: the result has no server timing.
			timingBefore, _ = scrapeTiming(ctx, cfg.metricsURL)
		}
		rs.measureStart.Store(connectEnd)
		rs.measureEnd.Store(connectEnd + int64(cfg.Duration))
		eng.enter(phaseMeasure)
		mon.markPhase(phaseMeasure)
		mon.measureCPU(0)
		res.MeasuredClients = rs.sum().open
		if cfg.Scenario == ScenarioFanout {
			b := newBroadcaster(rs)
			bwg.Add(1)
			go func() {
				defer bwg.Done()
				b.run(ctx)
			}()
		}
		for !interrupted() && rs.clk.now() < rs.measureEnd.Load() {
			mon.tick()
			sleep(10 * time.Millisecond)
		}
		bwg.Wait()
		mon.measureCPU(1)
		res.phaseEnded(phaseMeasure, rs.clk.now())
	}

	// Drain: replies still in flight.
	if !res.Interrupted && res.MeasuredClients > 0 && cfg.Scenario != ScenarioConnect {
		eng.enter(phaseDrain)
		mon.markPhase(phaseDrain)
		until := rs.clk.now() + int64(cfg.Grace)
		for !interrupted() && rs.clk.now() < until && !drained(rs) {
			mon.tick()
			sleep(10 * time.Millisecond)
		}
		res.phaseEnded(phaseDrain, rs.clk.now())
	}
	bwg.Wait()
	if timingBefore != nil && !res.Interrupted {
		if after, err := scrapeTiming(ctx, cfg.metricsURL); err == nil {
			res.ServerTiming = serverTiming(timingBefore, after)
		}
	}

	// The clients are still open: read the server's memory now.
	mon.end()
	eng.enter(phaseStop)
	eng.wait()
	res.finish(eng, mon)
	return res, nil
}

// drained reports whether every message of interest has arrived.
func drained(rs *runState) bool {
	t := rs.sum()
	if rs.bcast != nil {
		var measured int64
		for _, s := range rs.stats {
			measured += s.measured.Load()
		}
		// Failed POSTs count too: a server that timed out may still
		// deliver, and those deliveries must not stand in for the ones
		// of accepted broadcasts still in flight. When it does not
		// deliver them, the drain lasts --grace.
		tab := rs.bcast
		if rooms := rs.cfg.Rooms; rooms > 0 {
			// Each broadcast owes its room's members only.
			// The POSTs are over: a slot with a send time was posted.
			return t.fresh >= expectedRoomDeliveries(func(seq uint64) bool {
				return tab.slots[seq].sentAt.Load() != 0
			}, min(tab.posted.Load(), uint64(len(tab.slots)-1)), int(max(measured, 0)), rooms)
		}
		return t.fresh >= (tab.accepted.Load()+tab.failed.Load())*uint64(max(measured, 0))
	}
	return t.fresh >= t.sent
}

// monitor prints the live line, keeps the per-second series and follows
// the server process.
type monitor struct {
	rs   *runState
	out  io.Writer
	next int64 // clock time of the next sample

	prev       totals
	prevRTT    *Distribution
	prevConn   *Distribution
	rtt, conn  *Distribution
	prevSelf   float64
	prevServer float64
	prevT      int64
	phase      int32

	children  childCost // nil unless the clients run in child processes
	series    []Sample
	serverErr error
	rssBase   uint64
	rssEnd    uint64
	rssPeak   uint64
	hwm       uint64
	cpuStart  float64
	cpuEnd    float64
	selfStart float64
	selfEnd   float64
	cpuOK     bool       // the server's CPU could be read at the start
	measSelf  [2]float64 // the tool's CPU at the start and the end of the measured phase
	measSrv   [2]float64 // the server's, likewise
	// The machine's busy CPU (readMachineCPU): at the last sample, and at
	// the start and the end of the measured phase.
	machineOK   bool
	prevMachine float64
	measMachine [2]float64
	started     int64
	ended       int64
	openAtEnd   int64
}

func newMonitor(rs *runState, out io.Writer) *monitor {
	return &monitor{rs: rs, out: out, prevRTT: new(Distribution), prevConn: new(Distribution)}
}

// cpu returns the CPU time the tool has used, children included, in seconds.
func (m *monitor) cpu() float64 {
	if m.children != nil {
		return selfCPU() + m.children.childCPU()
	}
	return selfCPU()
}

// begin records the baselines before any client connects.
func (m *monitor) begin() {
	m.started = m.rs.clk.now()
	m.prevT = m.started
	m.next = m.started + 1e9
	m.selfStart = m.cpu()
	m.prevSelf = m.selfStart
	m.series = append(m.series, Sample{Phase: phaseNames[phaseConnect]}) // the origin of the charts
	if c, err := readMachineCPU(); err == nil {
		m.prevMachine, m.machineOK = c, true
	}
	if pids := m.rs.cfg.PIDs; len(pids) > 0 {
		if s, err := readProcsStatus(pids); err == nil {
			m.rssBase, m.rssPeak = s.RSS, s.RSS
		} else {
			m.serverErr = err
		}
		if c, err := readProcsCPU(pids); err == nil {
			m.cpuStart, m.prevServer, m.cpuOK = c, c, true
		}
	}
}

// markPhase takes a sample closing the previous phase, then switches.
func (m *monitor) markPhase(p int32) {
	now := m.rs.clk.now()
	m.sample(now)
	m.next = now + 1e9
	m.phase = p
}

// tick takes a sample and prints the live line when a second has passed.
func (m *monitor) tick() {
	now := m.rs.clk.now()
	if now < m.next {
		return
	}
	m.next += 1e9
	if m.next <= now {
		m.next = now + 1e9
	}
	m.sample(now)
}

// sample appends one point of the series and prints it.
func (m *monitor) sample(now int64) {
	rs, cfg := m.rs, m.rs.cfg
	t := rs.sum()
	m.rtt, m.conn = rs.snapshot(m.rtt, m.conn)
	dt := float64(now-m.prevT) / 1e9
	if dt <= 0 {
		dt = 1
	}
	irtt, iconn := *m.rtt, *m.conn
	irtt.Sub(m.prevRTT)
	iconn.Sub(m.prevConn)
	*m.prevRTT, *m.prevConn = *m.rtt, *m.conn

	s := Sample{
		T:         round3(float64(now-m.started) / 1e9),
		Phase:     phaseNames[m.phase],
		Connected: t.open,
		Sent:      t.sent,
		Received:  t.fresh,
		Errors:    t.errTotal,
		SendRate:  round1(float64(t.sent-m.prev.sent) / dt),
		RecvRate:  round1(float64(t.fresh-m.prev.fresh) / dt),
		ConnRate:  round1(float64(t.connected-m.prev.connected) / dt),
		P50:       ms(irtt.Quantile(0.50)),
		P99:       ms(irtt.Quantile(0.99)),
		Max:       ms(irtt.Max),
		ConnP99:   ms(iconn.Quantile(0.99)),
	}
	self := m.cpu()
	s.ToolCPU = round1((self - m.prevSelf) / dt * 100)
	m.prevSelf = self
	if pids := cfg.PIDs; len(pids) > 0 {
		if st, err := readProcsStatus(pids); err == nil {
			s.ServerRSS = st.RSS
			m.rssPeak = max(m.rssPeak, st.RSS)
		}
		if c, err := readProcsCPU(pids); err == nil {
			s.ServerCPU = round1((c - m.prevServer) / dt * 100)
			m.prevServer = c
		}
	}
	if c, err := readMachineCPU(); err == nil && m.machineOK {
		s.MachineCPU = round1((c - m.prevMachine) / dt * 100)
		s.OtherCPU = round1(max(s.MachineCPU-s.ToolCPU-s.ServerCPU, 0))
		m.prevMachine = c
	}
	// A sample right after another (at a phase change) has too short a
	// window for its rates to mean anything: it keeps the previous ones.
	short := dt < 0.25 && len(m.series) > 1
	if short {
		p := m.series[len(m.series)-1]
		s.SendRate, s.RecvRate, s.ConnRate, s.ToolCPU, s.ServerCPU = p.SendRate, p.RecvRate, p.ConnRate, p.ToolCPU, p.ServerCPU
		s.MachineCPU, s.OtherCPU = p.MachineCPU, p.OtherCPU
		if irtt.N == 0 {
			s.P50, s.P99, s.Max = p.P50, p.P99, p.Max
		}
	}
	m.prev, m.prevT = t, now
	m.series = append(m.series, s)
	if m.out != nil && !short {
		fmt.Fprintln(m.out, m.line(&s, &t))
	}
}

// line formats the live line of one sample.
func (m *monitor) line(s *Sample, t *totals) string {
	cfg := m.rs.cfg
	var b strings.Builder
	fmt.Fprintf(&b, "[%6.1fs] ", s.T)
	if m.phase == phaseConnect {
		done := t.connected + t.failed
		fmt.Fprintf(&b, "connecting %s %d/%d  %.0f/s  failed %d  handshake p99 %s",
			bar(float64(done)/float64(cfg.Connections), 20), t.connected, cfg.Connections, s.ConnRate, t.failed, fmtMS(s.ConnP99))
	} else if cfg.Scenario == ScenarioConnect {
		fmt.Fprintf(&b, "holding conn %d/%d  failed %d  err %d", t.open, cfg.Connections, t.failed, t.errTotal)
	} else {
		fmt.Fprintf(&b, "%-7s conn %d  sent %d  recv %d  err %d  msg/s %.0f  rtt p50 %s p99 %s",
			phaseNames[m.phase], t.open, t.sent, t.fresh, t.errTotal, s.RecvRate, fmtMS(s.P50), fmtMS(s.P99))
		if cfg.Scenario == ScenarioFanout && m.rs.bcast != nil {
			fmt.Fprintf(&b, "  bcast %d", m.rs.bcast.accepted.Load())
		}
	}
	fmt.Fprintf(&b, "  cpu %.0f%%", s.ToolCPU)
	if len(cfg.PIDs) > 0 {
		fmt.Fprintf(&b, "  server cpu %.0f%% rss %s", s.ServerCPU, fmtKiB(s.ServerRSS))
	}
	return b.String()
}

// measureCPU reads the CPU times of the tool and of the server at the start
// (i = 0) or the end (i = 1) of the measured phase: the cost per message
// counts only the phase in which messages flow.
func (m *monitor) measureCPU(i int) {
	m.measSelf[i] = m.cpu()
	if c, err := readMachineCPU(); err == nil {
		m.measMachine[i] = c
	}
	if pids := m.rs.cfg.PIDs; len(pids) > 0 {
		if c, err := readProcsCPU(pids); err == nil {
			m.measSrv[i] = c
		}
	}
}

// end takes the last sample and the server's figures while clients are open.
func (m *monitor) end() {
	now := m.rs.clk.now()
	m.sample(now)
	m.ended = now
	m.openAtEnd = m.rs.sum().open
	m.selfEnd = m.cpu()
	if pids := m.rs.cfg.PIDs; len(pids) > 0 {
		if s, err := readProcsStatus(pids); err == nil {
			m.rssEnd = s.RSS
			m.hwm = s.HWM
			m.rssPeak = max(m.rssPeak, s.RSS)
		} else if m.serverErr == nil {
			m.serverErr = err
		}
		if c, err := readProcsCPU(pids); err == nil {
			m.cpuEnd = c
		}
	}
}

// bar draws a progress bar of width cells for a fraction 0..1.
func bar(f float64, width int) string {
	f = min(max(f, 0), 1)
	n := int(f*float64(width) + 0.5)
	return "[" + strings.Repeat("#", n) + strings.Repeat(".", width-n) + "]"
}
