package engineio

import "encoding/base64"

// Test-only twins of the codec, to check the server-side functions
// against: a strict parser that refuses the "b<base64>" form and writes
// nothing, a whole-payload encoder, and the encoded length.

// parsePacket parses "<packet type>[<data>]" without the "b" form.
func parsePacket(b []byte) (Packet, error) {
	if len(b) == 0 {
		return Packet{}, ErrEmptyPacket
	}
	t := PacketType(b[0])
	if !t.Valid() {
		return Packet{}, ErrUnknownPacketType
	}
	return Packet{Type: t, Data: b[1:len(b):len(b)]}, nil
}

// appendPayload appends ps as one v4 polling body.
func appendPayload(dst []byte, ps ...Packet) []byte {
	for i, p := range ps {
		dst = AppendPayloadPacket(dst, i == 0, p)
	}
	return dst
}

// encodedLen is the number of bytes AppendPacket appends for p.
func encodedLen(p Packet) int {
	if p.Binary {
		return 1 + base64.StdEncoding.EncodedLen(len(p.Data))
	}
	return 1 + len(p.Data)
}
