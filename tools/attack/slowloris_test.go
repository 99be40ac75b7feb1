package attack

import (
	"testing"
	"time"
)

// closeSlack is what a timeout may overshoot on this noisy machine: the
// server's timer granularity, the dials of a thousand sockets, scheduling.
const closeSlack = 2500 * time.Millisecond

// TestSlowloris opens 1,000 connections that each send one byte of a
// request head every second, then 1,000 that send nothing, with
// HANDSHAKE_TIMEOUT=2s. The server must close every one of them within
// HANDSHAKE_TIMEOUT + 2.5 s of its opening. Bounds: RSS +64 MB, canary
// p99 500 ms.
func TestSlowloris(t *testing.T) {
	const n = 1000
	timeout := 2 * time.Second
	a := begin(t, bounds{RSS: 64 << 20, P99: 500 * time.Millisecond}, serverOpts{}, "HANDSHAKE_TIMEOUT=2s")
	defer a.finish()
	head := []byte("GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nX-Slow: ")
	for _, phase := range []struct {
		name    string
		trickle bool
	}{{"trickling", true}, {"idle", false}} {
		conns, opened, err := dialMany(a.Srv.Addr, n, 5*time.Second)
		if len(conns) < n {
			a.Outcome("%s: %d of %d opened (%v)", phase.name, len(conns), n, err)
		}
		if len(conns) == 0 {
			t.Fatalf("%s: no connection opened: %v", phase.name, err)
		}
		w := watchClose(conns, opened)
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() { // one byte a second on each connection
			defer close(done)
			if !phase.trickle {
				return
			}
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			for k := 0; ; k++ {
				for _, c := range conns {
					b := byte('a')
					if k < len(head) {
						b = head[k]
					}
					_ = c.SetWriteDeadline(time.Now().Add(10 * time.Millisecond))
					_, _ = c.Write([]byte{b})
				}
				select {
				case <-stop:
					return
				case <-tick.C:
				}
			}
		}()
		w.Wait(opened[len(opened)-1].Add(timeout+closeSlack), a.Ctx.Done())
		close(stop)
		<-done
		after := w.CloseAfter()
		open := w.Open()
		w.Close()
		a.Outcome("%s: %d connections, %d closed by the server (after p50 %v, max %v), %d still open",
			phase.name, len(conns), len(after), quantile(after, 0.5).Round(10*time.Millisecond),
			quantile(after, 1).Round(10*time.Millisecond), open)
		if open > 0 {
			t.Errorf("%s: %d of %d connections still open %v after they were opened (HANDSHAKE_TIMEOUT=%v)", phase.name, open, len(conns), timeout+closeSlack, timeout)
		}
		if late := countOver(after, timeout+closeSlack); late > 0 {
			t.Errorf("%s: %d connections closed later than %v", phase.name, late, timeout+closeSlack)
		}
		if a.Gone() || a.Ctx.Err() != nil {
			break
		}
	}
}

// countOver counts the durations of d over limit.
func countOver(d []time.Duration, limit time.Duration) int {
	n := 0
	for _, x := range d {
		if x > limit {
			n++
		}
	}
	return n
}
