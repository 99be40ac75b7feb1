package loop_test

// A raw HTTP/1.1 client that keeps every response byte, and the
// Engine.IO polling exchanges built on it.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// reqGET is a GET of the engine path with query and extra header lines.
func reqGET(query string, headers ...string) string {
	return "GET " + enginePath + "?" + query + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + headerLines(headers) + "\r\n"
}

// reqPOST is a POST of body with engine.io-client's Content-Type.
func reqPOST(query, body string, headers ...string) string {
	return reqPOSTRaw(query, body, append([]string{"Content-Type: text/plain;charset=UTF-8"}, headers...)...)
}

// reqPOSTRaw is a POST of body with only Host, Content-Length and headers.
func reqPOSTRaw(query, body string, headers ...string) string {
	return "POST " + enginePath + "?" + query + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n" + headerLines(headers) + "\r\n" + body
}

func headerLines(h []string) string {
	var b strings.Builder
	for _, l := range h {
		b.WriteString(l)
		b.WriteString("\r\n")
	}
	return b.String()
}

func sidQuery(sid string) string { return "EIO=4&transport=polling&sid=" + sid }

// response is one HTTP response as received.
type response struct {
	statusLine string // without CRLF
	status     int
	headers    [][2]string // name as sent, trimmed value; in arrival order
	head       string      // every byte of the head, CRLFs included
	body       string
	// untilClose: no Content-Length, "Connection: close"; the body is what
	// arrives until the connection ends (readResponse leaves it unread).
	untilClose bool
}

// header returns the first value of the header name (case-insensitive).
func (r *response) header(name string) (string, bool) {
	for _, h := range r.headers {
		if strings.EqualFold(h[0], name) {
			return h[1], true
		}
	}
	return "", false
}

func (r *response) String() string { return fmt.Sprintf("%q", r.head+r.body) }

// readResponse reads one response. The body is framed by Content-Length,
// which every non-1xx, non-204 response of this server must carry.
func readResponse(br *bufio.Reader) (*response, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return nil, fmt.Errorf("reading status line (got %q): %w", line, err)
	}
	r := &response{head: line}
	if !strings.HasSuffix(line, "\r\n") {
		return nil, fmt.Errorf("status line not ended by CRLF: %q", line)
	}
	r.statusLine = strings.TrimSuffix(line, "\r\n")
	parts := strings.SplitN(r.statusLine, " ", 3)
	if len(parts) < 3 || parts[0] != "HTTP/1.1" {
		return nil, fmt.Errorf("bad status line %q", r.statusLine)
	}
	if r.status, err = strconv.Atoi(parts[1]); err != nil {
		return nil, fmt.Errorf("bad status line %q", r.statusLine)
	}
	for {
		line, err = br.ReadString('\n')
		r.head += line
		if err != nil {
			return nil, fmt.Errorf("reading head %q: %w", r.head, err)
		}
		if !strings.HasSuffix(line, "\r\n") {
			return nil, fmt.Errorf("header line not ended by CRLF in %q", r.head)
		}
		if line == "\r\n" {
			break
		}
		name, value, ok := strings.Cut(strings.TrimSuffix(line, "\r\n"), ":")
		if !ok {
			return nil, fmt.Errorf("header line without colon in %q", r.head)
		}
		r.headers = append(r.headers, [2]string{name, strings.Trim(value, " \t")})
	}
	if r.status == 101 {
		return r, nil
	}
	cl, ok := r.header("Content-Length")
	if !ok {
		switch {
		case r.status == 204:
			return r, nil
		case announcesClose(r):
			// RFC 9112 §6.3: the body runs to the end of the connection.
			r.untilClose = true
			return r, nil
		}
		return nil, fmt.Errorf("response without Content-Length: %q", r.head)
	}
	n, err := strconv.Atoi(cl)
	if err != nil || n < 0 {
		return nil, fmt.Errorf("bad Content-Length in %q", r.head)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(br, body); err != nil {
		return nil, fmt.Errorf("reading %d-byte body of %q: %w", n, r.head, err)
	}
	r.body = string(body)
	return r, nil
}

// hconn is a raw client connection owned by one test goroutine.
type hconn struct {
	t  testing.TB
	c  net.Conn
	br *bufio.Reader
}

