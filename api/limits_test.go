package api

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"sioloop/metrics/metricstest"
)

// refusal decodes the ack of a refused subscribe: one object with the
// error and the socket's rooms.
func refusal(t *testing.T, ack string) (msg string, rooms []string) {
	t.Helper()
	var args []struct {
		Error string   `json:"error"`
		Rooms []string `json:"rooms"`
	}
	if err := json.Unmarshal([]byte(ack), &args); err != nil || len(args) != 1 || args[0].Error == "" {
		t.Fatalf("ack %.200s is not [{\"error\":…,\"rooms\":[…]}] (%v)", ack, err)
	}
	return args[0].Error, args[0].Rooms
}

// rooms decodes the ack of an accepted subscribe.
func rooms(t *testing.T, ack string) []string {
	t.Helper()
	var args [][]string
	if err := json.Unmarshal([]byte(ack), &args); err != nil || len(args) != 1 {
		t.Fatalf("ack %.200s is not [[rooms…]] (%v)", ack, err)
	}
	return args[0]
}

func nameList(n int, prefix string) string {
	var b strings.Builder
	b.WriteByte('[')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"` + prefix + strconv.Itoa(i) + `"`)
	}
	b.WriteByte(']')
	return b.String()
}

// TestSubscribeLimits: a subscribe with 100k names (900 KB) is refused at
// once, nothing joined, with an ack naming the limit, while a canary on
// the same server keeps its round trip; over-long names and the per-socket
// room cap are refused the same way; each refusal is counted by reason.
func TestSubscribeLimits(t *testing.T) {
	ts := startService(t, "--event-loops", "1", "--max-name-bytes", "16", "--max-rooms-per-socket", "3")
	m0 := scrape(t, ts.admin)
	c := dialSIO(t, ts, "/")
	canary := dialSIO(t, ts, "/")
	if got := rooms(t, c.call(`["subscribe","a"]`)); strings.Join(got, ",") != c.sid+",a" {
		t.Fatalf("rooms %q", got)
	}
	same := func(got []string) {
		t.Helper()
		if strings.Join(got, ",") != c.sid+",a" {
			t.Errorf("rooms after a refusal %q, want [%s a]", got, c.sid)
		}
	}

	huge := nameList(100_000, "c")
	start := time.Now()
	msg, got := refusal(t, c.call(`["subscribe",`+huge+`]`))
	took := time.Since(start)
	if msg != "subscribe lists 100000 names, more than MAX_SUBSCRIBE_NAMES (100)" {
		t.Errorf("error %q", msg)
	}
	same(got)
	canary.send(`42["message","still here"]`)
	canary.expect(`["message","still here"]`)
	if took > 2*time.Second {
		t.Errorf("refusing 100k names took %v", took)
	}
	msg, got = refusal(t, c.call(`["unsubscribe",`+nameList(101, "a")+`]`))
	if msg != "unsubscribe lists 101 names, more than MAX_SUBSCRIBE_NAMES (100)" {
		t.Errorf("error %q", msg)
	}
	same(got)

	msg, got = refusal(t, c.call(`["subscribe",["b","`+strings.Repeat("x", 17)+`"]]`))
	if msg != "subscribe: a channel name of 17 bytes is longer than MAX_NAME_BYTES (16)" {
		t.Errorf("error %q", msg)
	}
	same(got)

	if got := rooms(t, c.call(`["subscribe",["b","c","a","b"]]`)); len(got) != 4 {
		t.Fatalf("three channels: rooms %q", got)
	}
	msg, got = refusal(t, c.call(`["subscribe",["d","b"]]`))
	if msg != "subscribe would put the socket in 4 channels, more than MAX_ROOMS_PER_SOCKET (3)" || len(got) != 4 {
		t.Errorf("error %q, rooms %q", msg, got)
	}
	// Without an ack a refused request is just dropped: the next answer
	// is the one to the next request.
	c.send(`42["subscribe",` + nameList(101, "z") + `]`)
	if got := rooms(t, c.call(`["unsubscribe","c"]`)); len(got) != 3 {
		t.Errorf("after unsubscribe: rooms %q", got)
	}

	waitMetrics(t, ts, m0, "refusals counted", func(m metricsCheck) bool {
		return m.delta("sioloop_subscribe_refused_total", "reason", "too_many_names") == 3 &&
			m.delta("sioloop_subscribe_refused_total", "reason", "name_too_long") == 1 &&
			m.delta("sioloop_subscribe_refused_total", "reason", "room_limit") == 1
	})
}

// connectAnswer opens a WebSocket session, sends CONNECT to nsp and
// returns the server's answer, the connection left open.
func connectAnswer(t *testing.T, ts *testService, nsp string) string {
	t.Helper()
	return openSIO(t, ts).connect(nsp, "")
}

// TestNamespaceLimits: with NAMESPACES=/org-* a CONNECT past
// MAX_NAMESPACES gets "namespace limit reached", an over-long name
// "Invalid namespace", both counted; the children appear in /metrics only
// under the pattern's label, and one that lost its last socket goes away,
// making room, its counts kept in the pattern's.
func TestNamespaceLimits(t *testing.T) {
	// Declared: "/" and "/chat"; room for two children.
	ts := startService(t, "--namespaces", "/chat,/org-*", "--max-namespaces", "4", "--max-name-bytes", "32")
	a := dialSIO(t, ts, "/org-1")
	dialSIO(t, ts, "/org-2")
	if got := connectAnswer(t, ts, "/org-3"); got != `44/org-3,{"message":"namespace limit reached: the server holds its maximum of 4 namespaces"}` {
		t.Errorf("CONNECT past the limit: %q", got)
	}
	long := "/org-" + strings.Repeat("x", 28)
	if got := connectAnswer(t, ts, long); got != `44`+long+`,{"message":"Invalid namespace"}` {
		t.Errorf("CONNECT to a long name: %q", got)
	}
	pattern := []string{"namespace", "/org-*"}
	mfs := scrape(t, ts.admin)
	f := func(name string, want float64, labels ...string) {
		t.Helper()
		if got, ok := metricstest.Value(mfs, name, labels...); !ok || got != want {
			t.Errorf("%s%v = %v (present %v), want %v", name, labels, got, ok, want)
		}
	}
	f("socket_io_connected", 2, pattern...)
	f("socket_io_connect_total", 2, pattern...)
	f("sioloop_namespaces", 2, pattern...)
	f("sioloop_namespaces", 1, "namespace", "/chat")
	f("sioloop_namespace_refused_total", 1, "reason", "namespace_limit")
	f("sioloop_namespace_refused_total", 1, "reason", "name_too_long")
	for name, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "namespace" && strings.HasPrefix(l.GetValue(), "/org-") && l.GetValue() != "/org-*" {
					t.Errorf("%s has a series for the child %q", name, l.GetValue())
				}
			}
		}
	}

	a.conn.Close() // /org-1 loses its last socket and goes away
	waitMetrics(t, ts, mfs, "/org-1 removed", func(m metricsCheck) bool {
		return m.delta("sioloop_namespaces", pattern...) == -1 && m.delta("socket_io_connected", pattern...) == -1
	})
	dialSIO(t, ts, "/org-3")
	waitMetrics(t, ts, mfs, "/org-3 created", func(m metricsCheck) bool {
		return m.delta("sioloop_namespaces", pattern...) == 0 &&
			m.delta("socket_io_connect_total", pattern...) == 1 && // kept from /org-1
			m.delta("socket_io_disconnect_total", pattern...) == 1
	})
}
