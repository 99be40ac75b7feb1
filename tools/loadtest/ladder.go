package main

// The echo ladder (--scenario echo-ladder) looks for the highest `message`
// echo rate a server sustains: it runs the echo scenario at each --ladder
// rate in turn (total messages per second over every client, so each client
// emits every connections/rate seconds) and stops at the first step that
// fails. A step passes when every measured client stayed connected, the tool
// sent at least 95 % of the asked rate, every echo came back (nothing lost,
// no error) and the round-trip p99 is at most --ladder-p99. The answer is
// the rate of the last step that passed.
//
// Every step is a complete run of its own (connect, --step measured, drain):
// the clients reconnect between steps, outside the measured window, so one
// step's backlog cannot spill into the next one's figures. A warm-up run at
// the first rate (--warmup) comes first and is not judged: it lets the
// server's JIT, heap and buffers reach their working size.

import (
	"context"
	"fmt"
	"html"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

const defaultLadder = "5000,10000,20000,30000,40000,50000"

// minSentRatio is the share of the asked rate the tool must send for a step
// to count: below it the load generator, not the server, is the limit.
const minSentRatio = 0.95

// resolveLadder checks the echo-ladder flags and parses --ladder.
func (c *Config) resolveLadder() error {
	if c.Ladder == "" {
		c.Ladder = defaultLadder
	}
	c.rates = c.rates[:0]
	for _, w := range strings.Split(c.Ladder, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(w), 64)
		if err != nil || v <= 0 || v > 10_000_000 {
			return fmt.Errorf("invalid --ladder %q: want increasing messages/s like 5000,10000,20000", c.Ladder)
		}
		if n := len(c.rates); n > 0 && v <= c.rates[n-1] {
			return fmt.Errorf("invalid --ladder %q: the rates must increase", c.Ladder)
		}
		c.rates = append(c.rates, v)
	}
	if c.Step <= 0 {
		c.Step = 5 * time.Second
	}
	if c.Warmup < 0 {
		c.Warmup = 0
	}
	if c.StepTries <= 0 {
		c.StepTries = 1
	}
	if c.LadderP99 <= 0 {
		c.LadderP99 = 10 * time.Millisecond
	}
	if c.Transport != "" && c.Transport != TransportWebSocket {
		return fmt.Errorf("invalid --transport %q: the echo ladder runs over websocket", c.Transport)
	}
	return nil
}

// LadderStep is the outcome of one rate.
type LadderStep struct {
	Rate       float64 `json:"rate_per_second"` // asked, over every client
	IntervalMS float64 `json:"interval_ms"`     // between two messages of one client
	Clients    int64   `json:"clients"`         // connected when the measured phase began
	Sent       uint64  `json:"sent"`
	Echoed     uint64  `json:"echoed"` // first copies back
	Lost       uint64  `json:"lost"`
	Errors     uint64  `json:"errors"`
	SentPerSec float64 `json:"sent_per_second"`
	P50        float64 `json:"p50_ms"`
	P99        float64 `json:"p99_ms"`
	Max        float64 `json:"max_ms"`

	// CPU of the measured phase; per message = CPU time / echoed.
	ServerCPU      float64 `json:"server_cpu_seconds"`
	ServerCPUPct   float64 `json:"server_cpu_percent"` // of one core
	ServerUSPerMsg float64 `json:"server_cpu_us_per_message"`
	ToolCPU        float64 `json:"loadtest_cpu_seconds"`
	ToolCPUPct     float64 `json:"loadtest_cpu_percent"`
	ToolUSPerMsg   float64 `json:"loadtest_cpu_us_per_message"`
	// OtherCPUPct is the machine's CPU that went to neither the server nor
	// the tool, in % of a core: on a shared machine, what a step competed with.
	OtherCPUPct float64 `json:"other_cpu_percent"`

	Pass  bool     `json:"pass"`
	Why   []string `json:"why,omitempty"` // why it failed (its last try)
	Tries int      `json:"tries"`         // runs of this rate, more than 1 when a try failed
}

// LadderResult is the outcome of an echo-ladder run.
type LadderResult struct {
	Tool        string       `json:"tool"`
	StartedAt   time.Time    `json:"started_at"`
	Interrupted bool         `json:"interrupted"`
	Server      string       `json:"server"`
	Name        string       `json:"name,omitempty"` // --names, in an interleaved ladder
	PID         int          `json:"pid,omitempty"`  // its --pid, in an interleaved ladder
	Connections int          `json:"connections"`
	Payload     int          `json:"payload_bytes"`
	Procs       int          `json:"procs"`
	StepSec     float64      `json:"step_seconds"`
	StepTries   int          `json:"step_tries"`
	WarmupSec   float64      `json:"warmup_seconds"`
	P99LimitMS  float64      `json:"p99_limit_ms"`
	Rates       []float64    `json:"rates_per_second"`
	Warmup      *LadderStep  `json:"warmup,omitempty"`
	Steps       []LadderStep `json:"steps"`
	Best        float64      `json:"best_rate_per_second"` // the last step that passed, 0 when none did
	BestStep    *LadderStep  `json:"best_step,omitempty"`
	Pass        bool         `json:"pass"` // at least one step passed
}

