package loop

import (
	"bytes"
	"testing"
	"time"
)

// TestDeadlineQueueStaysBounded: connections that come and go, or re-arm
// their wait again and again, leave stale entries behind; the queue drops
// them so that it never holds many more entries than the reactor has
// connections, and a sweep cuts exactly the connections whose deadline is
// still theirs.
func TestDeadlineQueueStaysBounded(t *testing.T) {
	srv, r := testReactor(Config{HandshakeTimeout: time.Second, KeepAliveTimeout: time.Second})
	r.conns.Store(10)
	q := &r.deadlines[waitHead]
	for i := 0; i < 100000; i++ {
		cs := &connState{r: r}
		cs.expect(&memConn{}, waitHead)
		cs.closed = true // churn: the connection went away
	}
	if n := len(q.entries) - q.head; n > 2*10+1024+1 {
		t.Fatalf("%d entries for 10 connections after churn", n)
	}

	// One connection that keeps re-arming its idle wait.
	idle := &connState{r: r}
	ic := &memConn{keep: true}
	for i := 0; i < 5000; i++ {
		idle.wait, idle.waitSeq = waitNone, 0 // a request ended
		idle.expect(ic, waitIdle)
	}
	if n := len(r.deadlines[waitIdle].entries); n > 2*10+1024+1 {
		t.Fatalf("%d idle entries for one connection", n)
	}

	live := &connState{r: r}
	lc := &memConn{keep: true}
	live.expect(lc, waitHead)
	moved := &connState{r: r}
	mc := &memConn{keep: true}
	moved.expect(mc, waitHead)
	moved.expect(mc, waitNone) // e.g. its request completed and a GET is parked

	now := srv.clock.Load()
	r.sweepDeadlines(waitHead, now+int64(time.Second)-1)
	if lc.closed {
		t.Fatal("cut before its deadline")
	}
	r.sweepDeadlines(waitHead, now+int64(time.Second))
	if !lc.closed || !bytes.Contains(lc.out, []byte("408 Request Timeout")) {
		t.Fatalf("live connection: closed %v, out %q; want a 408 and a close", lc.closed, lc.out)
	}
	if mc.closed || len(mc.out) > 0 {
		t.Fatal("a connection that no longer waits for its head was cut")
	}
	if len(q.entries) != 0 {
		t.Fatalf("%d entries left after the sweep", len(q.entries))
	}
	r.sweepDeadlines(waitIdle, now+int64(time.Second))
	if !ic.closed || len(ic.out) > 0 {
		t.Fatalf("idle connection: closed %v, out %q; want a silent close", ic.closed, ic.out)
	}
	if got := srv.stats.Refusals[RefusedHeadTimeout].Load() + srv.stats.Refusals[RefusedIdleTimeout].Load(); got != 2 {
		t.Fatalf("%d timeouts counted, want 2", got)
	}
}