func (ts *testServer) dial(t testing.TB) *hconn {
	t.Helper()
	c, err := net.DialTimeout("tcp", ts.addr, ioTimeout)
	if err != nil {
		t.Fatalf("dial %s: %v", ts.addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return &hconn{t: t, c: c, br: bufio.NewReaderSize(c, 64<<10)}
}

func (h *hconn) write(s string) {
	h.t.Helper()
	h.c.SetWriteDeadline(time.Now().Add(ioTimeout))
	if _, err := io.WriteString(h.c, s); err != nil {
		h.t.Fatalf("write: %v", err)
	}
}

// writeBytewise writes s one byte per write, with a pause between writes so
// that most bytes reach the server in a read of their own.
func (h *hconn) writeBytewise(s string) {
	h.t.Helper()
	for i := 0; i < len(s); i++ {
		h.write(s[i : i+1])
		time.Sleep(200 * time.Microsecond)
	}
}

// read reads one response. For a response framed by the end of the
// connection it half-closes first, so that a server that lingers until the
// client goes ends the response at once (TestHTTPRefusalsEndCleanly
// checks what happens without that help).
func (h *hconn) read() *response {
	h.t.Helper()
	h.c.SetReadDeadline(time.Now().Add(ioTimeout))
	r, err := readResponse(h.br)
	if err != nil {
		h.t.Fatalf("read response: %v", err)
	}
	if r.untilClose {
		h.halfClose()
		body, err := readToEOF(h.c, h.br, ioTimeout)
		if err != nil {
			h.t.Fatalf("reading a body framed by the connection close: %v", err)
		}
		r.body = string(body)
	}
	return r
}

// halfClose sends FIN: the client will send nothing more.
func (h *hconn) halfClose() { _ = h.c.(*net.TCPConn).CloseWrite() }

// expectRefusesMore checks that the server serves nothing more on the
// connection after a refusal: a valid request sent now gets no answer, and
// the connection ends once the client half-closes (the server may linger
// until then, RFC 9112 §9.6).
func (h *hconn) expectRefusesMore() {
	h.t.Helper()
	h.c.SetWriteDeadline(time.Now().Add(ioTimeout))
	_, _ = io.WriteString(h.c, reqGET("EIO=4&transport=polling")) // may fail: the server may be gone
	h.halfClose()
	h.expectEOF()
}

// expectQuiet fails if anything arrives (or the connection ends) within d.
func (h *hconn) expectQuiet(d time.Duration) {
	h.t.Helper()
	h.c.SetReadDeadline(time.Now().Add(d))
	b, err := h.br.Peek(1)
	switch {
	case err == nil:
		h.t.Fatalf("expected no response yet, got %q...", b)
	case !isTimeout(err):
		h.t.Fatalf("expected the connection to stay open and silent, got %v", err)
	}
}

// expectEOF fails unless the server closes the connection without sending
// anything more.
func (h *hconn) expectEOF() {
	h.t.Helper()
	if rest, err := readToEOF(h.c, h.br, ioTimeout); err != nil {
		h.t.Fatalf("expected the server to close the connection: %v (read %q)", err, rest)
	} else if len(rest) > 0 {
		h.t.Fatalf("expected the connection to close, got more bytes %q", rest)
	}
}

// readToEOF reads until the peer closes, for at most d. A reset counts as
// a close.
func readToEOF(c net.Conn, br *bufio.Reader, d time.Duration) ([]byte, error) {
	c.SetReadDeadline(time.Now().Add(d))
	rest, err := io.ReadAll(br)
	if err != nil && errors.Is(err, syscall.ECONNRESET) {
		err = nil
	}
	return rest, err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// announcesClose reports whether r carries "Connection: close".
func announcesClose(r *response) bool {
	v, _ := r.header("Connection")
	return strings.EqualFold(v, "close")
}

// do sends raw on a fresh connection and returns the first response.
func (ts *testServer) do(t testing.TB, raw string) *response {
	t.Helper()
	h := ts.dial(t)
	h.write(raw)
	r := h.read()
	h.c.Close()
	return r
}

// handshake opens a polling session and returns its sid.
func (ts *testServer) handshake(t testing.TB) string {
	t.Helper()
	r := ts.do(t, reqGET("EIO=4&transport=polling"))
	if r.status != 200 {
		t.Fatalf("handshake: %v", r)
	}
	return ts.checkOpen(t, r.body, `["websocket"]`)
}

// checkOpen checks the open packet byte for byte (keys in Node's order)
// and returns its sid.
func (ts *testServer) checkOpen(t testing.TB, body, upgrades string) string {
	t.Helper()
	m := openRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("open packet %q does not match %s", body, openRE)
	}
	want := fmt.Sprintf(`0{"sid":"%s","upgrades":%s,"pingInterval":%d,"pingTimeout":%d,"maxPayload":%d}`,
		m[1], upgrades, ts.cfg.PingInterval.Milliseconds(), ts.cfg.PingTimeout.Milliseconds(), ts.cfg.MaxPayload)
	if body != want {
		t.Fatalf("open packet\n got %s\nwant %s", body, want)
	}
	return m[1]
}

// openRE: a 20-character URL-safe sid, keys sid, upgrades, pingInterval,
// pingTimeout, maxPayload in that order.
var openRE = regexp.MustCompile(`^0\{"sid":"([A-Za-z0-9_-]{16})","upgrades":\[[^\]]*\],"pingInterval":\d+,"pingTimeout":\d+,"maxPayload":\d+\}$`)

// poll makes one polling GET on a fresh connection and returns its body.
func (ts *testServer) poll(t testing.TB, sid string) string {
	t.Helper()
	r := ts.do(t, reqGET(sidQuery(sid)))
	if r.status != 200 {
		t.Fatalf("poll GET: %v", r)
	}
	return r.body
}

// post sends payload in a polling POST on a fresh connection and expects ok.
func (ts *testServer) post(t testing.TB, sid, payload string) {
	t.Helper()
	r := ts.do(t, reqPOST(sidQuery(sid), payload))
	if r.status != 200 || r.body != "ok" {
		t.Fatalf("poll POST %q: %v", payload, r)
	}
}

// expectEngineError checks a JSON error response exactly as Node's
// abortRequest writes it.
func expectEngineError(t testing.TB, r *response, code int) {
	t.Helper()
	msgs := []string{"Transport unknown", "Session ID unknown", "Bad handshake method", "Bad request", "Forbidden", "Unsupported protocol version"}
	status, line := 400, "HTTP/1.1 400 Bad Request"
	if code == 4 {
		status, line = 403, "HTTP/1.1 403 Forbidden"
	}
	want := fmt.Sprintf(`{"code":%d,"message":%q}`, code, msgs[code])
	if r.status != status || r.statusLine != line {
		t.Errorf("status line %q, want %q (%v)", r.statusLine, line, r)
	}
	if ct, _ := r.header("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json (%v)", ct, r)
	}
	if r.body != want {
		t.Errorf("body %s, want %s", r.body, want)
	}
}
