package engineio

import "encoding/base64"

// PacketType is the Engine.IO packet type as its ASCII wire digit.
type PacketType byte

// The packet types of engine.io-protocol v4 ("Protocol": open 0, close 1,
// ping 2, pong 3, message 4, upgrade 5, noop 6).
const (
	Open    PacketType = '0' // handshake data, sent by the server first
	Close   PacketType = '1' // the transport can be closed
	Ping    PacketType = '2' // heartbeat, sent by the server in v4; "2probe" starts an upgrade
	Pong    PacketType = '3' // heartbeat answer; "3probe" answers the probe
	Message PacketType = '4' // application data
	Upgrade PacketType = '5' // the client completes a transport upgrade
	Noop    PacketType = '6' // releases a pending polling GET during an upgrade
)

// binaryPrefix starts a base64 binary packet: "Binary payloads MUST be
// base64-encoded and prefixed with a b character" (engine.io-protocol v4,
// Packet encoding, HTTP long-polling).
const binaryPrefix = 'b'

var packetTypeNames = [...]string{"open", "close", "ping", "pong", "message", "upgrade", "noop"}

// String returns Node's name of the type ("open", "close", …), or "unknown"
// for a byte that is not a packet type.
func (t PacketType) String() string {
	if !t.Valid() {
		return "unknown"
	}
	return packetTypeNames[t-Open]
}

// Valid reports whether t is one of the seven packet types.
func (t PacketType) Valid() bool { return t >= Open && t <= Noop }

// Packet is a decoded Engine.IO packet. Data is a sub-slice of the input
// (lifetime = the input's); see the package doc.
type Packet struct {
	Type PacketType
	Data []byte
	// Binary means Data is raw binary (a WebSocket binary frame, or a
	// decoded "b<base64>" polling packet); Type is then Message.
	Binary bool
}

// ParsePacketInPlace parses one text packet, "<packet type>[<data>]"
// (engine.io-protocol v4, Packet encoding): a WebSocket text frame or one
// packet of a polling body. Data aliases b (its capacity capped at len(b)).
// Like Node's decodePacket for any string, it also accepts "b<base64>"
// (a polling packet, and also a WebSocket text frame). The base64 is decoded over b itself and the
// packet is returned with Binary set and Type Message. It never allocates.
//
// It returns ErrEmptyPacket for an empty payload, ErrUnknownPacketType when
// the first byte is not '0'..'6' or 'b', and ErrBadBase64.
func ParsePacketInPlace(b []byte) (Packet, error) {
	if len(b) == 0 {
		return Packet{}, ErrEmptyPacket
	}
	if b[0] != binaryPrefix {
		t := PacketType(b[0])
		if !t.Valid() {
			return Packet{}, ErrUnknownPacketType
		}
		return Packet{Type: t, Data: b[1:len(b):len(b)]}, nil
	}
	src := b[1:]
	n, ok := decodeBase64InPlace(src)
	if !ok {
		return Packet{}, ErrBadBase64
	}
	return Packet{Type: Message, Data: src[:n:n], Binary: true}, nil
}

// AppendPacket appends the text wire form of p to dst: the type digit
// followed by the data, or for a Binary packet the polling form "b" +
// base64(data) (standard alphabet, padded, as Node's Buffer.toString
// ("base64")); the Type of a Binary packet is not written. It allocates only
// when dst must grow.
//
// p.Type must be one of the packet constants; the byte is written as is.
// To send binary on WebSocket, write p.Data in a binary frame instead.
func AppendPacket(dst []byte, p Packet) []byte {
	if p.Binary {
		dst = append(dst, binaryPrefix)
		return base64.StdEncoding.AppendEncode(dst, p.Data)
	}
	dst = append(dst, byte(p.Type))
	return append(dst, p.Data...)
}
