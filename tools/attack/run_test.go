package attack

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// maxAttack bounds every attack; the attack's context ends then, or
// earlier when the server's RSS passes the safety cap.
const maxAttack = 15 * time.Second

// bounds are what a test allows the server during its attack.
type bounds struct {
	RSS int64         // peak RSS − baseline RSS
	P99 time.Duration // canary echo round trip, 99th percentile
}

// attackRun is one attack in progress: the server, its canary and the
// RSS sampler. Begin it with begin and end it with defer a.finish().
type attackRun struct {
	t        *testing.T
	Srv      *server
	Canary   *canary
	RSS      *rssSampler
	Baseline int64
	// Ctx ends at maxAttack, or when the RSS passes the safety cap.
	Ctx    context.Context
	cancel context.CancelFunc
	bounds bounds
	// outcome says what the attack saw, for the figures line.
	outcome []string
}

// begin starts the server with env, connects the canary, lets it settle,
// takes the baseline RSS and starts sampling.
func begin(t *testing.T, b bounds, opts serverOpts, env ...string) *attackRun {
	t.Helper()
	srv := startServer(t, opts, env...)
	c := startCanary(t, srv.Addr)
	time.Sleep(300 * time.Millisecond)
	base, err := readRSS(srv.Pid)
	if err != nil {
		t.Fatalf("baseline RSS: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), maxAttack)
	a := &attackRun{t: t, Srv: srv, Canary: c, Baseline: base, Ctx: ctx, cancel: cancel, bounds: b}
	a.RSS = sampleRSS(srv.Pid, base, cancel)
	t.Cleanup(func() { cancel(); a.RSS.Stop() })
	return a
}

// Outcome records what the attack saw; it goes on the figures line.
func (a *attackRun) Outcome(format string, args ...any) {
	a.outcome = append(a.outcome, fmt.Sprintf(format, args...))
}

// Gone reports whether the server process has ended.
func (a *attackRun) Gone() bool { return a.Srv.Exited() }

// finish stops the canary and the sampler, sends SIGTERM, logs the
// figures and asserts the common bounds. Defer it right after begin, so
// that the figures are logged even when the attack stops the test.
func (a *attackRun) finish() {
	t := a.t
	a.cancel()
	alive := !a.Srv.Exited()
	cs := a.Canary.Stop()
	a.RSS.Stop()
	peak := a.RSS.Peak()
	grow := peak - a.Baseline
	process := "alive"
	if !alive {
		process = "DIED: " + a.Srv.exitError().Error()
	} else if err := a.Srv.Terminate(8 * time.Second); err != nil {
		process = "alive; SIGTERM: " + err.Error()
	} else {
		process = "alive; SIGTERM: exit 0"
	}
	capped := ""
	if a.RSS.Capped() {
		capped = " (attack stopped at the safety cap)"
	}
	t.Logf("figures: baseline RSS %s, peak RSS %s (+%s, bound %s)%s; %v (p99 bound %v); process %s; outcome: %s",
		mb(a.Baseline), mb(peak), mb(grow), mb(a.bounds.RSS), capped, cs, a.bounds.P99, process,
		strings.Join(a.outcome, "; "))
	if !alive {
		t.Errorf("server died during the attack: %v\nlog tail:\n%s", a.Srv.exitError(), a.Srv.Log.Tail(3000))
	} else if !strings.HasSuffix(process, "exit 0") {
		t.Errorf("server did not exit 0 on SIGTERM: %s\nlog tail:\n%s", process, a.Srv.Log.Tail(2000))
	}
	if grow > a.bounds.RSS {
		t.Errorf("peak RSS %s is %s over the baseline %s: bound %s%s", mb(peak), mb(grow), mb(a.Baseline), mb(a.bounds.RSS), capped)
	}
	if alive && cs.Err != nil {
		t.Errorf("canary disconnected: %v", cs.Err)
	}
	if cs.Echoed == 0 {
		t.Errorf("canary got no echo at all (%d sent)", cs.Sent)
	} else if cs.P99 > a.bounds.P99 {
		t.Errorf("canary p99 %v over its bound %v (p50 %v, max %v, %d lost)", cs.P99, a.bounds.P99, cs.P50, cs.Max, cs.Lost)
	}
}
