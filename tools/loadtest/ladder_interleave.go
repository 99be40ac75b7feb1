package main

// The interleaved echo ladder (--scenario echo-ladder --interleave) climbs
// the ladder for several servers at once: --server lists them (all running
// already, one --pid each), and at each rate every server still climbing
// runs its step in turn before the next rate begins. On a machine shared
// with other work the rate a server sustains moves from one minute to the
// next by more than servers differ; run one after another, each server's
// ladder sees other minutes. Interleaved, the steps of one rate are seconds
// apart, and the order is rotated from one rate to the next so that no
// server always goes first (right after the clients of another have closed)
// or last. A step that fails is run again after the others of its rate
// (--step-tries), so its retry sees yet other seconds. A server stops
// climbing at its first failed step; the others go on.

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

// LadderRound is one rate of an interleaved ladder: the servers in the
// order their steps ran, a retry appearing a second time.
type LadderRound struct {
	Rate  float64  `json:"rate_per_second"`
	Order []string `json:"order"`
}

// InterleavedResult is the outcome of an interleaved echo-ladder run: one
// ladder per server, in --server order, and the order of every rate.
type InterleavedResult struct {
	Tool        string          `json:"tool"`
	StartedAt   time.Time       `json:"started_at"`
	Interrupted bool            `json:"interrupted"`
	Connections int             `json:"connections"`
	Payload     int             `json:"payload_bytes"`
	StepSec     float64         `json:"step_seconds"`
	StepTries   int             `json:"step_tries"`
	WarmupSec   float64         `json:"warmup_seconds"`
	P99LimitMS  float64         `json:"p99_limit_ms"`
	Rates       []float64       `json:"rates_per_second"`
	Servers     []*LadderResult `json:"servers"`
	Rounds      []LadderRound   `json:"rounds"`
	Pass        bool            `json:"pass"` // every server passed a step
}

// interleaveTargets splits the --server and --pid lists of an interleaved
// ladder into one configuration per server, named by --names (default:
// the URLs).
func interleaveTargets(cfg Config) ([]Config, []string, error) {
	urls := strings.Split(cfg.Server, ",")
	if len(urls) < 2 {
		return nil, nil, fmt.Errorf("invalid --server %q: --interleave compares several servers, list them comma-separated", cfg.Server)
	}
	if len(cfg.PIDs) > 0 && len(cfg.PIDs) != len(urls) {
		return nil, nil, fmt.Errorf("invalid --pid %v: --interleave wants one process id per --server (%d), in the same order", cfg.PIDs, len(urls))
	}
	var names []string
	if cfg.Names != "" {
		names = strings.Split(cfg.Names, ",")
		if len(names) != len(urls) {
			return nil, nil, fmt.Errorf("invalid --names %q: want one name per --server (%d)", cfg.Names, len(urls))
		}
	}
	cfgs := make([]Config, len(urls))
	for i, u := range urls {
		c := cfg
		c.Server = strings.TrimSpace(u)
		c.AdminURL = ""
		c.Interleave, c.Names = false, ""
		c.PIDs = nil
		if len(cfg.PIDs) > 0 {
			c.PIDs = []int{cfg.PIDs[i]}
		}
		cfgs[i] = c
		if names == nil {
			continue
		}
		names[i] = strings.TrimSpace(names[i])
		if names[i] == "" {
			return nil, nil, fmt.Errorf("invalid --names %q: an empty name", cfg.Names)
		}
	}
	if names == nil {
		for _, c := range cfgs {
			names = append(names, c.Server)
		}
	}
	return cfgs, names, nil
}

