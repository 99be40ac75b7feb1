// Command rawecho is the smallest WebSocket echo server the load tool can
// drive: raw non-blocking sockets on one epoll loop per core, no Engine.IO or
// Socket.IO logic. It is the ceiling of the machine for the echo ladder
// (tools/loadtest --scenario echo-ladder): whatever rate it cannot sustain
// with the load generator on the same box, no server can.
//
//	go run ./tools/rawecho --addr 127.0.0.1:3000
//
// Its protocol is the thinnest one tools/loadtest's WebSocket client accepts:
//
//   - Any HTTP request with a Sec-WebSocket-Key is upgraded (RFC 6455 §4.2.2)
//     and answered by the 101 response followed by one constant text frame
//     `0{}`, which the client takes for the Engine.IO open packet.
//   - Every data frame (text, binary, continuation) is echoed back unmasked
//     with the same opcode and FIN bit. The client's Socket.IO CONNECT `40`
//     therefore comes back as the CONNECT ack `40`, and its echo event
//     `42["message",{...}]` as the identical event the tool expects.
//   - A ping gets a pong, a close frame is echoed and the connection closed.
//
// Nothing else is checked: it is a bench fixture for loopback, not a server.
package main

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

const (
	maxHead    = 8 << 10 // longest upgrade request head
	maxPayload = 1 << 20 // largest frame payload echoed
	wsGUID     = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:3000", "listen address (host:port)")
	loops := flag.Int("loops", runtime.GOMAXPROCS(0), "epoll loops, each with its own SO_REUSEPORT listener")
	flag.Parse()
	ap, err := netip.ParseAddrPort(*addr)
	if err != nil || !ap.Addr().Is4() {
		fmt.Fprintf(os.Stderr, "rawecho: invalid --addr %q: want an IPv4 host:port like 127.0.0.1:3000\n", *addr)
		os.Exit(2)
	}
	var lim unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &lim) == nil && lim.Cur < lim.Max {
		lim.Cur = lim.Max
		unix.Setrlimit(unix.RLIMIT_NOFILE, &lim)
	}
	for i := range max(*loops, 1) {
		l, err := newLoop(ap)
		if err != nil {
			fmt.Fprintf(os.Stderr, "rawecho: loop %d: %v\n", i, err)
			os.Exit(1)
		}
		go l.run()
	}
	fmt.Fprintf(os.Stderr, "rawecho: listening on %s with %d loops\n", ap, max(*loops, 1))
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
}

// conn is one client; only its loop touches it.
type conn struct {
	fd       int
	upgraded bool
	closing  bool   // close after out is flushed
	armedOut bool   // EPOLLOUT is in the interest set
	in       []byte // bytes of an incomplete head or frame kept between reads
	out      []byte // bytes the kernel did not take yet
}

// loop is one epoll instance with its own listener.
type loop struct {
	lfd, epfd int
	conns     map[int32]*conn
	events    []unix.EpollEvent
	rbuf      []byte
	wbuf      []byte // replies of one read, written with one write(2)
}

func newLoop(ap netip.AddrPort) (*loop, error) {
	lfd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	unix.SetsockoptInt(lfd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	// One listener per loop: the kernel spreads accepts over them.
	unix.SetsockoptInt(lfd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	if err := unix.Bind(lfd, &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}); err != nil {
		return nil, fmt.Errorf("bind %s: %w", ap, err)
	}
	if err := unix.Listen(lfd, 4096); err != nil {
		return nil, err
	}
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(lfd)}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, lfd, &ev); err != nil {
		return nil, err
	}
	return &loop{lfd: lfd, epfd: epfd, conns: map[int32]*conn{}, events: make([]unix.EpollEvent, 512), rbuf: make([]byte, 64<<10)}, nil
}

func (l *loop) run() {
	for {
		n, err := unix.EpollWait(l.epfd, l.events, -1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "rawecho: epoll_wait:", err)
			os.Exit(1)
		}
		for _, ev := range l.events[:n] {
			if int(ev.Fd) == l.lfd {
				l.accept()
				continue
			}
			c := l.conns[ev.Fd]
			if c == nil {
				continue
			}
			if ev.Events&unix.EPOLLOUT != 0 && len(c.out) > 0 {
				l.flush(c)
			}
			if ev.Events&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 && c.fd >= 0 {
				l.read(c)
			}
		}
	}
}

func (l *loop) accept() {
	for {
		fd, _, err := unix.Accept4(l.lfd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		if err != nil {
			return // EAGAIN, or EMFILE: the client sees a refused handshake
		}
		unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
		ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(fd)}
		if unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &ev) != nil {
			unix.Close(fd)
			continue
		}
		l.conns[int32(fd)] = &conn{fd: fd}
	}
}

func (l *loop) close(c *conn) {
	delete(l.conns, int32(c.fd))
	unix.Close(c.fd)
	c.fd = -1 // an event later in the same batch must not touch the fd's next owner
}

