package loop_test

// Integration tests of the Engine.IO v4 server (issue 2): each
// test starts the real server on a loopback port and drives it with raw
// HTTP and raw WebSocket bytes. Expected values are Node's engine.io 6.x
// behaviour, observed from it and read in its source (server.ts,
// socket.ts, transports/polling.ts, transports/websocket.ts). A test that fails because the server
// differs from Node says "SERVER BUG" in its message.

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"sioloop/loop"
)

func TestHandshakePolling(t *testing.T) {
	t.Parallel()
	ts := startServer(t, loop.Config{}) // Node's defaults: 25000 / 20000 / 1000000
	r := ts.do(t, reqGET("EIO=4&transport=polling&t=PZ1a2b3"))
	if r.statusLine != "HTTP/1.1 200 OK" {
		t.Fatalf("status line %q", r.statusLine)
	}
	if ct, _ := r.header("Content-Type"); ct != "text/plain; charset=UTF-8" {
		t.Errorf("Content-Type %q, want %q", ct, "text/plain; charset=UTF-8")
	}
	if cc, _ := r.header("cache-control"); cc != "no-store" {
		t.Errorf("cache-control %q, want no-store", cc)
	}
	if cl, _ := r.header("Content-Length"); cl != fmt.Sprint(len(r.body)) {
		t.Errorf("Content-Length %q for a %d-byte body", cl, len(r.body))
	}
	sid := ts.checkOpen(t, r.body, `["websocket"]`)
	want := `0{"sid":"` + sid + `","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`
	if r.body != want {
		t.Errorf("open packet %s, want %s", r.body, want)
	}
	if _, ok := r.header("Set-Cookie"); ok {
		t.Errorf("Set-Cookie sent by default (Node sets none): %v", r)
	}

	// Session ids: 20 URL-safe characters, never repeated.
	seen := map[string]bool{sid: true}
	for range 30 {
		s := ts.handshake(t)
		if seen[s] {
			t.Fatalf("sid %s handed out twice", s)
		}
		seen[s] = true
	}
	waitFor(t, "31 sessions", func() bool { return ts.srv.Sessions() == 31 })

	// Connection: close on the handshake is honoured.
	h := ts.dial(t)
	h.write(reqGET("EIO=4&transport=polling", "Connection: close"))
	r = h.read()
	ts.checkOpen(t, r.body, `["websocket"]`)
	if !announcesClose(r) {
		t.Errorf("response to Connection: close lacks Connection: close: %v", r)
	}
	h.expectEOF()
}