// stepOf condenses one echo run into a ladder step.
func stepOf(rate float64, r *Result) LadderStep {
	s := LadderStep{
		Rate: rate, IntervalMS: r.Setup.IntervalMS, Clients: r.MeasuredClients,
		Sent: r.Messages.Sent, Echoed: r.Messages.Received, Lost: r.Loss.Lost, Errors: r.ErrorTotal,
		SentPerSec: r.Messages.SentPerSec, P50: r.Latency.P50, P99: r.Latency.P99, Max: r.Latency.Max,
		ToolCPU: r.Self.MeasureCPU,
	}
	if r.Server != nil {
		s.ServerCPU = r.Server.MeasureCPU
	}
	if r.MeasureSeconds > 0 {
		s.ServerCPUPct = round1(s.ServerCPU / r.MeasureSeconds * 100)
		s.ToolCPUPct = round1(s.ToolCPU / r.MeasureSeconds * 100)
	}
	if r.Machine != nil {
		s.OtherCPUPct = r.Machine.OtherPercent
	}
	if s.Echoed > 0 {
		s.ServerUSPerMsg = round3(s.ServerCPU / float64(s.Echoed) * 1e6)
		s.ToolUSPerMsg = round3(s.ToolCPU / float64(s.Echoed) * 1e6)
	}
	return s
}

// judge decides whether step s passes: every client measured, the asked rate
// sent, nothing lost, no error, p99 within the limit.
func judge(s *LadderStep, clients int, p99Limit time.Duration) {
	s.Why = nil
	if s.Clients < int64(clients) {
		s.Why = append(s.Why, fmt.Sprintf("%d of %d clients connected", s.Clients, clients))
	}
	if s.SentPerSec < s.Rate*minSentRatio {
		s.Why = append(s.Why, fmt.Sprintf("sent %.0f/s of %.0f/s asked (the load generator is the limit)", s.SentPerSec, s.Rate))
	}
	if s.Lost > 0 || s.Echoed < s.Sent {
		s.Why = append(s.Why, fmt.Sprintf("lost %d (echoed %d of %d)", s.Lost, s.Echoed, s.Sent))
	}
	if s.Errors > 0 {
		s.Why = append(s.Why, fmt.Sprintf("%d errors", s.Errors))
	}
	if limit := float64(p99Limit) / 1e6; s.P99 > limit {
		s.Why = append(s.Why, fmt.Sprintf("p99 %s > %s", fmtMS(s.P99), fmtMS(limit)))
	}
	s.Pass = len(s.Why) == 0
}

// climb runs step for each rate in turn, judging each, and stops after the
// first that fails (or when step reports stop). It returns the steps run and
// the rate of the last one that passed (0 when none did).
//
// A step that fails is run again, up to tries times in all: on a machine
// shared with other work, one stall of a few tens of milliseconds in a
// step of a few seconds is enough to lift its p99, and the retry tells such
// a stall from a rate the server cannot hold. Tries records the count.
func climb(rates []float64, tries, clients int, p99Limit time.Duration, step func(rate float64) (s LadderStep, stop bool)) ([]LadderStep, float64) {
	var steps []LadderStep
	best := 0.0
	for _, rate := range rates {
		var s LadderStep
		stop := false
		for try := 1; try <= max(tries, 1); try++ {
			if s, stop = step(rate); stop {
				break
			}
			judge(&s, clients, p99Limit)
			s.Tries = try
			if s.Pass {
				break
			}
		}
		if stop {
			break
		}
		steps = append(steps, s)
		if !s.Pass {
			break
		}
		best = rate
	}
	return steps, best
}