// climbInterleaved runs step(server, rate) for each rate, for every one of
// n servers still climbing, in an order rotated by one server per rate;
// a step that fails is run again after the others of its rate, up to tries
// runs in all. A server stops at its first failed step; the climb ends when
// none is left or step reports stop. It returns each server's steps and
// best rate (the last that passed, 0 when none did) and the rounds.
func climbInterleaved(n int, rates []float64, tries, clients int, p99Limit time.Duration, names []string,
	step func(server int, rate float64) (s LadderStep, stop bool)) ([][]LadderStep, []float64, []LadderRound) {
	steps := make([][]LadderStep, n)
	best := make([]float64, n)
	active := make([]bool, n)
	for i := range active {
		active[i] = true
	}
	var rounds []LadderRound
	for ri, rate := range rates {
		var order []int
		for k := range n {
			if i := (ri + k) % n; active[i] {
				order = append(order, i)
			}
		}
		if len(order) == 0 {
			break
		}
		round := LadderRound{Rate: rate}
		last := make(map[int]LadderStep, len(order))
		pending := order
		for try := 1; try <= max(tries, 1) && len(pending) > 0; try++ {
			var again []int
			for _, i := range pending {
				s, stop := step(i, rate)
				if stop {
					return steps, best, append(rounds, round)
				}
				judge(&s, clients, p99Limit)
				s.Tries = try
				last[i] = s
				round.Order = append(round.Order, names[i])
				if !s.Pass {
					again = append(again, i)
				}
			}
			pending = again
		}
		for _, i := range order {
			s := last[i]
			steps[i] = append(steps[i], s)
			if s.Pass {
				best[i] = rate
			} else {
				active[i] = false
			}
		}
		rounds = append(rounds, round)
	}
	return steps, best, rounds
}

// RunInterleaved performs an interleaved echo-ladder run: a warm-up per
// server, then the rates, each server's step in turn. Progress goes to live.
func RunInterleaved(ctx context.Context, cfg Config, live io.Writer) (*InterleavedResult, error) {
	cfgs, names, err := interleaveTargets(cfg)
	if err != nil {
		return nil, err
	}
	for i := range cfgs {
		c := cfgs[i] // resolved copies only check: every step resolves its own
		if err := c.resolve(ctx); err != nil {
			return nil, fmt.Errorf("server %s: %w", names[i], err)
		}
	}
	rc := cfgs[0]
	if err := rc.resolve(ctx); err != nil {
		return nil, err
	}
	if live == nil {
		live = io.Discard
	}
	res := &InterleavedResult{
		Tool: "sioloop/tools/loadtest", StartedAt: time.Now().UTC(), Connections: rc.Connections, Payload: rc.Payload,
		StepSec: rc.Step.Seconds(), StepTries: rc.StepTries, WarmupSec: rc.Warmup.Seconds(), P99LimitMS: float64(rc.LadderP99) / 1e6,
		Rates: rc.rates,
	}
	for i, c := range cfgs {
		l := &LadderResult{Tool: res.Tool, StartedAt: res.StartedAt, Server: c.Server, Name: names[i],
			Connections: rc.Connections, Payload: rc.Payload, Procs: max(c.Procs, 1), StepSec: res.StepSec, StepTries: res.StepTries,
			WarmupSec: res.WarmupSec, P99LimitMS: res.P99LimitMS, Rates: rc.rates}
		if len(c.PIDs) > 0 {
			l.PID = c.PIDs[0]
		}
		res.Servers = append(res.Servers, l)
	}
	run := func(i int, rate float64, d time.Duration) (*Result, error) {
		c := cfgs[i]
		c.Scenario = ScenarioEcho
		c.Duration = d
		c.Interval = time.Duration(float64(rc.Connections) / rate * 1e9)
		c.JSONFile, c.ReportFile, c.CPUProfile = "", "", ""
		c.MaxLoss, c.MaxErrors = "100%", 1<<30 // the ladder judges
		return Run(ctx, c, live)
	}
	if rc.Warmup > 0 {
		for i := range cfgs {
			fmt.Fprintf(live, "[ladder] %s: warm-up at %.0f msgs/s for %v\n", names[i], rc.rates[0], rc.Warmup)
			r, err := run(i, rc.rates[0], rc.Warmup)
			if err != nil {
				return nil, fmt.Errorf("server %s: %w", names[i], err)
			}
			w := stepOf(rc.rates[0], r)
			judge(&w, rc.Connections, rc.LadderP99)
			res.Servers[i].Warmup = &w
			if r.Interrupted {
				res.Interrupted = true
				break
			}
		}
	}
	if !res.Interrupted {
		steps, best, rounds := climbInterleaved(len(cfgs), rc.rates, rc.StepTries, rc.Connections, rc.LadderP99, names,
			func(i int, rate float64) (LadderStep, bool) {
				fmt.Fprintf(live, "[ladder] %s: step at %.0f msgs/s for %v\n", names[i], rate, rc.Step)
				r, e := run(i, rate, rc.Step)
				if e != nil {
					err = fmt.Errorf("server %s: %w", names[i], e)
					return LadderStep{}, true
				}
				if r.Interrupted {
					res.Interrupted = true
					return LadderStep{}, true
				}
				s := stepOf(rate, r)
				judge(&s, rc.Connections, rc.LadderP99)
				fmt.Fprintf(live, "[ladder] %s: %s\n", names[i], s.line())
				return s, false
			})
		if err != nil {
			return nil, err
		}
		res.Rounds = rounds
		for i, l := range res.Servers {
			l.Steps, l.Best = steps[i], best[i]
		}
	}
	res.Pass = !res.Interrupted
	for _, l := range res.Servers {
		for i := range l.Steps {
			if l.Steps[i].Pass {
				l.BestStep = &l.Steps[i]
			}
		}
		l.Interrupted = res.Interrupted
		l.Pass = l.Best > 0 && !res.Interrupted
		res.Pass = res.Pass && l.Pass
	}
	return res, nil
}