func TestHandshakeWebSocket(t *testing.T) {
	t.Parallel()
	ts := startServer(t, loop.Config{})
	// Node answers without an extension header even when the client offers
	// permessage-deflate (perMessageDeflate is off by default).
	w, r, err := dialWS(ts.addr, "EIO=4&transport=websocket&t=x", "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.c.Close() })
	if v, ok := r.header("Sec-WebSocket-Extensions"); ok {
		t.Errorf("101 negotiated an extension %q; Node's default is none", v)
	}
	f := w.next(t)
	if !f.fin || f.op != opText {
		t.Fatalf("first frame %v, want the open packet as one text frame", f)
	}
	sid := ts.checkOpen(t, string(f.payload), `[]`)
	want := `0{"sid":"` + sid + `","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`
	if string(f.payload) != want {
		t.Errorf("open packet %s, want %s", f.payload, want)
	}
	waitFor(t, "1 session", func() bool { return ts.srv.Sessions() == 1 })
	w.sendText(t, "4hi")
	w.expectText(t, "4hi")

	// Frames that arrive in the same write as the upgrade request are
	// served after the open packet.
	h := ts.dial(t)
	h.write(reqUpgrade("EIO=4&transport=websocket") + string(textFrame("4early")) + string(frameOf(true, opPing, []byte("p"))))
	if r := h.read(); r.status != 101 {
		t.Fatalf("upgrade with frames behind it: %v", r)
	}
	w2 := &wsConn{c: h.c, br: h.br}
	ts.checkOpen(t, string(w2.next(t).payload), `[]`)
	w2.expectText(t, "4early")
	if f := w2.next(t); f.op != opPong || string(f.payload) != "p" {
		t.Fatalf("want pong, got %v", f)
	}
	// The sid names the WebSocket session: polling on it is refused (code 3).
	expectEngineError(t, ts.do(t, reqGET(sidQuery(sid))), 3)
}

// errorCases are requests Node refuses with a JSON error (server.ts verify,
// handshake).
var errorCases = []struct {
	name string
	req  string
	code int
}{
	{"unknown transport", reqGET("EIO=4&transport=foo"), 0},
	{"no transport", reqGET("EIO=4"), 0},
	{"unknown transport before EIO check", reqGET("transport=foo"), 0},
	{"unknown sid", reqGET("EIO=4&transport=polling&sid=nope"), 1},
	{"unknown sid POST", reqPOST("EIO=4&transport=polling&sid=nope", "4x"), 1},
	{"POST handshake", reqPOST("EIO=4&transport=polling", "4x"), 2},
	{"PUT handshake", "PUT " + enginePath + "?EIO=4&transport=polling HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n", 2},
	{"OPTIONS without CORS", "OPTIONS " + enginePath + "?EIO=4&transport=polling HTTP/1.1\r\nHost: h\r\n" +
		"Origin: https://app.example\r\nAccess-Control-Request-Method: POST\r\n\r\n", 2},
	{"websocket without upgrade", reqGET("EIO=4&transport=websocket"), 3},
	{"EIO missing", reqGET("transport=polling"), 5},
	{"EIO=3", reqGET("EIO=3&transport=polling"), 5},
	{"EIO=5", reqGET("EIO=5&transport=polling"), 5},
	{"EIO garbage", reqGET("EIO=abc&transport=polling"), 5},
}

func TestErrorResponses(t *testing.T) {
	t.Parallel()
	ts := startServer(t, loop.Config{})
	for _, tc := range errorCases {
		t.Run(tc.name, func(t *testing.T) {
			expectEngineError(t, ts.do(t, tc.req), tc.code)
		})
	}
	// Error responses keep the connection: all of them pipelined in one
	// write, answered in order, then a handshake on the same connection.
	t.Run("pipelined on one connection", func(t *testing.T) {
		h := ts.dial(t)
		var all strings.Builder
		for _, tc := range errorCases {
			all.WriteString(tc.req)
		}
		all.WriteString(reqGET("EIO=4&transport=polling"))
		h.write(all.String())
		for _, tc := range errorCases {
			expectEngineError(t, h.read(), tc.code)
		}
		ts.checkOpen(t, h.read().body, `["websocket"]`)
	})
	snap := ts.srv.Snapshot()
	if snap.HandshakeErrors[0] == 0 || snap.HandshakeErrors[5] == 0 {
		t.Errorf("handshake error counters not counted: %v", snap.HandshakeErrors)
	}
}

// A refused WebSocket upgrade gets engine.io's abortUpgrade response,
// byte for byte, and the socket is closed (server.ts abortUpgrade).
func TestUpgradeErrorResponses(t *testing.T) {
	t.Parallel()
	ts := startServer(t, loop.Config{})
	plain := func(msg string) string {
		return fmt.Sprintf("HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-type: text/html\r\nContent-Length: %d\r\n\r\n%s", len(msg), msg)
	}
	cases := []struct{ name, query, want string }{
		{"unknown sid", "EIO=4&transport=websocket&sid=nope", plain("Session ID unknown")},
		{"EIO=3", "EIO=3&transport=websocket", plain("Unsupported protocol version")},
		// Node runs verify() on upgrades too: transport=foo → abortUpgrade(code 0).
		{"unknown transport", "EIO=4&transport=foo", plain("Transport unknown")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := ts.dial(t)
			h.write(reqUpgrade(tc.query))
			r := h.read()
			if got := r.head + r.body; got != tc.want {
				t.Fatalf("SERVER BUG: refused upgrade answered\n %q\nwant Node's abortUpgrade response\n %q", got, tc.want)
			}
			h.expectEOF()
		})
	}
	// RFC 6455 §4.1: the key is 16 random bytes in base64; Node's ws
	// answers 400 to anything else, a key of the right length included.
	for _, key := range []string{"short", "dGhlIHNhbXBsZSBub25jZQ=x", "dGhlIHNhbXBsZSBub25jZ!=="} {
		t.Run("bad Sec-WebSocket-Key "+key, func(t *testing.T) {
			h := ts.dial(t)
			h.write(strings.Replace(reqUpgrade("EIO=4&transport=websocket"), wsKey, key, 1))
			r := h.read()
			if r.status != 400 {
				t.Errorf("status %d, want 400: %v", r.status, r)
			}
			h.expectEOF()
		})
	}
	if n := ts.srv.Sessions(); n != 0 {
		t.Errorf("%d sessions after refused upgrades", n)
	}
}

