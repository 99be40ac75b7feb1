package loop

import (
	"testing"
	"time"
)

// TestDeadlineQueueForgetsUpgradedConnections arms a handshake deadline for
// many connections that then stop waiting (as every WebSocket does at its
// upgrade), while a few keep waiting: the queue must stay near twice the
// waiting ones plus its slack, not grow by one entry per connection, and
// the waiting ones must keep their entries.
func TestDeadlineQueueForgetsUpgradedConnections(t *testing.T) {
	srv := &Server{cfg: Config{HandshakeTimeout: time.Minute, BodyReadTimeout: time.Minute, KeepAliveTimeout: time.Minute}}
	r := newReactor(srv, nil, 0)
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
	if n, most := len(q.entries)-q.head, 2*waiting+deadlineSlack+1; n > most {
		t.Errorf("%d entries after %d connections of which %d still wait, want at most %d", n, conns, waiting, most)
	}
	live := map[*connState]bool{}
	for _, e := range q.entries[q.head:] {
		if !e.stale(waitHead) {
			live[e.cs] = true
		}
	}
	for _, cs := range kept {
		if !live[cs] {
			t.Fatalf("a waiting connection lost its deadline entry (%d of %d found)", len(live), len(kept))
		}
	}
}
