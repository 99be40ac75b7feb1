package main

// The server's own account of the fanout broadcasts: sioloop exposes, per
// event loop, how long each broadcast waited for the loop, how long its
// write pass took and how much of that was io_uring_enter, and, per
// broadcast, the time to the last loop's last write (sioloop_broadcast_*
// histograms on /metrics). The tool reads them when the measured phase
// begins and once the drain is over, and reports the difference beside its
// own time to last client: when the two agree the server's writes are the
// tail; when the clients' figure is much larger, the tail is after the
// writes (the kernel, the load generator, the machine). A server without
// those metrics (Node, another peer) gets no such section.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// timingPrefix starts every metric family the tool reads here.
const timingPrefix = "sioloop_broadcast_"

// promHist is one histogram series of a scrape.
type promHist struct {
	bounds []float64 // le, seconds, increasing; +Inf last
	cum    []float64 // cumulative counts
	count  float64
	sum    float64 // seconds
}

// timingScrape is what one scrape holds: histograms and counters by family
// and loop label ("" for none).
type timingScrape struct {
	hists    map[string]map[string]*promHist // family → loop → histogram
	counters map[string]map[string]float64
}

// scrapeTiming reads the sioloop_broadcast_* families of the server's
// /metrics at url.
func scrapeTiming(ctx context.Context, url string) (*timingScrape, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("loadtest: GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("loadtest: GET %s: status %d", url, resp.StatusCode)
	}
	return parseTiming(resp.Body)
}

// parseTiming reads the sioloop_broadcast_* samples of a Prometheus text
// exposition; the others are skipped.
func parseTiming(r io.Reader) (*timingScrape, error) {
	s := &timingScrape{hists: map[string]map[string]*promHist{}, counters: map[string]map[string]float64{}}
	hist := func(family, loop string) *promHist {
		m := s.hists[family]
		if m == nil {
			m = map[string]*promHist{}
			s.hists[family] = m
		}
		h := m[loop]
		if h == nil {
			h = &promHist{}
			m[loop] = h
		}
		return h
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, timingPrefix) {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		if sp < 0 {
			return nil, fmt.Errorf("loadtest: /metrics line without a value: %q", line)
		}
		v, err := strconv.ParseFloat(line[sp+1:], 64)
		if err != nil {
			return nil, fmt.Errorf("loadtest: /metrics line with a bad value: %q", line)
		}
		name, labels, _ := strings.Cut(line[:sp], "{")
		loop, le := labelValue(labels, "loop"), labelValue(labels, "le")
		switch {
		case strings.HasSuffix(name, "_bucket"):
			b, err := strconv.ParseFloat(le, 64) // "+Inf" parses as +Inf
			if err != nil {
				return nil, fmt.Errorf("loadtest: /metrics bucket with a bad le: %q", line)
			}
			h := hist(strings.TrimSuffix(name, "_bucket"), loop)
			h.bounds = append(h.bounds, b)
			h.cum = append(h.cum, v)
		case strings.HasSuffix(name, "_count") && s.hists[strings.TrimSuffix(name, "_count")] != nil:
			hist(strings.TrimSuffix(name, "_count"), loop).count = v
		case strings.HasSuffix(name, "_sum") && s.hists[strings.TrimSuffix(name, "_sum")] != nil:
			hist(strings.TrimSuffix(name, "_sum"), loop).sum = v
		default:
			if s.counters[name] == nil {
				s.counters[name] = map[string]float64{}
			}
			s.counters[name][loop] = v
		}
	}
	return s, sc.Err()
}

