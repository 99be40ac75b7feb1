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
	r.deadlines[waitHead].sweep(r, now+int64(time.Second)-1)
	if lc.closed {
		t.Fatal("cut before its deadline")
	}
	r.deadlines[waitHead].sweep(r, now+int64(time.Second))
	if !lc.closed || !bytes.Contains(lc.out, []byte("408 Request Timeout")) {
		t.Fatalf("live connection: closed %v, out %q; want a 408 and a close", lc.closed, lc.out)
	}
	if mc.closed || len(mc.out) > 0 {
		t.Fatal("a connection that no longer waits for its head was cut")
	}
	if len(q.entries) != 0 {
		t.Fatalf("%d entries left after the sweep", len(q.entries))
	}
	r.deadlines[waitIdle].sweep(r, now+int64(time.Second))
	if !ic.closed || len(ic.out) > 0 {
		t.Fatalf("idle connection: closed %v, out %q; want a silent close", ic.closed, ic.out)
	}
	if got := srv.stats.Refusals[RefusedHeadTimeout].Load() + srv.stats.Refusals[RefusedIdleTimeout].Load(); got != 2 {
		t.Fatalf("%d timeouts counted, want 2", got)
	}
}

// TestDeadlineQueueForgetsUpgradedConnections arms a handshake deadline for
// many connections that then stop waiting (as every WebSocket does at its
// upgrade), while a few keep waiting: the queue must stay near twice the
// waiting ones plus its slack, not grow by one entry per connection, and
// the waiting ones must keep their entries.
func TestDeadlineQueueForgetsUpgradedConnections(t *testing.T) {
	_, r := testReactor(Config{HandshakeTimeout: time.Minute, BodyReadTimeout: time.Minute, KeepAliveTimeout: time.Minute})
	const conns, waiting = 20000, 100
	var kept []*connState
	for i := 0; i < conns; i++ {
		cs := &connState{r: r}
		r.conns.Add(1) // as OnOpen counts it
		cs.expect(nil, waitHead)
		if i%(conns/waiting) == 0 {
			kept = append(kept, cs)
			continue
		}
		cs.expect(nil, waitNone)
	}
	q := &r.deadlines[waitHead]
	if n, most := len(q.entries)-q.head, 2*waiting+expirySlack+1; n > most {
		t.Errorf("%d entries after %d connections of which %d still wait, want at most %d", n, conns, waiting, most)
	}
	live := map[*connState]bool{}
	for _, e := range q.entries[q.head:] {
		if !q.stale(e.v) {
			live[e.v.cs] = true
		}
	}
	for _, cs := range kept {
		if !live[cs] {
			t.Fatalf("a waiting connection lost its deadline entry (%d of %d found)", len(live), len(kept))
		}
	}
}
