package metrics

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"math"
	"regexp"
	"sioloop/metrics/metricstest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"sioloop/loop"
)

func newServer(t *testing.T) (*loop.Server, *loop.SocketIO) {
	t.Helper()
	srv := loop.New(loop.Config{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	sio := loop.NewSocketIO(srv)
	sio.Of("/chat")
	sio.Of("/org-*")
	return srv, sio
}

// TestWritePrometheus scrapes a server that is not serving: every family
// is present with zero values, the admin histogram counts its updates, the
// Go and process metrics follow, and Prometheus' parser takes all of it.
func TestWritePrometheus(t *testing.T) {
	srv, sio := newServer(t)
	sio.Recovery = time.Minute
	s := New(srv, sio)
	h := s.AdminRoute("/SendWebsocketEvent")
	h.Update(0.003)
	h.Update(0.2)
	if s.AdminRoute("/SendWebsocketEvent") != h {
		t.Fatal("AdminRoute made a second histogram for the same route")
	}
	c := s.AdminRefusal("/sockets", "client_port")
	c.Inc()
	if s.AdminRefusal("/sockets", "client_port") != c || s.AdminRefusal("/sockets", "token") == c {
		t.Fatal("AdminRefusal: one counter per route and reason")
	}
	var b bytes.Buffer
	s.WritePrometheus(&b)
	mfs := metricstest.Parse(t, b.Bytes())

	f := func(name string, typ dto.MetricType, want float64, labels ...string) {
		t.Helper()
		mf := mfs[name]
		if mf == nil {
			t.Errorf("%s missing", name)
			return
		}
		if mf.GetType() != typ {
			t.Errorf("%s: TYPE %v, want %v", name, mf.GetType(), typ)
		}
		got, ok := metricstest.Value(mfs, name, labels...)
		if !ok || got != want {
			t.Errorf("%s%v = %v (present %v), want %v", name, labels, got, ok, want)
		}
	}
	gauge, counter := dto.MetricType_GAUGE, dto.MetricType_COUNTER
	for _, ns := range []string{"/", "/chat", "/org-*"} {
		f("socket_io_connected", gauge, 0, "namespace", ns)
		f("socket_io_connect_total", counter, 0, "namespace", ns)
		f("socket_io_disconnect_total", counter, 0, "namespace", ns)
		f("socket_io_events_received_total", counter, 0, "namespace", ns)
		f("socket_io_events_sent_total", counter, 0, "namespace", ns)
		f("socket_io_receive_bytes", counter, 0, "namespace", ns)
		f("socket_io_transmit_bytes", counter, 0, "namespace", ns)
		f("socket_io_errors_total", counter, 0, "namespace", ns)
	}
	f("sioloop_namespaces", gauge, 1, "namespace", "/")
	f("sioloop_namespaces", gauge, 0, "namespace", "/org-*")
	f("sioloop_namespace_refused_total", counter, 0, "reason", "namespace_limit")
	f("sioloop_namespace_refused_total", counter, 0, "reason", "name_too_long")
	f("sioloop_clients", gauge, 0, "transport", "polling")
	f("sioloop_clients", gauge, 0, "transport", "websocket")
	for _, code := range []string{"0", "1", "2", "3", "4", "5"} {
		f("sioloop_handshake_errors_total", counter, 0, "code", code)
	}
	f("sioloop_connections", gauge, 0)
	f("sioloop_broadcasts_total", counter, 0)
	f("sioloop_broadcast_deliveries_total", counter, 0)
	f("sioloop_volatile_dropped_total", counter, 0)
	f("sioloop_slow_consumer_disconnects_total", counter, 0)
	f("sioloop_io_uring_sends_total", counter, 0)
	f("sioloop_outbound_queued_bytes", gauge, 0)
	f("sioloop_draining", gauge, 0)
	f("sioloop_recovery_recovered_total", counter, 0)
	f("sioloop_recovery_not_recovered_total", counter, 0, "reason", "expired")
	f("sioloop_recovery_buffer_bytes", gauge, 0)
	f(AdminRequestDuration, dto.MetricType_HISTOGRAM, 2, "route", "/SendWebsocketEvent")
	f(AdminRefused, counter, 1, "route", "/sockets", "reason", "client_port")
	f(AdminRefused, counter, 0, "route", "/sockets", "reason", "token")
	f("sioloop_broadcast_duration_seconds", dto.MetricType_HISTOGRAM, 0)
	// The families with a loop label have no sample before the reactors start.
	perLoop := map[string]bool{"sioloop_loop_connections": true, "sioloop_broadcast_wait_seconds": true,
		"sioloop_broadcast_write_seconds": true, "sioloop_broadcast_io_uring_seconds": true, "sioloop_broadcast_last_loop_total": true}
	for name := range perLoop {
		if _, ok := mfs[name]; ok {
			t.Errorf("%s present before any reactor started", name)
		}
	}
	for _, name := range []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "process_resident_memory_bytes", "process_open_fds"} {
		if mfs[name] == nil {
			t.Errorf("process metric %s missing", name)
		}
	}
	for _, fam := range families {
		if got := mfs[fam.name].GetHelp(); !perLoop[fam.name] && got != fam.help {
			t.Errorf("%s: HELP %q, want %q", fam.name, got, fam.help)
		}
	}
}

// TestFamilies checks the table itself: valid unique names, a known type
// and help text for each, and counters of our own named *_total.
func TestFamilies(t *testing.T) {
	valid := regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	seen := map[string]bool{AdminRequestDuration: true, AdminRefused: true}
	for _, f := range families {
		if !valid.MatchString(f.name) {
			t.Errorf("%q: invalid metric name", f.name)
		}
		if seen[f.name] {
			t.Errorf("%q declared twice", f.name)
		}
		seen[f.name] = true
		if f.typ != "counter" && f.typ != "gauge" && f.typ != "histogram" {
			t.Errorf("%s: type %q", f.name, f.typ)
		}
		if f.help == "" || strings.Contains(f.help, "\n") {
			t.Errorf("%s: help %q", f.name, f.help)
		}
		if strings.HasPrefix(f.name, "sioloop_") && f.typ == "counter" && !strings.HasSuffix(f.name, "_total") {
			t.Errorf("%s: a counter should end in _total", f.name)
		}
		if f.typ == "histogram" && !strings.HasSuffix(f.name, "_seconds") {
			t.Errorf("%s: a histogram of durations should end in _seconds", f.name)
		}
	}
}

// TestReading writes the table from a made-up reading: label values that
// need escaping survive Prometheus' parser, every count lands in its
// sample, and a family with no sample is left out with its metadata.
func TestReading(t *testing.T) {
	r := reading{
		snap: loop.Snapshot{
			Connections: 7, Sessions: 5, PollingSessions: 2, WebSocketSessions: 3,
			HandshakeErrors: [6]uint64{1, 2, 3, 4, 5, 6},
			Broadcasts:      9, Deliveries: 90, VolatileDropped: 4, SlowConsumers: 1, IOURingSends: 80,
			LoopConnections: []int64{3, 4},
			Refusals:        [loop.NumRefusals]uint64{21, 22, 23, 24, 25, 26, 27, 28, 29, 30},
			EventsRefused:   40,
			AcceptErrors:    26, Panics: 27,
			BroadcastDone: timingReading(3*time.Millisecond, 70*time.Millisecond, 70*time.Millisecond, time.Minute),
			LoopTiming: []loop.LoopTiming{
				{Wait: timingReading(time.Millisecond), Write: timingReading(40*time.Millisecond, 45*time.Millisecond), Last: 1},
				{Wait: timingReading(2 * time.Millisecond), Write: timingReading(60 * time.Millisecond), URing: timingReading(55 * time.Millisecond), Last: 2},
			},
		},
		nss: []loop.NamespaceStats{
			{Name: "/", Namespaces: 1, Connected: 2, Connects: 10, Disconnects: 8, EventsIn: 11, EventsOut: 12, BytesIn: 13, BytesOut: 14, Errors: 1},
			{Name: "/org-\"q\"\\\nx\xff*", Namespaces: 3, Connected: 1, Connects: 1},
		},
		hasIO:     true,
		table:     loop.NamespaceTableStats{Namespaces: 4, Max: 10, RefusedLimit: 5, RefusedName: 6},
		draining:  true,
		queuedErr: errors.New("timeout"),
		hasRec:    true,
		rec:       loop.RecoveryStats{Recovered: 31, NotRecovered: [4]uint64{32, 33, 34, 38}, Replayed: 35, KeptBytes: 36, KeptSessions: 37},
	}
	var b []byte
	for i := range families {
		b = families[i].append(b, &r)
	}
	if bytes.Contains(b, []byte("sioloop_outbound_queued_bytes")) {
		t.Errorf("outbound queued written after a timeout:\n%s", b)
	}
	mfs := metricstest.Parse(t, b)
	f := func(name string, want float64, labels ...string) {
		t.Helper()
		if got, ok := metricstest.Value(mfs, name, labels...); !ok || got != want {
			t.Errorf("%s%v = %v (present %v), want %v", name, labels, got, ok, want)
		}
	}
	odd := "/org-\"q\"\\\nx\uFFFD*"
	f("socket_io_connected", 2, "namespace", "/")
	f("socket_io_connected", 1, "namespace", odd)
	f("socket_io_connect_total", 1, "namespace", odd)
	f("socket_io_connect_total", 10, "namespace", "/")
	f("socket_io_disconnect_total", 8, "namespace", "/")
	f("socket_io_events_received_total", 11, "namespace", "/")
	f("socket_io_events_sent_total", 12, "namespace", "/")
	f("socket_io_receive_bytes", 13, "namespace", "/")
	f("socket_io_transmit_bytes", 14, "namespace", "/")
	f("socket_io_errors_total", 1, "namespace", "/")
	f("sioloop_namespaces", 1, "namespace", "/")
	f("sioloop_namespaces", 3, "namespace", odd)
	f("sioloop_namespace_refused_total", 5, "reason", "namespace_limit")
	f("sioloop_namespace_refused_total", 6, "reason", "name_too_long")
	f("sioloop_connections", 7)
	f("sioloop_clients", 2, "transport", "polling")
	f("sioloop_clients", 3, "transport", "websocket")
	f("sioloop_handshake_errors_total", 1, "code", "0")
	f("sioloop_handshake_errors_total", 6, "code", "5")
	f("sioloop_broadcasts_total", 9)
	f("sioloop_broadcast_deliveries_total", 90)
	f("sioloop_volatile_dropped_total", 4)
	f("sioloop_slow_consumer_disconnects_total", 1)
	f("sioloop_io_uring_sends_total", 80)
	f("sioloop_loop_connections", 3, "loop", "0")
	f("sioloop_loop_connections", 4, "loop", "1")
	f("sioloop_draining", 1)
	f("sioloop_connection_refusals_total", 21, "reason", "body_too_large")
	f("sioloop_connection_refusals_total", 22, "reason", "head_timeout")
	f("sioloop_connection_refusals_total", 23, "reason", "body_timeout")
	f("sioloop_connection_refusals_total", 24, "reason", "idle_timeout")
	f("sioloop_connection_refusals_total", 25, "reason", "outbound_full")
	f("sioloop_connection_refusals_total", 26, "reason", "max_connections")
	f("sioloop_connection_refusals_total", 27, "reason", "max_connections_per_ip")
	f("sioloop_connection_refusals_total", 28, "reason", "connect_rate")
	f("sioloop_connection_refusals_total", 29, "reason", "max_user_connections")
	f("sioloop_connection_refusals_total", 30, "reason", "event_flood")
	f("sioloop_events_refused_total", 40, "reason", "rate")
	f("sioloop_accept_errors_total", 26)
	f("sioloop_panics_total", 27)
	f("sioloop_recovery_recovered_total", 31)
	f("sioloop_recovery_not_recovered_total", 32, "reason", "unknown_pid")
	f("sioloop_recovery_not_recovered_total", 33, "reason", "expired")
	f("sioloop_recovery_not_recovered_total", 34, "reason", "offset_too_old")
	f("sioloop_recovery_not_recovered_total", 38, "reason", "store_unavailable")
	f("sioloop_recovery_replayed_packets_total", 35)
	f("sioloop_recovery_buffer_bytes", 36)
	f("sioloop_recovery_sessions", 37)
	f("sioloop_broadcast_last_loop_total", 1, "loop", "0")
	f("sioloop_broadcast_last_loop_total", 2, "loop", "1")
	f("sioloop_broadcast_wait_seconds", 1, "loop", "1")
	f("sioloop_broadcast_write_seconds", 2, "loop", "0")
	f("sioloop_broadcast_io_uring_seconds", 0, "loop", "0")
	f("sioloop_broadcast_io_uring_seconds", 1, "loop", "1")

	// The whole-broadcast histogram, bucket by bucket: cumulative counts
	// at each bound, the minute above them all in +Inf only.
	h := mfs["sioloop_broadcast_duration_seconds"].GetMetric()[0].GetHistogram()
	if h.GetSampleCount() != 4 || h.GetSampleSum() != (3*time.Millisecond+140*time.Millisecond+time.Minute).Seconds() {
		t.Errorf("broadcast duration: count %d sum %v", h.GetSampleCount(), h.GetSampleSum())
	}
	want := map[float64]uint64{0.0025: 0, 0.005: 1, 0.06: 1, 0.08: 3, 2.5: 3, math.Inf(1): 4}
	bs := h.GetBucket()
	if len(bs) != len(loop.TimingBounds)+1 {
		t.Fatalf("%d buckets, want %d and +Inf", len(bs), len(loop.TimingBounds))
	}
	for _, b := range bs {
		if n, ok := want[b.GetUpperBound()]; ok && b.GetCumulativeCount() != n {
			t.Errorf("bucket le=%v: %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), n)
		}
	}
}

// timingReading is a broadcast timing histogram holding ds.
func timingReading(ds ...time.Duration) loop.Histogram {
	var h loop.Histogram
	for _, d := range ds {
		i := 0
		for i < len(loop.TimingBounds) && d > loop.TimingBounds[i] {
			i++
		}
		h.Counts[i]++
		h.Count++
		h.Sum += d
	}
	return h
}

func TestEscapeLabel(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		if got := escapeLabel(in); got != want {
			t.Errorf("escapeLabel(%q) = %q, want %q", in, got, want)
		}
	}
	f("/", "/")
	f("/chat", "/chat")
	f(`a"b`, `a\"b`)
	f(`a\b`, `a\\b`)
	f("a\nb", `a\nb`)
	f("a\xffb", "a\uFFFDb")
	f("/é", "/é")
}
