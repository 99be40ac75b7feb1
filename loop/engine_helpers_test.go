package loop_test

// Helpers for the Engine.IO integration tests: a real server on a loopback
// port, a raw HTTP/1.1 client that keeps every response byte, and a tiny
// masked-frame WebSocket client. Nothing here uses net/http or a WebSocket
// library: the tests must control pipelining, partial writes and bad framing.
//
// Every read has a deadline (ioTimeout) so a hang fails fast. Helpers that
// may run outside the test goroutine return errors; the must-style wrappers
// take the testing.TB of the goroutine that calls them.

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"sioloop/loop"
	"sioloop/tools/testnet"
)

const (
	// enginePath is where the echo app is mounted, as in the protocol test suite.
	enginePath = "/engine.io/"
	// ioTimeout bounds every read that must succeed.
	ioTimeout = 3 * time.Second
	// quiet is how long a read must stay empty to show the server holds a response.
	quiet = 200 * time.Millisecond
)

// testServer is a running loop.Server with the echo app at enginePath.
type testServer struct {
	srv  *loop.Server
	addr string
	cfg  loop.Config // resolved
}

// startServer starts a server for cfg (Addr is picked here; EventLoops
// defaults to 2 so that connections land on both reactors) and shuts it
// down when the test ends.
func startServer(t *testing.T, cfg loop.Config) *testServer {
	t.Helper()
	return startServerWith(t, cfg, func(srv *loop.Server) { srv.Handle(enginePath, loop.EchoHandler{}) })
}

// startServerWith is startServer with the apps that mount installs.
func startServerWith(t *testing.T, cfg loop.Config, mount func(*loop.Server)) *testServer {
	t.Helper()
	if cfg.EventLoops == 0 {
		cfg.EventLoops = 2
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("LOOP_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	for attempt := 0; ; attempt++ {
		cfg.Addr = testnet.FreeAddr(t)
		srv := loop.New(cfg, log)
		mount(srv)
		errc := make(chan error, 1)
		go func() { errc <- srv.Serve() }()
		select {
		case <-srv.Started():
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
				defer cancel()
				if err := srv.Shutdown(ctx); err != nil {
					t.Errorf("Shutdown: %v", err)
				}
				select {
				case err := <-errc:
					if err != nil {
						t.Errorf("Serve: %v", err)
					}
				case <-time.After(3 * time.Second):
					t.Errorf("Serve did not return after Shutdown")
				}
			})
			return &testServer{srv: srv, addr: cfg.Addr, cfg: srv.Config()}
		case err := <-errc:
			// Another test may have grabbed the port between freeAddr and bind.
			if attempt < 5 {
				continue
			}
			t.Fatalf("Serve: %v", err)
		case <-time.After(5 * time.Second):
			t.Fatal("server did not start within 5s")
		}
	}
}

// waitFor polls cond until it holds or ioTimeout passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(ioTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// ---------------------------------------------------------------------------
// Raw HTTP/1.1.

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
var openRE = regexp.MustCompile(`^0\{"sid":"([A-Za-z0-9_-]{20})","upgrades":\[[^\]]*\],"pingInterval":\d+,"pingTimeout":\d+,"maxPayload":\d+\}$`)

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

// ---------------------------------------------------------------------------
// Raw WebSocket.

// wsKey is the sample nonce of RFC 6455 §1.3 and wsAccept its accept value.
const (
	wsKey    = "dGhlIHNhbXBsZSBub25jZQ=="
	wsAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
)

// WebSocket opcodes and close codes used by the tests (RFC 6455 §5.2, §7.4.1).
const (
	opCont   = 0x0
	opText   = 0x1
	opBinary = 0x2
	opClose  = 0x8
	opPing   = 0x9
	opPong   = 0xA

	closeNone = 0 // a Close frame with an empty payload
	closeAny  = -1
)

// reqUpgrade is a WebSocket upgrade request for the engine path.
func reqUpgrade(query string, headers ...string) string {
	return reqUpgradePath(enginePath, query, headers...)
}

