package loop_test

import (
	"testing"
	"time"

	"sioloop/loop"
)

// TestCloseReason checks the disconnect reason of a WebSocket that ends:
// "transport close" after the client's close frame, however the TCP
// connection goes after it (Node's ws emits "close"), and "transport
// error" for a connection broken without one.
func TestCloseReason(t *testing.T) {
	reasons := make(chan string, 2)
	ts := startServerWith(t, loop.Config{PingInterval: time.Minute, PingTimeout: time.Minute}, func(srv *loop.Server) {
		io := loop.NewSocketIO(srv)
		io.Of("/").OnDisconnect = func(_ *loop.Socket, reason string) { reasons <- reason }
		srv.Handle("/socket.io/", io)
	})
	f := func(end func(w *wsConn), want string) {
		t.Helper()
		w, _ := ts.openWSAt(t, "/socket.io/")
		w.sendText(t, "40")
		w.next(t) // CONNECT answer
		end(w)
		select {
		case got := <-reasons:
			if got != want {
				t.Errorf("reason %q, want %q", got, want)
			}
		case <-time.After(time.Second): // well under the 2s linger
			t.Errorf("no disconnect within 1s, want %q", want)
		}
	}
	f(func(w *wsConn) {
		if err := w.closeHandshake(); err != nil {
			t.Fatal(err)
		}
	}, "transport close")
	f(func(w *wsConn) { w.c.Close() }, "transport error")
}
