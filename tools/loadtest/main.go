// Command loadtest drives a Socket.IO server (sioloop, or a peer with the same
// application behaviour) with thousands of clients from one process and
// reports what it saw: connect times, echo round trips or broadcast
// fan-out latency, lost, duplicated and reordered messages, errors by kind,
// and the server's memory and CPU.
//
// It speaks Engine.IO v4 and Socket.IO v5 itself. WebSocket clients are raw
// non-blocking sockets on a few epoll workers (no goroutine per client), so
// one process holds ~19,000 clients on little CPU; the polling transport uses
// a goroutine per client and is meant for correctness, not scale. Past what
// one process may open, --procs N runs the clients in N copies of the tool
// and merges their figures (procs.go); --server may list several servers,
// which the clients take in turn, while the broadcasts go to the first.
//
//	go run ./tools/loadtest --connections 1000 --interval 100ms --duration 20s
//	go run ./tools/loadtest --scenario fanout --connections 10000 --rate 20 --pid $(pidof sioloop)
//	go run ./tools/loadtest --scenario connect --connections 19000 --json out.json --report out.html
//	go run ./tools/loadtest --scenario fanout --connections 57000 --procs 3 --rate 2 \
//		--server http://127.0.0.1:3001,http://127.0.0.1:3002,http://127.0.0.1:3003
//
// Scenarios:
//
//	echo     every client emits `message` with {"seq","ts","pad"} every
//	         --interval and expects the server to emit it back
//	fanout   clients only listen; the tool POSTs /SendWebsocketEvent
//	         {"channel":"bench","payload":{"seq","ts","pad"}} at --rate and
//	         every client expects event `bench` with {"payload":{...}}
//	connect  clients open and hold for --duration
//	echo-ladder  the echo scenario at each --ladder rate in turn (total
//	         messages/s), --step each after a --warmup, until a step fails
//	         (p99 above --ladder-p99, a message lost, an error, or less than
//	         95 % of the rate sent); the answer is the last step that passed
//	         (ladder.go). tools/rawecho is the machine's ceiling for it.
//	         With --interleave, --server lists several servers and each
//	         rate runs on all of them in turn (ladder_interleave.go).
//
// A run has three phases: connect (until every client has connected or
// failed), measure (--duration) and drain (at most --grace, waiting for
// replies in flight). A live line goes to stderr every second; the summary
// goes to stdout. Exit status: 0 on success, 1 when losses or errors exceed
// --max-loss or --max-errors (or nothing connected), 2 for bad flags, 130
// when interrupted (the summary so far is printed first).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
)

func main() {
	if os.Getenv(childEnv) != "" {
		os.Exit(runChild(os.Stdin, os.Stdout))
	}
	os.Exit(run(os.Args[1:]))
}

// run is main without os.Exit, returning the exit status.
func run(args []string) int {
	cfg, err := ParseFlags(args, os.Stderr)
	if errors.Is(err, ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		return 2
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		fmt.Fprintln(os.Stderr, "loadtest: interrupted, stopping (again to quit at once)")
		cancel()
		<-sig
		os.Exit(130)
	}()

	if cfg.CPUProfile != "" {
		f, err := os.Create(cfg.CPUProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "loadtest: --cpuprofile:", err)
			return 2
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "loadtest: --cpuprofile:", err)
			return 2
		}
		defer pprof.StopCPUProfile()
	}
	if cfg.Scenario == ScenarioEchoLadder {
		return runLadder(ctx, cfg)
	}
	res, err := Run(ctx, cfg, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", strings.TrimPrefix(err.Error(), "loadtest: "))
		return 2
	}
	res.PrintSummary(os.Stdout)
	return finish(cfg, res, res.Pass, res.Interrupted)
}

// runLadder is run for --scenario echo-ladder: status 0 when a step passed.
func runLadder(ctx context.Context, cfg Config) int {
	live := io.Writer(os.Stderr)
	if cfg.Quiet {
		live = nil
	}
	if cfg.Interleave {
		res, err := RunInterleaved(ctx, cfg, live)
		if err != nil {
			fmt.Fprintln(os.Stderr, "loadtest:", strings.TrimPrefix(err.Error(), "loadtest: "))
			return 2
		}
		res.PrintSummary(os.Stdout)
		return finish(cfg, res, res.Pass, res.Interrupted)
	}
	res, err := RunLadder(ctx, cfg, live)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", strings.TrimPrefix(err.Error(), "loadtest: "))
		return 2
	}
	res.PrintSummary(os.Stdout)
	return finish(cfg, res, res.Pass, res.Interrupted)
}

// finish writes the --json and --report files of a result and returns the
// exit status: 130 when interrupted, 1 when the run failed or a file could
// not be written, 0 otherwise.
func finish(cfg Config, res interface {
	WriteJSON(string) error
	WriteHTML(string) error
}, pass, interrupted bool) int {
	status := 0
	if !pass {
		status = 1
	}
	if cfg.JSONFile != "" {
		if err := res.WriteJSON(cfg.JSONFile); err != nil {
			fmt.Fprintln(os.Stderr, "loadtest: --json:", err)
			status = 1
		}
	}
	if cfg.ReportFile != "" {
		if err := res.WriteHTML(cfg.ReportFile); err != nil {
			fmt.Fprintln(os.Stderr, "loadtest: --report:", err)
			status = 1
		}
	}
	if interrupted {
		return 130
	}
	return status
}