// PrintSummary writes one row per rate with every server's step, then each
// server's answer.
func (r *InterleavedResult) PrintSummary(w io.Writer) {
	fmt.Fprintf(w, "\n== loadtest: interleaved echo ladder, %d clients, steps of %gs (warm-up %gs), pass = p99 ≤ %s, nothing lost\n",
		r.Connections, r.StepSec, r.WarmupSec, fmtMS(r.P99LimitMS))
	fmt.Fprintf(w, "%8s", "rate/s")
	for _, l := range r.Servers {
		fmt.Fprintf(w, "  %-36s", truncate([]byte(l.Name), 36))
	}
	fmt.Fprintln(w, "  order")
	for k, round := range r.Rounds {
		fmt.Fprintf(w, "%8.0f", round.Rate)
		for _, l := range r.Servers {
			cell := ""
			if k < len(l.Steps) {
				s := &l.Steps[k]
				v := "pass"
				if !s.Pass {
					v = "FAIL"
				}
				if s.Tries > 1 {
					v += fmt.Sprintf("(%d)", s.Tries)
				}
				cell = fmt.Sprintf("%s p99 %s %.1f+%.1fµs", v, fmtMS(s.P99), s.ServerUSPerMsg, s.ToolUSPerMsg)
			}
			fmt.Fprintf(w, "  %-36s", cell)
		}
		fmt.Fprintf(w, "  %s\n", strings.Join(round.Order, ", "))
	}
	fmt.Fprintln(w, "(cells: verdict, round-trip p99, CPU µs per message of the server + of the tool)")
	for _, l := range r.Servers {
		switch {
		case l.Best > 0 && len(l.Steps) == len(r.Rates) && l.Steps[len(l.Steps)-1].Pass:
			fmt.Fprintf(w, "best %-20s ≥ %.0f msgs/s: every step passed (add steps)\n", l.Name, l.Best)
		case l.Best > 0:
			fmt.Fprintf(w, "best %-20s %.0f msgs/s (p99 %s)\n", l.Name, l.Best, fmtMS(l.BestStep.P99))
		default:
			fmt.Fprintf(w, "best %-20s none: the first step failed\n", l.Name)
		}
	}
	printLadderVerdict(w, r.Interrupted, r.Pass)
}

// WriteJSON writes the result to path.
func (r *InterleavedResult) WriteJSON(path string) error { return writeJSONFile(path, r) }

