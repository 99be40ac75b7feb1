package api

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sioloop/metrics/metricstest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"sioloop/metrics"
)

// pollingClient is a Socket.IO client on HTTP long-polling.
type pollingClient struct {
	t   *testing.T
	url string // the session's URL, sid included
}

// dialPolling opens a polling session and joins "/".
func dialPolling(t *testing.T, ts *testService) *pollingClient {
	t.Helper()
	base := ts.main + "/socket.io/?EIO=4&transport=polling"
	r := do(t, http.MethodGet, base, nil)
	sid := regexp.MustCompile(`^0\{"sid":"([^"]+)"`).FindSubmatch(r.body)
	if r.status != http.StatusOK || sid == nil {
		t.Fatalf("polling handshake: %d %q", r.status, r.body)
	}
	c := &pollingClient{t: t, url: base + "&sid=" + string(sid[1])}
	if r := do(t, http.MethodPost, c.url, strings.NewReader("40"), "Content-Type", "text/plain;charset=UTF-8"); r.status != http.StatusOK {
		t.Fatalf("polling CONNECT: %d %q", r.status, r.body)
	}
	if got := c.get(); !strings.HasPrefix(got, `40{"sid":`) {
		t.Fatalf("polling CONNECT answer %q", got)
	}
	return c
}

// get is one long-polling GET.
func (c *pollingClient) get() string {
	c.t.Helper()
	r := do(c.t, http.MethodGet, c.url, nil)
	if r.status != http.StatusOK {
		c.t.Fatalf("polling GET: %d %q", r.status, r.body)
	}
	return string(r.body)
}

// metricsCheck compares a scrape with the one before it.
type metricsCheck struct {
	base, next map[string]*dto.MetricFamily
	missing    *[]string // samples absent from next
}

// delta is the change of one sample between the two scrapes.
func (m metricsCheck) delta(name string, labels ...string) float64 {
	a, _ := metricstest.Value(m.base, name, labels...)
	b, ok := metricstest.Value(m.next, name, labels...)
	if !ok {
		*m.missing = append(*m.missing, fmt.Sprint(name, labels))
	}
	return b - a
}