func TestLongPolling(t *testing.T) {
	t.Parallel()
	ts := startServer(t, loop.Config{})
	sid := ts.handshake(t)

	// The GET is held until something is queued.
	get := ts.dial(t)
	get.write(reqGET(sidQuery(sid)))
	get.expectQuiet(quiet)

	r := ts.do(t, reqPOST(sidQuery(sid), "4hello"))
	if r.statusLine != "HTTP/1.1 200 OK" || r.body != "ok" {
		t.Fatalf("POST reply %v, want 200 ok", r)
	}
	if ct, _ := r.header("Content-Type"); ct != "text/html" {
		t.Errorf("POST reply Content-Type %q, want text/html", ct)
	}
	if cl, _ := r.header("Content-Length"); cl != "2" {
		t.Errorf("POST reply Content-Length %q, want 2", cl)
	}
	if cc, _ := r.header("cache-control"); cc != "no-store" {
		t.Errorf("POST reply cache-control %q, want no-store", cc)
	}

	r = get.read()
	if r.status != 200 || r.body != "4hello" {
		t.Fatalf("held GET got %v, want 4hello", r)
	}
	if ct, _ := r.header("Content-Type"); ct != "text/plain; charset=UTF-8" {
		t.Errorf("GET Content-Type %q", ct)
	}
	if cc, _ := r.header("cache-control"); cc != "no-store" {
		t.Errorf("GET cache-control %q, want no-store", cc)
	}

	// Several packets in one body, binary as b<base64>, UTF-8 text: the echo
	// comes back joined by 0x1e in one response.
	cases := []string{
		"4hello\x1e4world\x1ebAQIDBA==",
		"4€😀\x1e4",
		"b",            // empty binary message
		"bAA==\x1e4ok", // one zero byte
		"4" + strings.Repeat("x", 70000),
	}
	for _, payload := range cases {
		ts.post(t, sid, payload)
		if got := ts.poll(t, sid); got != payload {
			t.Errorf("echo of %.40q: got %.40q", payload, got)
		}
	}
	// A held GET that asked for Connection: close is answered with it, then
	// the connection ends.
	closing := ts.dial(t)
	closing.write(reqGET(sidQuery(sid), "Connection: close"))
	closing.expectQuiet(20 * time.Millisecond)
	ts.post(t, sid, "4bye")
	if r := closing.read(); r.body != "4bye" || !announcesClose(r) {
		t.Errorf("held GET with Connection: close got %v", r)
	}
	closing.expectEOF()

	// The same session on one keep-alive connection: GET parks, the POST on
	// another connection releases it, the connection serves the next GET.
	for i := range 3 {
		get.write(reqGET(sidQuery(sid)))
		get.expectQuiet(20 * time.Millisecond)
		msg := fmt.Sprintf("4round %d", i)
		ts.post(t, sid, msg)
		if r := get.read(); r.body != msg {
			t.Fatalf("round %d: got %v", i, r)
		}
	}
}

