package loop_test

// The cases of the official Engine.IO v4 protocol test suite
// (socketio/socket.io, docs/engine.io-protocol/v4-test-suite/test-suite.js),
// one test each, named after the suite's describe/it path, in our own
// words against the real server with raw requests and frames. The
// Socket.IO v5 suite repeats the Engine.IO part at /socket.io/; its tests
// (suite_socketio_test.go) call the same functions with that path.
//
// Every session uses the suites' settings (pingInterval 300 ms,
// pingTimeout 200 ms), so a test that does not answer pings must be done
// within half a second.

import (
	"strings"
	"testing"
	"time"

	"sioloop/tools/conformance/suiteapp"
)

const eioPath = suiteapp.EnginePath

// ---------------------------------------------------------------------------
// handshake

func TestSuiteEIO_Handshake_Polling_OpensSession(t *testing.T) {
	t.Parallel()
	suiteHandshakePollingOpens(t, startSuite(t, 0), eioPath)
}

func suiteHandshakePollingOpens(t *testing.T, ts *testServer, path string) {
	r := ts.do(t, getAt(path, "EIO=4&transport=polling"))
	expectStatus(t, "handshake", r, 200)
	// checkOpen: "0", then exactly sid, upgrades ["websocket"],
	// pingInterval 300, pingTimeout 200, maxPayload 1000000.
	ts.checkOpen(t, r.body, `["websocket"]`)
	if ts.cfg.PingInterval != 300*time.Millisecond || ts.cfg.PingTimeout != 200*time.Millisecond || ts.cfg.MaxPayload != 1000000 {
		t.Fatalf("suite settings: %v %v %d", ts.cfg.PingInterval, ts.cfg.PingTimeout, ts.cfg.MaxPayload)
	}
}

func TestSuiteEIO_Handshake_Polling_InvalidEIO(t *testing.T) {
	t.Parallel()
	suiteHandshakePollingInvalidEIO(t, startSuite(t, 0), eioPath)
}

func suiteHandshakePollingInvalidEIO(t *testing.T, ts *testServer, path string) {
	expectStatus(t, "no EIO", ts.do(t, getAt(path, "transport=polling")), 400)
	expectStatus(t, "EIO=abc", ts.do(t, getAt(path, "EIO=abc&transport=polling")), 400)
}

func TestSuiteEIO_Handshake_Polling_InvalidTransport(t *testing.T) {
	t.Parallel()
	suiteHandshakePollingInvalidTransport(t, startSuite(t, 0), eioPath)
}

func suiteHandshakePollingInvalidTransport(t *testing.T, ts *testServer, path string) {
	expectStatus(t, "no transport", ts.do(t, getAt(path, "EIO=4")), 400)
	expectStatus(t, "transport=abc", ts.do(t, getAt(path, "EIO=4&transport=abc")), 400)
}

func TestSuiteEIO_Handshake_Polling_InvalidMethod(t *testing.T) {
	t.Parallel()
	suiteHandshakePollingInvalidMethod(t, startSuite(t, 0), eioPath)
}

func suiteHandshakePollingInvalidMethod(t *testing.T, ts *testServer, path string) {
	expectStatus(t, "POST handshake", ts.do(t, methodAt("POST", path, "EIO=4&transport=polling")), 400)
	expectStatus(t, "PUT handshake", ts.do(t, methodAt("PUT", path, "EIO=4&transport=polling")), 400)
}

func TestSuiteEIO_Handshake_WebSocket_OpensSession(t *testing.T) {
	t.Parallel()
	suiteHandshakeWebSocketOpens(t, startSuite(t, 0), eioPath)
}

func suiteHandshakeWebSocketOpens(t *testing.T, ts *testServer, path string) {
	w, _ := ts.openWSAt(t, path) // checks the open packet, upgrades []
	if err := w.closeHandshake(); err != nil {
		t.Fatal(err)
	}
}

func TestSuiteEIO_Handshake_WebSocket_InvalidEIO(t *testing.T) {
	t.Parallel()
	suiteHandshakeWebSocketInvalidEIO(t, startSuite(t, 0), eioPath)
}

