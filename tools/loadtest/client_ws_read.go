package main

// The receiving half of the WebSocket clients: epoll events, reads, and the
// Engine.IO / Socket.IO packets they carry.

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"syscall"

	"golang.org/x/sys/unix"
)

// onEvent handles one epoll event of c.
func (w *wsWorker) onEvent(c *wsConn, ev uint32, now int64) {
	switch c.state {
	case stClosed, stIdle:
		return
	case stDialing:
		if ev&(unix.EPOLLOUT|unix.EPOLLERR|unix.EPOLLHUP) == 0 {
			return
		}
		// Writable without an error condition means connected: SO_ERROR
		// is read only when the kernel flags one (it saves a syscall on
		// every connect).
		if ev&(unix.EPOLLERR|unix.EPOLLHUP) != 0 {
			soerr, err := unix.GetsockoptInt(c.fd, unix.SOL_SOCKET, unix.SO_ERROR)
			if err == nil {
				err = syscall.Errno(soerr)
				if soerr == 0 {
					err = errors.New("connection hung up")
				}
			}
			w.fail(c, errDial, fmt.Errorf("loadtest: connect: %w", err))
			return
		}
		w.stage(c, stageTCP, now)
		w.sendUpgrade(c)
		return
	}
	if ev&unix.EPOLLOUT != 0 && len(c.out) > 0 {
		w.flush(c)
		if c.state == stClosed {
			return
		}
	}
	if ev&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		w.read(c, now)
	}
}

// sendUpgrade writes the HTTP upgrade request once connect(2) has completed.
func (w *wsWorker) sendUpgrade(c *wsConn) {
	var nonce [16]byte
	binary.LittleEndian.PutUint64(nonce[:], w.rand())
	binary.LittleEndian.PutUint64(nonce[8:], w.rand())
	var key [24]byte
	base64.StdEncoding.Encode(key[:], nonce[:])
	AppendAcceptKey(c.accept[:0], key[:])
	c.state = stUpgrading
	w.arm(c, false)
	w.wbuf = AppendUpgradeRequest(w.wbuf[:0], w.cfg.hosts[w.target(int(c.slot))], w.cfg.Path, key[:])
	w.write(c, w.wbuf)
}

// read takes what the kernel has for c and handles every complete unit.
// Bytes of an incomplete frame are kept in c.in for the next read.
func (w *wsWorker) read(c *wsConn, now int64) {
	n, err := unix.Read(c.fd, w.rbuf)
	if err == unix.EAGAIN || err == unix.EINTR {
		return
	}
	if n == 0 && err == nil {
		err = io.EOF
	}
	if err != nil {
		k := errClosed
		if c.state < stConnected {
			k = errHandshake
		}
		w.fail(c, k, fmt.Errorf("loadtest: read (%s): %w", stateName(c.state), err))
		return
	}
	w.st.bytesIn.Add(uint64(n))
	data := w.rbuf[:n]
	if len(c.in) > 0 {
		c.in = append(c.in, data...)
		data = c.in
	}
	used := w.process(c, data, now)
	if c.state == stClosed {
		return
	}
	// append copies with memmove, so it is safe when data aliases c.in.
	c.in = append(c.in[:0], data[used:]...)
	if len(c.in) == 0 && cap(c.in) > 64<<10 {
		c.in = nil
	}
}

func stateName(s wsState) string {
	return [...]string{"idle", "dialing", "upgrading", "opening", "joining", "connected", "closing", "closed"}[s]
}

// process handles every complete unit at the start of data and returns how
// many bytes it used. It closes c on a protocol error.
func (w *wsWorker) process(c *wsConn, data []byte, now int64) int {
	off := 0
	if c.state == stUpgrading {
		r, n, err := ParseUpgradeResponse(data)
		if err == ErrNeedMore {
			return 0
		}
		if err == nil {
			err = CheckUpgrade(r, c.accept[:])
		}
		if err != nil {
			w.fail(c, errHandshake, err)
			return 0
		}
		off = n
		c.state = stOpening
		w.stage(c, stageUpgrade, now)
	}
	for off < len(data) {
		f, n, err := ParseFrame(data[off:])
		if err == ErrNeedMore {
			break
		}
		if err == nil && f.Masked {
			err = ErrFrameMasked
		}
		if err != nil {
			w.fail(c, errProtocol, err)
			return off
		}
		off += n
		switch f.OpCode {
		case opText, opBinary:
			if c.fragOp != 0 {
				// RFC 6455 §5.4: control frames only may be injected in
				// the middle of a fragmented message.
				w.fail(c, errProtocol, errors.New("loadtest: data frame inside a fragmented message"))
				return off
			}
			if !f.Fin {
				c.fragOp = f.OpCode
				c.frag = append(c.frag[:0], f.Payload...)
				continue
			}
			w.onMessage(c, f.OpCode, f.Payload, now)
		case opContinuation:
			if c.fragOp == 0 {
				w.fail(c, errProtocol, errors.New("loadtest: continuation frame without a message to continue"))
				return off
			}
			c.frag = append(c.frag, f.Payload...)
			if f.Fin {
				op := c.fragOp
				c.fragOp = 0
				w.onMessage(c, op, c.frag, now)
				if c.state != stClosed {
					c.frag = c.frag[:0]
				}
			}
		case opPing:
			// RFC 6455 §5.5.2: "Upon receipt of a Ping frame, an endpoint
			// MUST send a Pong frame in response".
			w.writeOp(c, opPong, f.Payload)
		case opPong:
		case opClose:
			code := 0
			if len(f.Payload) >= 2 {
				code = int(binary.BigEndian.Uint16(f.Payload))
			}
			w.fail(c, errClosed, fmt.Errorf("loadtest: close frame from the server (code %d)", code))
		}
		if c.state == stClosed {
			return off
		}
	}
	return off
}

