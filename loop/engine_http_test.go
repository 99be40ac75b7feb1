package loop_test

// The HTTP/1.1 layer under real connections: keep-alive, pipelining,
// requests arriving in pieces, size limits and garbage. A canary session
// (one WebSocket, one polling) must keep echoing through all of it.

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"sioloop/loop"
)

func TestHTTPKeepAlive(t *testing.T) {
	t.Parallel()
	ts := startServer(t, loop.Config{})
	h := ts.dial(t)
	h.write(reqGET("EIO=4&transport=polling"))
	r := h.read()
	sid := ts.checkOpen(t, r.body, `["websocket"]`)
	if v, ok := r.header("Connection"); ok && strings.EqualFold(v, "close") {
		t.Fatalf("keep-alive request answered with Connection: close")
	}
	for i := range 5 {
		msg := fmt.Sprintf("4msg %d", i)
		h.write(reqPOST(sidQuery(sid), msg))
		if r := h.read(); r.body != "ok" {
			t.Fatalf("POST %d: %v", i, r)
		}
		h.write(reqGET(sidQuery(sid)))
		if r := h.read(); r.body != msg {
			t.Fatalf("GET %d: %v, want %q", i, r, msg)
		}
	}
	// HTTP/1.0 without keep-alive: answered, then closed.
	h.write("GET " + enginePath + "?EIO=4&transport=foo HTTP/1.0\r\n\r\n")
	r = h.read()
	expectEngineError(t, r, 0)
	if !announcesClose(r) {
		t.Errorf("HTTP/1.0 response without Connection: close: %v", r)
	}
	h.expectEOF()
}

func TestHTTPPipelined(t *testing.T) {
	t.Parallel()
	ts := startServer(t, loop.Config{})
	c := newCanary(t, ts)
	sid := ts.handshake(t)

	t.Run("POST POST GET in one write", func(t *testing.T) {
		h := ts.dial(t)
		h.write(reqPOST(sidQuery(sid), "4a") + reqPOST(sidQuery(sid), "4b") + reqGET(sidQuery(sid)))
		for i, want := range []string{"ok", "ok", "4a\x1e4b"} {
			if r := h.read(); r.status != 200 || r.body != want {
				t.Fatalf("response %d: %v, want %q", i, r, want)
			}
		}
	})

	// A GET that must wait, followed on the same connection by the POST
	// that feeds it. HTTP/1.1 answers pipelined requests in order (RFC 9112
	// §9.3.2); Node's http server queues the POST's "ok" behind the held GET,
	// which gets the echo. Answering "ok" first would hand the GET's
	// response slot to the POST.
	t.Run("held GET then POST in one write", func(t *testing.T) {
		h := ts.dial(t)
		h.write(reqGET(sidQuery(sid)) + reqPOST(sidQuery(sid), "4c"))
		first := h.read()
		if first.body != "4c" {
			t.Errorf("SERVER BUG: first response of pipelined GET+POST is %v; want the GET's answer 4c (responses out of request order)", first)
		}
		second := h.read()
		if second.body != "ok" && first.body == "4c" {
			t.Errorf("second response %v, want ok", second)
		}
	})
	c.check(t)
}

// Every request split into two writes at every offset, on fresh
// connections (so about half of them move to the session's reactor while
// incomplete), then written one byte at a time.
func TestHTTPPartialRequests(t *testing.T) {
	t.Parallel()
	ts := startServer(t, loop.Config{})
	c := newCanary(t, ts)
	sid := ts.handshake(t)
	raw := reqPOST(sidQuery(sid), "4chop") + reqGET(sidQuery(sid))
	for i := 1; i < len(raw); i++ {
		h := ts.dial(t)
		h.write(raw[:i])
		time.Sleep(time.Millisecond)
		h.write(raw[i:])
		if r := h.read(); r.body != "ok" {
			t.Fatalf("split at %d: POST got %v", i, r)
		}
		if r := h.read(); r.body != "4chop" {
			t.Fatalf("split at %d: GET got %v", i, r)
		}
		h.c.Close()
	}

	h := ts.dial(t)
	h.writeBytewise(reqGET("EIO=4&transport=polling"))
	sid2 := ts.checkOpen(t, h.read().body, `["websocket"]`)
	h.writeBytewise(reqPOST(sidQuery(sid2), "4byte\x1ebAQI="))
	if r := h.read(); r.body != "ok" {
		t.Fatalf("bytewise POST: %v", r)
	}
	h.writeBytewise(reqGET(sidQuery(sid2)))
	if r := h.read(); r.body != "4byte\x1ebAQI=" {
		t.Fatalf("bytewise GET: %v", r)
	}
	c.check(t)
}