// A second GET while one is held: 400, the session closes, and the first
// GET receives the close packet (polling.ts onPollRequest).
func TestPollingConcurrentGET(t *testing.T) {
	t.Parallel()
	ts := startServer(t, loop.Config{})
	sid := ts.handshake(t)
	first := ts.dial(t)
	first.write(reqGET(sidQuery(sid)))
	first.expectQuiet(quiet)

	r := ts.do(t, reqGET(sidQuery(sid)))
	if r.status != 400 {
		t.Errorf("overlapping GET: status %d, want 400 (%v)", r.status, r)
	}
	if r := first.read(); r.status != 200 || r.body != "1" {
		t.Errorf("first GET got %v, want the close packet 1", r)
	}
	waitFor(t, "the session to close", func() bool { return ts.srv.Sessions() == 0 })
	expectEngineError(t, ts.do(t, reqGET(sidQuery(sid))), 1)
}

// A second POST while the body of a first one is still arriving: Node
// (polling.ts onDataRequest, "data request overlap from client") answers
// 400 and closes the session; issue 2 requires the same.
func TestPollingConcurrentPOST(t *testing.T) {
	t.Parallel()
	ts := startServer(t, loop.Config{})
	sid := ts.handshake(t)
	slow := ts.dial(t)
	full := reqPOST(sidQuery(sid), "4abcdefghij")
	slow.write(full[:len(full)-5]) // head and part of the body
	slow.expectQuiet(quiet)

	r := ts.do(t, reqPOST(sidQuery(sid), "4x"))
	if r.status != 400 {
		t.Errorf("SERVER BUG: a POST overlapping an unfinished POST got %v; Node answers 400 and closes the session", r)
	}
	// The 400 may reach us a moment before the session is gone.
	waitFor(t, "the session to close after overlapping POSTs (Node closes it)", func() bool { return ts.srv.Sessions() == 0 })
	expectEngineError(t, ts.do(t, reqGET(sidQuery(sid))), 1)
	// Node destroys the unfinished POST (polling.ts doClose: dataReq.destroy()).
	slow.write(full[len(full)-5:])
	slow.halfClose()
	if rest, err := readToEOF(slow.c, slow.br, ioTimeout); err != nil || strings.Contains(string(rest), "\r\n\r\nok") {
		t.Errorf("the unfinished POST of a closed session: %v, %q; want the connection ended without ok", err, rest)
	}
}

// A GET whose connection goes away closes the session ("poll connection
// closed prematurely").
func TestPollingAbortedGET(t *testing.T) {
	t.Parallel()
	ts := startServer(t, loop.Config{})
	c := newCanary(t, ts)
	sid := ts.handshake(t)
	get := ts.dial(t)
	get.write(reqGET(sidQuery(sid)))
	get.expectQuiet(quiet)
	get.c.Close()
	waitFor(t, "the aborted session to close", func() bool { return ts.srv.Sessions() == 2 })
	expectEngineError(t, ts.do(t, reqGET(sidQuery(sid))), 1)
	expectEngineError(t, ts.do(t, reqPOST(sidQuery(sid), "4x")), 1)
	c.check(t)
}

// A POST whose connection goes away before its body is complete: Node's
// polling.ts onDataRequest closes the session ("data request connection
// closed prematurely"), as for a GET.
func TestPollingAbortedPOST(t *testing.T) {
	t.Parallel()
	ts := startServer(t, loop.Config{})
	c := newCanary(t, ts)
	sid := ts.handshake(t)
	h := ts.dial(t)
	full := reqPOST(sidQuery(sid), "4abcdefghij")
	h.write(full[:len(full)-5])
	h.expectQuiet(quiet)
	h.c.Close()
	deadline := time.Now().Add(ioTimeout)
	for ts.srv.Sessions() != 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := ts.srv.Sessions(); n != 2 {
		t.Errorf("SERVER BUG: a POST aborted mid-body left its session open (%d sessions, want 2); Node closes it", n)
	}
	c.check(t)
}

