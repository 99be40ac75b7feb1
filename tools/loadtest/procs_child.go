package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// runChild is the hidden child mode of --procs (procs.go): it reads its
// childSpec from in, runs its share of the clients through the phases the
// parent commands and writes childReports to out. It returns the exit status.
func runChild(in io.Reader, out io.Writer) int {
	// The parent handles Ctrl-C and stops the children in order.
	signal.Ignore(os.Interrupt)
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	defer signal.Stop(term)

	br := bufio.NewReader(in)
	line, err := br.ReadBytes('\n')
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest: child: no spec on stdin:", err)
		return 2
	}
	var spec childSpec
	if err := json.Unmarshal(line, &spec); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest: child: bad spec:", err)
		return 2
	}
	cfg := spec.Config
	cfg.Procs, cfg.Quiet = 1, true
	cfg.clientBase, cfg.sourceBase = spec.ClientBase, spec.SourceBase
	if err := cfg.resolve(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest: child:", err)
		return 2
	}
	if _, err := raiseNoFile(cfg.Connections); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest: child:", err)
		return 2
	}
	rs := newRunState(&cfg, cfg.Workers)
	eng, err := newWSEngine(rs)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest: child:", err)
		return 2
	}
	eng.start()

	cmds := make(chan childCmd)
	go func() {
		defer close(cmds)
		for {
			line, err := br.ReadBytes('\n')
			if err != nil {
				return
			}
			var c childCmd
			if json.Unmarshal(line, &c) == nil {
				cmds <- c
			}
		}
	}()
	enc := json.NewEncoder(out)
	report := func(final *childFinal) {
		if err := enc.Encode(childReportOf(rs, final)); err != nil {
			// The parent is gone: stop.
			rs.phase.Store(phaseStop)
		}
	}
	tick := time.NewTicker(reportEvery)
	defer tick.Stop()
	deadline := time.NewTimer(time.Until(time.Unix(0, spec.Deadline)))
	defer deadline.Stop()
	orphan := false
loop:
	for rs.phase.Load() != phaseStop {
		select {
		case c, ok := <-cmds:
			if !ok {
				orphan = true
				break loop
			}
			switch c.Op {
			case cmdMeasure:
				rs.measureStart.Store(c.Start)
				rs.measureEnd.Store(c.End)
				rs.phase.Store(phaseMeasure)
			case cmdDrain:
				rs.phase.Store(phaseDrain)
			case cmdStop:
				break loop
			}
			report(nil) // the acknowledgement
		case <-tick.C:
			report(nil)
		case <-deadline.C:
			fmt.Fprintln(os.Stderr, "loadtest: child: deadline passed without a stop from the parent, stopping")
			break loop
		case <-term:
			break loop
		}
	}
	rs.phase.Store(phaseStop)
	eng.wait()
	if !orphan {
		report(childFinalOf(rs, eng))
	}
	return 0
}

// childReportOf takes the figures of a child's run now.
func childReportOf(rs *runState, final *childFinal) *childReport {
	r := &childReport{Phase: rs.phase.Load(), CPU: selfCPU(), MaxRSS: selfMaxRSS(), Final: final}
	r.Counters.add(rs)
	rtt, conn := rs.snapshot(nil, nil)
	r.RTT, r.Conn = rtt.sparse(), conn.sparse()
	for i := range r.Stages {
		var d, tmp Distribution
		for _, st := range rs.stats {
			st.stages[i].Snapshot(&tmp)
			d.Add(&tmp)
		}
		r.Stages[i] = d.sparse()
	}
	rs.errMu.Lock()
	if len(rs.errSamples) > 0 {
		r.ErrSamples = make(map[string]string, len(rs.errSamples))
		for k, v := range rs.errSamples {
			r.ErrSamples[k] = v
		}
	}
	rs.errMu.Unlock()
	return r
}

// childFinalOf takes what only the end of the run tells. Call it after eng.wait.
func childFinalOf(rs *runState, eng engine) *childFinal {
	f := &childFinal{}
	f.Loss, f.Measured = eng.loss()
	eng.trackers(func(t *SeqTracker) {
		f.Duplicates += t.Duplicates
		f.Reordered += t.Reordered
		f.Late += t.Late
		f.Invalid += t.Invalid
	})
	if tab := rs.bcast; tab != nil {
		f.Outside = tab.outside.Load()
		for seq := range tab.slots {
			s := &tab.slots[seq]
			if n := s.deliveries.Load(); n > 0 {
				f.Deliveries = append(f.Deliveries, slotValue{Seq: uint64(seq), N: n, MinLat: s.minLat.Load(), MaxLat: s.maxLat.Load()})
			}
		}
	}
	return f
}
