package socketio

import (
	"bytes"

	"sioloop/protocol/jsonscan"
)

// reservedEvents are the event names a client may not emit
// (socket.io-parser RESERVED_EVENTS: "These strings must not be used as
// event names, as they have a special meaning").
var reservedEvents = [...]string{
	"connect",        // used on the client side
	"connect_error",  // used on the client side
	"disconnect",     // used on both sides
	"disconnecting",  // used on the server side
	"newListener",    // used by the Node.js EventEmitter
	"removeListener", // used by the Node.js EventEmitter
}

// Parse decodes and validates one Socket.IO packet: the payload of an
// Engine.IO message, without its '4' prefix. The wire format is
// (socket.io-protocol v5, "Format"):
//
//	<packet type>[<# of binary attachments>-][<namespace>,][<acknowledgment id>][JSON-stringified payload without binary]
//
// Parse accepts what Node's socket.io-parser Decoder accepts, with the
// differences listed in the package documentation, all of them stricter.
// The returned slices alias b. Parse does not allocate.
func Parse(b []byte) (Header, error) {
	if len(b) == 0 {
		return Header{}, ErrEmptyPacket
	}
	h := Header{Type: PacketType(b[0]), Namespace: rootNamespace}
	if h.Type < Connect || h.Type > BinaryAck {
		return Header{}, ErrUnknownType
	}
	i := 1

	// Node: BINARY_* carry "<n>-" with n an integer, 1 <= n <= maxAttachments.
	if h.Type == BinaryEvent || h.Type == BinaryAck {
		n, j := 0, i
		for ; j < len(b) && jsonscan.IsDigit(b[j]); j++ {
			if n <= MaxAttachments { // saturate: cannot overflow, however many digits
				n = n*10 + int(b[j]-'0')
			}
		}
		if j == i || j == len(b) || b[j] != '-' || n < 1 {
			return Header{}, ErrBadAttachments
		}
		if n > MaxAttachments {
			return Header{}, ErrTooManyAttachments
		}
		h.Attachments = n
		i = j + 1
	}

	// "the namespace is delimited by a comma and there is no escape
	// sequence"; Node also ends it at the end of the packet ("0/custom").
	if i < len(b) && b[i] == '/' {
		end, next := len(b), len(b)
		if k := bytes.IndexByte(b[i:], ','); k >= 0 {
			end, next = i+k, i+k+1
		}
		nsp := b[i:end:end]
		if h.Type == Connect {
			if q := bytes.IndexByte(nsp, '?'); q >= 0 {
				h.Query, nsp = nsp[q:], nsp[:q:q]
			}
		}
		h.Namespace = nsp
		i = next
	}

	// "immediately followed by the id": the run of digits.
	if i < len(b) && jsonscan.IsDigit(b[i]) {
		var id uint64
		for ; i < len(b) && jsonscan.IsDigit(b[i]); i++ {
			id = id*10 + uint64(b[i]-'0') // id <= MaxAckID < 2^53 here: no overflow
			if id > MaxAckID {
				return Header{}, ErrBadAckID
			}
		}
		h.HasAck, h.AckID = true, id
	}
	// "The receiver MUST respond with an ACK packet with the same event
	// ID": an ACK without one answers nothing (Node drops it silently).
	if (h.Type == Ack || h.Type == BinaryAck) && !h.HasAck {
		return Header{}, ErrBadAckID
	}

	if i < len(b) {
		d := jsonscan.TrimRightSpace(b[i:]) // checkJSON refuses leading whitespace
		if err := checkJSON(d); err != nil {
			return Header{}, err
		}
		h.Data = d[:len(d):len(d)]
	}
	if err := checkPayload(h.Type, h.Data); err != nil {
		return Header{}, err
	}
	return h, nil
}

// checkPayload applies Node's Decoder.isPayloadValid to valid JSON data,
// looking only at the first bytes. Unlike Node, a missing payload is
// refused where the protocol says it is mandatory (EVENT: "The payload is
// mandatory and MUST be a non-empty array"; ACK: "The payload is
// mandatory and MUST be an array (possibly empty)").
func checkPayload(t PacketType, d []byte) error {
	if d == nil {
		switch t {
		case Connect, Disconnect, ConnectError:
			return nil
		}
		return ErrInvalidPayload
	}
	switch t {
	case Connect: // isObject(payload)
		if d[0] == '{' {
			return nil
		}
	case ConnectError: // typeof payload === "string" || isObject(payload)
		if d[0] == '{' || d[0] == '"' {
			return nil
		}
	case Event, BinaryEvent:
		return checkEventName(d)
	case Ack, BinaryAck: // Array.isArray(payload)
		if d[0] == '[' {
			return nil
		}
	}
	return ErrInvalidPayload // including DISCONNECT: payload === undefined
}

// checkEventName checks valid JSON d against Node's rule for events:
// Array.isArray(payload) && (typeof payload[0] === "number" ||
// (typeof payload[0] === "string" && RESERVED_EVENTS.indexOf(payload[0]) === -1)).
func checkEventName(d []byte) error {
	if d[0] != '[' {
		return ErrInvalidPayload
	}
	i := jsonscan.SkipSpace(d, 1)
	switch c := d[i]; { // d is valid JSON, so d[i] exists
	case c == '-' || jsonscan.IsDigit(c):
		return nil
	case c != '"':
		return ErrInvalidPayload
	}
	end, esc := jsonscan.String(d, i)
	name := d[i+1 : end-1]
	for _, r := range reservedEvents {
		if jsonscan.StringIs(name, esc, r) {
			return ErrReservedEvent
		}
	}
	return nil
}
