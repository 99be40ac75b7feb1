package attack

import (
	"bytes"
	"io"
	"net"
	"strconv"
	"testing"
	"time"
)

// TestRequestDesync sends a POST to a path that is no route, its head
// first and its body 300 ms later, the body being a complete Engine.IO
// handshake request. The body is the POST's, never a request: exactly one
// response (the 404) may come back, and no Engine.IO open packet.
// Bounds: RSS +64 MB, canary p99 500 ms.
func TestRequestDesync(t *testing.T) {
	a := begin(t, bounds{RSS: 64 << 20, P99: 500 * time.Millisecond}, serverOpts{}, "ADMIN_ON_MAIN_PORT=false")
	defer a.finish()
	body := "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n"
	head := "POST /other HTTP/1.1\r\nHost: x\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n"
	c, err := net.DialTimeout("tcp", a.Srv.Addr, 2*time.Second)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	_ = c.SetWriteDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(c, head); err != nil {
		t.Fatalf("head: %v", err)
	}
	time.Sleep(300 * time.Millisecond)
	if _, err := io.WriteString(c, body); err != nil {
		a.Outcome("body write failed: %v", err)
		t.Fatalf("body: %v", err)
	}
	got, closed := readUntilClose(c, 1500*time.Millisecond)
	resps, _, rest := responses(got)
	var codes []int
	for _, r := range resps {
		codes = append(codes, r.StatusCode)
	}
	open := bytes.Contains(got, []byte(`0{"sid"`))
	a.Outcome("%d response(s) %v, Engine.IO open packet in the output: %v, closed by server: %v", len(resps), codes, open, closed)
	if len(resps) != 1 || resps[0].StatusCode != 404 {
		t.Errorf("want exactly one 404 response, got %d: %v (trailing %q)", len(resps), codes, clip(rest))
	}
	if open {
		t.Errorf("the POST body was served as a request: the output holds an Engine.IO open packet:\n%s", clip(got))
	}
}