// reqUpgradePath is a WebSocket upgrade request for path.
func reqUpgradePath(path, query string, headers ...string) string {
	return "GET " + path + "?" + query + " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + wsKey + "\r\nSec-WebSocket-Version: 13\r\n" + headerLines(headers) + "\r\n"
}

// clientFrame builds one client frame: b0 is the first byte as sent (FIN,
// RSV, opcode); the payload is masked with a random non-zero key when masked.
// The length always uses the minimal encoding.
func clientFrame(b0 byte, payload []byte, masked bool) []byte {
	b := []byte{b0}
	mbit := byte(0)
	if masked {
		mbit = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		b = append(b, mbit|byte(n))
	case n <= 0xffff:
		b = append(b, mbit|126, byte(n>>8), byte(n))
	default:
		b = append(b, mbit|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	if !masked {
		return append(b, payload...)
	}
	var mask [4]byte
	binary.BigEndian.PutUint32(mask[:], rand.Uint32()|0x01010101)
	b = append(b, mask[:]...)
	for i, c := range payload {
		b = append(b, c^mask[i&3])
	}
	return b
}

// frameOf is a masked frame with FIN set when fin.
func frameOf(fin bool, op byte, payload []byte) []byte {
	if fin {
		op |= 0x80
	}
	return clientFrame(op, payload, true)
}

func textFrame(s string) []byte { return frameOf(true, opText, []byte(s)) }

// closePayload is a Close payload with code and reason.
func closePayload(code int, reason string) []byte {
	return append([]byte{byte(code >> 8), byte(code)}, reason...)
}

// frame is one server frame.
type frame struct {
	fin     bool
	op      byte
	payload []byte
}

func (f frame) String() string {
	return fmt.Sprintf("frame{fin:%v op:%#x payload:%q}", f.fin, f.op, f.payload)
}

// wsConn is a raw WebSocket client connection after the 101.
type wsConn struct {
	c  net.Conn
	br *bufio.Reader
}

// dialWS sends an upgrade request and returns the connection once the 101
// arrived and checked out; a non-101 response is returned with an error.
func dialWS(addr, query string, headers ...string) (*wsConn, *response, error) {
	return dialWSPath(addr, enginePath, query, headers...)
}

// dialWSPath is dialWS for an endpoint at path.
func dialWSPath(addr, path, query string, headers ...string) (*wsConn, *response, error) {
	c, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		return nil, nil, err
	}
	c.SetDeadline(time.Now().Add(ioTimeout))
	if _, err := io.WriteString(c, reqUpgradePath(path, query, headers...)); err != nil {
		c.Close()
		return nil, nil, err
	}
	br := bufio.NewReaderSize(c, 64<<10)
	r, err := readResponse(br)
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	if r.status != 101 {
		c.Close()
		return nil, r, fmt.Errorf("upgrade refused: %v", r)
	}
	if r.statusLine != "HTTP/1.1 101 Switching Protocols" {
		err = fmt.Errorf("101 status line %q", r.statusLine)
	}
	if v, _ := r.header("Sec-WebSocket-Accept"); v != wsAccept {
		err = fmt.Errorf("Sec-WebSocket-Accept %q, want %q", v, wsAccept)
	}
	if v, _ := r.header("Upgrade"); !strings.EqualFold(v, "websocket") {
		err = fmt.Errorf("Upgrade header %q", v)
	}
	if v, _ := r.header("Connection"); !strings.EqualFold(v, "upgrade") {
		err = fmt.Errorf("Connection header %q", v)
	}
	if err != nil {
		c.Close()
		return nil, r, err
	}
	return &wsConn{c: c, br: br}, r, nil
}

func (w *wsConn) write(b []byte) error {
	w.c.SetWriteDeadline(time.Now().Add(ioTimeout))
	_, err := w.c.Write(b)
	return err
}

// read reads one server frame, checking the rules a server's frames obey:
// unmasked (RFC 6455 §5.1), no RSV bits, minimal length encoding (§5.2).
func (w *wsConn) read() (frame, error) {
	w.c.SetReadDeadline(time.Now().Add(ioTimeout))
	var h [2]byte
	if _, err := io.ReadFull(w.br, h[:]); err != nil {
		return frame{}, err
	}
	f := frame{fin: h[0]&0x80 != 0, op: h[0] & 0x0f}
	if h[0]&0x70 != 0 {
		return f, fmt.Errorf("server frame with RSV bits: %#x", h[0])
	}
	if h[1]&0x80 != 0 {
		return f, errors.New("server frame is masked (RFC 6455 §5.1: a server MUST NOT mask)")
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var e [2]byte
		if _, err := io.ReadFull(w.br, e[:]); err != nil {
			return f, err
		}
		if n = uint64(binary.BigEndian.Uint16(e[:])); n < 126 {
			return f, fmt.Errorf("non-minimal 16-bit length %d", n)
		}
	case 127:
		var e [8]byte
		if _, err := io.ReadFull(w.br, e[:]); err != nil {
			return f, err
		}
		if n = binary.BigEndian.Uint64(e[:]); n <= 0xffff {
			return f, fmt.Errorf("non-minimal 64-bit length %d", n)
		}
	}
	if n > 64<<20 {
		return f, fmt.Errorf("absurd frame length %d", n)
	}
	f.payload = make([]byte, n)
	if _, err := io.ReadFull(w.br, f.payload); err != nil {
		return f, err
	}
	return f, nil
}

// readText reads one frame and checks it is a complete text frame.
func (w *wsConn) readText() (string, error) {
	f, err := w.read()
	if err != nil {
		return "", err
	}
	if !f.fin || f.op != opText {
		return "", fmt.Errorf("want a text frame, got %v", f)
	}
	return string(f.payload), nil
}

// closeHandshake sends Close 1000, expects it echoed, and hangs up (RFC
// 6455 §7.1.1: the client MAY close after sending and receiving a Close;
// TestWSClosingHandshake checks that the server closes on its own).
func (w *wsConn) closeHandshake() error {
	if err := w.write(frameOf(true, opClose, closePayload(1000, ""))); err != nil {
		return err
	}
	f, err := w.read()
	if err != nil {
		return fmt.Errorf("waiting for the close echo: %w", err)
	}
	if f.op != opClose || string(f.payload) != string(closePayload(1000, "")) {
		return fmt.Errorf("want close 1000 echoed, got %v", f)
	}
	return w.c.Close()
}

// answerClose replies to the server's Close frame f as RFC 6455 §5.5.1
// asks (echo its code) and hangs up.
func (w *wsConn) answerClose(f frame) {
	var p []byte
	if len(f.payload) >= 2 {
		p = f.payload[:2]
	}
	_ = w.write(frameOf(true, opClose, p))
	w.c.Close()
}

// Must-style wrappers; t is the calling goroutine's test.

func (w *wsConn) send(t testing.TB, b []byte) {
	t.Helper()
	if err := w.write(b); err != nil {
		t.Fatalf("ws write: %v", err)
	}
}

func (w *wsConn) sendText(t testing.TB, s string) { t.Helper(); w.send(t, textFrame(s)) }

func (w *wsConn) next(t testing.TB) frame {
	t.Helper()
	f, err := w.read()
	if err != nil {
		t.Fatalf("ws read: %v", err)
	}
	return f
}

func (w *wsConn) expectText(t testing.TB, want string) {
	t.Helper()
	f := w.next(t)
	if !f.fin || f.op != opText || string(f.payload) != want {
		t.Fatalf("want text frame %q, got %v", want, f)
	}
}

func (w *wsConn) expectBinary(t testing.TB, want []byte) {
	t.Helper()
	f := w.next(t)
	if !f.fin || f.op != opBinary || string(f.payload) != string(want) {
		t.Fatalf("want binary frame %x, got %v", want, f)
	}
}

// expectClose expects the server to start the closing handshake with code
// (closeNone: empty payload, closeAny: any code), answers it and hangs up.
func (w *wsConn) expectClose(t testing.TB, code int) {
	t.Helper()
	f := w.next(t)
	if f.op != opClose {
		t.Fatalf("want a close frame (code %d), got %v", code, f)
	}
	if got := closeCode(f); code != closeAny && got != code {
		t.Errorf("close code %d, want %d (payload %q)", got, code, f.payload)
	}
	w.answerClose(f)
}

// closeCode returns the status code of a Close frame, closeNone if it has none.
func closeCode(f frame) int {
	if len(f.payload) < 2 {
		return closeNone
	}
	return int(binary.BigEndian.Uint16(f.payload))
}

// expectGone expects the connection to end, with or without a Close frame
// first (Node sends an empty Close; dropping the TCP connection is accepted).
func (w *wsConn) expectGone(t testing.TB) {
	t.Helper()
	f, err := w.read()
	if err == nil {
		if f.op != opClose {
			t.Fatalf("want the connection to end, got %v", f)
		}
		w.answerClose(f)
		return
	}
	if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("want the connection to end, got %v", err)
	}
}

