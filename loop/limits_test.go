package loop_test

// The connection limits: each refuses the handshake one past it with its
// status and a JSON body naming the limit, counts the refusal, and frees
// its slot when a session ends. The canary's two sessions count too.

import (
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"sioloop/loop"
)

// expectLimit checks a limit's refusal: status, the Engine.IO JSON error
// body with want as its message, Connection: close.
func expectLimit(t testing.TB, r *response, status int, want string) {
	t.Helper()
	if r.status != status || !announcesClose(r) {
		t.Fatalf("got %v, want %d with Connection: close", r, status)
	}
	if ct, _ := r.header("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	if body := `{"code":4,"message":"` + want + `"}`; r.body != body {
		t.Errorf("body %s, want %s", r.body, body)
	}
}

func TestMaxConnections(t *testing.T) {
	ts := startServer(t, loop.Config{MaxConnections: 4})
	canary := newCanary(t, ts) // sessions 1 and 2
	ws, _ := ts.openWS(t)      // 3
	ts.handshake(t)            // 4: at the limit, accepted
	const msg = "Server full: MAX_CONNECTIONS (4) sessions are open"
	expectLimit(t, ts.do(t, reqGET("EIO=4&transport=polling")), 503, msg)
	_, r, err := dialWS(ts.addr, "EIO=4&transport=websocket")
	if err == nil {
		t.Fatal("WebSocket handshake past MAX_CONNECTIONS got its 101")
	}
	expectLimit(t, r, 503, msg)
	if got := ts.srv.Snapshot().Refusals[loop.RefusedMaxConnections]; got != 2 {
		t.Errorf("max_connections refusals = %d, want 2", got)
	}
	if n := ts.srv.Sessions(); n != 4 {
		t.Errorf("%d sessions, want 4: a refused handshake keeps no state", n)
	}
	ws.c.Close()
	waitFor(t, "the WebSocket session to end", func() bool { return ts.srv.Sessions() == 3 })
	ts.openWS(t) // its slot is free again
	expectLimit(t, ts.do(t, reqGET("EIO=4&transport=polling")), 503, msg)
	canary.check(t)
}

func TestMaxConnectionsPerIP(t *testing.T) {
	ts := startServer(t, loop.Config{MaxConnectionsPerIP: 3})
	canary := newCanary(t, ts) // 127.0.0.1: sessions 1 and 2
	ws, _ := ts.openWS(t)      // 3: at the limit, accepted
	const msg = "Too many connections from one address: MAX_CONNECTIONS_PER_IP (3) sessions are open"
	expectLimit(t, ts.do(t, reqGET("EIO=4&transport=polling")), 429, msg)
	_, r, err := dialWS(ts.addr, "EIO=4&transport=websocket")
	if err == nil {
		t.Fatal("WebSocket handshake past MAX_CONNECTIONS_PER_IP got its 101")
	}
	expectLimit(t, r, 429, msg)
	// No proxy is trusted: X-Forwarded-For is the client's word, ignored.
	expectLimit(t, ts.do(t, reqGET("EIO=4&transport=polling", "X-Forwarded-For: 203.0.113.7")), 429, msg)
	if got := ts.srv.Snapshot().Refusals[loop.RefusedMaxConnectionsPerIP]; got != 3 {
		t.Errorf("max_connections_per_ip refusals = %d, want 3", got)
	}
	ws.c.Close()
	waitFor(t, "the WebSocket session to end", func() bool { return ts.srv.Sessions() == 2 })
	ts.handshake(t) // its slot is free again
	expectLimit(t, ts.do(t, reqGET("EIO=4&transport=polling")), 429, msg)
	canary.check(t)
}