func TestHTTPLimits(t *testing.T) {
	t.Parallel()
	ts := startServer(t, loop.Config{})
	c := newCanary(t, ts)
	sid := ts.handshake(t)

	t.Run("head just under 8 KiB", func(t *testing.T) {
		base := reqGET("EIO=4&transport=polling")
		pad := 8<<10 - len(base) - len("X-Pad: \r\n") - 1
		r := ts.do(t, reqGET("EIO=4&transport=polling", "X-Pad: "+strings.Repeat("a", pad)))
		ts.checkOpen(t, r.body, `["websocket"]`)
	})
	t.Run("head over 8 KiB", func(t *testing.T) {
		h := ts.dial(t)
		h.write(reqGET(sidQuery(sid), "X-Big: "+strings.Repeat("a", 9000)))
		r := h.read()
		if r.statusLine != "HTTP/1.1 431 Request Header Fields Too Large" {
			t.Errorf("status line %q, want 431", r.statusLine)
		}
		h.expectRefusesMore()
	})
	t.Run("head that never ends", func(t *testing.T) {
		// Many header lines, 8.4 KiB without the blank line that would end
		// the head, in one write (the server may close as soon as it has
		// seen 8 KiB).
		h := ts.dial(t)
		h.write("GET " + pollPath + " HTTP/1.1\r\nHost: h\r\n" + strings.Repeat("X-Filler: "+strings.Repeat("z", 900)+"\r\n", 10))
		r := h.read()
		if r.status != 431 {
			t.Errorf("status %d, want 431: %v", r.status, r)
		}
		h.expectRefusesMore()
	})
	t.Run("65 header lines", func(t *testing.T) {
		h := ts.dial(t)
		h.write(reqGET(sidQuery(sid), strings.Split(strings.Repeat("X-N: 1\n", 65), "\n")[:65]...))
		r := h.read()
		if r.status != 431 {
			t.Errorf("status %d, want 431: %v", r.status, r)
		}
		h.expectRefusesMore()
	})
	t.Run("body over maxPayload", func(t *testing.T) {
		h := ts.dial(t)
		h.write("POST " + enginePath + "?" + sidQuery(sid) + " HTTP/1.1\r\nHost: h\r\nContent-Type: text/plain;charset=UTF-8\r\n" +
			"Content-Length: 1000001\r\n\r\n4aaaaaaaa")
		r := h.read()
		if r.statusLine != "HTTP/1.1 413 Payload Too Large" {
			t.Errorf("status line %q, want 413", r.statusLine)
		}
		h.expectRefusesMore()
	})
	t.Run("body of exactly maxPayload", func(t *testing.T) {
		// Node counts maxHttpBufferSize on the body; 1e6 bytes pass.
		payload := "4" + strings.Repeat("m", 1000000-1)
		ts.post(t, sid, payload)
		if got := ts.poll(t, sid); got != payload {
			t.Errorf("1e6-byte echo: got %d bytes", len(got))
		}
	})
	c.check(t)
	// A 413 leaves the session itself alone, as in Node.
	ts.post(t, sid, "4still")
	if got := ts.poll(t, sid); got != "4still" {
		t.Errorf("session after 413: got %q", got)
	}
}

// pollPath is the target of a polling handshake.
const pollPath = enginePath + "?EIO=4&transport=polling"

