// Package socketio is a codec for Socket.IO packets (socket.io-protocol
// v5, as spoken by Node's socket.io 4.x and its socket.io-parser). It
// does no I/O and keeps no state: bytes in, bytes out.
//
// # Input
//
// Parse takes the payload of one Engine.IO message, without the
// Engine.IO '4' prefix, for example `2["foo"]` or `3/admin,13["bar"]`,
// and returns a Header. It validates the packet the way Node's Decoder
// does and refuses everything Node refuses; any error means the peer
// broke the protocol and Node would close the connection.
//
// Binary attachments (the Engine.IO messages that follow a BINARY_EVENT
// or BINARY_ACK) are not this package's business beyond the count in
// Header.Attachments and CheckPlaceholders. There is no reconstruction:
// the JSON keeps its {"_placeholder":true,"num":N} objects, and a server
// forwards the packet and its attachments as they came.
//
// # Lifetimes
//
// Nothing is copied. Every slice in a Header (Namespace, Query, Data) and
// the name and args returned by SplitEvent (unless the name held escapes)
// or SplitAck alias the input, and live exactly as long as it does: for
// a packet peeked from a gnet inbound buffer, until Discard or the end of
// OnTraffic. Copy them explicitly before handing them to another
// goroutine or keeping them. Returned slices have their capacity cut at
// their length, so an append copies instead of overwriting the input. A
// Namespace of "/" that was not on the wire is a shared package-level
// slice: never write to it.
//
// # Output
//
// The Append functions write packets as Node's Encoder does, byte for
// byte, into a caller-owned buffer (a nil dst is allowed); with enough
// capacity they do not allocate. JSON bodies other than strings are
// passed in as raw JSON and copied unchanged.
//
// # Differences from Node's parser
//
// Each difference makes Parse stricter, for input no Socket.IO client
// produces:
//
//   - An empty packet is refused, and the type must be an ASCII digit;
//     Node reads "" as CONNECT to "/", and a leading whitespace byte as
//     type CONNECT (Number("") and Number(" ") are 0).
//   - The attachment count is ASCII digits only; Node also takes " 1",
//     "1.0" and "0x1".
//   - An ack id above MaxAckID (2^53-1) is refused; Node rounds it.
//   - Whitespace between the header and the JSON is refused; Node reads it
//     as ack id 0 (`2 ["a"]` has id 0). Whitespace after the JSON is
//     accepted, as by JSON.parse, and left out of Header.Data.
//   - EVENT and BINARY_EVENT without a payload, and ACK and BINARY_ACK
//     without a payload or without an ack id, are refused, as the protocol
//     text requires; Node's parser passes them and its server ignores
//     them.
//   - JSON nested deeper than MaxDepth is refused.
//   - A placeholder "num" must be a plain integer (see CheckPlaceholders).
//
// Like Node, Parse splits a namespace at the first ',' or at the end of
// the packet ("0/custom"), accepts an ack id on any packet type, and
// accepts a number as event name (`2[42]`). Parse does not check that
// the JSON is valid UTF-8; the transport must (RFC 6455 §8.1 for
// WebSocket text frames).
package socketio