// read takes what the kernel has, handles every complete unit and writes all
// the replies with one write(2).
func (l *loop) read(c *conn) {
	n, err := unix.Read(c.fd, l.rbuf)
	if err == unix.EAGAIN || err == unix.EINTR {
		return
	}
	if n <= 0 || err != nil {
		l.close(c)
		return
	}
	data := l.rbuf[:n]
	if len(c.in) > 0 {
		c.in = append(c.in, data...)
		data = c.in
	}
	l.wbuf = l.wbuf[:0]
	used, ok := l.process(c, data)
	if !ok {
		l.close(c)
		return
	}
	c.in = append(c.in[:0], data[used:]...) // append copies with memmove: safe when data aliases c.in
	if len(l.wbuf) > 0 {
		l.write(c, l.wbuf)
	}
}

// process appends the replies to every complete unit of data to l.wbuf and
// returns how many bytes it used; false means "close the connection".
func (l *loop) process(c *conn, data []byte) (int, bool) {
	off := 0
	if !c.upgraded {
		end := bytes.Index(data, []byte("\r\n\r\n"))
		if end < 0 {
			return 0, len(data) <= maxHead
		}
		key := headerValue(data[:end], "Sec-WebSocket-Key")
		if key == nil {
			return 0, false
		}
		h := sha1.New()
		h.Write(key)
		h.Write([]byte(wsGUID))
		var acc [28]byte
		base64.StdEncoding.Encode(acc[:], h.Sum(nil))
		l.wbuf = append(l.wbuf, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
		l.wbuf = append(l.wbuf, acc[:]...)
		l.wbuf = append(l.wbuf, "\r\n\r\n\x81\x030{}"...) // and the Engine.IO open packet the client waits for
		c.upgraded = true
		off = end + 4
	}
	for off < len(data) {
		b := data[off:]
		if len(b) < 2 {
			break
		}
		fin, op := b[0]&0x80, b[0]&0x0F
		if b[1]&0x80 == 0 { // RFC 6455 §5.1: "a client MUST mask all frames"
			return off, false
		}
		length, h := uint64(b[1]&0x7F), 2
		switch length {
		case 126:
			if len(b) < 4 {
				return off, true
			}
			length, h = uint64(binary.BigEndian.Uint16(b[2:])), 4
		case 127:
			if len(b) < 10 {
				return off, true
			}
			length, h = binary.BigEndian.Uint64(b[2:]), 10
		}
		if length > maxPayload {
			return off, false
		}
		if uint64(len(b)) < uint64(h+4)+length {
			break
		}
		mask := b[h : h+4]
		p := b[h+4 : h+4+int(length)]
		off += h + 4 + int(length)
		switch op {
		case 0x9: // ping: pong with the same payload
			op = 0xA
		case 0xA:
			continue
		case 0x8:
			c.closing = true
		}
		l.wbuf = appendHeader(l.wbuf, fin|op, len(p))
		start := len(l.wbuf)
		l.wbuf = append(l.wbuf, p...)
		for i, q := 0, l.wbuf[start:]; i < len(q); i++ {
			q[i] ^= mask[i&3]
		}
		if c.closing {
			break
		}
	}
	return off, true
}

// appendHeader appends an unmasked frame header (RFC 6455 §5.2).
func appendHeader(dst []byte, b0 byte, n int) []byte {
	switch {
	case n < 126:
		return append(dst, b0, byte(n))
	case n < 1<<16:
		return append(dst, b0, 126, byte(n>>8), byte(n))
	default:
		return binary.BigEndian.AppendUint64(append(dst, b0, 127), uint64(n))
	}
}

// headerValue returns the trimmed value of header name in an HTTP head, nil
// when absent.
func headerValue(head []byte, name string) []byte {
	for _, line := range bytes.Split(head, []byte("\r\n"))[1:] {
		k, v, ok := bytes.Cut(line, []byte(":"))
		if ok && bytes.EqualFold(bytes.TrimSpace(k), []byte(name)) {
			return bytes.TrimSpace(v)
		}
	}
	return nil
}

// write sends b now or queues what the kernel does not take.
func (l *loop) write(c *conn, b []byte) {
	if len(c.out) > 0 {
		c.out = append(c.out, b...)
		return
	}
	n, err := unix.Write(c.fd, b)
	if err == unix.EAGAIN {
		n, err = 0, nil
	}
	if err != nil {
		l.close(c)
		return
	}
	if n < len(b) {
		c.out = append(c.out, b[n:]...)
		l.arm(c, true)
		return
	}
	if c.closing {
		l.close(c)
	}
}

// flush writes queued bytes after EPOLLOUT.
func (l *loop) flush(c *conn) {
	n, err := unix.Write(c.fd, c.out)
	if err == unix.EAGAIN {
		return
	}
	if err != nil {
		l.close(c)
		return
	}
	c.out = append(c.out[:0], c.out[n:]...)
	if len(c.out) == 0 {
		l.arm(c, false)
		if c.closing {
			l.close(c)
		}
	}
}

func (l *loop) arm(c *conn, out bool) {
	if c.armedOut == out {
		return
	}
	c.armedOut = out
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(c.fd)}
	if out {
		ev.Events |= unix.EPOLLOUT
	}
	unix.EpollCtl(l.epfd, unix.EPOLL_CTL_MOD, c.fd, &ev)
}