// POSTs that end the session.
func TestPollingPOSTClosesSession(t *testing.T) {
	t.Parallel()
	ts := startServer(t, loop.Config{})
	c := newCanary(t, ts)
	cases := []struct {
		name   string
		req    func(sid string) string
		status int // 0: not checked (Node answers ok after a parse error)
	}{
		// v4 bodies are text: octet-stream gets 400 (observed from Node).
		{"octet-stream", func(sid string) string {
			return reqPOSTRaw(sidQuery(sid), "4x", "Content-Type: application/octet-stream")
		}, 400},
		{"close packet", func(sid string) string { return reqPOST(sidQuery(sid), "1") }, 200},
		{"client ping on v4", func(sid string) string { return reqPOST(sidQuery(sid), "2") }, 200},
		{"unknown packet type", func(sid string) string { return reqPOST(sidQuery(sid), "9x") }, 0},
		{"bad base64", func(sid string) string { return reqPOST(sidQuery(sid), "b!!!") }, 0},
		{"empty packet", func(sid string) string { return reqPOST(sidQuery(sid), "4a\x1e\x1e4b") }, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sid := ts.handshake(t)
			r := ts.do(t, tc.req(sid))
			if tc.status != 0 && r.status != tc.status {
				t.Errorf("status %d, want %d: %v", r.status, tc.status, r)
			}
			waitFor(t, "the session to close", func() bool { return ts.srv.Sessions() == 2 })
			expectEngineError(t, ts.do(t, reqGET(sidQuery(sid))), 1)
			c.check(t)
		})
	}
}

// ---------------------------------------------------------------------------
// Heartbeat (socket.ts schedulePing): the server pings every pingInterval and closes
// the session when no pong comes within pingTimeout.

func heartbeatConfig() loop.Config {
	return loop.Config{PingInterval: 300 * time.Millisecond, PingTimeout: 200 * time.Millisecond}
}

func TestHeartbeatPolling(t *testing.T) {
	t.Parallel()
	ts := startServer(t, heartbeatConfig())
	sid := ts.handshake(t)
	start := time.Now()
	// Answering every ping keeps the session well past interval+timeout.
	for i := range 4 {
		t0 := time.Now()
		if got := ts.poll(t, sid); got != "2" {
			t.Fatalf("ping %d: GET got %q, want 2", i, got)
		}
		if d := time.Since(t0); i > 0 && (d < 200*time.Millisecond || d > time.Second) {
			t.Errorf("ping %d came after %v, want about pingInterval (300ms)", i, d)
		}
		ts.post(t, sid, "3")
	}
	if time.Since(start) < 900*time.Millisecond {
		t.Fatalf("four pings in %v: faster than pingInterval", time.Since(start))
	}
	ts.post(t, sid, "4alive")
	if got := ts.poll(t, sid); got != "4alive" && got != "4alive\x1e2" {
		t.Fatalf("after pongs: got %q, want 4alive", got)
	}

	// No pong: the held GET receives the close packet.
	if got := ts.poll(t, sid); got != "2" {
		t.Fatalf("want another ping, got %q", got)
	}
	get := ts.dial(t)
	get.write(reqGET(sidQuery(sid)))
	t0 := time.Now()
	if r := get.read(); r.body != "1" {
		t.Fatalf("after a missed pong the held GET got %v, want 1", r)
	}
	if d := time.Since(t0); d > time.Second {
		t.Errorf("ping timeout took %v, want about pingTimeout (200ms)", d)
	}
	waitFor(t, "the session to close", func() bool { return ts.srv.Sessions() == 0 })
	expectEngineError(t, ts.do(t, reqGET(sidQuery(sid))), 1)

	// A client that never polls: the session ends after interval+timeout.
	sid = ts.handshake(t)
	waitFor(t, "the idle session to time out", func() bool { return ts.srv.Sessions() == 0 })
	expectEngineError(t, ts.do(t, reqPOST(sidQuery(sid), "3")), 1)
}

