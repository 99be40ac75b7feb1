package attack

import (
	"strings"
	"testing"
	"time"
)

// TestPipelinedRequestsNeverRead pipelines requests on one TCP
// connection, each answered 400 (unknown transport, keep-alive), as fast
// as it can, with a small receive buffer and never reading an answer. The
// server must close the connection once its answers back up, instead of
// queueing them without limit. Bounds: RSS +96 MB, canary p99 500 ms.
func TestPipelinedRequestsNeverRead(t *testing.T) {
	a := begin(t, bounds{RSS: 96 << 20, P99: 500 * time.Millisecond}, serverOpts{})
	defer a.finish()
	c, err := dialTCP(a.Srv.Addr, 2*time.Second, 4096)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	batch := []byte(strings.Repeat("GET /socket.io/?EIO=4&transport=bogus HTTP/1.1\r\nHost: x\r\n\r\n", 256))
	sent, closedAfter, werr := flood(a, c, batch)
	a.Outcome("%s of requests sent (%d requests); %s", mb(sent), sent/int64(len(batch)/256), closeOutcome(closedAfter, werr))
	if closedAfter == 0 {
		t.Errorf("the pipelining connection was not closed within %v (%s sent, RSS peak %s)", floodFor, mb(sent), mb(a.RSS.Peak()))
	}
}
