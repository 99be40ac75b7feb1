package loop_test

// WebSocket framing (RFC 6455), the polling→WebSocket upgrade, connections
// that move between reactors, and many sessions at once.

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"sioloop/loop"
)

func TestWSEcho(t *testing.T) {
	t.Parallel()
	ts := startServer(t, loop.Config{})
	w, _ := ts.openWS(t)
	for _, s := range []string{"4", "4hello", "4€😀", "4" + strings.Repeat("x", 125), "4" + strings.Repeat("y", 70000)} {
		w.sendText(t, s)
		w.expectText(t, s)
	}
	for _, b := range [][]byte{{}, {1, 2, 3, 4}, bytes.Repeat([]byte{0xff, 0}, 40000)} {
		w.send(t, frameOf(true, opBinary, b))
		w.expectBinary(t, b)
	}
	// A message of exactly maxPayload bytes passes.
	big := "4" + strings.Repeat("z", ts.cfg.MaxPayload-1)
	w.sendText(t, big)
	w.expectText(t, big)

	// Several frames in one write, echoed in order; a frame split at every
	// offset across two writes.
	w.send(t, append(append(textFrame("4one"), textFrame("4two")...), frameOf(true, opBinary, []byte{9})...))
	w.expectText(t, "4one")
	w.expectText(t, "4two")
	w.expectBinary(t, []byte{9})
	pair := append(textFrame("4left"), frameOf(true, opBinary, []byte("right"))...)
	for i := 1; i < len(pair); i++ {
		w.send(t, pair[:i])
		time.Sleep(500 * time.Microsecond)
		w.send(t, pair[i:])
		w.expectText(t, "4left")
		w.expectBinary(t, []byte("right"))
	}
	for _, b := range textFrame("4bytewise") {
		w.send(t, []byte{b})
		time.Sleep(200 * time.Microsecond)
	}
	w.expectText(t, "4bytewise")
}

func TestWSFragmentation(t *testing.T) {
	t.Parallel()
	ts := startServer(t, loop.Config{})
	w, _ := ts.openWS(t)
	// RFC 6455 §5.4: a message in fragments; control frames may be injected
	// between them and are answered at once.
	w.send(t, frameOf(false, opText, []byte("4hel")))
	w.send(t, frameOf(false, opCont, []byte("lo ")))
	w.send(t, frameOf(true, opPing, []byte("mid")))
	if f := w.next(t); f.op != opPong || string(f.payload) != "mid" {
		t.Fatalf("want pong \"mid\" between fragments, got %v", f)
	}
	w.send(t, frameOf(true, opCont, []byte("world")))
	w.expectText(t, "4hello world")

	// A UTF-8 character split across fragments is fine: validity is
	// checked on the whole message.
	euro := []byte("4€")
	w.send(t, append(frameOf(false, opText, euro[:2]), frameOf(true, opCont, euro[2:])...))
	w.expectText(t, "4€")

	w.send(t, frameOf(false, opBinary, []byte{1, 2}))
	w.send(t, frameOf(false, opCont, nil))
	w.send(t, frameOf(true, opCont, []byte{3}))
	w.expectBinary(t, []byte{1, 2, 3})

	// A message in 100 fragments in one write.
	var all []byte
	for i := range 100 {
		op := byte(opCont)
		if i == 0 {
			op = opText
		}
		p := []byte(fmt.Sprintf("%02d", i))
		if i == 0 {
			p = []byte("400")
		}
		all = append(all, frameOf(i == 99, op, p)...)
	}
	w.send(t, all)
	var want strings.Builder
	want.WriteString("4")
	for i := range 100 {
		fmt.Fprintf(&want, "%02d", i)
	}
	w.expectText(t, want.String())
}

