package attack

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"time"
)

// WebSocket opcodes (RFC 6455 §5.2).
const (
	opText  = 0x1
	opClose = 0x8
	opPing  = 0x9
	opPong  = 0xA
)

// maxReadFrame bounds the frames wsClient reads: a broken server must not
// make the test allocate without limit.
const maxReadFrame = 64 << 20

// wsClient is a blocking WebSocket client speaking Engine.IO v4 over a raw
// TCP connection. Reads are for one goroutine at a time; writes may come
// from any goroutine (they are serialized).
type wsClient struct {
	c   net.Conn
	br  *bufio.Reader
	wmu sync.Mutex
	wb  []byte // write scratch, under wmu
	// Open is the Engine.IO open packet ("0{…}").
	Open string
}

// wsKey is the Sec-WebSocket-Key every client sends: the server must
// answer it correctly, and nothing is gained by varying it.
const wsKey = "dGhlIHNhbXBsZSBub25jZQ=="

// dialTCP connects to addr; rcvbuf > 0 sets SO_RCVBUF before the connect,
// which also bounds the window the client advertises.
func dialTCP(addr string, timeout time.Duration, rcvbuf int) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout}
	if rcvbuf > 0 {
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf)
			})
			return errors.Join(err, serr)
		}
	}
	return d.Dial("tcp", addr)
}

// dialWS opens an Engine.IO WebSocket session on addr: the upgrade, then
// the open packet. The handshake must finish within timeout.
func dialWS(addr string, timeout time.Duration, rcvbuf int) (*wsClient, error) {
	c, err := dialTCP(addr, timeout, rcvbuf)
	if err != nil {
		return nil, err
	}
	w := &wsClient{c: c, br: bufio.NewReaderSize(c, 64<<10)}
	if err := w.handshake(addr, timeout); err != nil {
		c.Close()
		return nil, err
	}
	return w, nil
}

