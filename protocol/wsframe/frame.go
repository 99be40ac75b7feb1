package wsframe

import (
	"encoding/binary"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// OpCode is the 4-bit frame opcode (RFC 6455 §5.2).
type OpCode byte

// Opcodes defined by RFC 6455 §5.2; 0x3-0x7 and 0xB-0xF are reserved.
const (
	OpContinuation OpCode = 0x0
	OpText         OpCode = 0x1
	OpBinary       OpCode = 0x2
	OpClose        OpCode = 0x8
	OpPing         OpCode = 0x9
	OpPong         OpCode = 0xA
)

// IsControl reports whether op is a control opcode (Close, Ping, Pong or a
// reserved control opcode): RFC 6455 §5.5 "Control frames are identified by
// opcodes where the most significant bit of the opcode is 1".
func (op OpCode) IsControl() bool { return op&0x8 != 0 }

// IsReserved reports whether op is reserved: RFC 6455 §5.2 "%x3-7 are reserved
// for further non-control frames", "%xB-F are reserved for further control frames".
func (op OpCode) IsReserved() bool { return (op >= 0x3 && op <= 0x7) || op >= 0xB }

// Sizes defined by RFC 6455 §5.2 and §5.5.
const (
	// MaxHeaderSize is the largest header: 2 bytes, 8 of extended length, 4 of mask.
	MaxHeaderSize = 14
	// MaxControlPayload is the largest payload of a Close, Ping or Pong frame.
	MaxControlPayload = 125
)

// Header is a decoded frame header. It has the same fields as gobwas/ws
// ws.Header: Rsv holds RSV1-3 as bits 0x4, 0x2, 0x1.
type Header struct {
	Fin    bool
	Rsv    byte
	OpCode OpCode
	Masked bool
	Mask   [4]byte
	Length int64
}

// ParseHeader parses the header of a client frame from b and returns it with
// its size in bytes. It returns ErrNeedMore (n == 0) while b holds only a
// prefix of a valid header, and an *Error as soon as the bytes seen break one
// of the rules a server enforces (RFC 6455 §5.1, §5.2, §5.5): RSV bits must be
// 0 since no extension is negotiated, the opcode must not be reserved, control
// frames must have FIN set and at most 125 bytes, client frames must be masked,
// and a 64-bit length must have its most significant bit clear. Continuation
// sequencing needs connection state: see CheckFragment.
func ParseHeader(b []byte) (h Header, n int, err error) {
	if len(b) == 0 {
		return h, 0, ErrNeedMore
	}
	b0 := b[0]
	op := OpCode(b0 & 0x0f)
	switch {
	case b0&0x70 != 0:
		// RFC 6455 §5.2: "MUST be 0 unless an extension is negotiated that
		// defines meanings for non-zero values."
		return h, 0, ErrReservedBits
	case op.IsReserved():
		return h, 0, ErrBadOpCode
	case op.IsControl() && b0&0x80 == 0:
		// RFC 6455 §5.5: "Control frames themselves MUST NOT be fragmented."
		return h, 0, ErrControlFragmented
	}
	if len(b) < 2 {
		return h, 0, ErrNeedMore
	}
	b1 := b[1]
	switch {
	case b1&0x80 == 0:
		// RFC 6455 §5.1: "The server MUST close the connection upon receiving
		// a frame that is not masked."
		return h, 0, ErrUnmasked
	case op.IsControl() && b1&0x7f > MaxControlPayload:
		// RFC 6455 §5.5: "All control frames MUST have a payload length of 125
		// bytes or less."
		return h, 0, ErrControlTooLong
	}
	return ParseHeaderAny(b)
}

// ParseHeaderAny parses a frame header from b without the server's policy
// checks: it accepts unmasked frames (such as the server's own frames, which
// makes it the decoder of AppendHeader in tests), RSV bits and any opcode.
// It only rejects a 64-bit length with the most significant bit set (RFC 6455
// §5.2), which would not fit Header.Length.
func ParseHeaderAny(b []byte) (h Header, n int, err error) {
	if len(b) < 2 {
		return h, 0, ErrNeedMore
	}
	b0, b1 := b[0], b[1]
	ext := 0 // bytes of extended payload length
	switch l := b1 & 0x7f; l {
	case 126:
		ext = 2
	case 127:
		ext = 8
		// RFC 6455 §5.2: "the most significant bit MUST be 0".
		if len(b) > 2 && b[2]&0x80 != 0 {
			return h, 0, ErrBadLength
		}
	default:
		h.Length = int64(l)
	}
	n = 2 + ext
	if b1&0x80 != 0 {
		n += 4
	}
	if len(b) < n {
		return Header{}, 0, ErrNeedMore
	}
	switch ext {
	case 2:
		h.Length = int64(binary.BigEndian.Uint16(b[2:4]))
	case 8:
		h.Length = int64(binary.BigEndian.Uint64(b[2:10]))
	}
	h.Fin = b0&0x80 != 0
	h.Rsv = (b0 & 0x70) >> 4
	h.OpCode = OpCode(b0 & 0x0f)
	if b1&0x80 != 0 {
		h.Masked = true
		copy(h.Mask[:], b[n-4:n])
	}
	return h, n, nil
}

// CheckFragment checks the opcode of data frame h against the connection's
// fragmentation state (RFC 6455 §5.4): inMessage is true when an earlier frame
// without FIN opened a message that is not finished yet. Control frames may be
// injected in the middle of a fragmented message and always pass.
func CheckFragment(h Header, inMessage bool) error {
	switch {
	case h.OpCode.IsControl():
		return nil
	case inMessage && h.OpCode != OpContinuation:
		return ErrExpectedContinuation
	case !inMessage && h.OpCode == OpContinuation:
		return ErrUnexpectedContinuation
	}
	return nil
}

// Unmask XORs payload with mask in place (RFC 6455 §5.3); masking and
// unmasking are the same operation. It uses ws.Cipher, whose AVX2/SSE2/NEON
// kernels process 16 bytes or more per step. Call it once per frame.
func Unmask(payload []byte, mask [4]byte) { ws.Cipher(payload, mask, 0) }

// ValidUTF8 reports whether b is valid UTF-8. RFC 6455 §8.1: when a Text
// message is not, the endpoint "MUST _Fail the WebSocket Connection_" (close
// code 1007, CloseInvalidPayload). Check the whole message: a fragment may end
// in the middle of a character.
func ValidUTF8(b []byte) bool { return utf8.Valid(b) }