func TestWSControlFrames(t *testing.T) {
	t.Parallel()
	ts := startServer(t, loop.Config{})
	w, _ := ts.openWS(t)
	for _, p := range []string{"", "abc", strings.Repeat("p", 125)} {
		w.send(t, frameOf(true, opPing, []byte(p)))
		if f := w.next(t); !f.fin || f.op != opPong || string(f.payload) != p {
			t.Fatalf("ping %q: got %v, want a pong with the same payload", p, f)
		}
	}
	// An unsolicited pong is ignored.
	w.send(t, frameOf(true, opPong, []byte("x")))
	w.sendText(t, "4after")
	w.expectText(t, "4after")
}

// A client Close is echoed (RFC 6455 §5.5.1) and the session ends.
func TestWSClose(t *testing.T) {
	t.Parallel()
	ts := startServer(t, loop.Config{})
	c := newCanary(t, ts)
	cases := []struct {
		name    string
		payload []byte
		want    int
	}{
		{"1000", closePayload(1000, ""), 1000},
		{"4000 with reason", closePayload(4000, "bye"), 4000},
		{"1001", closePayload(1001, "going"), 1001},
		{"empty", nil, closeNone}, // ws answers an empty Close with an empty Close
		{"one byte", []byte{3}, 1002},
		{"code 1005 on the wire", closePayload(1005, ""), 1002},
		{"code 999", closePayload(999, ""), 1002},
		// Node's ws fails a close reason that is not UTF-8 with 1007 (RFC 6455 §8.1).
		{"reason not UTF-8", closePayload(1000, "\xff"), 1007},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w, _ := ts.openWS(t)
			w.send(t, frameOf(true, opClose, tc.payload))
			f := w.next(t)
			if f.op != opClose {
				t.Fatalf("want a close frame, got %v", f)
			}
			if got := closeCode(f); got != tc.want {
				t.Errorf("SERVER BUG: Close %q answered with code %d; Node's ws answers %d", tc.payload, got, tc.want)
			}
			w.c.Close()
			waitFor(t, "the session to end", func() bool { return ts.srv.Sessions() == 2 })
			c.check(t)
		})
	}
}

// The closing handshake ends the TCP connection. RFC 6455 §7.1.1: "After
// both sending and receiving a Close message, an endpoint considers the
// WebSocket connection closed and MUST close the underlying TCP connection.
// The server MUST close the underlying TCP connection immediately; the
// client SHOULD wait for the server to close the connection". Node's ws
// ends the socket as soon as both Close frames have passed.
func TestWSClosingHandshake(t *testing.T) {
	t.Parallel()
	ts := startServer(t, loop.Config{})
	const promptly = time.Second
	t.Run("client starts", func(t *testing.T) {
		t.Parallel()
		w, _ := ts.openWS(t)
		w.send(t, frameOf(true, opClose, closePayload(1000, "")))
		if f := w.next(t); f.op != opClose || closeCode(f) != 1000 {
			t.Fatalf("want the close echoed, got %v", f)
		}
		t0 := time.Now()
		if rest, err := readToEOF(w.c, w.br, promptly); err != nil || len(rest) > 0 {
			t.Errorf("SERVER BUG: after echoing the client's Close the server kept the TCP connection open for %v "+
				"(RFC 6455 §7.1.1: the server MUST close it immediately): %v %q", time.Since(t0).Round(time.Millisecond), err, rest)
		}
	})
	t.Run("server starts, client answers", func(t *testing.T) {
		t.Parallel()
		w, _ := ts.openWS(t)
		w.send(t, clientFrame(0x81, []byte("4x"), false)) // unmasked: the server fails the connection
		f := w.next(t)
		if f.op != opClose || closeCode(f) != 1002 {
			t.Fatalf("want close 1002, got %v", f)
		}
		w.send(t, frameOf(true, opClose, f.payload[:2]))
		t0 := time.Now()
		if rest, err := readToEOF(w.c, w.br, promptly); err != nil || len(rest) > 0 {
			t.Errorf("SERVER BUG: the client answered the server's Close, yet the server kept the TCP connection open for %v "+
				"(RFC 6455 §7.1.1: the server MUST close it immediately once it has sent and received a Close): %v %q",
				time.Since(t0).Round(time.Millisecond), err, rest)
		}
	})
	t.Run("server starts, client silent", func(t *testing.T) {
		t.Parallel()
		w, _ := ts.openWS(t)
		w.send(t, clientFrame(0x81, []byte("4x"), false))
		if f := w.next(t); f.op != opClose {
			t.Fatalf("want a close frame, got %v", f)
		}
		w.expectEOF(t, 5*time.Second) // cut off in bounded time
	})
	waitFor(t, "sessions and connections to drop", func() bool {
		return ts.srv.Sessions() == 0 && ts.srv.Connections() == 0
	})
}

