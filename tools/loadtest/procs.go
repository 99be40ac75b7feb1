package main

// Several processes, one run. A process may hold only RLIMIT_NOFILE sockets
// (20,000 on the machine of the README's figures), so --procs N starts N
// copies of the tool's own binary in child mode, each with its share of the
// clients and of the 127.0.0.x source addresses. The parent holds no client:
// it runs the phases, posts the fanout broadcasts and keeps one mirror of
// counters and histograms per child, which each child refreshes over its
// stdout every reportEvery. Every figure of the result (sums, merged
// histograms, per-broadcast deliveries) then comes from the same code as a
// single-process run: histograms are merged bucket by bucket, never averaged.
//
// Fan-out latency crosses processes: a broadcast carries the parent's clock
// reading ("ts") and a child subtracts it from its own. Both clocks are Unix
// nanoseconds (the wall time read once at start plus the monotonic time
// since), so on one machine they differ by the wall clock's drift between
// the two starts, microseconds, not by CLOCK_MONOTONIC's arbitrary origin.
//
// The wire is one JSON object a line. Parent to child (stdin): a childSpec,
// then childCmds. Child to parent (stdout): childReports, the last one with
// Final set. A child stops on the "stop" command, at its deadline, on
// SIGTERM, and when its stdin reaches EOF: the parent is gone (Pdeathsig
// sends SIGTERM too when the parent dies).

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// childEnv marks a child process; its value is the child's index.
const childEnv = "SIOLOOP_LOADTEST_CHILD"

// reportEvery is how often a child reports its counters.
const reportEvery = 250 * time.Millisecond

// childSpec is the first line a child reads: its whole configuration.
type childSpec struct {
	Config     Config `json:"config"`
	ClientBase int    `json:"client_base"` // index of the child's first client among all
	SourceBase int    `json:"source_base"` // the child's first source address is 127.0.0.(1+SourceBase)
	Deadline   int64  `json:"deadline"`    // Unix ns: the child stops by itself then, whatever happens
}

// Commands from the parent.
const (
	cmdMeasure = "measure" // start the measured phase: Start and End are its bounds (clock time)
	cmdDrain   = "drain"   // no new messages, wait for replies in flight
	cmdStop    = "stop"    // close every client, send the final report and exit
)

// childCmd is one command line.
type childCmd struct {
	Op    string `json:"op"`
	Start int64  `json:"start,omitempty"`
	End   int64  `json:"end,omitempty"`
}

// childReport is what a child knows at one moment.
type childReport struct {
	Phase      int32                 `json:"phase"` // the last phase the child was told
	Counters   counterValues         `json:"counters"`
	RTT        sparseDist            `json:"rtt"`
	Conn       sparseDist            `json:"conn"`
	Stages     [numStages]sparseDist `json:"stages"`
	CPU        float64               `json:"cpu_seconds"` // the child's own CPU time so far
	MaxRSS     uint64                `json:"max_rss_kib"`
	ErrSamples map[string]string     `json:"error_samples,omitempty"`
	Final      *childFinal           `json:"final,omitempty"`
}

// childFinal is what only the end of a child's run can tell.
type childFinal struct {
	Loss     LossCounts `json:"loss"`     // from the clients' trackers (echo)
	Measured int64      `json:"measured"` // clients connected when the measured phase began
	// Sums of the trackers of the measured clients.
	Duplicates uint64 `json:"duplicates"`
	Reordered  uint64 `json:"reordered"`
	Late       uint64 `json:"late"`
	Invalid    uint64 `json:"invalid"`
	// Fanout: first copies and the slowest of them, per broadcast that
	// reached any client of the child, and deliveries outside the table.
	Deliveries []slotValue `json:"deliveries,omitempty"`
	Outside    uint64      `json:"outside,omitempty"`
}

