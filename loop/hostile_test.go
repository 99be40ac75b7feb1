package loop_test

// Clients that try to crash the server, desynchronise its HTTP framing or
// make it hold memory and descriptors. Each test keeps a canary beside the
// attack: the server must refuse the attacker and go on serving it.

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"sioloop/loop"
)

// TestBodyLengthIsCheckedBeforeUse sends declared lengths at and past every
// integer edge to a path no endpoint serves: each is refused with 413 at
// once (no waiting for a body that will never come), and nothing
// overflows.
func TestBodyLengthIsCheckedBeforeUse(t *testing.T) {
	ts := startServer(t, loop.Config{})
	canary := newCanary(t, ts)
	for _, cl := range []string{
		"9223372036854775807", // max int64: head length + it overflowed
		"9223372036854775806",
		"4294967296",
		"2147483648",
		"1000001", // one over MaxPayload
	} {
		for _, path := range []string{"/other", enginePath + "?EIO=4&transport=polling"} {
			h := ts.dial(t)
			h.write("POST " + path + " HTTP/1.1\r\nHost: h\r\nContent-Length: " + cl + "\r\n\r\n")
			r := h.read()
			if r.status != 413 || !announcesClose(r) {
				t.Fatalf("Content-Length %s on %s: got %v, want 413 with Connection: close", cl, path, r)
			}
			if !strings.Contains(r.body, cl) {
				t.Errorf("413 body %q does not name the length %s", r.body, cl)
			}
		}
	}
	// Lengths that are not a number are a bad request, not a crash.
	for _, cl := range []string{"18446744073709551616", "-1", "+5", "1e3", "0x10", " "} {
		h := ts.dial(t)
		h.write("POST /other HTTP/1.1\r\nHost: h\r\nContent-Length: " + cl + "\r\n\r\n")
		if r := h.read(); r.status != 400 {
			t.Fatalf("Content-Length %q: got %v, want 400", cl, r)
		}
	}
	if got := ts.srv.Snapshot().Refusals[loop.RefusedBodyTooLarge]; got != 10 {
		t.Errorf("body_too_large refusals = %d, want 10", got)
	}
	canary.check(t)
}

// TestBodyIsNeverParsedAsARequest sends a head, then 300 ms later a body
// that is itself a complete handshake: the body belongs to the first
// request whatever it holds, so the only answer is that request's 404, and
// the connection goes on with the request after the body.
func TestBodyIsNeverParsedAsARequest(t *testing.T) {
	ts := startServer(t, loop.Config{})
	smuggled := reqGET("EIO=4&transport=polling")
	for _, path := range []string{"/other", "/"} {
		h := ts.dial(t)
		h.write("POST " + path + " HTTP/1.1\r\nHost: h\r\nContent-Length: " + strconv.Itoa(len(smuggled)) + "\r\n\r\n")
		time.Sleep(300 * time.Millisecond)
		h.write(smuggled)
		if r := h.read(); r.status != 404 {
			t.Fatalf("%s: got %v, want 404", path, r)
		}
		h.expectQuiet(quiet) // no second answer: the handshake was body
		h.write(reqGET("EIO=4&transport=polling"))
		if r := h.read(); r.status != 200 || !strings.HasPrefix(r.body, `0{"sid"`) {
			t.Fatalf("%s: the request after the body got %v, want a handshake", path, r)
		}
	}
	if n := ts.srv.Sessions(); n != 2 {
		t.Errorf("sessions = %d, want 2 (one per real handshake)", n)
	}
}