// Frames that break RFC 6455 close only their connection, with the
// protocol's close code (Node's ws codes).
func TestWSBadFrames(t *testing.T) {
	t.Parallel()
	ts := startServer(t, loop.Config{})
	c := newCanary(t, ts)
	tooBig := func(n int) []byte { // a masked text header announcing n bytes, and a few of them
		b := clientFrame(0x81, []byte("4abc"), true)
		h := []byte{0x81, 0x80 | 127, 0, 0, 0, 0, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
		return append(h, b[2:]...)
	}
	cases := []struct {
		name string
		raw  []byte
		code int
	}{
		{"unmasked text", clientFrame(0x81, []byte("4x"), false), 1002},
		{"unmasked ping", clientFrame(0x89, nil, false), 1002},
		{"reserved opcode 3", clientFrame(0x83, []byte("x"), true), 1002},
		{"reserved control opcode 0xB", clientFrame(0x8B, nil, true), 1002},
		{"RSV1 without extension", clientFrame(0xC1, []byte("4x"), true), 1002},
		{"RSV3", clientFrame(0x91, []byte("4x"), true), 1002},
		{"fragmented ping", clientFrame(0x09, nil, true), 1002},
		{"ping over 125 bytes", clientFrame(0x89, make([]byte, 126), true), 1002},
		{"continuation without a message", frameOf(true, opCont, []byte("x")), 1002},
		{"text inside a fragmented message", append(frameOf(false, opText, []byte("4a")), textFrame("4b")...), 1002},
		{"64-bit length with MSB set", []byte{0x81, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4}, 1002},
		{"frame over maxPayload", tooBig(1000001), 1009},
		{"fragments over maxPayload", append(frameOf(false, opText, bytes.Repeat([]byte("4"), 600000)),
			frameOf(true, opCont, bytes.Repeat([]byte("a"), 600000))...), 1009},
		{"invalid UTF-8 text", textFrame("4\xff\xfe"), 1007},
		{"invalid UTF-8 across fragments", append(frameOf(false, opText, []byte("4\xe2\x82")), frameOf(true, opCont, []byte("x"))...), 1007},
		// Engine.IO-level garbage: Node closes with "parse error"; any close is accepted.
		{"empty text frame", textFrame(""), closeAny},
		{"unknown packet type", textFrame("9x"), closeAny},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w, _ := ts.openWS(t)
			w.send(t, tc.raw)
			if tc.code == closeAny {
				w.expectGone(t)
			} else {
				w.expectClose(t, tc.code)
			}
			waitFor(t, "the session to end", func() bool { return ts.srv.Sessions() == 2 })
			c.check(t)
		})
	}
	t.Run("truncated frame then hang-up", func(t *testing.T) {
		w, _ := ts.openWS(t)
		f := textFrame("4" + strings.Repeat("t", 300))
		w.send(t, f[:len(f)/2])
		time.Sleep(20 * time.Millisecond)
		w.c.Close()
		waitFor(t, "the session to end", func() bool { return ts.srv.Sessions() == 2 })
		c.check(t)
	})
	waitFor(t, "only the canary's connection left", func() bool { return ts.srv.Connections() == 1 })
}

// ---------------------------------------------------------------------------
// Upgrade from polling (socket.ts _maybeUpgrade).

