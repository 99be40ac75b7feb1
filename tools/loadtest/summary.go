package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// printLadderVerdict writes the last line of a ladder's summary.
func printLadderVerdict(w io.Writer, interrupted, pass bool) {
	switch {
	case interrupted:
		fmt.Fprintln(w, "result         INTERRUPTED")
	case pass:
		fmt.Fprintln(w, "result         PASS")
	default:
		fmt.Fprintln(w, "result         FAIL")
	}
}

// PrintSummary writes the human-readable summary.
func (r *Result) PrintSummary(w io.Writer) {
	s := r.Setup
	fmt.Fprintf(w, "\n== loadtest: %s over %s, %d clients → %s (namespace %s)\n", s.Scenario, s.Transport, s.Connections, s.Server, s.Namespace)
	switch s.Scenario {
	case ScenarioEcho:
		fmt.Fprintf(w, "   every client emits every %s, payload %d bytes; measured %.1fs + drain %.2fs\n",
			time.Duration(s.IntervalMS*1e6), s.Payload, r.MeasureSeconds, r.DrainSeconds)
	case ScenarioFanout:
		fmt.Fprintf(w, "   %g broadcasts/s, payload %d bytes; measured %.1fs + drain %.2fs\n", s.RatePerSec, s.Payload, r.MeasureSeconds, r.DrainSeconds)
	default:
		fmt.Fprintf(w, "   held %.1fs\n", r.MeasureSeconds)
	}
	if r.Interrupted {
		fmt.Fprintln(w, "   INTERRUPTED: figures so far")
	}
	c := r.Connections
	fmt.Fprintf(w, "connections    %d/%d connected in %.2fs (%.0f/s), %d failed, %d open at the end\n",
		c.Connected, s.Connections, r.ConnectSeconds, c.PerSecond, c.Failed, c.OpenAtEnd)
	fmt.Fprintf(w, "connect time   %s\n", r.Connections.ConnectTime.line())
	if st := r.Connections.Stages; len(st) > 0 {
		fmt.Fprintf(w, "  stages p50/p99")
		for _, name := range stageNames {
			fmt.Fprintf(w, "  %s %s/%s", name, fmtMS(st[name].P50), fmtMS(st[name].P99))
		}
		fmt.Fprintln(w)
	}
	if s.Scenario != ScenarioConnect {
		m := r.Messages
		fmt.Fprintf(w, "messages       sent %d (%.0f/s)  received %d (%.0f/s)  other packets %d\n",
			m.Sent, m.SentPerSec, m.Received, m.ReceivedPerSec, m.Other)
		name := "round trip"
		if s.Scenario == ScenarioFanout {
			name = "delivery"
		}
		fmt.Fprintf(w, "%-14s %s\n", name, r.Latency.line())
	}
	if f := r.Fanout; f != nil {
		fmt.Fprintf(w, "broadcasts     %d posted, %d accepted (%.1f/s), %d failed; %d reached every client\n",
			f.Posted, f.Accepted, f.RatePerSec, f.Failed, f.Complete)
		rec := ""
		if f.ServerRecipients >= 0 {
			rec = fmt.Sprintf("  server counted %d recipients", f.ServerRecipients)
			if strings.Contains(s.Server, ",") {
				rec += " (its own clients: the server POSTed to)"
			}
		}
		fmt.Fprintf(w, "deliveries     %d of %d expected (%.2f%%), %.0f/s%s\n",
			f.Delivered, f.Expected, f.DeliveredRatio*100, f.DeliveriesPerSec, rec)
		fmt.Fprintf(w, "to last client %s\n", f.TimeToLastClient.line())
		fmt.Fprintf(w, "POST           %s\n", f.Post.line())
	}
	if s.Scenario != ScenarioConnect {
		l := r.Loss
		fmt.Fprintf(w, "loss           expected %d  lost %d  duplicated %d  reordered %d  late %d  unexpected %d\n",
			l.Expected, l.Lost, l.Duplicates, l.Reordered, l.Late, l.Unexpected)
	}
	fmt.Fprintf(w, "errors         %d", r.ErrorTotal)
	keys := make([]string, 0, len(r.Errors))
	for k := range r.Errors {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "  %s %d", k, r.Errors[k])
	}
	fmt.Fprintln(w)
	for _, k := range keys {
		if m := r.ErrorSamples[k]; m != "" {
			fmt.Fprintf(w, "               first %s: %s\n", k, m)
		}
	}
	if sv := r.Server; sv != nil {
		pid := fmt.Sprint(sv.PID)
		if len(sv.PIDs) > 1 {
			pid = fmt.Sprintf("%d processes (%s), summed", len(sv.PIDs), strings.Trim(fmt.Sprint(sv.PIDs), "[]"))
		}
		fmt.Fprintf(w, "server         pid %s: RSS %s at the end (baseline %s, peak %s, VmHWM %s), %.1f KiB per connection; CPU %.2fs (%.0f%% of a core)\n",
			pid, fmtKiB(sv.RSSEndKiB), fmtKiB(sv.RSSBaseKiB), fmtKiB(sv.RSSPeakKiB), fmtKiB(sv.HWMKiB), sv.RSSPerConnKiB, sv.CPUSeconds, sv.CPUPercent)
		if sv.Error != "" {
			fmt.Fprintf(w, "               %s\n", sv.Error)
		}
	}
	fmt.Fprintf(w, "loadtest       CPU %.2fs (%.0f%% of a core), max RSS %s", r.Self.CPUSeconds, r.Self.CPUPercent, fmtKiB(r.Self.MaxRSSKiB))
	if r.Self.Procs > 1 {
		fmt.Fprintf(w, ", %d processes", r.Self.Procs)
	}
	if r.Self.Workers > 0 {
		fmt.Fprintf(w, ", %d epoll workers", r.Self.Workers)
		if r.Self.Procs > 1 {
			fmt.Fprint(w, " each")
		}
	}
	fmt.Fprintln(w)
	if mc := r.Machine; mc != nil {
		fmt.Fprintf(w, "machine        %d cores; during the measured phase %.2fs busy, of which %.2fs (%.0f%% of a core) neither the tool nor the server\n",
			mc.Cores, mc.BusySeconds, mc.OtherSeconds, mc.OtherPercent)
	}
	if r.ServerTiming != nil {
		printServerTiming(w, r.ServerTiming)
	}
	if r.Pass {
		fmt.Fprintln(w, "result         PASS")
	} else {
		fmt.Fprintf(w, "result         FAIL: %s\n", strings.Join(r.Failures, "; "))
	}
}

// line formats p for the summary.
func (p Percentiles) line() string {
	if p.Count == 0 {
		return "no samples"
	}
	return fmt.Sprintf("p50 %s  p90 %s  p99 %s  p99.9 %s  max %s  mean %s  (n=%d)",
		fmtMS(p.P50), fmtMS(p.P90), fmtMS(p.P99), fmtMS(p.P999), fmtMS(p.Max), fmtMS(p.Mean), p.Count)
}

// fmtMS formats milliseconds with a precision that suits the magnitude.
func fmtMS(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v < 1:
		return fmt.Sprintf("%.3fms", v)
	case v < 100:
		return fmt.Sprintf("%.2fms", v)
	default:
		return fmt.Sprintf("%.0fms", v)
	}
}

// fmtKiB formats a size in KiB.
func fmtKiB(k uint64) string {
	switch {
	case k >= 10<<20:
		return fmt.Sprintf("%.1f GiB", float64(k)/(1<<20))
	case k >= 10<<10:
		return fmt.Sprintf("%.1f MiB", float64(k)/(1<<10))
	default:
		return fmt.Sprintf("%d KiB", k)
	}
}