// TestPongFloodIsBounded pings as fast as it can and never reads: the
// pongs pile up until MaxOutboundBytes, then the session ends as a slow
// consumer instead of the server buffering without end.
func TestPongFloodIsBounded(t *testing.T) {
	ts := startServer(t, loop.Config{MaxOutboundBytes: 256 << 10})
	canary := newCanary(t, ts)
	w, _ := ts.openWS(t)
	ping := clientFrame(0x80|0x9, make([]byte, 125), true)
	batch := []byte(strings.Repeat(string(ping), 64))
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		w.c.SetWriteDeadline(time.Now().Add(time.Second))
		if _, err := w.c.Write(batch); err != nil {
			break // the server cut us
		}
		if ts.srv.Snapshot().SlowConsumers > 0 {
			break
		}
	}
	waitFor(t, "the flooding session to end as a slow consumer", func() bool {
		return ts.srv.Snapshot().SlowConsumers == 1 && ts.srv.Sessions() == 2
	})
	canary.check(t)
}

// TestUnreadAnswersAreBounded pipelines requests without reading the
// answers, on a bare connection and behind a parked GET (where answers are
// held back to keep HTTP order): past MaxOutboundBytes the connection is
// closed and counted, whichever buffer the answers wait in.
func TestUnreadAnswersAreBounded(t *testing.T) {
	ts := startServer(t, loop.Config{MaxOutboundBytes: 256 << 10})
	canary := newCanary(t, ts)
	bogus := strings.Repeat(reqGET("EIO=4&transport=bogus"), 200)

	h := ts.dial(t)
	floodUntilCut(t, h.c, bogus)

	sid := ts.handshake(t)
	g := ts.dial(t)
	g.write(reqGET(sidQuery(sid))) // parked: later answers are held back
	time.Sleep(50 * time.Millisecond)
	floodUntilCut(t, g.c, bogus)

	waitFor(t, "both connections to be cut", func() bool {
		return ts.srv.Snapshot().Refusals[loop.RefusedOutboundFull] == 2
	})
	canary.check(t)
}

// floodUntilCut writes s to c again and again until the server closes c.
func floodUntilCut(t *testing.T, c net.Conn, s string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		c.SetWriteDeadline(time.Now().Add(500 * time.Millisecond))
		_, err := c.Write([]byte(s))
		if err != nil && !isTimeout(err) {
			return
		}
		if !established(c) {
			return // the server hung up
		}
	}
	t.Fatal("the server never cut a client that does not read its answers")
}

// established asks the kernel whether c is still open both ways, without
// reading from it.
func established(c net.Conn) bool {
	raw, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		return false
	}
	const tcpEstablished = 1 // include/net/tcp_states.h
	open := false
	_ = raw.Control(func(fd uintptr) {
		info, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
		open = err == nil && info.State == tcpEstablished
	})
	return open
}

// TestClientDeadlines checks the three bounds on an HTTP client: a
// connection that sends nothing or trickles its head gets 408 after
// HandshakeTimeout, a stalled body 408 after BodyReadTimeout, and an idle
// keep-alive connection is closed after KeepAliveTimeout. Requests that
// keep coming keep the connection open.
func TestClientDeadlines(t *testing.T) {
	const d = 400 * time.Millisecond
	ts := startServer(t, loop.Config{HandshakeTimeout: d, BodyReadTimeout: d, KeepAliveTimeout: d})
	canary := newCanary(t, ts)

	silent := ts.dial(t)
	trickle := ts.dial(t)
	trickle.write("GET ")
	body := ts.dial(t)
	body.write("POST /other HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n12345")
	idle := ts.dial(t)
	idle.write(reqGET("EIO=4&transport=bogus"))
	if r := idle.read(); r.status != 400 {
		t.Fatalf("bogus transport: %v", r)
	}
	busy := ts.dial(t)

	start := time.Now()
	for time.Since(start) < 3*d { // busy sends a request every d/4
		busy.write(reqGET("EIO=4&transport=bogus"))
		if r := busy.read(); r.status != 400 {
			t.Fatalf("busy connection got %v", r)
		}
		_, _ = trickle.c.Write([]byte("/")) // fails once the server cut it
		time.Sleep(d / 4)
	}
	for name, h := range map[string]*hconn{"silent": silent, "trickle": trickle, "body": body} {
		if r := h.read(); r.status != 408 || !announcesClose(r) {
			t.Errorf("%s: got %v, want 408 with Connection: close", name, r)
		}
		h.expectEOF()
	}
	idle.expectEOF()
	snap := ts.srv.Snapshot()
	if snap.Refusals[loop.RefusedHeadTimeout] != 2 || snap.Refusals[loop.RefusedBodyTimeout] != 1 || snap.Refusals[loop.RefusedIdleTimeout] != 1 {
		t.Errorf("refusals head/body/idle = %d/%d/%d, want 2/1/1", snap.Refusals[loop.RefusedHeadTimeout],
			snap.Refusals[loop.RefusedBodyTimeout], snap.Refusals[loop.RefusedIdleTimeout])
	}
	canary.check(t) // a parked GET and a WebSocket wait for the server: no client deadline
}

