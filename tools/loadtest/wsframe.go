package main

import (
	"encoding/binary"
)

// WebSocket opcodes (RFC 6455 §5.2).
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xA
)

// MaxFramePayload is the largest frame payload the client accepts. Larger
// frames fail with ErrFrameTooBig instead of being buffered.
const MaxFramePayload = 16 << 20

// Frame is one decoded WebSocket frame. Payload is a sub-slice of the bytes
// given to ParseFrame and lives as long as they do. When Masked is set the
// payload is still masked: call MaskBytes(Mask, Payload, 0) to read it.
type Frame struct {
	Fin     bool
	OpCode  byte
	Masked  bool
	Mask    uint32 // the masking key as it appears on the wire, big-endian
	Payload []byte
}

// ParseFrame decodes the frame at the start of b and returns it with the
// number of bytes it took. It returns ErrNeedMore (n == 0) while b holds only
// a prefix of a frame. It enforces the structural rules of RFC 6455 §5.2 and
// §5.5: RSV bits must be 0 ("MUST be 0 unless an extension is negotiated"),
// the opcode must not be reserved, control frames must not be fragmented and
// must carry at most 125 bytes, and "the minimal number of bytes MUST be used
// to encode the length". The MASK rule depends on the side: see Frame.Masked.
func ParseFrame(b []byte) (f Frame, n int, err error) {
	if len(b) < 2 {
		return f, 0, ErrNeedMore
	}
	b0, b1 := b[0], b[1]
	if b0&0x70 != 0 {
		return f, 0, ErrFrameReservedBits
	}
	f.Fin = b0&0x80 != 0
	f.OpCode = b0 & 0x0F
	switch f.OpCode {
	case opContinuation, opText, opBinary, opClose, opPing, opPong:
	default:
		return f, 0, ErrFrameOpCode
	}
	f.Masked = b1&0x80 != 0
	length := uint64(b1 & 0x7F)
	n = 2
	switch length {
	case 126:
		if len(b) < 4 {
			return f, 0, ErrNeedMore
		}
		length = uint64(binary.BigEndian.Uint16(b[2:]))
		if length < 126 {
			return f, 0, ErrFrameLength
		}
		n = 4
	case 127:
		if len(b) < 10 {
			return f, 0, ErrNeedMore
		}
		length = binary.BigEndian.Uint64(b[2:])
		// "the most significant bit MUST be 0" and minimal encoding.
		if length>>63 != 0 || length <= 0xFFFF {
			return f, 0, ErrFrameLength
		}
		n = 10
	}
	if f.OpCode&0x8 != 0 && (!f.Fin || length > 125) {
		return f, 0, ErrFrameControl
	}
	if length > MaxFramePayload {
		return f, 0, ErrFrameTooBig
	}
	if f.Masked {
		if len(b) < n+4 {
			return f, 0, ErrNeedMore
		}
		f.Mask = binary.BigEndian.Uint32(b[n:])
		n += 4
	}
	end := n + int(length)
	if len(b) < end {
		return Frame{}, 0, ErrNeedMore
	}
	f.Payload = b[n:end:end]
	return f, end, nil
}

// AppendFrame appends one complete frame (FIN set) carrying payload with the
// given opcode. A client passes masked=true and a fresh key: RFC 6455 §5.3
// "The masking key is a 32-bit value chosen at random by the client" and
// §5.1 "a client MUST mask all frames that it sends to the server". The
// payload is copied and masked in dst; payload itself is not modified.
func AppendFrame(dst []byte, op byte, payload []byte, masked bool, key uint32) []byte {
	dst = AppendFrameHeader(dst, op, len(payload), masked, key)
	body := len(dst)
	dst = append(dst, payload...)
	if masked {
		MaskBytes(key, dst[body:], 0)
	}
	return dst
}

// AppendFrameHeader appends the header of a final frame with a payload of
// length bytes, using the shortest length encoding (RFC 6455 §5.2).
func AppendFrameHeader(dst []byte, op byte, length int, masked bool, key uint32) []byte {
	var mbit byte
	if masked {
		mbit = 0x80
	}
	dst = append(dst, 0x80|op&0x0F)
	switch {
	case length < 126:
		dst = append(dst, mbit|byte(length))
	case length <= 0xFFFF:
		dst = append(dst, mbit|126)
		dst = binary.BigEndian.AppendUint16(dst, uint16(length))
	default:
		dst = append(dst, mbit|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(length))
	}
	if masked {
		dst = binary.BigEndian.AppendUint32(dst, key)
	}
	return dst
}

// MaskBytes XORs b in place with the masking key, as if b started at byte
// offset pos of the payload (RFC 6455 §5.3: "octet i of the transformed data
// is the XOR of octet i of the original data with octet at index i modulo 4
// of the masking key"). Masking twice restores the input. It works eight
// bytes at a time: frames of a few hundred bytes are masked for every send.
func MaskBytes(key uint32, b []byte, pos int) {
	var k [4]byte
	binary.BigEndian.PutUint32(k[:], key)
	i := 0
	// Rotate the key so that k[0] applies to b[0].
	if r := pos & 3; r != 0 {
		k = [4]byte{k[r&3], k[(r+1)&3], k[(r+2)&3], k[(r+3)&3]}
	}
	if len(b) >= 8 {
		k32 := binary.LittleEndian.Uint32(k[:])
		k64 := uint64(k32) | uint64(k32)<<32
		for ; i+8 <= len(b); i += 8 {
			v := binary.LittleEndian.Uint64(b[i:])
			binary.LittleEndian.PutUint64(b[i:], v^k64)
		}
	}
	for ; i < len(b); i++ {
		b[i] ^= k[i&3]
	}
}