// slotValue is one broadcast as one child saw it.
type slotValue struct {
	Seq    uint64 `json:"seq"`
	N      uint32 `json:"n"`       // first copies received
	MinLat int64  `json:"min_lat"` // fastest of them, ns from the POST's start
	MaxLat int64  `json:"max_lat"` // slowest of them, ns from the POST's start
}

// child is the parent's handle on one child process.
type child struct {
	idx     int
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	stdout  io.ReadCloser
	spec    childSpec
	done    chan struct{} // closed when the process has exited and its output is read
	phase   atomic.Int32  // the last phase it reported
	cpu     atomic.Uint64 // CPU time it reported, µs
	maxRSS  atomic.Uint64
	final   *childFinal // set before done closes
	exitErr error       // set before done closes
}

// procEngine is the engine of a --procs run: its clients live in the
// children, rs.stats[i] mirrors child i.
type procEngine struct {
	rs       *runState
	children []*child
	mu       sync.Mutex // writes to the children's stdin
}

// childShares splits n clients over procs processes: the first n%procs get
// one more.
func childShares(n, procs int) []int {
	s := make([]int, procs)
	for i := range s {
		s[i] = n / procs
		if i < n%procs {
			s[i]++
		}
	}
	return s
}

// childSources gives child i of procs its source addresses out of total
// (cfg.Sources): contiguous ranges when there are enough, else one each,
// shared in turn. It returns the child's first address offset and count.
func childSources(i, procs, total int) (base, n int) {
	if total <= 1 {
		return 0, 1
	}
	if total < procs {
		return i % total, 1
	}
	for j := range i {
		base += total / procs
		if j < total%procs {
			base++
		}
	}
	n = total / procs
	if i < total%procs {
		n++
	}
	return base, n
}

// newProcEngine starts the children (they wait for their spec, sent by
// start). cfg must be resolved.
func newProcEngine(rs *runState) (*procEngine, error) {
	cfg := rs.cfg
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("loadtest: --procs: cannot find the tool's own binary: %w", err)
	}
	e := &procEngine{rs: rs}
	// The measured phase lasts until the last POST is answered or times out.
	deadline := time.Now().Add(cfg.ConnectWait + cfg.Duration + cfg.PostTimeout + cfg.Grace + 2*time.Minute).UnixNano()
	first := 0
	for i, share := range childShares(cfg.Connections, cfg.Procs) {
		c := &child{idx: i, done: make(chan struct{})}
		sc := *cfg
		sc.Connections, sc.Procs, sc.Quiet = share, 1, true
		sc.PIDs, sc.JSONFile, sc.ReportFile, sc.CPUProfile = nil, "", "", ""
		// The ramp is the whole run's: each child takes its share.
		sc.Ramp = cfg.Ramp * float64(share) / float64(cfg.Connections)
		sc.Inflight = max(1, cfg.Inflight/cfg.Procs)
		base, n := 0, 1
		if cfg.Sources > 1 {
			base, n = childSources(i, cfg.Procs, cfg.Sources)
		}
		sc.Sources = n
		c.spec = childSpec{Config: sc, ClientBase: first, SourceBase: base, Deadline: deadline}
		first += share

		c.cmd = exec.Command(exe)
		c.cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d", childEnv, i))
		c.cmd.Stderr = os.Stderr
		// Its own process group: a Ctrl-C at the terminal reaches the
		// parent only, which stops the children in order. Pdeathsig: the
		// kernel sends SIGTERM when the parent dies (strictly, when the
		// thread that forked it exits; stdin EOF covers that case).
		c.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
		if c.stdin, err = c.cmd.StdinPipe(); err == nil {
			c.stdout, err = c.cmd.StdoutPipe()
		}
		if err == nil {
			err = c.cmd.Start()
		}
		if err != nil {
			for _, c := range e.children {
				c.cmd.Process.Kill()
				c.cmd.Wait()
			}
			return nil, fmt.Errorf("loadtest: --procs: start child %d: %w", i, err)
		}
		e.children = append(e.children, c)
	}
	for _, c := range e.children {
		go e.follow(c)
	}
	return e, nil
}