// panicky echoes like EchoHandler but panics on the message "panic", as a
// bug reached by one client's input would.
type panicky struct{ loop.EchoHandler }

func (p panicky) OnMessage(s *loop.Session, data []byte, binary bool) {
	if string(data) == "panic" {
		panic("test: a bug reached by client input")
	}
	p.EchoHandler.OnMessage(s, data, binary)
}

// TestPanicEndsOnlyThatConnection: a panic while serving one client is
// recovered at the reactor boundary, counted and logged; that client's
// connection and session end, every other client goes on.
func TestPanicEndsOnlyThatConnection(t *testing.T) {
	// One reactor: the canary shares it with the panicking client.
	ts := startServerWith(t, loop.Config{EventLoops: 1}, func(srv *loop.Server) { srv.Handle(enginePath, panicky{}) })
	canary := newCanary(t, ts)
	w, _ := ts.openWS(t)
	w.sendText(t, "4panic")
	w.expectGone(t)
	waitFor(t, "the panic to be counted and the session to end", func() bool {
		return ts.srv.Snapshot().Panics == 1 && ts.srv.Sessions() == 2
	})
	canary.check(t)
	// A polling request that panics loses its connection; its session is
	// left to the heartbeat, as for any client that went away.
	sid := ts.handshake(t)
	h := ts.dial(t)
	h.write(reqPOST(sidQuery(sid), "4panic"))
	h.expectEOF()
	waitFor(t, "the second panic", func() bool {
		return ts.srv.Snapshot().Panics == 2
	})
	canary.check(t)
}

// TestSilentConnectionOnAnIdleServer: the head deadline of a connection
// that sends nothing fires even when nothing else happens on the server
// (a deadline armed when a connection opens must reach the ticker).
func TestSilentConnectionOnAnIdleServer(t *testing.T) {
	ts := startServer(t, loop.Config{EventLoops: 1, HandshakeTimeout: 300 * time.Millisecond})
	h := ts.dial(t)
	if r := h.read(); r.status != 408 {
		t.Fatalf("got %v, want 408", r)
	}
	h.expectEOF()
}

// TestClosePOSTConnectionGoesFirst: a client POSTs its close packet while
// no GET is parked (the server holds the POST's ok for up to a second)
// and drops that connection before the ok: when the session ends, nothing
// is written to the gone connection and nothing panics; the sid is
// forgotten as usual.
func TestClosePOSTConnectionGoesFirst(t *testing.T) {
	ts := startSuite(t, 1)
	sid := ts.openPolling(t, eioPath)
	post := ts.dial(t)
	post.write(postAt(eioPath, sidQuery(sid), "1"))
	post.expectQuiet(50 * time.Millisecond) // held while a GET may come
	post.c.Close()
	waitFor(t, "the session to end after the close grace", func() bool { return ts.srv.Sessions() == 0 })
	if n := ts.srv.Snapshot().Panics; n != 0 {
		t.Fatalf("%d panics when the session ended", n)
	}
	expectStatus(t, "GET after the close", ts.pollAt(t, eioPath, sid), 400)
}