// expectEOF expects the server to close the connection within d without
// sending anything more.
func (w *wsConn) expectEOF(t testing.TB, d time.Duration) {
	t.Helper()
	rest, err := readToEOF(w.c, w.br, d)
	if err != nil {
		t.Fatalf("want the connection closed after the close frame: %v (read %q)", err, rest)
	}
	if len(rest) > 0 {
		t.Fatalf("bytes after the close frame: %q", rest)
	}
}

// expectQuiet fails if a frame arrives within d.
func (w *wsConn) expectQuiet(t testing.TB, d time.Duration) {
	t.Helper()
	w.c.SetReadDeadline(time.Now().Add(d))
	if b, err := w.br.Peek(1); err == nil {
		t.Fatalf("expected no frame, got %q...", b)
	} else if !isTimeout(err) {
		t.Fatalf("expected the connection to stay open: %v", err)
	}
}

// openWS makes a direct WebSocket handshake and returns the conn and sid.
func (ts *testServer) openWS(t testing.TB) (*wsConn, string) {
	t.Helper()
	w, _, err := dialWS(ts.addr, "EIO=4&transport=websocket")
	if err != nil {
		t.Fatalf("websocket handshake: %v", err)
	}
	t.Cleanup(func() { w.c.Close() })
	f := w.next(t)
	if f.op != opText || !f.fin {
		t.Fatalf("first frame is not the open packet: %v", f)
	}
	return w, ts.checkOpen(t, string(f.payload), `[]`)
}

// ---------------------------------------------------------------------------

// canary is a WebSocket session and a polling session kept alive beside
// misbehaving clients; check proves both still echo.
type canary struct {
	ts  *testServer
	ws  *wsConn
	sid string
	n   int
}

func newCanary(t *testing.T, ts *testServer) *canary {
	t.Helper()
	ws, _ := ts.openWS(t)
	return &canary{ts: ts, ws: ws, sid: ts.handshake(t)}
}

func (c *canary) check(t testing.TB) {
	t.Helper()
	c.n++
	msg := fmt.Sprintf("4canary %d", c.n)
	c.ws.sendText(t, msg)
	for {
		f := c.ws.next(t)
		if f.op == opText && string(f.payload) == "2" { // a ping, should a test run long
			c.ws.sendText(t, "3")
			continue
		}
		if !f.fin || f.op != opText || string(f.payload) != msg {
			t.Fatalf("WebSocket canary got %v, want %q", f, msg)
		}
		break
	}
	c.ts.post(t, c.sid, msg)
	if got := c.ts.poll(t, c.sid); got != msg {
		t.Fatalf("polling canary got %q, want %q", got, msg)
	}
}