// follow reads a child's reports until its stdout closes, then reaps it.
func (e *procEngine) follow(c *child) {
	defer close(c.done)
	st := e.rs.stats[c.idx]
	sc := bufio.NewScanner(c.stdout)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	var reports int
	for sc.Scan() {
		var r childReport
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			e.rs.noteErr(st, errChild, fmt.Errorf("loadtest: child %d: bad report: %w", c.idx, err))
			continue
		}
		if err := e.apply(c, &r); err != nil {
			e.rs.noteErr(st, errChild, fmt.Errorf("loadtest: child %d: %w", c.idx, err))
		}
		reports++
	}
	err := c.cmd.Wait()
	switch {
	case err != nil:
		c.exitErr = fmt.Errorf("loadtest: child %d (pid %d): %w", c.idx, c.cmd.Process.Pid, err)
	case c.final == nil:
		c.exitErr = fmt.Errorf("loadtest: child %d (pid %d) exited without its final report (%d reports)", c.idx, c.cmd.Process.Pid, reports)
	}
	if c.exitErr != nil {
		e.rs.noteErr(st, errChild, c.exitErr)
		// Its clients that never connected will not: the connect phase
		// need not wait for them.
		if left := int64(c.spec.Config.Connections) - st.connected.Load(); left > 0 {
			st.failed.Store(left)
		}
		st.open.Store(0)
	}
}

// apply loads one report into child c's mirror.
func (e *procEngine) apply(c *child, r *childReport) error {
	st := e.rs.stats[c.idx]
	var d Distribution
	if err := r.RTT.dist(&d); err != nil {
		return err
	}
	st.rtt.Load(&d)
	if err := r.Conn.dist(&d); err != nil {
		return err
	}
	st.conn.Load(&d)
	for i := range r.Stages {
		if err := r.Stages[i].dist(&d); err != nil {
			return err
		}
		st.stages[i].Load(&d)
	}
	st.load(&r.Counters)
	if len(r.ErrSamples) > 0 {
		e.rs.errMu.Lock()
		for k, v := range r.ErrSamples {
			if _, ok := e.rs.errSamples[k]; !ok {
				e.rs.errSamples[k] = fmt.Sprintf("child %d: %s", c.idx, v)
			}
		}
		e.rs.errMu.Unlock()
	}
	c.cpu.Store(uint64(r.CPU * 1e6))
	c.maxRSS.Store(r.MaxRSS)
	if r.Final != nil {
		c.final = r.Final
	}
	c.phase.Store(r.Phase)
	return nil
}

// send writes one line to every child still running.
func (e *procEngine) send(v any) {
	b, _ := json.Marshal(v)
	b = append(b, '\n')
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, c := range e.children {
		if c.exited() {
			continue
		}
		if _, err := c.stdin.Write(b); err != nil && !errors.Is(err, os.ErrClosed) {
			e.rs.noteErr(e.rs.stats[c.idx], errChild, fmt.Errorf("loadtest: child %d: write: %w", c.idx, err))
		}
	}
}

// start sends every child its spec: the children begin to connect.
func (e *procEngine) start() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, c := range e.children {
		b, _ := json.Marshal(c.spec)
		if _, err := c.stdin.Write(append(b, '\n')); err != nil {
			e.rs.noteErr(e.rs.stats[c.idx], errChild, fmt.Errorf("loadtest: child %d: write: %w", c.idx, err))
		}
	}
}

// enter moves every child to phase p. For the measured phase it waits (at
// most 2 s) until each running child has acknowledged, so that broadcasts
// start once every child counts them.
func (e *procEngine) enter(p int32) {
	rs := e.rs
	rs.phase.Store(p)
	switch p {
	case phaseMeasure:
		e.send(childCmd{Op: cmdMeasure, Start: rs.measureStart.Load(), End: rs.measureEnd.Load()})
		deadline := time.Now().Add(2 * time.Second)
		for _, c := range e.children {
			for c.phase.Load() < phaseMeasure && !c.exited() && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
		}
	case phaseDrain:
		e.send(childCmd{Op: cmdDrain})
	case phaseStop:
		e.send(childCmd{Op: cmdStop})
	}
}