func TestUpgrade(t *testing.T) {
	t.Parallel()
	ts := startServer(t, loop.Config{})
	c := newCanary(t, ts)
	sid := ts.handshake(t)
	ts.post(t, sid, "4before")
	if got := ts.poll(t, sid); got != "4before" {
		t.Fatalf("polling before the upgrade: %q", got)
	}
	held := ts.dial(t)
	held.write(reqGET(sidQuery(sid)))
	held.expectQuiet(quiet)

	w, _, err := dialWS(ts.addr, "EIO=4&transport=websocket&sid="+sid)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.c.Close() })
	w.expectQuiet(t, 50*time.Millisecond) // no open packet on a probe
	w.sendText(t, "2probe")
	w.expectText(t, "3probe")
	// The held GET is released with a noop so the client can pause polling.
	if r := held.read(); r.status != 200 || r.body != "6" {
		t.Fatalf("held GET during the probe got %v, want 6", r)
	}
	// Polling still carries the session until "5": this echo is queued and
	// must be flushed over the WebSocket after the upgrade.
	ts.post(t, sid, "4during\x1ebAQID")
	time.Sleep(20 * time.Millisecond)
	w.sendText(t, "5")
	w.expectText(t, "4during")
	w.expectBinary(t, []byte{1, 2, 3}) // queued as b<base64>, sent as a binary frame
	w.sendText(t, "4after")
	w.expectText(t, "4after")
	w.send(t, frameOf(true, opBinary, []byte{7, 7}))
	w.expectBinary(t, []byte{7, 7})

	// Polling on an upgraded sid: 400 code 3 (test suite).
	expectEngineError(t, ts.do(t, reqGET(sidQuery(sid))), 3)
	expectEngineError(t, ts.do(t, reqPOST(sidQuery(sid), "4x")), 3)
	// Another WebSocket for the upgraded session must not take it over
	// (Node accepts it and closes it at once; a 400 is accepted too).
	if w2, _, err := dialWS(ts.addr, "EIO=4&transport=websocket&sid="+sid); err == nil {
		w2.sendText(t, "2probe")
		w2.expectGone(t)
	}
	w.sendText(t, "4still mine")
	w.expectText(t, "4still mine")
	if n := ts.srv.Sessions(); n != 3 {
		t.Errorf("Sessions() = %d, want 3", n)
	}
	snap := ts.srv.Snapshot()
	if snap.WebSocketSessions != 2 || snap.PollingSessions != 1 {
		t.Errorf("transport gauges after the upgrade: websocket %d polling %d, want 2 and 1", snap.WebSocketSessions, snap.PollingSessions)
	}
	c.check(t)
	if err := w.closeHandshake(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the upgraded session to end", func() bool { return ts.srv.Sessions() == 2 })
}