func TestHeartbeatWebSocket(t *testing.T) {
	t.Parallel()
	ts := startServer(t, heartbeatConfig())
	w, _ := ts.openWS(t)
	last := time.Now()
	for i := range 4 {
		w.expectText(t, "2")
		if d := time.Since(last); d < 200*time.Millisecond || d > time.Second {
			t.Errorf("ping %d came after %v, want about 300ms", i, d)
		}
		last = time.Now()
		w.sendText(t, "3")
	}
	w.sendText(t, "4alive")
	w.expectText(t, "4alive")

	// Stop answering: the connection ends about pingTimeout after the ping.
	w.expectText(t, "2")
	t0 := time.Now()
	w.expectGone(t)
	if d := time.Since(t0); d < 150*time.Millisecond || d > time.Second {
		t.Errorf("ping timeout closed the socket after %v, want about 200ms", d)
	}
	waitFor(t, "sessions and connections to drop", func() bool {
		return ts.srv.Sessions() == 0 && ts.srv.Connections() == 0
	})

	// After an upgrade from polling the pings travel over the WebSocket.
	sid := ts.handshake(t)
	u, _, err := dialWS(ts.addr, "EIO=4&transport=websocket&sid="+sid)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { u.c.Close() })
	u.sendText(t, "2probe")
	u.expectText(t, "3probe")
	u.sendText(t, "5")
	for range 3 {
		u.expectText(t, "2")
		u.sendText(t, "3")
	}
	u.sendText(t, "4upgraded")
	u.expectText(t, "4upgraded")
}

// On v4 only the server pings: a client ping closes the session.
func TestHeartbeatClientPingWebSocket(t *testing.T) {
	t.Parallel()
	ts := startServer(t, loop.Config{})
	c := newCanary(t, ts)
	w, _ := ts.openWS(t)
	w.sendText(t, "2")
	w.expectGone(t)
	waitFor(t, "the session to close", func() bool { return ts.srv.Sessions() == 2 })
	c.check(t)
}

// ---------------------------------------------------------------------------
// CORS (Node engine.io with the cors option).

func TestCORS(t *testing.T) {
	t.Parallel()
	const origin = "https://app.example"
	ts := startServer(t, loop.Config{CORSOrigins: []string{origin}})
	checkCORS := func(t *testing.T, r *response) {
		t.Helper()
		if v, _ := r.header("Access-Control-Allow-Origin"); v != origin {
			t.Errorf("Access-Control-Allow-Origin %q, want %q: %v", v, origin, r)
		}
		if v, _ := r.header("Access-Control-Allow-Credentials"); v != "true" {
			t.Errorf("Access-Control-Allow-Credentials %q, want true", v)
		}
		if v, _ := r.header("Vary"); v != "Origin" {
			t.Errorf("Vary %q, want Origin", v)
		}
	}
	o := "Origin: " + origin
	var sid string
	t.Run("handshake", func(t *testing.T) {
		r := ts.do(t, reqGET("EIO=4&transport=polling", o))
		checkCORS(t, r)
		sid = ts.checkOpen(t, r.body, `["websocket"]`)
	})
	t.Run("POST and GET", func(t *testing.T) {
		r := ts.do(t, reqPOST(sidQuery(sid), "4x", o))
		checkCORS(t, r)
		r = ts.do(t, reqGET(sidQuery(sid), o))
		checkCORS(t, r)
		if r.body != "4x" {
			t.Errorf("GET body %q", r.body)
		}
	})
	t.Run("error response", func(t *testing.T) {
		r := ts.do(t, reqGET("EIO=4&transport=polling&sid=nope", o))
		expectEngineError(t, r, 1)
		checkCORS(t, r)
	})
	t.Run("preflight", func(t *testing.T) {
		r := ts.do(t, "OPTIONS "+enginePath+"?EIO=4&transport=polling HTTP/1.1\r\nHost: h\r\n"+o+"\r\n"+
			"Access-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: content-type, x-custom\r\n\r\n")
		if r.statusLine != "HTTP/1.1 204 No Content" {
			t.Errorf("preflight status line %q, want 204", r.statusLine)
		}
		checkCORS(t, r)
		if v, _ := r.header("Access-Control-Allow-Methods"); v != "GET,HEAD,PUT,PATCH,POST,DELETE" {
			t.Errorf("Access-Control-Allow-Methods %q", v)
		}
		if v, _ := r.header("Access-Control-Allow-Headers"); v != "content-type, x-custom" {
			t.Errorf("Access-Control-Allow-Headers %q, want the requested headers echoed", v)
		}
		if r.body != "" {
			t.Errorf("preflight body %q", r.body)
		}
	})
	t.Run("other origin", func(t *testing.T) {
		r := ts.do(t, reqGET("EIO=4&transport=polling", "Origin: https://evil.example"))
		if v, _ := r.header("Access-Control-Allow-Origin"); v == "https://evil.example" || v == "*" {
			t.Errorf("a foreign origin was allowed: %v", r)
		}
	})
}

