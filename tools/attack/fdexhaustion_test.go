package attack

import (
	"strings"
	"testing"
	"time"
)

// TestFileDescriptorExhaustion runs the server with RLIMIT_NOFILE 256
// (soft and hard) and opens 400 idle TCP connections, more than it can
// accept. The server must keep running and serving the canary (connected
// before), log the accept error (a line with "accept" and "too many open
// files", rate-limited: at most a few dozen such lines), and once the
// idle connections are gone, accept a new Socket.IO client again.
// Bounds: RSS +64 MB, canary p99 500 ms.
func TestFileDescriptorExhaustion(t *testing.T) {
	const idle = 400
	a := begin(t, bounds{RSS: 64 << 20, P99: 500 * time.Millisecond}, serverOpts{nofile: 256})
	defer a.finish()
	conns, opened, err := dialMany(a.Srv.Addr, idle, 6*time.Second)
	w := watchClose(conns, opened)
	a.Outcome("%d of %d idle connections opened (first dial error: %v)", len(conns), idle, err)
	// Hold them while the canary keeps emitting.
	select {
	case <-a.Srv.done:
	case <-time.After(3 * time.Second):
	}
	closedByServer := len(conns) - w.Open()
	w.Close()
	a.Outcome("%d closed by the server while held", closedByServer)
	if a.Gone() {
		a.Outcome("server exited while the connections were held: %v", a.Srv.exitError())
		t.Fatalf("server exited under descriptor exhaustion: %v (log tail below)", a.Srv.exitError())
	}
	lines := a.Srv.Log.Lines("accept", "too many open files")
	a.Outcome("%d log line(s) with accept + too many open files", len(lines))
	if len(lines) == 0 {
		t.Errorf("no log line with \"accept\" and \"too many open files\"; log tail:\n%s", a.Srv.Log.Tail(1500))
	} else if len(lines) > 50 {
		t.Errorf("accept error logged %d times in ~5s: want it rate-limited", len(lines))
	}
	// The descriptors are free again: a new client must get in.
	var last error
	deadline := time.Now().Add(5 * time.Second)
	ok := false
	for !ok && time.Now().Before(deadline) && !a.Gone() {
		ws, err := dialWS(a.Srv.Addr, time.Second, 0)
		if err == nil {
			var ack string
			ack, err = ws.Connect("/", time.Second)
			ws.Close()
			ok = err == nil && strings.HasPrefix(ack, `40{"sid":`)
			if err == nil && !ok {
				last = nil
				a.Outcome("new client CONNECT answered %q", clip(ack))
				break
			}
		}
		last = err
		if !ok {
			time.Sleep(200 * time.Millisecond)
		}
	}
	a.Outcome("new client after the idle connections closed: connected=%v (last error: %v)", ok, last)
	if !ok {
		t.Errorf("no new Socket.IO client could connect within 5s of the idle connections closing: %v", last)
	}
}
