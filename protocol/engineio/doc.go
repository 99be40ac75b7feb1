// Package engineio is a pure codec for the Engine.IO protocol, version 4
// (engine.io-protocol v4, as spoken by Node's engine.io 6 and socket.io 4.8).
//
// It turns bytes into packets and packets into bytes, nothing more: no
// sockets, no goroutines, no locks, no logging. Every function is safe to call
// from any goroutine as long as the slices it is given are not shared.
//
// # Wire forms
//
// A packet is a type digit ('0' open … '6' noop) followed by optional data.
// On WebSocket every packet is one frame: text frames carry "<type><data>"
// (see [ParsePacketInPlace], [AppendPacket]) and binary frames carry the raw bytes of
// a message packet. On HTTP long-polling the packets of one body are joined by
// the record separator 0x1e, and binary data travels as "b" + base64 (see
// [NextPayloadPacket], [AppendPayloadPacket]).
//
// # Lifetimes
//
// Decoding never copies. The Data of a decoded [Packet] is a sub-slice of the
// input, so it is valid only as long as the input is: when the input is a
// slice peeked from the event loop's inbound buffer, Data dies when the
// buffer is discarded or the callback returns. Copy Data explicitly before it
// crosses to another goroutine or outlives the input.
//
// Decoding a "b<base64>" packet ([NextPayloadPacket], [ParsePacketInPlace])
// overwrites the input: the decoded bytes are written over the base64 text
// they came from (decoded data is always shorter than its base64 form), so
// the body cannot be decoded a second time and must not be shared with
// another reader. The bytes past the decoded data inside that packet are left
// in an unspecified state; the bytes of the other packets are untouched.
//
// Encoding appends to a caller-supplied slice (a nil dst is fine) and
// allocates only when that slice must grow.
package engineio