// waitMetrics scrapes until ok holds (the reactors update some counters
// just after they answer the client), or fails after 5 s.
func waitMetrics(t *testing.T, ts *testService, base map[string]*dto.MetricFamily, what string, ok func(m metricsCheck) bool) map[string]*dto.MetricFamily {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var missing []string
		next := scrape(t, ts.admin)
		done := ok(metricsCheck{base: base, next: next, missing: &missing})
		if len(missing) > 0 {
			t.Errorf("/metrics: missing %v", missing)
			return next
		}
		if done {
			return next
		}
		if time.Now().After(deadline) {
			t.Errorf("/metrics: %s: not seen within 5s", what)
			return next
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestMetricsMove scrapes /metrics with Prometheus' parser while clients
// connect, send and receive events, and leave, and checks that each family
// moves as it should.
func TestMetricsMove(t *testing.T) {
	ts := startService(t)
	m0 := scrape(t, ts.admin)
	root := []string{"namespace", "/"}

	ws := dialSIO(t, ts, "/")
	pc := dialPolling(t, ts)
	m1 := waitMetrics(t, ts, m0, "two clients connected", func(m metricsCheck) bool {
		return m.delta("socket_io_connected", root...) == 2 &&
			m.delta("socket_io_connect_total", root...) == 2 &&
			m.delta("sioloop_clients", "transport", "websocket") == 1 &&
			m.delta("sioloop_clients", "transport", "polling") == 1
	})
	if conns, loops := sum(m1, "sioloop_connections"), sum(m1, "sioloop_loop_connections"); conns < 1 || conns != loops {
		t.Errorf("sioloop_connections %v, sum of sioloop_loop_connections %v", conns, loops)
	}
	if _, ok := metricstest.Value(m1, "sioloop_outbound_queued_bytes"); !ok {
		t.Error("sioloop_outbound_queued_bytes missing")
	}

	// An event from a client, echoed by the service (events.go).
	ws.send(`42["message","hello"]`)
	ws.expect(`["message","hello"]`)
	m2 := waitMetrics(t, ts, m1, "an event received and echoed", func(m metricsCheck) bool {
		return m.delta("socket_io_events_received_total", root...) == 1 &&
			m.delta("socket_io_receive_bytes", root...) > 0 &&
			m.delta("socket_io_events_sent_total", root...) == 1 &&
			m.delta("socket_io_transmit_bytes", root...) > 0 &&
			m.delta("sioloop_engineio_messages_received_total") >= 1 &&
			m.delta("sioloop_engineio_received_bytes_total") > 0
	})

	// A broadcast to both clients, then a volatile one that the polling
	// client, with no GET pending, cannot take.
	sent(t, post(t, ts.admin, `{"channel":"news","payload":{"n":1}}`), 1, 2)
	ws.expect(`["news",{"payload":{"n":1}}]`)
	if got := pc.get(); got != `42["news",{"payload":{"n":1}}]` {
		t.Errorf("polling client received %q", got)
	}
	sent(t, post(t, ts.admin, `{"channel":"v","payload":0,"volatile":true}`), 1, 1)
	ws.expect(`["v",{"payload":0}]`)
	m3 := waitMetrics(t, ts, m2, "two broadcasts", func(m metricsCheck) bool {
		return m.delta("sioloop_broadcasts_total") == 2 &&
			m.delta("sioloop_broadcast_deliveries_total") == 3 &&
			m.delta("socket_io_events_sent_total", root...) == 3 &&
			m.delta("socket_io_transmit_bytes", root...) > 0 &&
			m.delta("sioloop_volatile_dropped_total") == 1 &&
			m.delta(metrics.AdminRequestDuration, "route", "/SendWebsocketEvent") == 2 &&
			m.delta(metrics.AdminRequestDuration, "route", "/metrics") >= 1
	})

	// Refused Engine.IO requests, by code.
	for _, q := range []string{"?EIO=4&transport=bogus", "?EIO=4&transport=polling&sid=nope"} {
		if r := do(t, http.MethodGet, ts.main+"/socket.io/"+q, nil); r.status != http.StatusBadRequest {
			t.Errorf("GET /socket.io/%s: %d %q", q, r.status, r.body)
		}
	}
	m4 := waitMetrics(t, ts, m3, "handshake errors", func(m metricsCheck) bool {
		return m.delta("sioloop_handshake_errors_total", "code", "0") == 1 &&
			m.delta("sioloop_handshake_errors_total", "code", "1") == 1
	})

	// The WebSocket client leaves.
	ws.conn.Close()
	waitMetrics(t, ts, m4, "a client gone", func(m metricsCheck) bool {
		return m.delta("socket_io_connected", root...) == -1 &&
			m.delta("socket_io_disconnect_total", root...) == 1 &&
			m.delta("sioloop_clients", "transport", "websocket") == -1
	})

	// The JSON form counts the same clients.
	r := do(t, http.MethodGet, ts.admin+"/metrics?format=json", nil)
	if n := number(t, r.object(t)["connected_clients"]); n != 1 {
		t.Errorf("JSON metrics: connected_clients %d, want 1 (the polling client)", n)
	}
}

// TestDraining cancels the service's context and watches /health turn 503
// "draining" on the admin listener, which outlives the reactors' drain.
func TestDraining(t *testing.T) {
	ts := startService(t)
	dialSIO(t, ts, "/")
	if code := healthcheck(nil, env("ADMIN_ADDR", strings.TrimPrefix(ts.admin, "http://")), io.Discard, io.Discard); code != 0 {
		t.Fatalf("healthcheck before shutdown: exit %d", code)
	}
	ts.stop()
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := do(t, http.MethodGet, ts.admin+"/health", nil)
		if r.status == http.StatusServiceUnavailable {
			m := r.object(t)
			keys(t, m, "status", "timestamp", "uptime", "memory", "connections")
			if m["status"] != "draining" {
				t.Errorf("503 /health: status %v, want draining", m["status"])
			}
			var errb strings.Builder
			if code := healthcheck(nil, env("ADMIN_ADDR", strings.TrimPrefix(ts.admin, "http://")), io.Discard, &errb); code != 1 {
				t.Errorf("healthcheck while draining: exit %d, want 1", code)
			}
			if !strings.Contains(errb.String(), "503") {
				t.Errorf("healthcheck while draining printed %q", errb.String())
			}
			mfs := scrape(t, ts.admin)
			if v, _ := metricstest.Value(mfs, "sioloop_draining"); v != 1 {
				t.Errorf("sioloop_draining = %v while draining", v)
			}
			checkError(t, post(t, ts.admin, `{"event":"late"}`), http.StatusServiceUnavailable, "shutting down")
			return
		}
		if r.status != http.StatusOK || time.Now().After(deadline) {
			t.Fatalf("/health after cancel: %d %s", r.status, r.body)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