func (w *wsClient) handshake(addr string, timeout time.Duration) error {
	_ = w.c.SetDeadline(time.Now().Add(timeout))
	defer w.c.SetDeadline(time.Time{})
	req := "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: " + addr +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + wsKey +
		"\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := io.WriteString(w.c, req); err != nil {
		return fmt.Errorf("upgrade request: %w", err)
	}
	resp, err := http.ReadResponse(w.br, nil)
	if err != nil {
		return fmt.Errorf("upgrade response: %w", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return fmt.Errorf("upgrade answered %s", resp.Status)
	}
	// RFC 6455 §4.2.2: base64(SHA-1(key + GUID)).
	sum := sha1.Sum([]byte(wsKey + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	if got, want := resp.Header.Get("Sec-WebSocket-Accept"), base64.StdEncoding.EncodeToString(sum[:]); got != want {
		return fmt.Errorf("Sec-WebSocket-Accept %q, want %q", got, want)
	}
	op, p, err := w.ReadFrame()
	if err != nil {
		return fmt.Errorf("open packet: %w", err)
	}
	if op != opText || len(p) == 0 || p[0] != '0' {
		return fmt.Errorf("open packet: got opcode %d %q", op, clip(p))
	}
	w.Open = string(p)
	return nil
}

// Connect sends a Socket.IO CONNECT to nsp ("/" or "/name") and waits up
// to timeout for its answer, which it returns ("40…" or "44…").
func (w *wsClient) Connect(nsp string, timeout time.Duration) (string, error) {
	pkt := "40"
	if nsp != "/" {
		pkt = "40" + nsp + ","
	}
	if err := w.WriteText([]byte(pkt), timeout); err != nil {
		return "", err
	}
	deadline := time.Now().Add(timeout)
	for {
		p, err := w.ReadPacket(deadline)
		if err != nil {
			return "", fmt.Errorf("CONNECT %s: %w", clip(nsp), err)
		}
		if strings.HasPrefix(p, "40") || strings.HasPrefix(p, "44") {
			return p, nil
		}
	}
}

// WriteText sends one masked text frame, within timeout.
func (w *wsClient) WriteText(payload []byte, timeout time.Duration) error {
	return w.WriteFrame(opText, payload, timeout)
}

// WriteFrame sends one masked frame with opcode op, within timeout.
func (w *wsClient) WriteFrame(op byte, payload []byte, timeout time.Duration) error {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	w.wb = appendFrame(w.wb[:0], op, payload)
	return w.writeRawLocked(w.wb, timeout)
}

// WriteRaw sends bytes already framed by appendFrame, within timeout.
func (w *wsClient) WriteRaw(b []byte, timeout time.Duration) error {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	return w.writeRawLocked(b, timeout)
}

func (w *wsClient) writeRawLocked(b []byte, timeout time.Duration) error {
	_ = w.c.SetWriteDeadline(time.Now().Add(timeout))
	_, err := w.c.Write(b)
	return err
}

// ReadFrame reads one frame; the caller sets the read deadline.
// Fragmented messages are not expected from the server and are refused.
func (w *wsClient) ReadFrame() (op byte, payload []byte, err error) {
	var h [10]byte
	if _, err := io.ReadFull(w.br, h[:2]); err != nil {
		return 0, nil, err
	}
	if h[0]&0x80 == 0 {
		return 0, nil, errors.New("fragmented frame from the server")
	}
	if h[1]&0x80 != 0 {
		// RFC 6455 §5.1: "A server MUST NOT mask any frames".
		return 0, nil, errors.New("masked frame from the server")
	}
	op = h[0] & 0x0F
	n := uint64(h[1] & 0x7F)
	switch n {
	case 126:
		if _, err := io.ReadFull(w.br, h[2:4]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(h[2:4]))
	case 127:
		if _, err := io.ReadFull(w.br, h[2:10]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(h[2:10])
	}
	if n > maxReadFrame {
		return 0, nil, fmt.Errorf("frame of %d bytes", n)
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(w.br, payload); err != nil {
		return 0, nil, err
	}
	return op, payload, nil
}

// ReadPacket returns the next Engine.IO packet other than a ping, reading
// until deadline. It answers Engine.IO pings ("2" → "3") and WebSocket
// pings; a close frame is an error.
func (w *wsClient) ReadPacket(deadline time.Time) (string, error) {
	_ = w.c.SetReadDeadline(deadline)
	for {
		op, p, err := w.ReadFrame()
		if err != nil {
			return "", err
		}
		switch op {
		case opClose:
			return "", fmt.Errorf("close frame %q", clip(p))
		case opPing:
			if err := w.WriteFrame(opPong, p, 2*time.Second); err != nil {
				return "", err
			}
			continue
		case opPong:
			continue
		}
		if len(p) == 1 && p[0] == '2' {
			if err := w.WriteText([]byte{'3'}, 2*time.Second); err != nil {
				return "", err
			}
			continue
		}
		return string(p), nil
	}
}

// Close closes the connection without a closing handshake.
func (w *wsClient) Close() error { return w.c.Close() }

// appendFrame appends one final, masked frame (RFC 6455 §5.1: "a client
// MUST mask all frames that it sends to the server").
func appendFrame(dst []byte, op byte, payload []byte) []byte {
	dst = append(dst, 0x80|op)
	switch n := len(payload); {
	case n < 126:
		dst = append(dst, 0x80|byte(n))
	case n <= 0xFFFF:
		dst = append(dst, 0x80|126)
		dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	default:
		dst = append(dst, 0x80|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	var key [4]byte
	binary.LittleEndian.PutUint32(key[:], rand.Uint32())
	dst = append(dst, key[:]...)
	start := len(dst)
	dst = append(dst, payload...)
	// RFC 6455 §5.3: octet i is XORed with octet i mod 4 of the key.
	for i := range len(payload) {
		dst[start+i] ^= key[i&3]
	}
	return dst
}

// clip shortens b for an error message.
func clip[T string | []byte](b T) string {
	if len(b) > 120 {
		return string(b[:120]) + fmt.Sprintf("…(%d bytes)", len(b))
	}
	return string(b)
}