// A probe that never sends "5" is closed after UpgradeTimeout; the session
// carries on over polling and may upgrade later.
func TestUpgradeTimeout(t *testing.T) {
	t.Parallel()
	ts := startServer(t, loop.Config{UpgradeTimeout: 300 * time.Millisecond})
	sid := ts.handshake(t)
	w, _, err := dialWS(ts.addr, "EIO=4&transport=websocket&sid="+sid)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.c.Close() })
	t0 := time.Now()
	w.sendText(t, "2probe")
	w.expectText(t, "3probe")
	// While probing, a held GET is released with noops (every 100 ms).
	if got := ts.poll(t, sid); got != "6" {
		t.Errorf("GET during the probe: %q, want 6", got)
	}
	w.expectGone(t)
	if d := time.Since(t0); d < 250*time.Millisecond || d > time.Second {
		t.Errorf("probe closed after %v, want about UpgradeTimeout (300ms)", d)
	}
	if n := ts.srv.Sessions(); n != 1 {
		t.Fatalf("Sessions() = %d after the failed upgrade, want 1", n)
	}
	ts.post(t, sid, "4polling")
	got := ts.poll(t, sid)
	for got == "6" { // a noop may still have been queued
		got = ts.poll(t, sid)
	}
	if got != "4polling" {
		t.Fatalf("polling after the failed upgrade: %q", got)
	}

	// A probe that sends something other than 2probe is dropped at once.
	w2, _, err := dialWS(ts.addr, "EIO=4&transport=websocket&sid="+sid)
	if err != nil {
		t.Fatal(err)
	}
	w2.sendText(t, "4not a probe")
	w2.expectGone(t)
	ts.post(t, sid, "4still polling")
	if got := ts.poll(t, sid); got != "4still polling" {
		t.Fatalf("polling after a bad probe: %q", got)
	}

	// And a later upgrade succeeds.
	w3, _, err := dialWS(ts.addr, "EIO=4&transport=websocket&sid="+sid)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w3.c.Close() })
	w3.sendText(t, "2probe")
	w3.expectText(t, "3probe")
	w3.sendText(t, "5")
	w3.sendText(t, "4upgraded")
	w3.expectText(t, "4upgraded")

	// A session that ends while a probe is open takes the probe with it.
	sid = ts.handshake(t)
	w4, _, err := dialWS(ts.addr, "EIO=4&transport=websocket&sid="+sid)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w4.c.Close() })
	w4.sendText(t, "2probe")
	w4.expectText(t, "3probe")
	ts.post(t, sid, "1")
	w4.expectGone(t)
	expectEngineError(t, ts.do(t, reqGET(sidQuery(sid))), 1)
}

// ---------------------------------------------------------------------------

// Requests that name a session are served on the session's reactor. With
// two reactors and round-robin accepts, every other fresh connection lands
// on the wrong one and must move, with whatever it already sent.
func TestReactorMigration(t *testing.T) {
	t.Parallel()
	ts := startServer(t, loop.Config{EventLoops: 2})
	c := newCanary(t, ts)
	sids := make([]string, 4)
	for i := range sids {
		sids[i] = ts.handshake(t)
	}
	for round := range 4 {
		for i, sid := range sids {
			msg := fmt.Sprintf("4s%d r%d", i, round)
			ts.post(t, sid, msg)
			if got := ts.poll(t, sid); got != msg {
				t.Fatalf("session %d round %d: got %q", i, round, got)
			}
			// Pipelined POST+GET on a fresh connection: both requests move.
			h := ts.dial(t)
			h.write(reqPOST(sidQuery(sid), msg+"p") + reqGET(sidQuery(sid)))
			if r := h.read(); r.body != "ok" {
				t.Fatalf("pipelined POST: %v", r)
			}
			if r := h.read(); r.body != msg+"p" {
				t.Fatalf("pipelined GET: %v", r)
			}
			// The moved connection keeps serving.
			h.write(reqPOST(sidQuery(sid), msg+"k"))
			if r := h.read(); r.body != "ok" {
				t.Fatalf("keep-alive POST after the move: %v", r)
			}
			h.write(reqGET(sidQuery(sid)))
			if r := h.read(); r.body != msg+"k" {
				t.Fatalf("keep-alive GET after the move: %v", r)
			}
			h.c.Close()
		}
	}
	// One connection serving two sessions alternately moves back and forth.
	h := ts.dial(t)
	for i := range 6 {
		sid := sids[i%2]
		h.write(reqPOST(sidQuery(sid), "4alt"))
		if r := h.read(); r.body != "ok" {
			t.Fatalf("alternating POST %d: %v", i, r)
		}
		h.write(reqGET(sidQuery(sid)))
		if r := h.read(); r.body != "4alt" {
			t.Fatalf("alternating GET %d: %v", i, r)
		}
	}
	// Upgrades arrive on fresh connections too.
	for i, sid := range sids {
		w, _, err := dialWS(ts.addr, "EIO=4&transport=websocket&sid="+sid)
		if err != nil {
			t.Fatalf("upgrade %d: %v", i, err)
		}
		t.Cleanup(func() { w.c.Close() })
		w.sendText(t, "2probe")
		w.expectText(t, "3probe")
		w.sendText(t, "5")
		for j := range 3 {
			msg := fmt.Sprintf("4ws%d.%d", i, j)
			w.sendText(t, msg)
			w.expectText(t, msg)
		}
	}
	// An upgrade whose probe frame comes in the same write as the request,
	// and one whose request arrives a byte at a time, each tried on both
	// reactors: the bytes after the head must follow the connection.
	for i := range 4 {
		sid := ts.handshake(t)
		h := ts.dial(t)
		if i%2 == 0 {
			h.write(reqUpgrade("EIO=4&transport=websocket&sid="+sid) + string(textFrame("2probe")))
		} else {
			h.writeBytewise(reqUpgrade("EIO=4&transport=websocket&sid=" + sid))
			h.write(string(textFrame("2probe")))
		}
		if r := h.read(); r.status != 101 {
			t.Fatalf("upgrade %d: %v", i, r)
		}
		w := &wsConn{c: h.c, br: h.br}
		w.expectText(t, "3probe")
		w.send(t, append(textFrame("5"), textFrame("4x")...))
		w.expectText(t, "4x")
	}
	snap := ts.srv.Snapshot()
	if len(snap.LoopConnections) != 2 {
		t.Errorf("connections seen by %d reactors, want 2: %v", len(snap.LoopConnections), snap.LoopConnections)
	}
	c.check(t)
}

