package attack

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestIdleKeepAlive completes one keep-alive request on each of 500
// connections (unknown transport: 400, connection kept) and then leaves
// them idle, with KEEP_ALIVE_TIMEOUT=2s. The server must close every one
// within KEEP_ALIVE_TIMEOUT + 2.5 s of its answer. Bounds: RSS +64 MB,
// canary p99 500 ms.
func TestIdleKeepAlive(t *testing.T) {
	const n = 500
	timeout := 2 * time.Second
	a := begin(t, bounds{RSS: 64 << 20, P99: 500 * time.Millisecond}, serverOpts{}, "KEEP_ALIVE_TIMEOUT=2s")
	defer a.finish()
	conns, _, err := dialMany(a.Srv.Addr, n, 5*time.Second)
	if len(conns) == 0 {
		t.Fatalf("no connection opened: %v", err)
	}
	idleFrom := make([]time.Time, len(conns))
	var kept []net.Conn
	var keptAt []time.Time
	var failed, closing atomic.Int64
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(conns) {
					return
				}
				c := conns[i]
				_ = c.SetDeadline(time.Now().Add(3 * time.Second))
				_, err := io.WriteString(c, "GET /socket.io/?EIO=4&transport=bogus HTTP/1.1\r\nHost: x\r\n\r\n")
				var resp *http.Response
				if err == nil {
					resp, err = http.ReadResponse(bufio.NewReaderSize(c, 512), nil)
				}
				if err != nil {
					failed.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.Close {
					closing.Add(1)
				}
				_ = c.SetDeadline(time.Time{})
				idleFrom[i] = time.Now()
			}
		}()
	}
	wg.Wait()
	var lastIdle time.Time
	for i, c := range conns {
		if idleFrom[i].IsZero() {
			c.Close()
			continue
		}
		kept = append(kept, c)
		keptAt = append(keptAt, idleFrom[i])
		if idleFrom[i].After(lastIdle) {
			lastIdle = idleFrom[i]
		}
	}
	if len(kept) == 0 {
		t.Fatalf("no request answered (%d failed)", failed.Load())
	}
	w := watchClose(kept, keptAt)
	w.Wait(lastIdle.Add(timeout+closeSlack), a.Ctx.Done())
	after := w.CloseAfter()
	open := w.Open()
	w.Close()
	a.Outcome("%d requests answered (%d with Connection: close, %d failed), %d closed by the server when idle (after p50 %v, max %v), %d still open",
		len(kept), closing.Load(), failed.Load(), len(after), quantile(after, 0.5).Round(10*time.Millisecond),
		quantile(after, 1).Round(10*time.Millisecond), open)
	if open > 0 {
		t.Errorf("%d of %d idle keep-alive connections still open %v after their answer (KEEP_ALIVE_TIMEOUT=%v)", open, len(kept), timeout+closeSlack, timeout)
	}
	if late := countOver(after, timeout+closeSlack); late > 0 {
		t.Errorf("%d idle connections closed later than %v", late, timeout+closeSlack)
	}
}
