package socketio

import "strconv"

// PacketType is the first byte of a Socket.IO packet, kept as its ASCII
// digit so that dispatch is a switch on the wire byte.
type PacketType byte

// Packet types of socket.io-protocol v5 ("Here is the list of available
// packet types").
const (
	Connect      PacketType = '0' // CONNECT: join a namespace, or the server's reply.
	Disconnect   PacketType = '1' // DISCONNECT: leave a namespace.
	Event        PacketType = '2' // EVENT: an emitted event.
	Ack          PacketType = '3' // ACK: the reply to an event that carried an ack id.
	ConnectError PacketType = '4' // CONNECT_ERROR: the server refused a CONNECT.
	BinaryEvent  PacketType = '5' // BINARY_EVENT: an EVENT followed by binary attachments.
	BinaryAck    PacketType = '6' // BINARY_ACK: an ACK followed by binary attachments.
)

// MaxAttachments is the largest attachment count Parse accepts, the
// default maxAttachments of Node's socket.io-parser Decoder.
const MaxAttachments = 10

// MaxAckID is the largest ack id Parse accepts: 2^53-1, JavaScript's
// Number.MAX_SAFE_INTEGER. Node reads ack ids with Number(), so a larger
// id would come back rounded and match no callback on a JS client.
const MaxAckID = 1<<53 - 1

// MaxDepth is the deepest nesting of JSON arrays and objects Parse and
// CheckPlaceholders accept. Node has no such limit (V8's JSON.parse is
// iterative); encoding/json stops at 10000. No Socket.IO client nests
// anywhere near this deep.
const MaxDepth = 1024

// String returns the packet type's name as Node's PacketType enum spells
// it, for example "BINARY_EVENT".
func (t PacketType) String() string {
	switch t {
	case Connect:
		return "CONNECT"
	case Disconnect:
		return "DISCONNECT"
	case Event:
		return "EVENT"
	case Ack:
		return "ACK"
	case ConnectError:
		return "CONNECT_ERROR"
	case BinaryEvent:
		return "BINARY_EVENT"
	case BinaryAck:
		return "BINARY_ACK"
	}
	return "PacketType(" + strconv.Itoa(int(t)) + ")"
}

// rootNamespace is the namespace of every packet that names none. Parse
// hands out this one slice so that the default costs nothing; it must
// never be written to.
var rootNamespace = []byte("/")

// Header is one decoded packet. Every slice aliases the input given to
// Parse (or, for Namespace "/", a shared package-level slice), so it is
// valid only as long as that input is and must not be modified; each
// slice's capacity ends at its length, so appending to it copies.
type Header struct {
	// Type is the packet type.
	Type PacketType
	// Attachments is the number of binary attachments that follow a
	// BINARY_EVENT or BINARY_ACK, 1..MaxAttachments; 0 for other types.
	Attachments int
	// Namespace is the namespace, "/" when the packet names none. It
	// never contains ',' and, for CONNECT, never contains the query.
	Namespace []byte
	// Query is, for CONNECT only, the part of the namespace from its first
	// '?' on (EIO3 clients send "0/admin?token=1,"), else nil. Node with
	// EIO4 treats "/admin?token=1" as the namespace's whole name, which
	// no server registers: for parity, a server answers a CONNECT with a
	// non-nil Query on an EIO4 connection with "Invalid namespace".
	Query []byte
	// HasAck reports whether the packet carries an ack id.
	HasAck bool
	// AckID is the ack id, at most MaxAckID; meaningful only if HasAck.
	AckID uint64
	// Data is the JSON payload with trailing whitespace removed, or nil
	// when the packet has none. Parse has checked that it is valid JSON
	// of the shape the packet type requires.
	Data []byte
}
