package main

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

// timingText is a /metrics page with the broadcast timing of a 2-loop
// server, bounds cut to a few for the test.
const timingText = `# HELP sioloop_broadcasts_total Broadcasts run.
# TYPE sioloop_broadcasts_total counter
sioloop_broadcasts_total 7
# TYPE sioloop_broadcast_duration_seconds histogram
sioloop_broadcast_duration_seconds_bucket{le="0.01"} %d
sioloop_broadcast_duration_seconds_bucket{le="0.05"} %d
sioloop_broadcast_duration_seconds_bucket{le="0.1"} %d
sioloop_broadcast_duration_seconds_bucket{le="+Inf"} %d
sioloop_broadcast_duration_seconds_sum %g
sioloop_broadcast_duration_seconds_count %d
# TYPE sioloop_broadcast_write_seconds histogram
sioloop_broadcast_write_seconds_bucket{loop="0",le="0.01"} 0
sioloop_broadcast_write_seconds_bucket{loop="0",le="0.05"} %d
sioloop_broadcast_write_seconds_bucket{loop="0",le="0.1"} %d
sioloop_broadcast_write_seconds_bucket{loop="0",le="+Inf"} %d
sioloop_broadcast_write_seconds_sum{loop="0"} 1
sioloop_broadcast_write_seconds_count{loop="0"} %d
sioloop_broadcast_write_seconds_bucket{loop="1",le="0.01"} 0
sioloop_broadcast_write_seconds_bucket{loop="1",le="0.05"} 0
sioloop_broadcast_write_seconds_bucket{loop="1",le="0.1"} 0
sioloop_broadcast_write_seconds_bucket{loop="1",le="+Inf"} 0
sioloop_broadcast_write_seconds_sum{loop="1"} 0
sioloop_broadcast_write_seconds_count{loop="1"} 0
# TYPE sioloop_broadcast_last_loop_total counter
sioloop_broadcast_last_loop_total{loop="0"} %d
sioloop_broadcast_last_loop_total{loop="1"} 3
`

// timingPage parses timingText with n cumulative broadcast counts (the
// last is the total), sum seconds and last broadcasts finished by loop 0;
// loop 0 wrote every broadcast in one pass each, in the same buckets.
func timingPage(t *testing.T, n [4]int, sum float64, last int) *timingScrape {
	t.Helper()
	text := fmt.Sprintf(timingText, n[0], n[1], n[2], n[3], sum, n[3], n[1], n[2], n[3], n[3], last)
	s, err := parseTiming(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestServerTiming(t *testing.T) {
	before := timingPage(t, [4]int{1, 1, 1, 1}, 0.005, 1)
	// 100 broadcasts during the run: 50 under 50 ms, 49 under 100 ms, one above.
	after := timingPage(t, [4]int{1, 51, 100, 101}, 0.005+6, 61)
	st := serverTiming(before, after)
	if st == nil {
		t.Fatal("no server timing from a page that has it")
	}
	d := st.Duration
	if d.Count != 100 || d.Mean != 60 {
		t.Errorf("duration count %d mean %v, want 100 and 60 ms", d.Count, d.Mean)
	}
	// p50: rank 50 of the 50 in (10, 50] ms → 50 ms; p99: rank 99, the 49th
	// of the 49 in (50, 100] → 100 ms.
	if math.Abs(d.P50-50) > 1e-9 || math.Abs(d.P99-100) > 1e-9 {
		t.Errorf("duration p50 %v p99 %v, want 50 and 100 ms", d.P50, d.P99)
	}
	if len(st.Loops) != 2 || st.Loops[0].Loop != 0 || st.Loops[0].Last != 60 || st.Loops[1].Last != 0 {
		t.Fatalf("loops %+v", st.Loops)
	}
	if w := st.Loops[0].Write; w.Count != 100 || w.P50 != 50 {
		t.Errorf("loop 0 write %+v", w)
	}
	if w := st.Loops[1].Write; w.Count != 0 || w.P99 != 0 {
		t.Errorf("idle loop 1 write %+v", w)
	}

	// Past every bound, a quantile is the last finite bound.
	if q := (&promHist{bounds: []float64{0.01, math.Inf(1)}, cum: []float64{0, 5}}).quantile(0.99); q != 0.01 {
		t.Errorf("quantile in +Inf: %v, want 0.01", q)
	}
	// Node and other peers expose none.
	none, err := parseTiming(strings.NewReader("socket_io_connected{namespace=\"/\"} 3\n"))
	if err != nil || serverTiming(nil, none) != nil {
		t.Errorf("a page without broadcast timing: %v, %+v", err, serverTiming(nil, none))
	}
}

func TestParseTimingRejects(t *testing.T) {
	for _, bad := range []string{
		"sioloop_broadcast_duration_seconds_count\n",
		"sioloop_broadcast_duration_seconds_count x\n",
		"sioloop_broadcast_duration_seconds_bucket{le=\"soon\"} 1\n",
	} {
		if _, err := parseTiming(strings.NewReader(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