// TestTrustedProxies trusts the test's own peer (127.0.0.0/8): the client
// is the right-most X-Forwarded-For hop outside it.
func TestTrustedProxies(t *testing.T) {
	ts := startServer(t, loop.Config{MaxConnectionsPerIP: 2, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	canary := newCanary(t, ts) // no header: the peer, 127.0.0.1, twice
	const msg = "Too many connections from one address: MAX_CONNECTIONS_PER_IP (2) sessions are open"
	hs := func(xff ...string) *response {
		t.Helper()
		var h []string
		for _, v := range xff {
			h = append(h, "X-Forwarded-For: "+v)
		}
		return ts.do(t, reqGET("EIO=4&transport=polling", h...))
	}
	expectLimit(t, hs(), 429, msg)
	for _, xff := range []string{"203.0.113.7", "198.51.100.9, 203.0.113.7, 127.0.0.5"} {
		if r := hs(xff); r.status != 200 {
			t.Fatalf("X-Forwarded-For %q: got %v, want a session for 203.0.113.7", xff, r)
		}
	}
	for _, xff := range [][]string{
		{"203.0.113.7"},
		{"10.9.9.9, 203.0.113.7"},                    // what the client wrote is left of the proxy's hop
		{"::ffff:203.0.113.7"},                       // the same address, IPv4-mapped
		{"10.9.9.9", "203.0.113.7:41234"},            // two lines are one list; a hop with a port
		{"203.0.113.7, 127.0.0.9, ::ffff:127.0.0.1"}, // trusted hops are skipped
	} {
		expectLimit(t, hs(xff...), 429, msg)
	}
	// Another client behind the proxy has slots of its own; a hop that is
	// not an address stops the walk at the trusted one to its right.
	if r := hs("203.0.113.7, 2001:db8::1"); r.status != 200 {
		t.Fatalf("got %v, want a session for 2001:db8::1", r)
	}
	expectLimit(t, hs("2001:db8::1, garbage"), 429, msg) // 127.0.0.1
	canary.check(t)
}

// TestUntrustedProxy trusts another network: X-Forwarded-For from the
// test's peer is ignored.
func TestUntrustedProxy(t *testing.T) {
	ts := startServer(t, loop.Config{MaxConnectionsPerIP: 2, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	canary := newCanary(t, ts)
	const msg = "Too many connections from one address: MAX_CONNECTIONS_PER_IP (2) sessions are open"
	expectLimit(t, ts.do(t, reqGET("EIO=4&transport=polling", "X-Forwarded-For: 203.0.113.7")), 429, msg)
	canary.check(t)
}

// TestConnectRate lets a burst of 4 through, refuses the next handshakes
// with 503 and Retry-After, and lets one more through once the bucket has
// refilled (1 a second).
func TestConnectRate(t *testing.T) {
	ts := startServer(t, loop.Config{ConnectRate: 1, ConnectBurst: 4})
	canary := newCanary(t, ts) // 2 tokens
	ts.handshake(t)
	ts.openWS(t) // the burst is spent
	const msg = "Too many new connections: CONNECT_RATE (1/s, CONNECT_BURST 4), try again later"
	r := ts.do(t, reqGET("EIO=4&transport=polling"))
	expectLimit(t, r, 503, msg)
	if v, _ := r.header("Retry-After"); v != "1" {
		t.Errorf("Retry-After %q, want 1", v)
	}
	_, r, err := dialWS(ts.addr, "EIO=4&transport=websocket")
	if err == nil {
		t.Fatal("WebSocket handshake past CONNECT_RATE got its 101")
	}
	expectLimit(t, r, 503, msg)
	time.Sleep(1100 * time.Millisecond)
	ts.handshake(t) // refilled
	expectLimit(t, ts.do(t, reqGET("EIO=4&transport=polling")), 503, msg)
	if got := ts.srv.Snapshot().Refusals[loop.RefusedConnectRate]; got != 3 {
		t.Errorf("connect_rate refusals = %d, want 3", got)
	}
	if n := ts.srv.Sessions(); n != 5 {
		t.Errorf("%d sessions, want 5", n)
	}
	canary.check(t)
}

// TestMaxEventsPerSecondPolling floods over polling: one POST carries the
// burst, the refused events and the flood. The client's next GET gets the
// answers and the DISCONNECT, the GET after it the close packet (in one
// response, socket.io-client would see the close first); the packets
// after the flood in the same POST are dropped, not taken as a protocol
// error that would lose them. Another client keeps its round trip.
func TestMaxEventsPerSecondPolling(t *testing.T) {
	var reasons []string
	var mu sync.Mutex
	ts := startServerWith(t, loop.Config{}, func(srv *loop.Server) {
		io := loop.NewSocketIO(srv)
		io.MaxEventsPerSecond, io.EventBurst = 1, 2
		root := io.Of("/")
		root.On("message", func(so *loop.Socket, ev *loop.Event) { so.Ack(ev, ev.Args, nil) })
		root.OnDisconnect = func(_ *loop.Socket, reason string) { mu.Lock(); reasons = append(reasons, reason); mu.Unlock() }
		srv.Handle(enginePath, io)
	})
	other := ts.handshake(t)
	ts.post(t, other, "40")
	if got := ts.poll(t, other); !strings.HasPrefix(got, `40{"sid":`) {
		t.Fatalf("CONNECT reply %q", got)
	}
	sid := ts.handshake(t)
	ts.post(t, sid, "40")
	ts.poll(t, sid)
	var pkts []string
	for i := range 8 { // 2 accepted, 2 refused, the flood, 3 dropped
		pkts = append(pkts, `42`+strconv.Itoa(i)+`["message",`+strconv.Itoa(i)+`]`)
	}
	ts.post(t, sid, strings.Join(pkts, "\x1e"))
	const refusal = `[{"error":"event refused: over MAX_EVENTS_PER_SECOND (1/s, EVENT_BURST 2)"}]`
	want := strings.Join([]string{`430[0]`, `431[1]`, `432` + refusal, `433` + refusal, `41`}, "\x1e")
	if got := ts.poll(t, sid); got != want {
		t.Fatalf("GET after the flood\n got %q\nwant %q", got, want)
	}
	if got := ts.poll(t, sid); got != "1" {
		t.Fatalf("second GET after the flood: %q, want the close packet", got)
	}
	expectEngineError(t, ts.do(t, reqGET(sidQuery(sid))), 1) // the session is gone
	ts.post(t, other, `427["message","still here"]`)
	if got := ts.poll(t, other); got != `437["still here"]` {
		t.Fatalf("the other client got %q", got)
	}
	st := ts.srv.Snapshot()
	if st.EventsRefused != 3 || st.Refusals[loop.RefusedEventFlood] != 1 {
		t.Errorf("refused %d, floods %d; want 3 and 1", st.EventsRefused, st.Refusals[loop.RefusedEventFlood])
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(reasons, ",") != loop.ReasonEventFlood {
		t.Errorf("disconnect reasons %q, want %q", reasons, loop.ReasonEventFlood)
	}
}
