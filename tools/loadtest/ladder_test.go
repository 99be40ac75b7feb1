package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestLadderJudge(t *testing.T) {
	ok := LadderStep{Rate: 10000, Clients: 1000, Sent: 50000, Echoed: 50000, SentPerSec: 9990, P50: 0.2, P99: 4}
	f := func(name string, mod func(s *LadderStep), want string) {
		t.Helper()
		s := ok
		mod(&s)
		judge(&s, 1000, 10*time.Millisecond)
		got := strings.Join(s.Why, "; ")
		if s.Pass != (want == "") || !strings.Contains(got, want) {
			t.Errorf("%s: pass %v why %q, want %q", name, s.Pass, got, want)
		}
	}
	f("clean", func(s *LadderStep) {}, "")
	f("p99 at the limit", func(s *LadderStep) { s.P99 = 10 }, "")
	f("p99 over", func(s *LadderStep) { s.P99 = 10.5 }, "p99 10.50ms > 10.00ms")
	f("lost", func(s *LadderStep) { s.Lost, s.Echoed = 3, 49997 }, "lost 3")
	f("echoed short with no loss counted", func(s *LadderStep) { s.Echoed = 49999 }, "lost 0 (echoed 49999 of 50000)")
	f("error", func(s *LadderStep) { s.Errors = 1 }, "1 errors")
	f("client missing", func(s *LadderStep) { s.Clients = 999 }, "999 of 1000 clients")
	f("rate not reached", func(s *LadderStep) { s.SentPerSec = 9000 }, "load generator is the limit")
	f("rate just reached", func(s *LadderStep) { s.SentPerSec = 9500 }, "")
}

func TestLadderClimb(t *testing.T) {
	// A fake server whose p99 grows with the rate: 20k passes, 30k fails.
	p99 := map[float64]float64{5000: 1, 10000: 2, 20000: 8, 30000: 16, 40000: 3}
	var asked []float64
	step := func(rate float64) (LadderStep, bool) {
		asked = append(asked, rate)
		return LadderStep{Rate: rate, Clients: 100, SentPerSec: rate, P99: p99[rate]}, false
	}
	steps, best := climb([]float64{5000, 10000, 20000, 30000, 40000}, 1, 100, 10*time.Millisecond, step)
	if best != 20000 {
		t.Errorf("best %g, want 20000", best)
	}
	// It stops at the first failure: 40k (which would pass) is never run.
	if len(steps) != 4 || len(asked) != 4 || steps[3].Pass || !steps[2].Pass {
		t.Errorf("steps %+v, asked %v", steps, asked)
	}

	if _, best := climb([]float64{5000}, 1, 100, 10*time.Millisecond, func(r float64) (LadderStep, bool) {
		return LadderStep{Rate: r, Clients: 100, SentPerSec: r, P99: 50}, false
	}); best != 0 {
		t.Errorf("first step failing: best %g, want 0", best)
	}
	// stop (an interrupt or an error) ends the climb without a step.
	steps, best = climb([]float64{5000, 10000}, 1, 100, 10*time.Millisecond, func(r float64) (LadderStep, bool) {
		return LadderStep{Rate: r, Clients: 100, SentPerSec: r}, r > 5000
	})
	if len(steps) != 1 || best != 5000 {
		t.Errorf("stopped climb: %d steps, best %g", len(steps), best)
	}
}

func TestLadderRetry(t *testing.T) {
	// 10k fails its first try (a stall) and passes its second; 20k fails
	// both and ends the climb.
	tries := map[float64]int{}
	steps, best := climb([]float64{5000, 10000, 20000, 30000}, 2, 100, 10*time.Millisecond, func(r float64) (LadderStep, bool) {
		tries[r]++
		p99 := 1.0
		if (r == 10000 && tries[r] == 1) || r == 20000 {
			p99 = 40
		}
		return LadderStep{Rate: r, Clients: 100, SentPerSec: r, P99: p99}, false
	})
	if best != 10000 || len(steps) != 3 || steps[0].Tries != 1 || steps[1].Tries != 2 || !steps[1].Pass || steps[2].Tries != 2 || steps[2].Pass || tries[30000] != 0 {
		t.Errorf("best %g, steps %+v, tries %v", best, steps, tries)
	}
}

func TestLadderFlags(t *testing.T) {
	c, err := resolved(t, "--scenario", "echo-ladder", "--server", "http://127.0.0.1:1", "--ladder", "100, 200,400")
	if err != nil || len(c.rates) != 3 || c.rates[2] != 400 || c.Step != 5*time.Second || c.LadderP99 != 10*time.Millisecond {
		t.Errorf("rates %v step %v p99 %v err %v", c.rates, c.Step, c.LadderP99, err)
	}
	for _, bad := range []string{"200,100", "100,100", "0", "x", "100,"} {
		if _, err := resolved(t, "--scenario", "echo-ladder", "--server", "http://127.0.0.1:1", "--ladder", bad); err == nil {
			t.Errorf("--ladder %q accepted", bad)
		}
	}
	if _, err := resolved(t, "--scenario", "echo-ladder", "--server", "http://127.0.0.1:1", "--transport", "polling"); err == nil {
		t.Error("echo-ladder over polling accepted")
	}
}

func TestLadderReport(t *testing.T) {
	r := &LadderResult{Connections: 1000, Server: "http://127.0.0.1:3000", StepSec: 5, P99LimitMS: 10, Rates: []float64{5000, 10000}}
	r.Steps = []LadderStep{
		{Rate: 5000, Sent: 25000, Echoed: 25000, P99: 2, ServerUSPerMsg: 12.5, Pass: true},
		{Rate: 10000, Sent: 50000, Echoed: 49000, Lost: 1000, P99: 30, Why: []string{"lost 1000"}},
	}
	r.Best, r.BestStep = 5000, &r.Steps[0]
	var b bytes.Buffer
	r.PrintSummary(&b)
	for _, want := range []string{"best           5000 msgs/s sustained", "FAIL: lost 1000", "12.50"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, b.String())
		}
	}
	if h := r.HTML(); !strings.Contains(h, "5000 msgs/s sustained") || !strings.Contains(h, "<svg") {
		t.Errorf("HTML report lacks the answer or the charts")
	}
}