// 200 WebSocket sessions echo in parallel; the counters return to zero.
func TestConcurrentWebSocketSessions(t *testing.T) {
	t.Parallel()
	const clients, msgs = 200, 20
	ts := startServer(t, loop.Config{})
	conns := make([]*wsConn, clients)
	errs := make(chan error, clients)
	var wg sync.WaitGroup
	for i := range conns {
		wg.Go(func() {
			w, _, err := dialWS(ts.addr, "EIO=4&transport=websocket")
			if err != nil {
				errs <- fmt.Errorf("client %d: %w", i, err)
				return
			}
			conns[i] = w
			if open, err := w.readText(); err != nil || !openRE.MatchString(open) {
				errs <- fmt.Errorf("client %d: open packet %q, %v", i, open, err)
			}
		})
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, w := range conns {
			if w != nil {
				w.c.Close()
			}
		}
	})
	failOn(t, errs)
	waitFor(t, "200 sessions", func() bool { return ts.srv.Sessions() == clients })

	start := make(chan struct{})
	for i, w := range conns {
		wg.Go(func() {
			<-start
			for j := range msgs {
				msg := fmt.Sprintf("4client %d message %d", i, j)
				if j%2 == 1 {
					if err := w.write(frameOf(true, opBinary, []byte(msg))); err != nil {
						errs <- err
						return
					}
					f, err := w.read()
					if err != nil || f.op != opBinary || string(f.payload) != msg {
						errs <- fmt.Errorf("client %d: binary echo %v, %v", i, f, err)
						return
					}
					continue
				}
				if err := w.write(textFrame(msg)); err != nil {
					errs <- err
					return
				}
				if got, err := w.readText(); err != nil || got != msg {
					errs <- fmt.Errorf("client %d: echo %q, %v", i, got, err)
					return
				}
			}
			if err := w.closeHandshake(); err != nil {
				errs <- fmt.Errorf("client %d: %w", i, err)
			}
		})
	}
	close(start)
	wg.Wait()
	failOn(t, errs)
	waitFor(t, "sessions and connections back to 0", func() bool {
		return ts.srv.Sessions() == 0 && ts.srv.Connections() == 0
	})
	if snap := ts.srv.Snapshot(); snap.Sessions != 0 || snap.WebSocketSessions != 0 {
		t.Errorf("snapshot after all closed: %+v", snap)
	}
}

func failOn(t *testing.T, errs chan error) {
	t.Helper()
	for {
		select {
		case err := <-errs:
			t.Fatal(err)
		default:
			return
		}
	}
}