func suiteHandshakeWebSocketInvalidEIO(t *testing.T, ts *testServer, path string) {
	ts.expectRefusedWS(t, path, "transport=websocket")
	ts.expectRefusedWS(t, path, "EIO=abc&transport=websocket")
}

func TestSuiteEIO_Handshake_WebSocket_InvalidTransport(t *testing.T) {
	t.Parallel()
	suiteHandshakeWebSocketInvalidTransport(t, startSuite(t, 0), eioPath)
}

func suiteHandshakeWebSocketInvalidTransport(t *testing.T, ts *testServer, path string) {
	ts.expectRefusedWS(t, path, "EIO=4")
	ts.expectRefusedWS(t, path, "EIO=4&transport=abc")
}

// ---------------------------------------------------------------------------
// message (the Engine.IO suite only: its app echoes)

// suiteEcho POSTs payload and expects it back from the next GET.
func suiteEcho(t *testing.T, payload string) {
	ts := startSuite(t, 0)
	sid := ts.openPolling(t, eioPath)
	expectOK(t, "POST", ts.pushAt(t, eioPath, sid, payload), "ok")
	expectOK(t, "GET", ts.pollAt(t, eioPath, sid), payload)
}

func TestSuiteEIO_Message_Polling_OnePlainTextPacket(t *testing.T) {
	t.Parallel()
	suiteEcho(t, "4hello")
}

func TestSuiteEIO_Message_Polling_SeveralPlainTextPackets(t *testing.T) {
	t.Parallel()
	suiteEcho(t, "4test1\x1e4test2\x1e4test3")
}

func TestSuiteEIO_Message_Polling_PlainTextAndBinaryPackets(t *testing.T) {
	t.Parallel()
	suiteEcho(t, "4hello\x1ebAQIDBA==")
}

func TestSuiteEIO_Message_Polling_InvalidPacketFormatClosesSession(t *testing.T) {
	t.Parallel()
	ts := startSuite(t, 0)
	sid := ts.openPolling(t, eioPath)
	// The suite accepts any answer here; ours is 400 (README, Limitations).
	expectStatus(t, "undecodable POST", ts.pushAt(t, eioPath, sid, "abc"), 400)
	expectStatus(t, "GET after it", ts.pollAt(t, eioPath, sid), 400)
}

func TestSuiteEIO_Message_Polling_DuplicatePollClosesSession(t *testing.T) {
	t.Parallel()
	ts := startSuite(t, 0)
	sid := ts.openPolling(t, eioPath)
	first := ts.dial(t)
	first.write(getAt(eioPath, sidQuery(sid)))
	time.Sleep(5 * time.Millisecond)
	second := ts.do(t, getAt(eioPath, sidQuery(sid)+"&t=burst"))
	expectOK(t, "first GET", first.read(), "1")
	if second.status != 400 && second.status != 500 {
		t.Fatalf("second GET: %v, want 400 (or Node's 500)", second)
	}
	expectStatus(t, "GET after them", ts.pollAt(t, eioPath, sid), 400)
}

func TestSuiteEIO_Message_Polling_CancelledPollClosesSession(t *testing.T) {
	t.Parallel()
	ts := startSuite(t, 0)
	sid := ts.openPolling(t, eioPath)
	get := ts.dial(t)
	get.write(getAt(eioPath, sidQuery(sid)))
	time.Sleep(5 * time.Millisecond)
	get.c.Close()
	expectStatus(t, "GET after the cancelled one", ts.pollAt(t, eioPath, sid), 400)
}

func TestSuiteEIO_Message_WebSocket_PlainTextPacket(t *testing.T) {
	t.Parallel()
	ts := startSuite(t, 0)
	w, _ := ts.openWSAt(t, eioPath)
	w.sendText(t, "4hello")
	w.expectMsg(t, "4hello")
}

func TestSuiteEIO_Message_WebSocket_BinaryPacket(t *testing.T) {
	t.Parallel()
	ts := startSuite(t, 0)
	w, _ := ts.openWSAt(t, eioPath)
	w.send(t, frameOf(true, opBinary, []byte{1, 2, 3, 4}))
	w.expectBinaryMsg(t, []byte{1, 2, 3, 4})
}