// RunLadder performs an echo-ladder run: the warm-up, then one echo run per
// rate until one fails. Progress and each step's live lines go to live.
func RunLadder(ctx context.Context, cfg Config, live io.Writer) (*LadderResult, error) {
	base := cfg // unresolved: every step resolves its own copy
	if err := cfg.resolve(ctx); err != nil {
		return nil, err
	}
	if live == nil {
		live = io.Discard
	}
	res := &LadderResult{
		Tool: "sioloop/tools/loadtest", StartedAt: time.Now().UTC(), Server: cfg.Server,
		Connections: cfg.Connections, Payload: cfg.Payload, Procs: cfg.Procs,
		StepSec: cfg.Step.Seconds(), StepTries: cfg.StepTries, WarmupSec: cfg.Warmup.Seconds(), P99LimitMS: float64(cfg.LadderP99) / 1e6,
		Rates: cfg.rates,
	}
	run := func(rate float64, d time.Duration) (*Result, error) {
		c := base
		c.Scenario = ScenarioEcho
		c.Duration = d
		c.Interval = time.Duration(float64(cfg.Connections) / rate * 1e9)
		c.JSONFile, c.ReportFile, c.CPUProfile = "", "", ""
		c.MaxLoss, c.MaxErrors = "100%", 1<<30 // the ladder judges
		return Run(ctx, c, live)
	}
	var err error
	if cfg.Warmup > 0 {
		fmt.Fprintf(live, "[ladder] warm-up at %.0f msgs/s for %v\n", cfg.rates[0], cfg.Warmup)
		r, e := run(cfg.rates[0], cfg.Warmup)
		if e != nil {
			return nil, e
		}
		w := stepOf(cfg.rates[0], r)
		judge(&w, cfg.Connections, cfg.LadderP99)
		res.Warmup = &w
		res.Interrupted = r.Interrupted
	}
	if !res.Interrupted {
		var best float64
		res.Steps, best = climb(cfg.rates, cfg.StepTries, cfg.Connections, cfg.LadderP99, func(rate float64) (LadderStep, bool) {
			fmt.Fprintf(live, "[ladder] step at %.0f msgs/s (every client every %v) for %v\n", rate, time.Duration(float64(cfg.Connections)/rate*1e9), cfg.Step)
			r, e := run(rate, cfg.Step)
			if e != nil {
				err = e
				return LadderStep{}, true
			}
			if r.Interrupted {
				res.Interrupted = true
				return LadderStep{}, true
			}
			s := stepOf(rate, r)
			judge(&s, cfg.Connections, cfg.LadderP99)
			fmt.Fprintf(live, "[ladder] %s\n", s.line())
			return s, false
		})
		res.Best = best
	}
	if err != nil {
		return nil, err
	}
	for i := range res.Steps {
		if res.Steps[i].Pass {
			res.BestStep = &res.Steps[i]
		}
	}
	res.Pass = res.Best > 0 && !res.Interrupted
	return res, nil
}

// line is one step in a line of text.
func (s *LadderStep) line() string {
	v := "pass"
	if !s.Pass {
		v = "FAIL: " + strings.Join(s.Why, "; ")
	}
	return fmt.Sprintf("%6.0f/s  sent %d (%.0f/s)  echoed %d  lost %d  err %d  p50 %s p99 %s  server %.0f%% %.1fµs/msg  loadtest %.0f%% %.1fµs/msg  other work %.0f%%  %s",
		s.Rate, s.Sent, s.SentPerSec, s.Echoed, s.Lost, s.Errors, fmtMS(s.P50), fmtMS(s.P99),
		s.ServerCPUPct, s.ServerUSPerMsg, s.ToolCPUPct, s.ToolUSPerMsg, s.OtherCPUPct, v)
}

// PrintSummary writes the ladder as a table, then the answer.
func (r *LadderResult) PrintSummary(w io.Writer) {
	fmt.Fprintf(w, "\n== loadtest: echo ladder, %d clients → %s, steps of %gs (warm-up %gs), pass = p99 ≤ %s, nothing lost\n",
		r.Connections, r.Server, r.StepSec, r.WarmupSec, fmtMS(r.P99LimitMS))
	fmt.Fprintf(w, "%8s %9s %9s %9s %6s %5s %9s %9s %8s %10s %8s %10s  %s\n",
		"rate/s", "sent/s", "sent", "echoed", "lost", "err", "p50", "p99", "srv cpu", "srv µs/msg", "tool cpu", "tool µs/msg", "verdict")
	row := func(name string, s *LadderStep) {
		v := "pass"
		if !s.Pass {
			v = "FAIL: " + strings.Join(s.Why, "; ")
		}
		if s.Tries > 1 {
			v += fmt.Sprintf(" (try %d)", s.Tries)
		}
		fmt.Fprintf(w, "%8s %9.0f %9d %9d %6d %5d %9s %9s %7.0f%% %10.2f %7.0f%% %10.2f  %s\n",
			name, s.SentPerSec, s.Sent, s.Echoed, s.Lost, s.Errors, fmtMS(s.P50), fmtMS(s.P99),
			s.ServerCPUPct, s.ServerUSPerMsg, s.ToolCPUPct, s.ToolUSPerMsg, v)
	}
	if r.Warmup != nil {
		row("warm-up", r.Warmup)
	}
	for i := range r.Steps {
		row(strconv.FormatFloat(r.Steps[i].Rate, 'f', 0, 64), &r.Steps[i])
	}
	switch {
	case r.Best > 0 && len(r.Steps) == len(r.Rates) && r.Steps[len(r.Steps)-1].Pass:
		fmt.Fprintf(w, "best           %.0f msgs/s sustained: every step passed, the ceiling is higher (add steps)\n", r.Best)
	case r.Best > 0:
		fmt.Fprintf(w, "best           %.0f msgs/s sustained (p99 %s)\n", r.Best, fmtMS(r.BestStep.P99))
	default:
		fmt.Fprintln(w, "best           none: the first step failed")
	}
	printLadderVerdict(w, r.Interrupted, r.Pass)
}