// TestCORSWildcard: CORS_ORIGINS=* answers any origin as Node's cors does
// with origin "*": a literal "*", on the preflight and on the response
// alike, and never Access-Control-Allow-Credentials (a browser refuses
// credentials with "*", and echoing the origin instead would let every
// page read responses made with a visitor's cookies).
func TestCORSWildcard(t *testing.T) {
	t.Parallel()
	ts := startServer(t, loop.Config{CORSOrigins: []string{"*"}})
	o := "Origin: https://evil.example"
	check := func(t *testing.T, r *response) {
		t.Helper()
		if v, _ := r.header("Access-Control-Allow-Origin"); v != "*" {
			t.Errorf("Access-Control-Allow-Origin %q, want *: %v", v, r)
		}
		if v, ok := r.header("Access-Control-Allow-Credentials"); ok {
			t.Errorf("Access-Control-Allow-Credentials %q with a wildcard origin", v)
		}
	}
	check(t, ts.do(t, "OPTIONS "+enginePath+"?EIO=4&transport=polling HTTP/1.1\r\nHost: h\r\n"+o+"\r\n"+
		"Access-Control-Request-Method: POST\r\n\r\n"))
	r := ts.do(t, reqGET("EIO=4&transport=polling", o))
	check(t, r)
	ts.checkOpen(t, r.body, `["websocket"]`)
}

func TestCORSOff(t *testing.T) {
	t.Parallel()
	ts := startServer(t, loop.Config{})
	r := ts.do(t, reqGET("EIO=4&transport=polling", "Origin: https://app.example"))
	ts.checkOpen(t, r.body, `["websocket"]`)
	for _, h := range r.headers {
		if strings.HasPrefix(strings.ToLower(h[0]), "access-control-") {
			t.Errorf("CORS header %s with CORS off", h[0])
		}
	}
	// OPTIONS is a handshake with a bad method when CORS is off (code 2).
	r = ts.do(t, "OPTIONS "+enginePath+"?EIO=4&transport=polling HTTP/1.1\r\nHost: h\r\nOrigin: https://app.example\r\n"+
		"Access-Control-Request-Method: POST\r\n\r\n")
	expectEngineError(t, r, 2)
}

// Shutdown ends every session: WebSocket with close 1001, a held GET with
// the close packet.
func TestShutdown(t *testing.T) {
	t.Parallel()
	ts := startServer(t, loop.Config{})
	w, _ := ts.openWS(t)
	sid := ts.handshake(t)
	held := ts.dial(t)
	held.write(reqGET(sidQuery(sid)))
	held.expectQuiet(quiet)
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		done <- ts.srv.Shutdown(ctx)
	}()
	w.expectClose(t, 1001)
	if r := held.read(); r.body != "1" {
		t.Errorf("held GET at shutdown got %v, want 1", r)
	}
	if err := <-done; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if !ts.srv.Draining() || ts.srv.Sessions() != 0 {
		t.Errorf("after Shutdown: draining %v, %d sessions", ts.srv.Draining(), ts.srv.Sessions())
	}
}