// stopWait is how long the children may take to close their clients and
// report after "stop" before they are killed.
const stopWait = 30 * time.Second

// wait waits for every child to exit (killing, by PID, those that do not
// within stopWait), then merges their per-broadcast deliveries into the
// broadcast table.
func (e *procEngine) wait() {
	e.mu.Lock()
	for _, c := range e.children {
		if c.stdin != nil {
			c.stdin.Close()
		}
	}
	e.mu.Unlock()
	timeout := time.After(stopWait)
	for _, c := range e.children {
		select {
		case <-c.done:
		case <-timeout:
			e.kill()
			<-c.done
		}
	}
	if tab := e.rs.bcast; tab != nil {
		for _, c := range e.children {
			if c.final != nil {
				mergeDeliveries(tab, c.final)
			}
		}
	}
}

// kill sends SIGKILL to every child process still running, by PID.
func (e *procEngine) kill() {
	for _, c := range e.children {
		if !c.exited() {
			c.cmd.Process.Kill()
		}
	}
}

// exited reports whether the child has exited and its output is read.
func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// mergeDeliveries adds one child's deliveries to the parent's broadcast
// table: counts add up, the fastest and slowest deliveries are those of all.
func mergeDeliveries(tab *bcastTable, f *childFinal) {
	tab.outside.Add(f.Outside)
	for _, v := range f.Deliveries {
		if v.Seq == 0 || v.Seq >= uint64(len(tab.slots)) {
			tab.outside.Add(uint64(v.N))
			continue
		}
		s := &tab.slots[v.Seq]
		s.deliveries.Add(v.N)
		s.noteLat(v.MinLat, v.MaxLat)
	}
}

// loss sums the children's losses and measured clients. A child that died
// before its final report counts with what it last reported: its measured
// clients (in fanout, nothing they received is credited, since which
// broadcasts reached them is in the final report only) and, in echo, its
// sent and received messages. Call it after wait.
func (e *procEngine) loss() (l LossCounts, measured int64) {
	for _, c := range e.children {
		f := c.final
		if f == nil {
			// Echo: its last report's sent and received.
			st := e.rs.stats[c.idx]
			sent, fresh := st.sent.Load(), st.fresh.Load()
			l.Expected += sent
			l.Received += min(fresh, sent)
			l.Lost += sent - min(fresh, sent)
			measured += st.measured.Load()
			continue
		}
		l.Expected += f.Loss.Expected
		l.Received += f.Loss.Received
		l.Lost += f.Loss.Lost
		l.Duplicates += f.Loss.Duplicates
		l.Reordered += f.Loss.Reordered
		l.Late += f.Loss.Late
		l.Unexpected += f.Loss.Unexpected
		measured += f.Measured
	}
	return l, measured
}

// trackers calls f once per child with the sums of its trackers. Call it
// after wait.
func (e *procEngine) trackers(f func(t *SeqTracker)) {
	for _, c := range e.children {
		if fin := c.final; fin != nil {
			f(&SeqTracker{Duplicates: fin.Duplicates, Reordered: fin.Reordered, Late: fin.Late, Invalid: fin.Invalid})
		}
	}
}

// childCPU returns the CPU time the children have reported, in seconds.
func (e *procEngine) childCPU() float64 {
	var s uint64
	for _, c := range e.children {
		s += c.cpu.Load()
	}
	return float64(s) / 1e6
}

// childMaxRSS returns the sum of the children's peak RSS, in KiB.
func (e *procEngine) childMaxRSS() uint64 {
	var s uint64
	for _, c := range e.children {
		s += c.maxRSS.Load()
	}
	return s
}
