package loop_test

import (
	"testing"
	"time"

	"sioloop/loop"
)

// TestKeepHeaders checks that a session keeps the handshake headers named
// by Config.KeepHeaders, whatever their case, and no other.
func TestKeepHeaders(t *testing.T) {
	got := make(chan [3]string, 1)
	ts := startServerWith(t, loop.Config{PingInterval: time.Minute, PingTimeout: time.Minute, KeepHeaders: []string{"x-tenant", "User-Agent"}}, func(srv *loop.Server) {
		io := loop.NewSocketIO(srv)
		io.Of("/").Use = func(so *loop.Socket, _ []byte) error {
			tenant, _ := so.Session().Header("X-Tenant")
			ua, _ := so.Session().Header("user-agent")
			_, hasKey := so.Session().Header("Sec-WebSocket-Key") // not kept
			key := ""
			if hasKey {
				key = "kept"
			}
			got <- [3]string{tenant, ua, key}
			return nil
		}
		srv.Handle("/socket.io/", io)
	})
	w, _, err := dialWSPath(ts.addr, "/socket.io/", "EIO=4&transport=websocket", "X-TENANT: acme", "User-Agent: probe/1")
	if err != nil {
		t.Fatal(err)
	}
	defer w.c.Close()
	w.next(t) // open
	w.sendText(t, "40")
	if g := <-got; g != [3]string{"acme", "probe/1", ""} {
		t.Fatalf("headers seen at CONNECT: %q", g)
	}
}