// WriteHTML writes a self-contained page with every server's steps and
// their p99 and CPU per message against the rate.
func (r *InterleavedResult) WriteHTML(path string) error {
	return os.WriteFile(path, []byte(r.HTML()), 0o644)
}

// interleaveColors tell the servers apart in the charts.
var interleaveColors = []string{"#2b6cb0", "#c53030", "#2f855a", "#dd6b20", "#6b46c1", "#718096"}

// HTML renders the report page.
func (r *InterleavedResult) HTML() string {
	var b strings.Builder
	title := fmt.Sprintf("loadtest: interleaved echo ladder, %d clients", r.Connections)
	b.WriteString("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>")
	b.WriteString(html.EscapeString(title))
	b.WriteString("</title>\n<style>\n")
	b.WriteString(reportCSS)
	b.WriteString("</style></head><body>\n")
	fmt.Fprintf(&b, "<h1>%s</h1>\n<p>started %s &middot; steps of %gs after a %gs warm-up; at each rate every server runs its step in turn, the order rotated by rate; a step passes with p99 &le; %s, nothing lost, no error and &ge; %.0f%% of the rate sent</p>\n",
		html.EscapeString(title), r.StartedAt.Format(time.RFC3339), r.StepSec, r.WarmupSec, fmtMS(r.P99LimitMS), minSentRatio*100)
	b.WriteString("<table>\n<tr><th>server</th><th>best msgs/s</th><th>p99 at best</th><th>server µs/msg at best</th><th>loadtest µs/msg at best</th></tr>\n")
	for _, l := range r.Servers {
		p99, su, tu := "", "", ""
		if s := l.BestStep; s != nil {
			p99, su, tu = fmtMS(s.P99), strconv.FormatFloat(s.ServerUSPerMsg, 'f', 2, 64), strconv.FormatFloat(s.ToolUSPerMsg, 'f', 2, 64)
		}
		fmt.Fprintf(&b, "<tr><td>%s</td><td>%.0f</td><td>%s</td><td>%s</td><td>%s</td></tr>\n", html.EscapeString(l.Name), l.Best, p99, su, tu)
	}
	b.WriteString("</table>\n<table>\n<tr><th>rate/s</th>")
	for _, l := range r.Servers {
		fmt.Fprintf(&b, "<th>%s</th>", html.EscapeString(l.Name))
	}
	b.WriteString("<th>order</th></tr>\n")
	for k, round := range r.Rounds {
		fmt.Fprintf(&b, "<tr><td>%.0f</td>", round.Rate)
		for _, l := range r.Servers {
			if k >= len(l.Steps) {
				b.WriteString("<td></td>")
				continue
			}
			s := &l.Steps[k]
			v := `<span class="pass">pass</span>`
			if !s.Pass {
				v = `<span class="fail">fail</span>: ` + html.EscapeString(strings.Join(s.Why, "; "))
			}
			fmt.Fprintf(&b, "<td>%s, p99 %s, %.2f + %.2f µs/msg</td>", v, fmtMS(s.P99), s.ServerUSPerMsg, s.ToolUSPerMsg)
		}
		fmt.Fprintf(&b, "<td>%s</td></tr>\n", html.EscapeString(strings.Join(round.Order, ", ")))
	}
	b.WriteString("</table>\n")
	var p99, cpu []series
	for i, l := range r.Servers {
		color := interleaveColors[i%len(interleaveColors)]
		var pp, cp []point
		for _, s := range l.Steps {
			pp = append(pp, point{s.Rate, s.P99})
			cp = append(cp, point{s.Rate, s.ServerUSPerMsg})
		}
		p99 = append(p99, series{l.Name, color, pp})
		cpu = append(cpu, series{l.Name, color, cp})
	}
	b.WriteString("<div class=\"charts\">\n")
	b.WriteString(lineChart("Round-trip p99 by rate", "msgs/s", "ms", nil, false, p99))
	b.WriteString(lineChart("Server CPU per message by rate", "msgs/s", "µs", nil, false, cpu))
	b.WriteString("</div>\n</body></html>\n")
	return b.String()
}