// garbageCases are requests the HTTP layer refuses: the response has the
// status and the connection closes.
var garbageCases = []struct {
	name     string
	raw      string
	status   int
	answered int // good requests answered (with error code 0) before the refusal
}{
	{"TLS ClientHello", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + strings.Repeat("\x00", 40), 400, 0},
	{"NUL bytes", strings.Repeat("\x00", 64), 400, 0},
	{"one word", "HELLO\r\n\r\n", 400, 0},
	{"bare LF", "GET " + pollPath + " HTTP/1.1\nHost: h\n\n", 400, 0},
	{"missing Host", "GET " + pollPath + " HTTP/1.1\r\n\r\n", 400, 0},
	{"two Hosts", "GET " + pollPath + " HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, 0},
	{"double space", "GET  " + pollPath + " HTTP/1.1\r\nHost: h\r\n\r\n", 400, 0},
	{"space in target", "GET /engine.io/ x HTTP/1.1\r\nHost: h\r\n\r\n", 400, 0},
	{"HTTP/2.0", "GET " + pollPath + " HTTP/2.0\r\nHost: h\r\n\r\n", 505, 0},
	{"lowercase version", "GET " + pollPath + " http/1.1\r\nHost: h\r\n\r\n", 400, 0},
	{"control char in value", "GET " + pollPath + " HTTP/1.1\r\nHost: h\r\nX-A: a\x01b\r\n\r\n", 400, 0},
	{"space before colon", "GET " + pollPath + " HTTP/1.1\r\nHost: h\r\nX-A : b\r\n\r\n", 400, 0},
	{"obs-fold", "GET " + pollPath + " HTTP/1.1\r\nHost: h\r\nX-A: a\r\n b\r\n\r\n", 400, 0},
	{"bad Content-Length", "POST " + pollPath + " HTTP/1.1\r\nHost: h\r\nContent-Length: 1x\r\n\r\n4x", 400, 0},
	{"negative Content-Length", "POST " + pollPath + " HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", 400, 0},
	{"conflicting Content-Length", "POST " + pollPath + " HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n4x", 400, 0},
	{"Content-Length and chunked", "POST " + pollPath + " HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n4x", 400, 0},
	{"chunked body", "POST " + pollPath + " HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n4x\r\n0\r\n\r\n", 411, 0},
	{"garbage after a good request", reqGET("EIO=4&transport=foo") + "\x16\x03\x01garbage\r\n\r\n", 400, 1},
}

func TestHTTPGarbage(t *testing.T) {
	t.Parallel()
	ts := startServer(t, loop.Config{})
	c := newCanary(t, ts)
	for _, tc := range garbageCases {
		t.Run(tc.name, func(t *testing.T) {
			h := ts.dial(t)
			h.write(tc.raw)
			r := h.read()
			for range tc.answered {
				expectEngineError(t, r, 0)
				r = h.read()
			}
			if r.status != tc.status {
				t.Errorf("status %d, want %d: %v", r.status, tc.status, r)
			}
			if !statusLineRE.MatchString(r.statusLine) {
				t.Errorf("status line %q", r.statusLine)
			}
			h.expectRefusesMore()
			c.check(t)
		})
	}
	// A request that turns bad only at its last byte, dribbled in a byte
	// at a time: refused once the line is complete, and only that connection.
	h := ts.dial(t)
	h.writeBytewise("GET " + pollPath + " HTTP/1.1\r\nHost: h\r\nX-A: a\x01b\r\n")
	if r := h.read(); r.status != 400 {
		t.Errorf("bytewise garbage: %v", r)
	}
	h.expectRefusesMore()
	c.check(t)
	waitFor(t, "garbage connections to close", func() bool {
		return ts.srv.Connections() <= 1 // the canary's WebSocket
	})
}

// statusLineRE matches a status line as Node's http module writes it.
var statusLineRE = regexp.MustCompile(`^HTTP/1\.1 [1-5]\d\d [A-Za-z -]+$`)

// A response after which the server closes the connection must say so,
// and must be complete without the client's help.
//
//   - RFC 9112 §9.6: a server that closes after a response SHOULD send the
//     "close" connection option in it. Node's http server does for the 400
//     and 431 it answers parse errors with, and engine.io's abortUpgrade does
//     too (Node keeps the connection after a 413; we close, so we must
//     announce it). Without it an HTTP/1.1 client may reuse the connection
//     and lose its next request.
//   - RFC 9112 §6.3: a response without Content-Length ends when the
//     connection closes. Node ends the socket right after such a response;
//     a server that instead lingers until the client hangs up leaves the
//     client waiting for the end of the body.
//   - A client that stays silent after a refusal is cut off in bounded time.
func TestHTTPRefusalsEndCleanly(t *testing.T) {
	t.Parallel()
	ts := startServer(t, loop.Config{})
	sid := ts.handshake(t)
	type refusal struct {
		raw      string
		answered int
	}
	refusals := []refusal{
		{reqGET(sidQuery(sid), "X-Big: "+strings.Repeat("a", 9000)), 0},                                              // 431
		{"POST " + enginePath + "?" + sidQuery(sid) + " HTTP/1.1\r\nHost: h\r\nContent-Length: 1000001\r\n\r\n4", 0}, // 413
	}
	for _, tc := range garbageCases {
		refusals = append(refusals, refusal{tc.raw, tc.answered})
	}
	type result struct {
		statusLine           string
		announced, delimited bool
		err                  error
	}
	results := make([]result, len(refusals))
	var wg sync.WaitGroup
	for i, rf := range refusals {
		wg.Go(func() {
			res := &results[i]
			c, err := net.DialTimeout("tcp", ts.addr, ioTimeout)
			if err != nil {
				res.err = err
				return
			}
			defer c.Close()
			br := bufio.NewReader(c)
			c.SetDeadline(time.Now().Add(ioTimeout))
			if _, err := io.WriteString(c, rf.raw); err != nil {
				res.err = err
				return
			}
			var r *response
			for range rf.answered + 1 {
				if r, err = readResponse(br); err != nil {
					res.err = err
					return
				}
			}
			res.statusLine, res.announced, res.delimited = r.statusLine, announcesClose(r), !r.untilClose
			if r.untilClose {
				// Node ends the connection right after the response.
				_, err := readToEOF(c, br, time.Second)
				res.delimited = err == nil
			}
		})
	}
	wg.Wait()
	var unannounced, undelimited []string
	for i, res := range results {
		if res.err != nil {
			t.Fatalf("refusal %d (%.30q): %v", i, refusals[i].raw, res.err)
		}
		if !res.announced {
			unannounced = append(unannounced, res.statusLine)
		}
		if !res.delimited {
			undelimited = append(undelimited, res.statusLine)
		}
	}
	if len(unannounced) > 0 {
		t.Errorf("SERVER BUG: %d of %d responses sent before the server closes the connection lack \"Connection: close\" "+
			"(RFC 9112 §9.6; Node sends it): %q", len(unannounced), len(refusals), dedup(unannounced))
	}
	if len(undelimited) > 0 {
		t.Errorf("SERVER BUG: %d of %d refusals have no Content-Length, so their body ends only when the connection does, "+
			"but the server kept the connection open for over 1s waiting for the client to hang up (Node ends the socket at once; "+
			"send Content-Length: 0 or half-close when lingering): %q", len(undelimited), len(refusals), dedup(undelimited))
	}

	// A client that stays connected and silent after a refusal is cut off.
	h := ts.dial(t)
	h.write("POST " + enginePath + "?" + sidQuery(sid) + " HTTP/1.1\r\nHost: h\r\nContent-Length: 1000001\r\n\r\n4")
	if r := h.read(); r.status != 413 {
		t.Fatalf("want 413, got %v", r)
	}
	if rest, err := readToEOF(h.c, h.br, 5*time.Second); err != nil || len(rest) > 0 {
		t.Errorf("a silent client was not cut off within 5s of a refusal: %v, %q", err, rest)
	}
}

func dedup(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}
