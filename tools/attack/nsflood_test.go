package attack

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// childLabels returns the namespace labels of children of the /org-*
// pattern in a metrics text (the pattern's own label, namespace="/org-*",
// is none), and up to three of them as examples.
func childLabels(b []byte) (n int, some []string) {
	const label = `namespace="/org-`
	for {
		i := bytes.Index(b, []byte(label))
		if i < 0 {
			return n, some
		}
		b = b[i+len(label):]
		if bytes.HasPrefix(b, []byte(`*"`)) {
			continue
		}
		n++
		if len(some) < 3 {
			end := bytes.IndexByte(b, '"')
			if end < 0 || end > 40 {
				end = min(40, len(b))
			}
			some = append(some, label+string(b[:end]))
		}
	}
}

// TestPatternNamespaceFlood has one session CONNECT to 50,000 distinct
// namespaces matching NAMESPACES=/org-*, after three 800 KB names. With
// MAX_NAMESPACES=1000 and MAX_NAME_BYTES at its default 256:
//   - every long name is answered 44 "Invalid namespace", none joins;
//   - at most 1000 CONNECTs succeed, and past the limit CONNECT_ERROR
//     carries a message about it (containing "limit" or "too many");
//   - every CONNECT is answered;
//   - GET /metrics on the admin port stays under 2 MB and 1 s, during the
//     flood and after;
//   - once the session is gone, so are the children: no namespace label
//     of an /org-… child is left in the metrics.
//
// Bounds: RSS +128 MB, canary p99 500 ms.
func TestPatternNamespaceFlood(t *testing.T) {
	const (
		flood   = 50_000
		long    = 3
		longLen = 800_000
	)
	a := begin(t, bounds{RSS: 128 << 20, P99: 500 * time.Millisecond}, serverOpts{},
		"NAMESPACES=/org-*", "MAX_NAMESPACES=1000")
	defer a.finish()
	ws, err := dialWS(a.Srv.Addr, 5*time.Second, 0)
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	defer ws.Close()

	var (
		mu                                   sync.Mutex
		ok, longOK, invalid, limit, otherErr int
		limitMsg, otherMsg                   string
	)
	answered := func() int {
		mu.Lock()
		defer mu.Unlock()
		return ok + invalid + limit + otherErr
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			p, err := ws.ReadPacket(time.Now().Add(maxAttack))
			if err != nil {
				return
			}
			mu.Lock()
			switch {
			case strings.HasPrefix(p, "40/org-"):
				ok++
				if len(p) > longLen {
					longOK++
				}
			case strings.HasPrefix(p, "44"):
				msg := p[strings.LastIndexByte(p, '{'):]
				low := strings.ToLower(msg)
				switch {
				case strings.Contains(msg, "Invalid namespace"):
					invalid++
				case strings.Contains(low, "limit") || strings.Contains(low, "too many"):
					limit++
					limitMsg = msg
				default:
					otherErr++
					otherMsg = msg
				}
			}
			mu.Unlock()
		}
	}()
	defer wg.Wait()
	defer ws.Close() // before wg.Wait: ends the reader

	start := time.Now()
	var batch []byte
	name := "/org-" + strings.Repeat("x", longLen)
	for range long {
		batch = appendFrame(batch[:0], opText, []byte("40"+name+","))
		if err := ws.WriteRaw(batch, 5*time.Second); err != nil {
			t.Fatalf("send a long CONNECT: %v", err)
		}
	}
	for i := 0; i < flood; i += 1000 {
		batch = batch[:0]
		for j := i; j < i+1000; j++ {
			batch = appendFrame(batch, opText, []byte("40/org-"+strconv.Itoa(j)+","))
		}
		if err := ws.WriteRaw(batch, 5*time.Second); err != nil {
			a.Outcome("send failed after %d CONNECTs: %v", i, err)
			t.Fatalf("send CONNECTs: %v", err)
		}
	}
	sentIn := time.Since(start)
	for answered() < flood+long && a.Ctx.Err() == nil && !a.Gone() && time.Since(start) < 8*time.Second {
		time.Sleep(50 * time.Millisecond)
	}
	answeredIn := time.Since(start)
	mu.Lock()
	a.Outcome("%d CONNECTs sent in %v, %d answered in %v: %d joined (%d of them long names), %d invalid, %d at the limit %q, %d other errors %q",
		flood+long, sentIn.Round(time.Millisecond), ok+invalid+limit+otherErr, answeredIn.Round(time.Millisecond),
		ok, longOK, invalid, limit, clip(limitMsg), otherErr, clip(otherMsg))
	if longOK > 0 || invalid < long {
		t.Errorf("long names: %d joined and %d answered Invalid namespace, want 0 and ≥ %d", longOK, invalid, long)
	}
	if ok > 1000 {
		t.Errorf("%d namespaces joined, want at most MAX_NAMESPACES=1000", ok)
	}
	if limit == 0 {
		t.Errorf(`no CONNECT_ERROR about the namespace limit (a message with "limit" or "too many"); other errors: %d %s`, otherErr, clip(otherMsg))
	}
	if n := ok + invalid + limit + otherErr; n < flood+long {
		t.Errorf("%d of %d CONNECTs answered", n, flood+long)
	}
	mu.Unlock()

	checkMetrics := func(when string) []byte {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, "http://"+a.Srv.AdminAddr+"/metrics", nil)
		resp, body, took, err := httpDo(req, 3*time.Second)
		if err != nil {
			a.Outcome("metrics %s: %v after %v", when, err, took.Round(time.Millisecond))
			t.Errorf("GET /metrics %s: %v", when, err)
			return nil
		}
		children, _ := childLabels(body)
		a.Outcome("metrics %s: %d %s in %v, %d child label(s)", when, resp.StatusCode, mb(int64(len(body))), took.Round(time.Millisecond), children)
		if resp.StatusCode != 200 || len(body) >= 2<<20 || took >= time.Second {
			t.Errorf("GET /metrics %s: status %d, %d bytes in %v; want 200, < 2 MB, < 1s", when, resp.StatusCode, len(body), took)
		}
		return body
	}
	checkMetrics("during")
	ws.Close()
	time.Sleep(time.Second)
	after := checkMetrics("after the session left")
	if n, some := childLabels(after); n > 0 {
		t.Errorf("%d child namespace labels still in the metrics after the session left, e.g. %q", n, some)
	}
}
