package socketio

import "errors"

// Errors returned by Parse, SplitEvent, SplitAck and CheckPlaceholders.
// Every one of them means "protocol violation": Node's server answers
// each of them by closing the whole Engine.IO connection
// (socket.io client.ts ondata → onerror), and so should ours.
var (
	// ErrEmptyPacket is returned by Parse for a zero-length packet.
	// Node reads "" as CONNECT to "/" (Number("") is 0); we refuse it.
	ErrEmptyPacket = errors.New("socketio: empty packet")

	// ErrUnknownType is returned when the first byte is not '0'..'6'.
	ErrUnknownType = errors.New("socketio: unknown packet type")

	// ErrBadAttachments is returned when a BINARY_EVENT or BINARY_ACK
	// does not start with "<digits>-" or announces zero attachments
	// (Node: "Illegal attachments").
	ErrBadAttachments = errors.New("socketio: illegal attachments")

	// ErrTooManyAttachments is returned when a binary packet announces
	// more than MaxAttachments attachments (Node: "too many attachments").
	ErrTooManyAttachments = errors.New("socketio: too many attachments")

	// ErrBadNamespace is returned by CheckNamespace for a namespace that
	// does not start with '/' or that contains a ','.
	ErrBadNamespace = errors.New("socketio: invalid namespace")

	// ErrBadAckID is returned when an ack id exceeds MaxAckID, or when an
	// ACK or BINARY_ACK carries no ack id.
	ErrBadAckID = errors.New("socketio: invalid ack id")

	// ErrInvalidJSON is returned when the payload is not exactly one JSON
	// value, optionally followed by whitespace. Whitespace before the
	// value is refused too (Node would misread it as ack id 0).
	ErrInvalidJSON = errors.New("socketio: invalid JSON payload")

	// ErrTooDeep is returned when the payload nests arrays and objects
	// deeper than MaxDepth.
	ErrTooDeep = errors.New("socketio: JSON payload nested too deeply")

	// ErrInvalidPayload is returned when the payload is valid JSON of the
	// wrong shape for the packet type, or is missing where the type
	// requires one (Node: "invalid payload").
	ErrInvalidPayload = errors.New("socketio: invalid payload")

	// ErrReservedEvent is returned for an EVENT or BINARY_EVENT whose name
	// is one of connect, connect_error, disconnect, disconnecting,
	// newListener or removeListener (Node: "invalid payload").
	ErrReservedEvent = errors.New("socketio: reserved event name")

	// ErrBadPlaceholder is returned by CheckPlaceholders when a binary
	// placeholder's "num" is not an integer in [0, attachments)
	// (Node: "illegal attachments" from reconstructPacket).
	ErrBadPlaceholder = errors.New("socketio: illegal attachment placeholder")
)
