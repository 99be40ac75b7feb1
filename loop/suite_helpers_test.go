package loop_test

// Helpers for the tests that mirror the official protocol test suites
// (suite_engineio_test.go, suite_socketio_test.go): the suites' server
// (package suiteapp, as go run ./tools/conformance serves it) on a loopback
// port, and raw requests and frames for either of its two endpoints.

import (
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"sioloop/tools/conformance/suiteapp"
)

// startSuite starts the server the suites run against, with n reactors
// (0: two, as startServer).
func startSuite(t *testing.T, n int) *testServer {
	t.Helper()
	return startServerWith(t, suiteapp.Config("", n), suiteapp.Mount)
}

// forEachLoops runs f with one reactor and with two: with two, the
// requests of one session may land on either and be moved to its home.
func forEachLoops(t *testing.T, f func(t *testing.T, ts *testServer)) {
	for _, n := range []int{1, 2} {
		t.Run(strconv.Itoa(n)+"loops", func(t *testing.T) {
			t.Parallel()
			f(t, startSuite(t, n))
		})
	}
}

// getAt and postAt are a GET and a POST (engine.io-client's Content-Type)
// of path with query.
func getAt(path, query string) string {
	return "GET " + path + "?" + query + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
}

func postAt(path, query, body string) string {
	return "POST " + path + "?" + query + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n" + body
}

func methodAt(method, path, query string) string {
	return method + " " + path + "?" + query + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n"
}

// openPolling makes a polling handshake at path and returns the sid.
func (ts *testServer) openPolling(t testing.TB, path string) string {
	t.Helper()
	r := ts.do(t, getAt(path, "EIO=4&transport=polling"))
	if r.status != 200 {
		t.Fatalf("handshake: %v", r)
	}
	return ts.checkOpen(t, r.body, `["websocket"]`)
}

// pollAt makes one GET for sid at path on a fresh connection.
func (ts *testServer) pollAt(t testing.TB, path, sid string) *response {
	t.Helper()
	return ts.do(t, getAt(path, sidQuery(sid)))
}

// pushAt POSTs payload for sid at path on a fresh connection.
func (ts *testServer) pushAt(t testing.TB, path, sid, payload string) *response {
	t.Helper()
	return ts.do(t, postAt(path, sidQuery(sid), payload))
}

// expectStatus fails unless r has status.
func expectStatus(t testing.TB, what string, r *response, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: status %d, want %d (%v)", what, r.status, status, r)
	}
}

// expectOK fails unless r is 200 with body.
func expectOK(t testing.TB, what string, r *response, body string) {
	t.Helper()
	if r.status != 200 || r.body != body {
		t.Fatalf("%s: got %v, want 200 %q", what, r, body)
	}
}

// openWSAt makes a direct WebSocket handshake at path and returns the conn
// and the sid of the open packet.
func (ts *testServer) openWSAt(t testing.TB, path string) (*wsConn, string) {
	t.Helper()
	w := ts.dialWSAt(t, path, "EIO=4&transport=websocket")
	f := w.next(t)
	if f.op != opText || !f.fin {
		t.Fatalf("first frame is not the open packet: %v", f)
	}
	return w, ts.checkOpen(t, string(f.payload), `[]`)
}

// dialWSAt opens a WebSocket at path with query; the upgrade must succeed.
func (ts *testServer) dialWSAt(t testing.TB, path, query string) *wsConn {
	t.Helper()
	w, _, err := dialWSPath(ts.addr, path, query)
	if err != nil {
		t.Fatalf("websocket %s?%s: %v", path, query, err)
	}
	t.Cleanup(func() { w.c.Close() })
	return w
}

// expectRefusedWS checks that no WebSocket opens at path with query: the
// suites' client then sees "close" (after "error").
func (ts *testServer) expectRefusedWS(t testing.TB, path, query string) {
	t.Helper()
	w, r, err := dialWSPath(ts.addr, path, query)
	if err == nil {
		w.c.Close()
		t.Fatalf("websocket %s?%s opened, want it refused", path, query)
	}
	if r == nil || r.status != 400 {
		t.Fatalf("websocket %s?%s: %v (%v), want a 400", path, query, err, r)
	}
}

// msg reads the next frame that is not a ping ("2", answered with "3":
// pingInterval is 300 ms, and a slow run must not fail on a ping).
func (w *wsConn) msg(t testing.TB) frame {
	t.Helper()
	for {
		f := w.next(t)
		if f.op == opText && string(f.payload) == "2" {
			w.sendText(t, "3")
			continue
		}
		return f
	}
}

// expectMsg reads the next text message that is not a ping and checks it.
func (w *wsConn) expectMsg(t testing.TB, want string) {
	t.Helper()
	if f := w.msg(t); !f.fin || f.op != opText || string(f.payload) != want {
		t.Fatalf("want text frame %q, got %v", want, f)
	}
}

// expectBinaryMsg reads the next message that is not a ping and checks it.
func (w *wsConn) expectBinaryMsg(t testing.TB, want []byte) {
	t.Helper()
	if f := w.msg(t); !f.fin || f.op != opBinary || string(f.payload) != string(want) {
		t.Fatalf("want binary frame %x, got %v", want, f)
	}
}

// expectClosed expects the server to end the WebSocket, with a Close frame
// (answered) or by closing the connection; pings before it are skipped.
func (w *wsConn) expectClosed(t testing.TB) {
	t.Helper()
	for {
		f, err := w.read()
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("want the WebSocket closed, got %v", err)
			}
			return
		}
		switch {
		case f.op == opClose:
			w.answerClose(f)
			return
		case f.op == opText && string(f.payload) == "2":
			continue
		default:
			t.Fatalf("want the WebSocket closed, got %v", f)
		}
	}
}

// expectHandshakeSID checks a CONNECT reply: prefix (`40` or `40/custom,`)
// then a JSON object whose only key is a string sid.
func expectHandshakeSID(t testing.TB, got, prefix string) {
	t.Helper()
	if !strings.HasPrefix(got, prefix) {
		t.Fatalf("CONNECT reply %q, want prefix %q", got, prefix)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(got[len(prefix):]), &v); err != nil {
		t.Fatalf("CONNECT reply %q: %v", got, err)
	}
	if sid, ok := v["sid"].(string); !ok || len(v) != 1 || sid == "" {
		t.Fatalf("CONNECT reply %q: want exactly the key sid, a string", got)
	}
}

// openSocketIO is the suite's initSocketIOConnection: a WebSocket session
// at the Socket.IO path joined to "/", past its CONNECT reply and the
// "auth" event.
func (ts *testServer) openSocketIO(t testing.TB) *wsConn {
	t.Helper()
	w, _ := ts.openWSAt(t, suiteapp.SocketIOPath)
	w.sendText(t, "40")
	f := w.msg(t)
	expectHandshakeSID(t, string(f.payload), "40")
	w.expectMsg(t, `42["auth",{}]`)
	return w
}

// placeholders is the JSON of two binary placeholders, as the suite sends.
const placeholders = `{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}`