func TestSuiteEIO_Message_WebSocket_InvalidPacketFormatClosesSession(t *testing.T) {
	t.Parallel()
	ts := startSuite(t, 0)
	w, _ := ts.openWSAt(t, eioPath)
	w.sendText(t, "abc")
	w.expectClosed(t)
}

// ---------------------------------------------------------------------------
// heartbeat

func TestSuiteEIO_Heartbeat_Polling_PingPong(t *testing.T) {
	t.Parallel()
	suiteHeartbeatPollingPingPong(t, startSuite(t, 0), eioPath)
}

func suiteHeartbeatPollingPingPong(t *testing.T, ts *testServer, path string) {
	sid := ts.openPolling(t, path)
	for i := 0; i < 3; i++ {
		expectOK(t, "GET", ts.pollAt(t, path, sid), "2")
		expectOK(t, "POST pong", ts.pushAt(t, path, sid, "3"), "ok")
	}
}

func TestSuiteEIO_Heartbeat_Polling_PingTimeoutClosesSession(t *testing.T) {
	t.Parallel()
	suiteHeartbeatPollingTimeout(t, startSuite(t, 0), eioPath)
}

func suiteHeartbeatPollingTimeout(t *testing.T, ts *testServer, path string) {
	sid := ts.openPolling(t, path)
	// pingInterval + pingTimeout after the handshake, not a moment more:
	// the session must be gone even if the ticker is late.
	time.Sleep(ts.cfg.PingInterval + ts.cfg.PingTimeout)
	expectStatus(t, "GET after the ping timeout", ts.pollAt(t, path, sid), 400)
}

func TestSuiteEIO_Heartbeat_WebSocket_PingPong(t *testing.T) {
	t.Parallel()
	suiteHeartbeatWebSocketPingPong(t, startSuite(t, 0), eioPath)
}

func suiteHeartbeatWebSocketPingPong(t *testing.T, ts *testServer, path string) {
	w, _ := ts.openWSAt(t, path)
	for i := 0; i < 3; i++ {
		w.expectText(t, "2")
		w.sendText(t, "3")
	}
	if err := w.closeHandshake(); err != nil {
		t.Fatal(err)
	}
}

func TestSuiteEIO_Heartbeat_WebSocket_PingTimeoutClosesSession(t *testing.T) {
	t.Parallel()
	suiteHeartbeatWebSocketTimeout(t, startSuite(t, 0), eioPath)
}

func suiteHeartbeatWebSocketTimeout(t *testing.T, ts *testServer, path string) {
	w, _ := ts.openWSAt(t, path)
	w.expectText(t, "2") // not answered
	w.expectClosed(t)
}

// ---------------------------------------------------------------------------
// close

// TestSuiteEIO_Close_Polling_ForcefullyClosesSession sends the GET and the
// close POST together, as the suite does, then each order on its own: the
// GET parked first, the POST served first (the GET, perhaps moved from
// the other reactor, comes after it), and a GET sent only once the POST was
// answered, which finds the session gone as in Node.
func TestSuiteEIO_Close_Polling_ForcefullyClosesSession(t *testing.T) {
	t.Parallel()
	suiteClosePolling(t, eioPath)
}