// labelValue returns the value of label name in the text between a
// sample's braces, "" when absent. Values here are digits or a float.
func labelValue(labels, name string) string {
	for _, kv := range strings.Split(strings.TrimSuffix(labels, "}"), ",") {
		k, v, ok := strings.Cut(kv, "=")
		if ok && k == name {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}

// sub returns h minus an earlier reading of the same series (nil: none).
func (h *promHist) sub(before *promHist) *promHist {
	d := &promHist{bounds: h.bounds, cum: append([]float64(nil), h.cum...), count: h.count, sum: h.sum}
	if before != nil && len(before.cum) == len(h.cum) {
		for i := range d.cum {
			d.cum[i] -= before.cum[i]
		}
		d.count -= before.count
		d.sum -= before.sum
	}
	return d
}

// quantile estimates the q-quantile in seconds the way Prometheus'
// histogram_quantile does: linear within the bucket that holds it, the last
// finite bound when it falls in +Inf.
func (h *promHist) quantile(q float64) float64 {
	n := len(h.cum)
	if n == 0 || h.cum[n-1] <= 0 {
		return 0
	}
	rank := q * h.cum[n-1]
	i := sort.Search(n, func(i int) bool { return h.cum[i] >= rank })
	if i == n-1 && math.IsInf(h.bounds[i], 1) {
		if n < 2 {
			return 0
		}
		return h.bounds[n-2]
	}
	lo, below := 0.0, 0.0
	if i > 0 {
		lo, below = h.bounds[i-1], h.cum[i-1]
	}
	in := h.cum[i] - below
	if in <= 0 {
		return h.bounds[i]
	}
	return lo + (h.bounds[i]-lo)*(rank-below)/in
}

// TimingQuantiles summarise one of the server's timing histograms over the
// run, in milliseconds (estimated from its buckets).
type TimingQuantiles struct {
	Count uint64  `json:"count"`
	Mean  float64 `json:"mean"`
	P50   float64 `json:"p50"`
	P99   float64 `json:"p99"`
}

// LoopTimingResult is one event loop's share of the broadcasts.
type LoopTimingResult struct {
	Loop  int             `json:"loop"`
	Last  uint64          `json:"last"`    // broadcasts it finished after every other loop
	Wait  TimingQuantiles `json:"wait_ms"` // from the broadcast's encoding to the start of its write pass
	Write TimingQuantiles `json:"write_ms"`
	URing TimingQuantiles `json:"io_uring_ms"` // inside io_uring_enter, per write pass through the ring
}

// ServerTiming is the server's account of the run's broadcasts.
type ServerTiming struct {
	// Duration is, per broadcast, from its encoding to the last loop's last
	// write: the server's part of the time to last client.
	Duration TimingQuantiles    `json:"duration_ms"`
	Loops    []LoopTimingResult `json:"loops"`
}

// serverTiming condenses the difference between two scrapes; nil when the
// server exposes no broadcast timing.
func serverTiming(before, after *timingScrape) *ServerTiming {
	if after == nil || after.hists[timingPrefix+"duration_seconds"] == nil {
		return nil
	}
	q := func(family, loop string) TimingQuantiles {
		h := after.hists[timingPrefix+family][loop]
		if h == nil {
			return TimingQuantiles{}
		}
		var prev *promHist
		if before != nil {
			prev = before.hists[timingPrefix+family][loop]
		}
		d := h.sub(prev)
		t := TimingQuantiles{Count: uint64(d.count), P50: round3(d.quantile(0.5) * 1e3), P99: round3(d.quantile(0.99) * 1e3)}
		if d.count > 0 {
			t.Mean = round3(d.sum / d.count * 1e3)
		}
		return t
	}
	st := &ServerTiming{Duration: q("duration_seconds", "")}
	var loops []string
	for l := range after.hists[timingPrefix+"write_seconds"] {
		loops = append(loops, l)
	}
	sort.Slice(loops, func(i, j int) bool { a, _ := strconv.Atoi(loops[i]); b, _ := strconv.Atoi(loops[j]); return a < b })
	for _, l := range loops {
		n, _ := strconv.Atoi(l)
		lt := LoopTimingResult{Loop: n, Wait: q("wait_seconds", l), Write: q("write_seconds", l), URing: q("io_uring_seconds", l)}
		last := after.counters[timingPrefix+"last_loop_total"][l]
		if before != nil {
			last -= before.counters[timingPrefix+"last_loop_total"][l]
		}
		lt.Last = uint64(max(last, 0))
		st.Loops = append(st.Loops, lt)
	}
	return st
}

// printServerTiming writes the server's timing in the summary.
func printServerTiming(w io.Writer, st *ServerTiming) {
	fmt.Fprintf(w, "server timing  encoding to last write p50 %s p99 %s (n=%d)\n", fmtMS(st.Duration.P50), fmtMS(st.Duration.P99), st.Duration.Count)
	for _, l := range st.Loops {
		fmt.Fprintf(w, "  loop %-2d      wait p50 %s p99 %s  write p50 %s p99 %s  io_uring p99 %s  last %d times\n",
			l.Loop, fmtMS(l.Wait.P50), fmtMS(l.Wait.P99), fmtMS(l.Write.P50), fmtMS(l.Write.P99), fmtMS(l.URing.P99), l.Last)
	}
}
