package main

import (
	"encoding/json"
	"encoding/xml"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"
)

// sampleResult is a fanout result as Run would build it, with a server.
func sampleResult() *Result {
	var h Histogram
	for i := int64(1); i < 5000; i++ {
		h.Record(i * i * 40)
	}
	d := h.Snapshot(nil)
	r := &Result{
		Tool: "sioloop loadtest", StartedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Setup:          Setup{Scenario: ScenarioFanout, Transport: TransportWebSocket, Server: "http://127.0.0.1:3000", Namespace: "/", Connections: 1000, DurationSec: 5, RatePerSec: 20},
		ConnectSeconds: 0.5, MeasureSeconds: 5, DrainSeconds: 0.2,
		Latency: percentiles(d), LatencyBuckets: d.Buckets(20), ConnectBuckets: d.Buckets(20),
		Fanout: &FanoutResult{Posted: 100, Accepted: 100, Expected: 100000, Delivered: 99000, DeliveredRatio: 0.99},
		Loss:   LossCounts{Expected: 100000, Received: 99000, Lost: 1000},
		Errors: map[string]uint64{"closed": 2}, ErrorTotal: 2,
		ErrorSamples: map[string]string{"closed": `loadtest: read: <EOF> & "more"`},
		Server:       &ServerResult{PID: 42, RSSEndKiB: 50000},
		Failures:     []string{"lost 1000 messages <of> 100000"},
	}
	for i := range 7 {
		r.Series = append(r.Series, Sample{T: float64(i), Connected: int64(i * 150), RecvRate: float64(i * 3000), P50: 0.2 * float64(i), P99: float64(i), Max: 2 * float64(i), ToolCPU: 30, ServerCPU: 60, ServerRSS: 40000 + uint64(i)*1000})
	}
	return r
}

func TestHTMLSelfContained(t *testing.T) {
	page := sampleResult().HTML()
	if !strings.HasPrefix(page, "<!DOCTYPE html>") || !strings.HasSuffix(page, "</html>\n") {
		t.Fatal("not a complete HTML page")
	}
	for _, bad := range []string{"<script", "src=", "href=", "url(", "@import", "@font-face", "<link", "<img", "<iframe"} {
		if strings.Contains(strings.ToLower(page), bad) {
			t.Errorf("the page contains %q: it must not load anything", bad)
		}
	}
	// Text from the result is escaped.
	if strings.Contains(page, "<EOF>") || strings.Contains(page, "<of>") || !strings.Contains(page, "&lt;EOF&gt;") {
		t.Error("error text not escaped")
	}
	svgs := regexp.MustCompile(`(?s)<svg.*?</svg>`).FindAllString(page, -1)
	if len(svgs) < 7 {
		t.Fatalf("%d charts, want at least 7 (clients, connects, throughput, latency, CPU, RSS, distributions)", len(svgs))
	}
	for i, s := range svgs {
		d := xml.NewDecoder(strings.NewReader(s))
		for {
			_, err := d.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("chart %d is not well-formed XML: %v\n%.300s", i, err, s)
			}
		}
		if strings.Contains(s, "NaN") || strings.Contains(s, "Inf") {
			t.Errorf("chart %d has NaN or Inf coordinates", i)
		}
	}
}

func TestHTMLEmptyRun(t *testing.T) {
	// A run interrupted before anything happened still renders.
	r := &Result{Setup: Setup{Scenario: ScenarioEcho, Transport: TransportPolling}, Interrupted: true}
	page := r.HTML()
	if strings.Contains(page, "NaN") || !strings.Contains(page, "no samples") {
		t.Fatalf("empty run page:\n%.500s", page)
	}
}

func TestResultJSON(t *testing.T) {
	r := sampleResult()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"setup", "connections", "latency_ms", "loss", "fanout", "errors", "server", "series", "latency_buckets_ns"} {
		if _, ok := back[k]; !ok {
			t.Errorf("JSON result has no %q", k)
		}
	}
}

func TestNiceAxis(t *testing.T) {
	f := func(v, top float64, n int) {
		t.Helper()
		gotTop, ticks := niceAxis(v)
		if gotTop != top || len(ticks) != n || ticks[0] != 0 || ticks[len(ticks)-1] != top {
			t.Errorf("niceAxis(%g) = %g %v, want top %g with %d ticks", v, gotTop, ticks, top, n)
		}
	}
	f(0, 1, 6)
	f(7, 8, 5)
	f(10, 10, 6)
	f(9700, 10000, 6)
	f(0.33, 0.4, 5)
}