// WriteJSON writes the ladder to path.
func (r *LadderResult) WriteJSON(path string) error { return writeJSONFile(path, r) }

// WriteHTML writes a self-contained page with the steps and a chart of p99
// and CPU against the rate.
func (r *LadderResult) WriteHTML(path string) error {
	return os.WriteFile(path, []byte(r.HTML()), 0o644)
}

// HTML renders the report page.
func (r *LadderResult) HTML() string {
	var b strings.Builder
	title := fmt.Sprintf("loadtest: echo ladder, %d clients", r.Connections)
	b.WriteString("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>")
	b.WriteString(html.EscapeString(title))
	b.WriteString("</title>\n<style>\n")
	b.WriteString(reportCSS)
	b.WriteString("</style></head><body>\n")
	fmt.Fprintf(&b, "<h1>%s</h1>\n", html.EscapeString(title))
	verdict := fmt.Sprintf(`<span class="pass">%.0f msgs/s sustained</span>`, r.Best)
	if r.Best == 0 {
		verdict = `<span class="fail">no step passed</span>`
	}
	fmt.Fprintf(&b, "<p>%s &middot; target %s &middot; started %s &middot; steps of %gs after a %gs warm-up; a step passes with p99 &le; %s, nothing lost, no error and &ge; %.0f%% of the rate sent</p>\n",
		verdict, html.EscapeString(r.Server), r.StartedAt.Format(time.RFC3339), r.StepSec, r.WarmupSec, fmtMS(r.P99LimitMS), minSentRatio*100)
	b.WriteString("<table>\n<tr><th>rate/s</th><th>sent/s</th><th>sent</th><th>echoed</th><th>lost</th><th>errors</th><th>p50</th><th>p99</th><th>max</th><th>server CPU</th><th>server µs/msg</th><th>loadtest CPU</th><th>loadtest µs/msg</th><th>verdict</th></tr>\n")
	row := func(name string, s *LadderStep) {
		v := `<span class="pass">pass</span>`
		if !s.Pass {
			v = `<span class="fail">fail</span>: ` + html.EscapeString(strings.Join(s.Why, "; "))
		}
		fmt.Fprintf(&b, "<tr><td>%s</td><td>%.0f</td><td>%d</td><td>%d</td><td>%d</td><td>%d</td><td>%s</td><td>%s</td><td>%s</td><td>%.0f%%</td><td>%.2f</td><td>%.0f%%</td><td>%.2f</td><td>%s</td></tr>\n",
			html.EscapeString(name), s.SentPerSec, s.Sent, s.Echoed, s.Lost, s.Errors, fmtMS(s.P50), fmtMS(s.P99), fmtMS(s.Max),
			s.ServerCPUPct, s.ServerUSPerMsg, s.ToolCPUPct, s.ToolUSPerMsg, v)
	}
	if r.Warmup != nil {
		row("warm-up", r.Warmup)
	}
	for i := range r.Steps {
		row(strconv.FormatFloat(r.Steps[i].Rate, 'f', 0, 64), &r.Steps[i])
	}
	b.WriteString("</table>\n")
	if len(r.Steps) > 0 {
		var p99, srv, tool []point
		for _, s := range r.Steps {
			p99 = append(p99, point{s.Rate, s.P99})
			srv = append(srv, point{s.Rate, s.ServerCPUPct})
			tool = append(tool, point{s.Rate, s.ToolCPUPct})
		}
		b.WriteString("<div class=\"charts\">\n")
		b.WriteString(lineChart("Round-trip p99 by rate", "msgs/s", "ms", nil, false, []series{{"p99", "#c53030", p99}}))
		b.WriteString(lineChart("CPU by rate (% of a core)", "msgs/s", "%", nil, false, []series{{"server", "#2b6cb0", srv}, {"loadtest", "#dd6b20", tool}}))
		b.WriteString("</div>\n")
	}
	b.WriteString("</body></html>\n")
	return b.String()
}
