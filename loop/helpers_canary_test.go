package loop_test

import (
	"fmt"
	"testing"
)

// canary is a WebSocket session and a polling session kept alive beside
// misbehaving clients; check proves both still echo.
type canary struct {
	ts  *testServer
	ws  *wsConn
	sid string
	n   int
}

func newCanary(t *testing.T, ts *testServer) *canary {
	t.Helper()
	ws, _ := ts.openWS(t)
	return &canary{ts: ts, ws: ws, sid: ts.handshake(t)}
}

func (c *canary) check(t testing.TB) {
	t.Helper()
	c.n++
	msg := fmt.Sprintf("4canary %d", c.n)
	c.ws.sendText(t, msg)
	for {
		f := c.ws.next(t)
		if f.op == opText && string(f.payload) == "2" { // a ping, should a test run long
			c.ws.sendText(t, "3")
			continue
		}
		if !f.fin || f.op != opText || string(f.payload) != msg {
			t.Fatalf("WebSocket canary got %v, want %q", f, msg)
		}
		break
	}
	c.ts.post(t, c.sid, msg)
	if got := c.ts.poll(t, c.sid); got != msg {
		t.Fatalf("polling canary got %q, want %q", got, msg)
	}
}