// onMessage handles one Engine.IO packet (one WebSocket message).
func (w *wsWorker) onMessage(c *wsConn, op byte, p []byte, now int64) {
	if op == opBinary {
		w.st.other.Add(1) // binary attachments: the scenarios use none
		return
	}
	if len(p) == 0 {
		w.fail(c, errProtocol, fmt.Errorf("%w: empty Engine.IO packet", ErrPacket))
		return
	}
	switch p[0] {
	case eioMessage:
		w.onSocketIO(c, p[1:], now)
	case eioPing:
		// engine.io-protocol v4: the server pings, the client answers
		// with a pong carrying the same data.
		w.pbuf = append(append(w.pbuf[:0], eioPong), p[1:]...)
		w.writeFrame(c, w.pbuf)
		w.st.other.Add(1)
	case eioOpen:
		if c.state != stOpening {
			w.fail(c, errProtocol, fmt.Errorf("%w: a second open packet", ErrUnexpectedPacket))
			return
		}
		c.state = stJoining
		w.stage(c, stageOpen, now)
		w.writeFrame(c, w.connectPkt)
	case eioClose:
		k := errClosed
		if c.state < stConnected {
			k = errHandshake
		}
		w.fail(c, k, errors.New("loadtest: Engine.IO close packet from the server"))
	case eioNoop, eioPong:
		w.st.other.Add(1)
	default:
		w.fail(c, errProtocol, fmt.Errorf("%w: Engine.IO packet type %q", ErrPacket, p[0]))
	}
}

// onSocketIO handles one Socket.IO packet.
func (w *wsWorker) onSocketIO(c *wsConn, b []byte, now int64) {
	pk, err := ParseSIOPacket(b)
	if err != nil {
		w.fail(c, errProtocol, err)
		return
	}
	if !bytes.Equal(pk.Nsp, w.nsp) {
		w.st.other.Add(1)
		return
	}
	if c.state == stJoining {
		switch pk.Type {
		case sioConnect:
			c.state = stConnected
			w.stage(c, stageJoin, now)
			w.inflight--
			w.st.conn.Record(now - c.started)
			w.st.connected.Add(1)
			w.st.open.Add(1)
			if w.cfg.Rooms > 0 {
				w.subscribe(c)
			}
		case sioConnectError:
			w.fail(c, errConnectRefused, fmt.Errorf("%w: %s", ErrConnectRefused, truncate(pk.Data, 200)))
		default:
			w.fail(c, errProtocol, fmt.Errorf("%w: Socket.IO packet type %q before the CONNECT ack", ErrUnexpectedPacket, pk.Type))
		}
		return
	}
	if c.state != stConnected {
		w.fail(c, errProtocol, fmt.Errorf("%w: Socket.IO packet before the open packet", ErrUnexpectedPacket))
		return
	}
	switch pk.Type {
	case sioEvent:
		name, args, err := ParseEventData(pk.Data)
		if err != nil {
			w.fail(c, errProtocol, err)
			return
		}
		if !bytes.Equal(name, w.wantEvent) {
			w.st.other.Add(1)
			return
		}
		w.onBench(c, args, now)
	case sioDisconnect:
		w.fail(c, errClosed, errors.New("loadtest: DISCONNECT from the server"))
	default:
		w.st.other.Add(1)
	}
}

// onBench accounts for one message of interest: an echo or a broadcast.
func (w *wsWorker) onBench(c *wsConn, args []byte, now int64) {
	if w.rs.account(w.st, &c.track, c.sent, args, now) {
		c.extra++
	}
}

// truncate returns b as a string of at most n bytes.
func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}
