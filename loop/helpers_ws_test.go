package loop_test

// A tiny WebSocket client that writes masked frames byte for byte, bad
// ones included, and reads every frame the server sends.

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"
)

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
