package wsframe

import "encoding/binary"

// MaxServerHeaderSize is the largest header of an unmasked server frame.
const MaxServerHeaderSize = 10

// HeaderSize returns the size of an unmasked server frame header for a payload
// of length bytes: 2, 4 or 10 (RFC 6455 §5.2 7-bit, 16-bit and 64-bit forms).
// A negative length counts as 0.
func HeaderSize(length int) int {
	switch {
	case length < 126:
		return 2
	case length <= 0xffff:
		return 4
	}
	return 10
}

// AppendHeader appends the header of an unmasked server frame (RFC 6455 §5.1:
// "A server MUST NOT mask any frames that it sends to the client") with FIN set
// when fin, opcode op and a payload of length bytes, in the minimal length
// encoding (RFC 6455 §5.2). A negative length counts as 0.
func AppendHeader(dst []byte, fin bool, op OpCode, length int) []byte {
	var h [MaxServerHeaderSize]byte
	n := putHeader(h[:], fin, op, length)
	return append(dst, h[:n]...)
}

// putHeader writes the header into h (len ≥ HeaderSize(length)) and returns its size.
func putHeader(h []byte, fin bool, op OpCode, length int) int {
	b0 := byte(op) & 0x0f
	if fin {
		b0 |= 0x80
	}
	h[0] = b0
	switch {
	case length < 126:
		h[1] = byte(max(length, 0))
		return 2
	case length <= 0xffff:
		h[1] = 126
		binary.BigEndian.PutUint16(h[2:4], uint16(length))
		return 4
	}
	h[1] = 127
	binary.BigEndian.PutUint64(h[2:10], uint64(length))
	return 10
}

// AppendFrame appends a complete unmasked frame with FIN set: the header, then
// payload.
func AppendFrame(dst []byte, op OpCode, payload []byte) []byte {
	dst = AppendHeader(dst, true, op, len(payload))
	return append(dst, payload...)
}

// PutHeaderBefore writes a server frame header for the payload buf[payloadStart:]
// so that it ends right at payloadStart, and returns where the frame starts:
// buf[frameStart:] is then the complete frame. This lets a caller reserve
// MaxServerHeaderSize bytes, encode the payload after them and prepend the
// header without copying the payload. It returns -1, writing nothing, when
// payloadStart is out of range or smaller than HeaderSize of the payload.
func PutHeaderBefore(buf []byte, payloadStart int, fin bool, op OpCode) (frameStart int) {
	if payloadStart < 0 || payloadStart > len(buf) {
		return -1
	}
	length := len(buf) - payloadStart
	frameStart = payloadStart - HeaderSize(length)
	if frameStart < 0 {
		return -1
	}
	putHeader(buf[frameStart:payloadStart], fin, op, length)
	return frameStart
}