func suiteClosePolling(t *testing.T, path string) {
	forEachLoops(t, func(t *testing.T, ts *testServer) {
		t.Run("together", func(t *testing.T) {
			for range 5 {
				sid := ts.openPolling(t, path)
				get, post := ts.dial(t), ts.dial(t)
				get.write(getAt(path, sidQuery(sid)))
				post.write(postAt(path, sidQuery(sid), "1"))
				expectOK(t, "GET", get.read(), "6")
				expectOK(t, "POST", post.read(), "ok")
				expectStatus(t, "GET after the close", ts.pollAt(t, path, sid), 400)
			}
		})
		t.Run("GET first", func(t *testing.T) {
			sid := ts.openPolling(t, path)
			get := ts.dial(t)
			get.write(getAt(path, sidQuery(sid)))
			get.expectQuiet(quiet)
			expectOK(t, "POST", ts.pushAt(t, path, sid, "1"), "ok")
			expectOK(t, "GET", get.read(), "6")
			expectStatus(t, "GET after the close", ts.pollAt(t, path, sid), 400)
		})
		t.Run("POST first", func(t *testing.T) {
			sid := ts.openPolling(t, path)
			post := ts.dial(t)
			post.write(postAt(path, sidQuery(sid), "1"))
			post.expectQuiet(50 * time.Millisecond) // held while a GET may come
			expectOK(t, "GET", ts.pollAt(t, path, sid), "6")
			expectOK(t, "POST", post.read(), "ok")
			expectStatus(t, "GET after the close", ts.pollAt(t, path, sid), 400)
		})
		t.Run("GET after the answer", func(t *testing.T) {
			sid := ts.openPolling(t, path)
			expectOK(t, "POST", ts.pushAt(t, path, sid, "1"), "ok")
			expectStatus(t, "GET after the close", ts.pollAt(t, path, sid), 400)
		})
	})
}

func TestSuiteEIO_Close_WebSocket_ForcefullyClosesSession(t *testing.T) {
	t.Parallel()
	suiteCloseWebSocket(t, startSuite(t, 0), eioPath)
}

func suiteCloseWebSocket(t *testing.T, ts *testServer, path string) {
	w, _ := ts.openWSAt(t, path)
	w.sendText(t, "1")
	w.expectClosed(t)
}

// ---------------------------------------------------------------------------
// upgrade

// suiteUpgraded opens a polling session at path and upgrades it to a
// WebSocket ("2probe", "3probe", "5"); with releaseGET, a GET made after
// the probe must be released with a noop first.
func suiteUpgraded(t *testing.T, ts *testServer, path string, releaseGET bool) (*wsConn, string) {
	sid := ts.openPolling(t, path)
	w := ts.dialWSAt(t, path, "EIO=4&transport=websocket&sid="+sid)
	w.sendText(t, "2probe")
	w.expectText(t, "3probe")
	if releaseGET {
		// A ping that fell due meanwhile may follow the noop (pingInterval
		// is 300 ms, and a loaded machine can take that long to get here).
		r := ts.pollAt(t, path, sid)
		if r.status != 200 || strings.ReplaceAll(r.body, "\x1e2", "") != "6" {
			t.Fatalf("GET during the probe: got %v, want 200 \"6\" (and at most pings after it)", r)
		}
	}
	w.sendText(t, "5")
	return w, sid
}

func TestSuiteEIO_Upgrade_SuccessfulUpgrade(t *testing.T) {
	t.Parallel()
	w, _ := suiteUpgraded(t, startSuite(t, 0), eioPath, true)
	w.sendText(t, "4hello")
	w.expectMsg(t, "4hello")
}

func TestSuiteEIO_Upgrade_IgnoresHTTPWithSameSidAfterUpgrade(t *testing.T) {
	t.Parallel()
	ts := startSuite(t, 0)
	w, sid := suiteUpgraded(t, ts, eioPath, false)
	expectStatus(t, "GET after the upgrade", ts.pollAt(t, eioPath, sid), 400)
	w.sendText(t, "4hello")
	w.expectMsg(t, "4hello")
}

func TestSuiteEIO_Upgrade_IgnoresWebSocketWithSameSidAfterUpgrade(t *testing.T) {
	t.Parallel()
	suiteUpgradeSecondWebSocket(t, eioPath, true)
}

// suiteUpgradeSecondWebSocket: a second WebSocket for an upgraded session
// is accepted (101), then closed; the first one carries on (with echo,
// it still echoes).
func suiteUpgradeSecondWebSocket(t *testing.T, path string, echo bool) {
	forEachLoops(t, func(t *testing.T, ts *testServer) {
		w, sid := suiteUpgraded(t, ts, path, false)
		w2 := ts.dialWSAt(t, path, "EIO=4&transport=websocket&sid="+sid)
		w2.expectClosed(t)
		if echo {
			w.sendText(t, "4hello")
			w.expectMsg(t, "4hello")
		}
		if n := ts.srv.Sessions(); n != 1 {
			t.Fatalf("%d sessions, want the upgraded one", n)
		}
	})
}
