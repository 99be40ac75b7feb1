package attack

import (
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// floodFor is how long a flood lasts at most when the server does not
// close the flooding connection.
const floodFor = 10 * time.Second

// TestPingFloodNeverReads connects a WebSocket client (upgrade and
// CONNECT "/"), shrinks its receive buffer, then sends 125-byte ping
// control frames as fast as it can and never reads: every ping owes it a
// pong it does not take. The server must close it as a slow consumer
// (MAX_OUTBOUND_BYTES, default 1 MiB) instead of queueing pongs without
// limit. Bounds: RSS +96 MB, canary p99 500 ms.
func TestPingFloodNeverReads(t *testing.T) {
	a := begin(t, bounds{RSS: 96 << 20, P99: 500 * time.Millisecond}, serverOpts{})
	defer a.finish()
	ws, err := dialWS(a.Srv.Addr, 5*time.Second, 4096)
	if err != nil {
		t.Fatalf("flooder: %v", err)
	}
	defer ws.Close()
	if ack, err := ws.Connect("/", 5*time.Second); err != nil || !strings.HasPrefix(ack, "40") {
		t.Fatalf("flooder CONNECT: %q %v", ack, err)
	}
	ping := make([]byte, 125)
	for i := range ping {
		ping[i] = 'p'
	}
	var batch []byte
	for range 512 {
		batch = appendFrame(batch, opPing, ping)
	}
	sent, closedAfter, werr := flood(a, ws.c, batch)
	a.Outcome("%s of pings sent; %s", mb(sent), closeOutcome(closedAfter, werr))
	if closedAfter == 0 {
		t.Errorf("the ping flooder was not closed within %v (%s sent, RSS peak %s)", floodFor, mb(sent), mb(a.RSS.Peak()))
	}
}

// flood writes batch to c over and over, never reading, until the
// server closes the connection (a write error other than a timeout), the
// attack's context ends, or floodFor passes. A write cut short by its
// deadline is resumed where it stopped, so the stream stays well-formed.
// closedAfter is the time to the close, 0 if none; err is the error that
// showed it.
func flood(a *attackRun, c net.Conn, batch []byte) (sent int64, closedAfter time.Duration, err error) {
	start := time.Now()
	end := start.Add(floodFor)
	rest := batch
	for time.Now().Before(end) && a.Ctx.Err() == nil && !a.Gone() {
		_ = c.SetWriteDeadline(time.Now().Add(500 * time.Millisecond))
		n, err := c.Write(rest)
		sent += int64(n)
		rest = rest[n:]
		if len(rest) == 0 {
			rest = batch
		}
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			return sent, time.Since(start), err
		}
	}
	return sent, 0, nil
}

// closeOutcome describes how a flood ended.
func closeOutcome(closedAfter time.Duration, err error) string {
	if closedAfter == 0 {
		return "not closed by the server"
	}
	return "closed by the server after " + closedAfter.Round(time.Millisecond).String() + " (" + err.Error() + ")"
}
