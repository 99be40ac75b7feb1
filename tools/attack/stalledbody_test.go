package attack

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestStalledBodies opens a polling session, then 200 connections that
// each send a POST head for it with Content-Length: 990000 (under
// MAX_PAYLOAD) and 10 KB of body, and stall, with BODY_READ_TIMEOUT=2s.
// The server must close every one within BODY_READ_TIMEOUT + 2.5 s of its
// last byte, and its RSS must come back within 32 MB of the baseline
// (5 s allowed for the Go heap to shrink). A head with Content-Length:
// 2000000 (over MAX_PAYLOAD) must get 413 at once (≤ 1 s), before any
// body byte. Bounds: RSS +96 MB, canary p99 500 ms.
func TestStalledBodies(t *testing.T) {
	const n = 200
	timeout := 2 * time.Second
	a := begin(t, bounds{RSS: 96 << 20, P99: 500 * time.Millisecond}, serverOpts{}, "BODY_READ_TIMEOUT=2s")
	defer a.finish()
	sid := pollingSession(t, a.Srv.Addr)
	path := "/socket.io/?EIO=4&transport=polling&sid=" + sid
	head := "POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: 990000\r\n\r\n4"
	part := []byte(head + strings.Repeat("x", 10_000-1))

	conns, _, err := dialMany(a.Srv.Addr, n, 5*time.Second)
	if len(conns) == 0 {
		t.Fatalf("no connection opened: %v", err)
	}
	stalled := make([]time.Time, len(conns))
	var lastStall time.Time
	for i, c := range conns {
		_ = c.SetWriteDeadline(time.Now().Add(2 * time.Second))
		_, _ = c.Write(part) // an error shows as a close below
		stalled[i] = time.Now()
		lastStall = stalled[i]
	}
	w := watchClose(conns, stalled)
	w.Wait(lastStall.Add(timeout+closeSlack), a.Ctx.Done())
	after := w.CloseAfter()
	open := w.Open()
	w.Close()
	a.Outcome("%d stalled bodies, %d closed by the server (after p50 %v, max %v), %d still open",
		len(conns), len(after), quantile(after, 0.5).Round(10*time.Millisecond), quantile(after, 1).Round(10*time.Millisecond), open)
	if open > 0 {
		t.Errorf("%d of %d stalled bodies still open %v after their last byte (BODY_READ_TIMEOUT=%v)", open, len(conns), timeout+closeSlack, timeout)
	}
	if late := countOver(after, timeout+closeSlack); late > 0 {
		t.Errorf("%d stalled bodies closed later than %v", late, timeout+closeSlack)
	}

	// Back near the baseline once the connections are gone.
	var now int64
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end) && !a.Gone(); time.Sleep(200 * time.Millisecond) {
		if now, err = readRSS(a.Srv.Pid); err != nil || now-a.Baseline <= 32<<20 {
			break
		}
	}
	a.Outcome("RSS after: %s (+%s)", mb(now), mb(now-a.Baseline))
	if now-a.Baseline > 32<<20 {
		t.Errorf("RSS %s is %s over the baseline 5s after the stalled bodies closed: want ≤ 32 MB", mb(now), mb(now-a.Baseline))
	}

	// Over MAX_PAYLOAD: refused on the head alone.
	c, err := net.DialTimeout("tcp", a.Srv.Addr, 2*time.Second)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	start := time.Now()
	_ = c.SetDeadline(start.Add(time.Second))
	line := ""
	if _, err = io.WriteString(c, "POST "+path+" HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: 2000000\r\n\r\n"); err == nil {
		line, err = bufio.NewReader(c).ReadString('\n')
	}
	took := time.Since(start)
	a.Outcome("Content-Length 2000000: %q after %v (%v)", strings.TrimSpace(line), took.Round(time.Millisecond), err)
	if statusCode([]byte(line)) != 413 {
		t.Errorf("Content-Length 2000000 (over MAX_PAYLOAD) without a body: got %q (%v) within 1s, want 413", strings.TrimSpace(line), err)
	}
}

// pollingSession opens an Engine.IO polling session and returns its sid.
func pollingSession(t *testing.T, addr string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/socket.io/?EIO=4&transport=polling", nil)
	resp, body, _, err := httpDo(req, 5*time.Second)
	if err != nil || resp.StatusCode != 200 || !bytes.HasPrefix(body, []byte(`0{"sid":"`)) {
		t.Fatalf("polling handshake: %v %q", err, clip(body))
	}
	sid, _, _ := strings.Cut(string(body[len(`0{"sid":"`):]), `"`)
	return sid
}
